//! The engine's stages depend one way: a module of `gateway/src` may name only the modules
//! before it in the request path's order, and no two files import each other in a loop. This
//! test reads the source, so the layering cannot rot unnoticed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The stages in request-path order; `shutdown` and the binary stand apart.
const ORDER: &[&str] = &[
    "error",
    "request",
    "config",
    "supergraph",
    "admit",
    "prepare",
    "transport",
    "cache",
    "execute",
    "respond",
    "pipeline",
    "engine",
    "http",
];

/// Modules outside the order: they may not import any stage and none imports them, except
/// the crate root and the binary.
const APART: &[&str] = &[];

fn source_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `src/`, relative to it.
fn files(dir: &Path, root: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, root, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path.strip_prefix(root).unwrap().to_owned());
        }
    }
}

/// The module path of a file: `execute/fetch.rs` → `["execute", "fetch"]`.
fn module_of(file: &Path) -> Vec<String> {
    let mut parts: Vec<String> = file
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// Each `crate::a::b` or `super::x` path in `text`, as an absolute module path.
fn imports(text: &str, module: &[String]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let code: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    for (start, _) in code.match_indices("crate::") {
        if start > 0 {
            let before = code.as_bytes()[start - 1];
            if before.is_ascii_alphanumeric() || before == b'_' {
                continue; // e.g. `tributary_gateway::` is not `crate::`
            }
        }
        out.push(path_after(&code[start + "crate::".len()..]));
    }
    for (start, _) in code.match_indices("super::") {
        if start > 0 && code.as_bytes()[start - 1] == b':' {
            continue;
        }
        // In `a/b.rs` (module a::b), `super` is `a`; in `a/mod.rs` (module a), it is the root.
        let mut base: Vec<String> = module.to_vec();
        base.pop();
        let mut path = base;
        path.extend(path_after(&code[start + "super::".len()..]));
        out.push(path);
    }
    out
}

/// The identifiers of a path until it ends (`a::b::{c, d}` gives `a::b`).
fn path_after(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut rest = text;
    loop {
        let ident: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if ident.is_empty() {
            break;
        }
        rest = &rest[ident.len()..];
        parts.push(ident);
        match rest.strip_prefix("::") {
            Some(next) => rest = next,
            None => break,
        }
    }
    parts
}

/// The file a module path lands in: the longest prefix that is a file of the crate.
fn resolve(path: &[String], known: &BTreeSet<Vec<String>>) -> Option<Vec<String>> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|prefix| known.contains(prefix))
}

fn rank(module: &str) -> Option<usize> {
    ORDER.iter().position(|m| *m == module)
}

#[test]
fn each_stage_imports_only_the_stages_before_it_and_no_file_imports_in_a_loop() {
    let root = source_root();
    let mut all = Vec::new();
    files(&root, &root, &mut all);
    let modules: BTreeSet<Vec<String>> = all.iter().map(|f| module_of(f)).collect();
    let mut violations = Vec::new();
    let mut graph: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for file in &all {
        let module = module_of(file);
        let Some(top) = module.first().cloned() else {
            continue;
        };
        if top == "lib" || top == "main" {
            continue;
        }
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        for import in imports(&text, &module) {
            let Some(target) = resolve(&import, &modules) else {
                continue;
            };
            if target != module {
                graph
                    .entry(module.clone())
                    .or_default()
                    .insert(target.clone());
            }
            let to = &target[0];
            if *to == top {
                continue;
            }
            let allowed = match (rank(&top), rank(to)) {
                (Some(from), Some(to)) => to < from,
                _ => !APART.contains(&top.as_str()) && !APART.contains(&to.as_str()),
            };
            if !allowed {
                violations.push(format!(
                    "{} imports {} ({})",
                    file.display(),
                    to,
                    import.join("::")
                ));
            }
        }
        assert!(
            rank(&top).is_some() || APART.contains(&top.as_str()),
            "{} is in no stage: add `{top}` to ORDER in this test and to ARCHITECTURE.md",
            file.display()
        );
    }
    violations.sort();
    violations.dedup();
    assert!(
        violations.is_empty(),
        "modules import later stages:\n{}",
        violations.join("\n")
    );
    let cycle = find_cycle(&graph);
    assert!(
        cycle.is_none(),
        "files import each other in a loop: {cycle:?}"
    );
}

