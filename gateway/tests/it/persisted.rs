//! Persisted-operation manifests: each operation's type comes from its parsed document; the
//! engine serves Apollo's persisted query manifest and the Relay / graphql-codegen object of
//! ids to documents, finds `sha256:` ids with or without the prefix, keeps the safelist by the
//! document's text, and refuses a manifest with an unusable entry, naming it.

use std::path::PathBuf;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tributary_gateway::{Manifest, sha256_hex};

use crate::support::{ALL, Stack, config};

#[test]
fn the_manifest_reads_each_operation_type_from_the_document() {
    let manifest = Manifest::from_documents([
        (
            "Commented",
            "# Cancels an order.\nmutation Commented { cancel }",
        ),
        (
            "Fragmented",
            "fragment F on Query { a }\nquery Fragmented { ...F }",
        ),
        ("Shorthand", "{ a }"),
        ("Live", "\n  subscription Live { ticks }"),
    ]);
    let kinds: Vec<(&str, &str)> = manifest
        .operations
        .iter()
        .map(|op| (op.name.as_str(), op.kind.as_str()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("Commented", "mutation"),
            ("Fragmented", "query"),
            ("Live", "subscription"),
            ("Shorthand", "query"),
        ]
    );
}

const TITLE: &str = "query Title($id: ID!) { book(id: $id) { title } }";
const ADD: &str = "mutation Add { add(amount: 5) }";
const PING: &str = "{ ping }";

/// Writes `contents` to a file of its own under the temporary folder.
fn manifest_file(name: &str, contents: &Value) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "tributary-manifest-{}-{name}.json",
        std::process::id()
    ));
    std::fs::write(&path, serde_json::to_string_pretty(contents).unwrap()).unwrap();
    path
}

/// A stack whose engine loads the manifest `contents`, in safelist mode.
async fn safelisted(name: &str, contents: &Value) -> Stack {
    let mut config = config();
    config.persisted.manifest = Some(manifest_file(name, contents));
    config.persisted.safelist = true;
    Stack::start_with(config, ALL).await
}

fn not_found() -> Value {
    json!({
        "errors": [{
            "message": "PersistedQueryNotFound",
            "extensions": { "code": "PERSISTED_QUERY_NOT_FOUND" }
        }]
    })
}

#[tokio::test]
async fn an_apollo_manifest_serves_its_operations_by_id() {
    // Apollo's tools may choose ids that are no hash, and `name` and `type` may be left out.
    let stack = safelisted(
        "apollo",
        &json!({
            "format": "apollo-persisted-query-manifest",
            "version": 1,
            "operations": [
                { "id": "title-v1", "name": "Title", "type": "query", "body": TITLE },
                { "id": sha256_hex(ADD), "body": ADD },
            ]
        }),
    )
    .await;

    let title = stack
        .post(&json!({ "documentId": "title-v1", "variables": { "id": "b3" } }))
        .await;
    assert_eq!(
        title,
        (
            StatusCode::OK,
            json!({ "data": { "book": { "title": "Solaris" } } })
        )
    );
    let add = stack.post(&json!({ "documentId": sha256_hex(ADD) })).await;
    assert_eq!(add, (StatusCode::OK, json!({ "data": { "add": 5 } })));

    // The safelist matches a document by its text, not by the id the manifest gives it.
    let by_text = stack
        .post(&json!({ "query": TITLE, "variables": { "id": "b1" } }))
        .await;
    assert_eq!(
        by_text,
        (
            StatusCode::OK,
            json!({ "data": { "book": { "title": "The Dispossessed" } } })
        )
    );
    // So does an automatic persisted query hash.
    let by_hash = stack
        .post(&json!({
            "variables": { "id": "b2" },
            "extensions": { "persistedQuery": { "version": 1, "sha256Hash": sha256_hex(TITLE) } }
        }))
        .await;
    assert_eq!(
        by_hash,
        (
            StatusCode::OK,
            json!({ "data": { "book": { "title": "Kindred" } } })
        )
    );

    let unknown = stack.post(&json!({ "documentId": "title-v2" })).await;
    assert_eq!(unknown, (StatusCode::BAD_REQUEST, not_found()));
    let other = stack.post(&json!({ "query": PING })).await;
    assert_eq!(other, (StatusCode::BAD_REQUEST, not_found()));
}

