//! `tributary-schema manifest`: a persisted-operation manifest from any folder of `.graphql`
//! files, in Apollo's format or as an object of ids to documents, which the engine loads and
//! serves by id.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use tributary_gateway::{Config, Engine, Manifest, Request, Supergraph, sha256_hex};
use tributary_schema_cli::workspace;

/// A scratch folder holding `files` (relative path, text).
fn folder(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "tributary-manifest-cli-{}-{name}",
        std::process::id()
    ));
    let _ = fs::remove_dir_all(&dir);
    for (path, text) in files {
        let path = dir.join(path);
        fs::create_dir_all(path.parent().expect("a parent")).expect("creates");
        fs::write(path, text).expect("writes");
    }
    dir
}

/// Runs `tributary-schema manifest` over `operations`; its exit code, output and error output.
fn manifest_command(operations: &Path, output: &Path, format: &str) -> (Option<i32>, String) {
    let run = Command::new(env!("CARGO_BIN_EXE_tributary-schema"))
        .args([
            "manifest".as_ref(),
            "--operations".as_ref(),
            operations.as_os_str(),
        ])
        .args(["--output".as_ref(), output.as_os_str()])
        .args(["--format", format])
        .output()
        .expect("runs the command");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    (run.status.code(), text)
}

/// Two operations and a fragment in one file, one operation using a fragment of another file
/// in a folder below, and a file of fragments only.
const SHOP: &str = "fragment Typed on Query { __typename }\n\nquery Home { ...Typed }\n\n\
                    mutation Bump { __typename }\n";
const ME: &str = "# Who is signed in.\nquery Me {\n  ...Shared\n}\n";
const SHARED: &str = "fragment Shared on Query { __typename }\n";

const HOME_BODY: &str = "query Home {\n  ...Typed\n}\n\nfragment Typed on Query {\n  __typename\n}";
const BUMP_BODY: &str = "mutation Bump {\n  __typename\n}";
const ME_BODY: &str = "# Who is signed in.\nquery Me {\n  ...Shared\n}\n\n\
                       fragment Shared on Query {\n  __typename\n}";

fn shop() -> PathBuf {
    folder(
        "shop",
        &[
            ("shop.graphql", SHOP),
            ("account/Me.graphql", ME),
            ("fragments.graphql", SHARED),
            ("README.md", "not an operation"),
        ],
    )
}

