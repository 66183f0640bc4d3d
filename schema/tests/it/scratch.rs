//! Scratch: composes every set under $SCRATCH_DIR (one folder per set, one `<name>.graphql` per
//! subgraph), writes `tributary.supergraph` or `tributary.error` beside them.
#[test]
fn scratch_compose_dir() {
    let Ok(root) = std::env::var("SCRATCH_DIR") else {
        return;
    };
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    for dir in dirs {
        let mut sources = Vec::new();
        for f in std::fs::read_dir(&dir).unwrap() {
            let p = f.unwrap().path();
            if p.extension().and_then(|e| e.to_str()) == Some("graphql") {
                let name = p.file_stem().unwrap().to_str().unwrap().to_owned();
                let sdl = std::fs::read_to_string(&p).unwrap();
                sources.push(tributary_schema::SubgraphSource::new(
                    name.clone(),
                    format!("http://{name}.test/graphql"),
                    sdl,
                ));
            }
        }
        let _ = std::fs::remove_file(dir.join("tributary.error"));
        let _ = std::fs::remove_file(dir.join("tributary.supergraph"));
        match tributary_schema::compose(&sources) {
            Ok(s) => std::fs::write(dir.join("tributary.supergraph"), s).unwrap(),
            Err(e) => {
                println!("FAIL {}: {e}", dir.display());
                std::fs::write(dir.join("tributary.error"), e.to_string()).unwrap()
            }
        }
    }
}

#[test]
fn scratch_plan_dir() {
    let Ok(root) = std::env::var("SCRATCH_PLAN_DIR") else {
        return;
    };
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    for dir in dirs {
        let (Ok(ours), Ok(theirs)) = (
            std::fs::read_to_string(dir.join("tributary.supergraph")),
            std::fs::read_to_string(dir.join("apollo.supergraph")),
        ) else {
            continue;
        };
        let plan = |sdl: &str, q: &str| -> String {
            let p = std::panic::catch_unwind(|| {
                let planner = crate::planner(sdl);
                crate::plan_outline_full(&planner, q)
            });
            match p {
                Ok(s) => s,
                Err(_) => "PANIC".to_owned(),
            }
        };
        let mut queries: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("query"))
            .collect();
        queries.sort();
        let mut same = 0;
        for q in &queries {
            let text = std::fs::read_to_string(q).unwrap();
            let (a, b) = (plan(&ours, &text), plan(&theirs, &text));
            if a == b {
                same += 1
            } else {
                println!(
                    "DIFF {} {}\n--- ours\n{a}\n--- apollo\n{b}",
                    dir.display(),
                    q.display()
                );
            }
        }
        println!("{}: {same}/{} same", dir.display(), queries.len());
    }
}