#[tokio::test]
async fn a_key_document_map_serves_its_operations_by_either_spelling_of_the_id() {
    // graphql-codegen writes bare hashes; the GraphQL-over-HTTP appendix prefixes them.
    let stack = safelisted(
        "codegen",
        &json!({
            format!("sha256:{}", sha256_hex(TITLE)): TITLE,
            sha256_hex(ADD): ADD,
        }),
    )
    .await;

    for id in [sha256_hex(TITLE), format!("sha256:{}", sha256_hex(TITLE))] {
        let title = stack
            .post(&json!({ "documentId": id, "variables": { "id": "b3" } }))
            .await;
        assert_eq!(
            title,
            (
                StatusCode::OK,
                json!({ "data": { "book": { "title": "Solaris" } } })
            ),
            "{id}"
        );
    }
    let add = stack
        .post(&json!({ "documentId": format!("sha256:{}", sha256_hex(ADD)) }))
        .await;
    assert_eq!(add, (StatusCode::OK, json!({ "data": { "add": 5 } })));
    // Over GET, as a mobile client sends a query by id.
    let by_get = stack
        .get(&format!(
            "/graphql?id={}&variables=%7B%22id%22%3A%22b1%22%7D",
            sha256_hex(TITLE)
        ))
        .await;
    assert_eq!(by_get.status(), StatusCode::OK);
    assert_eq!(
        by_get.json::<Value>().await.unwrap(),
        json!({ "data": { "book": { "title": "The Dispossessed" } } })
    );

    let unknown = stack
        .post(&json!({ "documentId": format!("sha256:{}", sha256_hex(PING)) }))
        .await;
    assert_eq!(unknown, (StatusCode::BAD_REQUEST, not_found()));
    let other = stack.post(&json!({ "query": PING })).await;
    assert_eq!(other, (StatusCode::BAD_REQUEST, not_found()));
}

#[test]
fn each_format_reads_name_and_type_from_the_document_when_it_does_not_carry_them() {
    let apollo = manifest_file(
        "described-apollo",
        &json!({
            "format": "apollo-persisted-query-manifest",
            "version": 1,
            "operations": [{ "id": "add", "body": ADD }, { "id": "ping", "body": PING }]
        }),
    );
    let map = manifest_file("described-map", &json!({ "add": ADD, "ping": PING }));
    for path in [apollo, map] {
        let manifest = Manifest::load(&path).unwrap();
        let described: Vec<(&str, &str, &str)> = manifest
            .operations
            .iter()
            .map(|op| (op.id.as_str(), op.name.as_str(), op.kind.as_str()))
            .collect();
        assert_eq!(
            described,
            vec![("ping", "", "query"), ("add", "Add", "mutation")],
            "{}",
            path.display()
        );
    }
}

#[test]
fn a_manifest_with_an_unusable_entry_is_refused_naming_it() {
    let apollo = |operations: Value| json!({ "format": "apollo-persisted-query-manifest", "version": 1, "operations": operations });
    let cases = [
        (
            "apollo-unparsable",
            apollo(json!([{ "id": "ok", "body": PING }, { "id": "broken", "body": "query {" }])),
            "operation broken: the document does not parse",
        ),
        (
            "map-unparsable",
            json!({ "ok": PING, "sha256:beef": "query Broken { book(id: }" }),
            "operation sha256:beef: the document does not parse",
        ),
        (
            "map-fragment-only",
            json!({ "fragment": "fragment F on Query { ping }" }),
            "operation fragment: the document holds no operation",
        ),
        (
            "apollo-no-body",
            apollo(json!([{ "id": "empty" }])),
            "operation empty: missing field `body`",
        ),
        (
            "apollo-no-id",
            apollo(json!([{ "body": PING }])),
            "operation #0: missing field `id`",
        ),
        (
            "same-id-twice",
            json!({ "sha256:abc": PING, "abc": TITLE }),
            "names a different document",
        ),
        (
            "map-not-strings",
            json!({ "ok": PING, "nested": { "body": PING } }),
            "the value of `nested` is not a document string",
        ),
        (
            "other-format",
            json!({ "format": "relay", "operations": [] }),
            "`format` is \"relay\"",
        ),
        (
            "other-version",
            json!({ "format": "apollo-persisted-query-manifest", "version": 2, "operations": [] }),
            "`version` is 2",
        ),
    ];
    for (name, contents, expected) in cases {
        let path = manifest_file(name, &contents);
        let message = Manifest::load(&path)
            .map(|_| "loaded".to_owned())
            .unwrap_or_else(|error| error.to_string());
        assert!(
            message.contains(&path.display().to_string()) && message.contains(expected),
            "{name}: {message}"
        );
    }
}

#[tokio::test]
async fn an_engine_does_not_start_with_a_broken_manifest() {
    let stack = Stack::start().await;
    let mut config = config();
    let path = manifest_file("engine-broken", &json!({ "broken": "query {" }));
    config.persisted.manifest = Some(path.clone());
    let error = tributary_gateway::Engine::new(
        stack.supergraph(ALL),
        config,
        std::collections::HashMap::new(),
    )
    .err()
    .map(|error| error.to_string());
    assert_eq!(
        error.as_deref().map(|e| e.split(": the document").next()),
        Some(Some(
            format!("the manifest {}, operation broken", path.display()).as_str()
        ))
    );
}
