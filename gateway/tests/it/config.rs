//! The configuration: the generated reference stays in sync with the types, and the router
//! binary loads a file with environment overrides, refusing unknown keys by name.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::Stack;

fn docs() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs")
}

#[test]
fn the_checked_in_reference_matches_the_configuration_types() {
    let generated = [
        ("config.md", tributary_gateway::config::markdown()),
        (
            "config.schema.json",
            tributary_gateway::config::json_schema(),
        ),
    ];
    for (name, text) in generated {
        let path = docs().join(name);
        if std::env::var_os("UPDATE_REFERENCE").is_some() {
            std::fs::create_dir_all(docs()).unwrap();
            std::fs::write(&path, &text).unwrap();
        }
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            on_disk == text,
            "docs/{name} is out of date: run `UPDATE_REFERENCE=1 cargo nextest run -p tributary-gateway config`"
        );
    }
    let reference = tributary_gateway::config::markdown();
    for section in [
        "server",
        "subgraphs",
        "limits",
        "persisted",
        "cors",
        "graphiql",
        "telemetry",
        "cache",
    ] {
        assert!(
            reference.contains(&format!("## `[{section}]`")),
            "{section} missing"
        );
    }
    assert!(
        reference.contains("| `timeout_ms` | integer | `5000` |"),
        "{reference}"
    );
}

/// A scratch file under the target directory.
fn scratch(name: &str, text: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("config-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{}-{name}", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

fn router() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tributary-gateway"));
    command
        .env_remove("TRIBUTARY_CONFIG")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null());
    command
}

#[test]
fn an_unknown_key_is_refused_naming_the_key_and_the_file() {
    let config = scratch("unknown.toml", "[limits]\nmax_dept = 3\n");
    let supergraph = scratch("unknown.graphql", "type Query { a: Int }");
    let output = router()
        .args(["--supergraph", supergraph.to_str().unwrap()])
        .args(["--config", config.to_str().unwrap()])
        .args(["--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("max_dept"), "{stderr}");
    let file = config.file_name().unwrap().to_str().unwrap();
    assert!(stderr.contains(file), "{stderr}");
}

#[test]
fn a_bad_environment_override_is_refused_naming_the_variable() {
    let supergraph = scratch("badenv.graphql", "type Query { a: Int }");
    let output = router()
        .args(["--supergraph", supergraph.to_str().unwrap()])
        .args(["--listen", "127.0.0.1:0"])
        .env("TRIBUTARY_SUBGRAPHS__TIMEOUT_MS", "soon")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("TRIBUTARY_SUBGRAPHS__TIMEOUT_MS"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_file_and_the_environment_configure_the_router() {
    let stack = Stack::start().await;
    let supergraph = scratch("serve.graphql", &stack.supergraph_sdl(crate::support::ALL));
    let config = scratch(
        "serve.toml",
        "[limits]\nmax_depth = 8\n\n[server]\nname = \"edge\"\n",
    );
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let mut child = router()
        .args(["--supergraph", supergraph.to_str().unwrap()])
        .args(["--config", config.to_str().unwrap()])
        .args(["--listen", &format!("127.0.0.1:{port}")])
        // The environment wins over the file.
        .env("TRIBUTARY_LIMITS__MAX_DEPTH", "2")
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let started = Instant::now();
    while client.get(format!("{base}/health")).send().await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the router did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let answer: Value = client
        .post(format!("{base}/graphql"))
        .json(&json!({ "query": "{ books { author { name } } }" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    child.kill().unwrap();
    let _ = child.wait();
    assert_eq!(
        answer["errors"][0]["extensions"]["code"],
        json!("MAX_DEPTH_EXCEEDED"),
        "{answer}"
    );
}

#[test]
fn the_readme_error_code_table_is_the_one_the_engine_emits() {
    use tributary_gateway::error::Code;
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("the README");
    let table: Vec<(String, u16)> = readme
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let code = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
            let status = cells.get(2)?.parse().ok()?;
            code.chars()
                .all(|c| c.is_ascii_uppercase() || c == '_')
                .then(|| (code.to_owned(), status))
        })
        .collect();
    let engine: Vec<(String, u16)> = Code::ALL
        .iter()
        .map(|code| (code.as_str().to_owned(), code.http_status()))
        .collect();
    assert_eq!(table, engine, "README's error-code table vs `Code`");
}
