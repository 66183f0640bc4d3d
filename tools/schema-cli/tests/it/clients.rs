//! The per-client files: each BFF's supergraph with its local subgraph, the mobile contract
//! without the web-only fields, and the mobile app's persisted operations checked against it.

use std::fs;
use std::path::PathBuf;

use tributary_gateway::Supergraph;
use tributary_gateway::{Manifest, sha256_hex};
use tributary_schema::files::Artifacts;
use tributary_schema_cli::workspace::{self, WorkspaceError, client_file};

use crate::definition;

fn artifacts() -> Artifacts {
    workspace::artifacts(&workspace::default_root()).unwrap_or_else(|error| panic!("{error}"))
}

fn file(artifacts: &Artifacts, client: &str, name: &str) -> String {
    artifacts
        .get(client_file(client, name))
        .unwrap_or_else(|| panic!("no {client}/{name}"))
        .to_owned()
}

#[test]
fn each_client_supergraph_joins_its_local_subgraph_in_process() {
    let artifacts = artifacts();
    for client in ["web", "mobile"] {
        let supergraph = file(&artifacts, client, "supergraph.graphql");
        let graph = format!(
            "  {} @join__graph(name: \"{client}\", url: \"inprocess://{client}\")\n",
            client.to_uppercase()
        );
        assert!(supergraph.contains(&graph), "{client} lacks {graph:?}");
        assert!(supergraph.contains(
            "  CATALOG @join__graph(name: \"catalog\", url: \"http://127.0.0.1:4102/graphql\")\n"
        ));
        let other = if client == "web" { "mobile" } else { "web" };
        assert!(!supergraph.contains(&format!("inprocess://{other}")));
        Supergraph::from_sdl(&supergraph).unwrap_or_else(|e| panic!("{client}: {e}"));
    }
}

#[test]
fn the_mobile_api_lacks_what_is_tagged_web_and_the_web_api_has_it() {
    let artifacts = artifacts();
    let web = file(&artifacts, "web", "api.graphql");
    let mobile = file(&artifacts, "mobile", "api.graphql");
    for (header, field) in [
        ("type Product", "\n  description: String!\n"),
        ("type Query", "\n  users("),
        ("type Category", "\n  products("),
    ] {
        assert!(
            definition(&web, header).contains(field),
            "web lacks {field:?}"
        );
        assert!(
            !definition(&mobile, header).contains(field),
            "mobile has {field:?}"
        );
    }
    // Types only the hidden fields reached are gone too.
    assert!(web.contains("\ntype UserConnection {"));
    assert!(!mobile.contains("UserConnection"));
    // The API schemas carry no federation machinery and no introspection.
    for api in [&web, &mobile] {
        for absent in ["join__", "@tag", "@inaccessible", "__Schema", "__type"] {
            assert!(!api.contains(absent), "an API schema has {absent:?}");
        }
    }
}

#[test]
fn the_manifest_lists_every_mobile_operation_with_the_engine_s_id() {
    let manifest_path =
        PathBuf::from(workspace::MOBILE_OPERATIONS_DIR).join(workspace::MANIFEST_FILE);
    let text = artifacts()
        .get(&manifest_path)
        .expect("the manifest is an artifact")
        .to_owned();
    let manifest: Manifest = serde_json::from_str(&text).expect("the manifest is JSON");
    assert_eq!(manifest.format, "apollo-persisted-query-manifest");
    assert_eq!(manifest.version, 1);
    let dir = workspace::default_root().join(workspace::MOBILE_OPERATIONS_DIR);
    let files = fs::read_dir(&dir)
        .expect("the operations exist")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "graphql"))
        })
        .count();
    assert_eq!(manifest.operations.len(), files);
    for operation in &manifest.operations {
        assert_eq!(
            operation.id,
            sha256_hex(&operation.body),
            "{}",
            operation.name
        );
        let body = fs::read_to_string(dir.join(format!("{}.graphql", operation.name)))
            .unwrap_or_else(|e| panic!("{}: {e}", operation.name));
        assert_eq!(operation.body, body.trim());
    }
}

/// Builds the manifest of one operation file against the mobile API.
fn manifest_of(name: &str, operation: &str) -> Result<String, WorkspaceError> {
    let mobile = file(&artifacts(), "mobile", "supergraph.graphql");
    let engine = Supergraph::from_sdl(&mobile).expect("loads");
    let dir = std::env::temp_dir().join(format!(
        "tributary-operations-{}-{name}",
        std::process::id()
    ));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("creates");
    fs::write(dir.join(format!("{name}.graphql")), operation).expect("writes");
    let manifest = workspace::manifest(&dir, engine.api().document());
    let _ = fs::remove_dir_all(&dir);
    manifest
}

#[test]
fn an_operation_the_mobile_api_cannot_answer_is_refused() {
    let valid = manifest_of("Names", "query Names { products { nodes { name } } }\n")
        .expect("a valid operation");
    assert!(valid.contains("\"name\": \"Names\""), "{valid}");

    let error = manifest_of(
        "Descriptions",
        "query Descriptions { products { nodes { description } } }\n",
    )
    .expect_err("`description` is web-only");
    let message = error.to_string();
    assert!(
        message.contains("Descriptions.graphql: invalid against the mobile API"),
        "{message}"
    );
    assert!(message.contains("description"), "{message}");

    let anonymous =
        manifest_of("Anonymous", "{ products { nodes { name } } }\n").expect_err("unnamed");
    assert!(
        anonymous.to_string().contains("must be named"),
        "{anonymous}"
    );
}