#[test]
fn any_folder_of_operations_gives_an_apollo_manifest_with_types_from_the_documents() {
    let dir = shop();
    let output = dir.join("manifest.json");
    let (code, text) = manifest_command(&dir, &output, "apollo");
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(text, format!("wrote {} (3 operations)\n", output.display()));
    let written: Value =
        serde_json::from_str(&fs::read_to_string(&output).expect("written")).expect("JSON");
    let operation = |name: &str, kind: &str, body: &str| json!({ "id": sha256_hex(body), "name": name, "type": kind, "body": body });
    assert_eq!(
        written,
        json!({
            "format": "apollo-persisted-query-manifest",
            "version": 1,
            "operations": [
                operation("Bump", "mutation", BUMP_BODY),
                operation("Home", "query", HOME_BODY),
                operation("Me", "query", ME_BODY),
            ]
        })
    );

    // `tributary` names the same format: the engine's own is Apollo's.
    let tributary = dir.join("tributary.json");
    assert_eq!(manifest_command(&dir, &tributary, "tributary").0, Some(0));
    assert_eq!(fs::read(&tributary).ok(), fs::read(&output).ok());
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn any_folder_of_operations_gives_an_object_of_ids_to_documents() {
    let dir = shop();
    let output = dir.join("persisted-documents.json");
    let (code, text) = manifest_command(&dir, &output, "documents");
    assert_eq!(code, Some(0), "{text}");
    let written = fs::read_to_string(&output).expect("written");
    let expected = format!(
        "{{\n  {}: {},\n  {}: {},\n  {}: {}\n}}\n",
        json!(sha256_hex(BUMP_BODY)),
        json!(BUMP_BODY),
        json!(sha256_hex(HOME_BODY)),
        json!(HOME_BODY),
        json!(sha256_hex(ME_BODY)),
        json!(ME_BODY),
    );
    assert_eq!(written, expected);
    let _ = fs::remove_dir_all(&dir);
}

/// A subgraph on loopback that answers every operation with its root type's `__typename`;
/// its URL.
async fn typename_subgraph() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let url = format!(
        "http://{}/graphql",
        listener.local_addr().expect("an address")
    );
    let answer = |axum::Json(body): axum::Json<Value>| async move {
        let query = body["query"].as_str().unwrap_or_default().trim_start();
        let root = if query.starts_with("mutation") {
            "Mutation"
        } else {
            "Query"
        };
        axum::Json(json!({ "data": { "__typename": root } }))
    };
    let app = axum::Router::new().route("/graphql", axum::routing::post(answer));
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[tokio::test]
async fn the_engine_serves_a_generated_manifest_of_either_format_by_id() {
    // The router's supergraph, every subgraph answering `__typename` at one address.
    let root = workspace::default_root();
    let mut sdl =
        fs::read_to_string(root.join("schema/supergraph.graphql")).expect("the supergraph");
    let subgraph = typename_subgraph().await;
    for source in workspace::domain_sources() {
        sdl = sdl.replace(&source.url, &subgraph);
    }
    let dir = shop();
    let mut loaded = Vec::new();
    for format in ["apollo", "documents"] {
        let output = dir.join(format!("{format}.json"));
        assert_eq!(manifest_command(&dir, &output, format).0, Some(0));
        loaded.push(Manifest::load(&output).unwrap_or_else(|e| panic!("{format}: {e}")));

        let mut config = Config::default();
        config.persisted.manifest = Some(output);
        config.persisted.safelist = true;
        let supergraph = Supergraph::from_sdl(&sdl).expect("the engine loads the supergraph");
        let engine = Engine::new(supergraph, config, HashMap::new()).expect("the engine starts");
        let run = |document_id: Option<String>, query: Option<&str>| {
            let request = Request {
                document_id,
                query: query.map(str::to_owned),
                ..Request::default()
            };
            let engine = &engine;
            async move {
                let response = engine.run(request).await;
                serde_json::from_slice::<Value>(&response.body).expect("JSON")
            }
        };
        assert_eq!(
            run(Some(sha256_hex(HOME_BODY)), None).await,
            json!({ "data": { "__typename": "Query" } }),
            "{format}"
        );
        assert_eq!(
            run(Some(sha256_hex(BUMP_BODY)), None).await,
            json!({ "data": { "__typename": "Mutation" } }),
            "{format}"
        );
        // The safelist refuses an id and a document the folder does not hold.
        for refused in [
            run(Some(sha256_hex("{ __typename }")), None).await,
            run(None, Some("{ __typename }")).await,
        ] {
            assert_eq!(
                refused["errors"][0]["extensions"]["code"], "PERSISTED_QUERY_NOT_FOUND",
                "{format}: {refused}"
            );
        }
    }
    // Both formats carry the same operations: names and types are read from the documents.
    assert_eq!(loaded[0], loaded[1]);
    let _ = fs::remove_dir_all(&dir);
}

/// Files of a scratch folder: relative path and text.
type Files<'a> = &'a [(&'a str, &'a str)];

#[test]
fn a_folder_that_cannot_give_a_manifest_is_refused_naming_the_file() {
    let cases: [(&str, Files, &str); 5] = [
        (
            "anonymous",
            &[("a.graphql", "{ __typename }")],
            "a.graphql: every persisted operation must be named",
        ),
        (
            "twice",
            &[
                ("a.graphql", "query Same { __typename }"),
                ("b.graphql", "query Same { __typename }"),
            ],
            "b.graphql: operation `Same` is also defined in",
        ),
        (
            "unparsable",
            &[("a.graphql", "query Broken {")],
            "a.graphql: Parse error at 1:15",
        ),
        (
            "missing-fragment",
            &[("a.graphql", "query A { ...Nowhere }")],
            "a.graphql: fragment `Nowhere` is defined in no file of the folder",
        ),
        (
            "empty",
            &[("notes.txt", "query A { __typename }")],
            "no `.graphql` file holds an operation",
        ),
    ];
    for (name, files, expected) in cases {
        let dir = folder(name, files);
        let output = dir.join("manifest.json");
        let (code, text) = manifest_command(&dir, &output, "apollo");
        assert_eq!(code, Some(1), "{name}: {text}");
        assert!(
            text.starts_with("error: ") && text.contains(expected),
            "{name}: {text}"
        );
        assert!(!output.exists(), "{name}");
        let _ = fs::remove_dir_all(&dir);
    }
}

#[test]
fn the_workspace_manifest_is_what_the_command_writes_for_the_mobile_operations() {
    let root = workspace::default_root();
    let operations = root.join(workspace::MOBILE_OPERATIONS_DIR);
    let output = folder("mobile", &[]).join("manifest.json");
    fs::create_dir_all(output.parent().expect("a parent")).expect("creates");
    let (code, text) = manifest_command(&operations, &output, "apollo");
    assert_eq!(code, Some(0), "{text}");
    let checked_in = fs::read_to_string(operations.join(workspace::MANIFEST_FILE)).expect("reads");
    assert_eq!(fs::read_to_string(&output).expect("written"), checked_in);
    let _ = fs::remove_dir_all(output.parent().expect("a parent"));
}