/// A loop in the file graph, if there is one, as the files along it.
fn find_cycle(graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Option<Vec<String>> {
    fn visit(
        node: &Vec<String>,
        graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        state: &mut BTreeMap<Vec<String>, u8>,
        stack: &mut Vec<Vec<String>>,
    ) -> Option<Vec<String>> {
        match state.get(node) {
            Some(2) => return None,
            Some(1) => {
                let from = stack.iter().position(|n| n == node).unwrap_or(0);
                return Some(stack[from..].iter().map(|n| n.join("::")).collect());
            }
            _ => {}
        }
        state.insert(node.clone(), 1);
        stack.push(node.clone());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, state, stack) {
                return Some(cycle);
            }
        }
        stack.pop();
        state.insert(node.clone(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for node in graph.keys() {
        if let Some(cycle) = visit(node, graph, &mut state, &mut Vec::new()) {
            return Some(cycle);
        }
    }
    None
}

#[test]
fn http_types_appear_only_in_http_and_transport() {
    let root = source_root();
    let mut all = Vec::new();
    files(&root, &root, &mut all);
    let mut leaks = Vec::new();
    for file in &all {
        let top = module_of(file).first().cloned().unwrap_or_default();
        if ["http", "transport", "main"].contains(&top.as_str()) {
            continue;
        }
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            if line.contains("HeaderMap") || line.contains("http::") || line.contains("axum") {
                leaks.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "HTTP types outside http/ and transport/:\n{}",
        leaks.join("\n")
    );
}

#[test]
fn every_emitted_code_is_a_code_variant() {
    // A code spelled as a string literal anywhere but `error.rs` bypasses the one list.
    let root = source_root();
    let mut all = Vec::new();
    files(&root, &root, &mut all);
    let mut spelled = Vec::new();
    for file in &all {
        if file == Path::new("error.rs") {
            continue;
        }
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        for code in tributary_gateway::Code::ALL {
            let literal = format!("\"{}\"", code.as_str());
            if text.contains(&literal) {
                spelled.push(format!("{}: {literal}", file.display()));
            }
        }
        if text.contains("\"code\"") {
            spelled.push(format!("{}: sets \"code\" by hand", file.display()));
        }
    }
    assert!(
        spelled.is_empty(),
        "codes spelled outside error.rs:\n{}",
        spelled.join("\n")
    );
}

/// Every source file's text, by path relative to `src/`.
fn sources() -> Vec<(PathBuf, String)> {
    let root = source_root();
    let mut all = Vec::new();
    files(&root, &root, &mut all);
    all.into_iter()
        .map(|file| {
            let text = std::fs::read_to_string(root.join(&file)).unwrap();
            (file, text)
        })
        .collect()
}

#[test]
fn only_the_planner_adapter_names_the_planner_crate() {
    let naming: Vec<PathBuf> = sources()
        .into_iter()
        .filter(|(_, text)| text.contains("hive_router_query_planner"))
        .map(|(file, _)| file)
        .collect();
    assert_eq!(naming, vec![PathBuf::from("supergraph/planner.rs")]);
}

#[test]
fn the_engine_knows_nothing_of_the_demo_domains() {
    let stems = [
        "product",
        "catalog",
        "inventory",
        "review",
        "checkout",
        "customer",
    ];
    let mut found = Vec::new();
    for (file, text) in sources() {
        let lower = text.to_lowercase();
        let words = lower.split(|c: char| !c.is_ascii_alphanumeric());
        for word in words {
            // `production` is an environment, not a domain.
            let domain =
                stems.iter().any(|stem| word.starts_with(stem)) && !word.starts_with("production");
            if domain {
                found.push(format!("{}: {word}", file.display()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "demo domains named in the engine:\n{}",
        found.join("\n")
    );
}
