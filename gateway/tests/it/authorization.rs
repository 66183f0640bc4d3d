//! The supergraph's `@authenticated`, `@requiresScopes` and `@policy`, enforced before planning:
//! a field the caller may not read answers null with `UNAUTHORIZED_FIELD_OR_TYPE` at its path,
//! the rest answers, and a denied field is never fetched.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tributary_gateway::config::PolicyRule;

use crate::support::{ALL, Stack, config};

const SECRET: &str = "a-test-secret-that-is-at-least-32-bytes-long";

async fn stack() -> Stack {
    let mut config = config();
    config.auth.enabled = true;
    config.auth.hs256_secret = Some(SECRET.to_owned());
    config.authorization.policies.insert(
        "finance".to_owned(),
        PolicyRule {
            claim: "role".to_owned(),
            values: vec!["finance".to_owned(), "owner".to_owned()],
        },
    );
    Stack::start_with(config, ALL).await
}

/// A token for user 42 with `scope` and any extra claims.
fn token(scope: &str, extra: Value) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut claims = json!({ "sub": "42", "exp": now + 3600, "scope": scope });
    if let (Some(claims), Some(extra)) = (claims.as_object_mut(), extra.as_object()) {
        claims.extend(extra.clone());
    }
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

async fn send(stack: &Stack, query: &str, token: Option<&str>) -> (StatusCode, Value) {
    let mut request = stack
        .client
        .post(stack.endpoint())
        .header("accept", "application/graphql-response+json")
        .json(&json!({ "query": query }));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    (response.status(), response.json().await.unwrap())
}

fn unauthorized(path: Value, field: &str) -> Value {
    json!({
        "message": format!("not authorized to read `{field}`"),
        "path": path,
        "extensions": { "code": "UNAUTHORIZED_FIELD_OR_TYPE" },
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_scope_nulls_that_field_only_and_it_is_never_fetched() {
    let stack = stack().await;
    let query = r#"{ author(id: "a1") { name email } }"#;

    let (status, body) = send(&stack, query, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({
            "data": { "author": { "name": "Ursula K. Le Guin", "email": null } },
            "errors": [unauthorized(json!(["author", "email"]), "author.email")],
        })
    );
    let asked = stack.received("authors");
    assert!(
        asked
            .iter()
            .all(|request| !request.to_string().contains("email")),
        "the denied field reached the subgraph: {asked:?}"
    );

    let user = token("user", json!({}));
    let (_, body) = send(&stack, query, Some(&user)).await;
    assert_eq!(body["data"]["author"]["email"], Value::Null, "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "UNAUTHORIZED_FIELD_OR_TYPE"
    );

    let staff = token("user staff", json!({}));
    let (_, body) = send(&stack, query, Some(&staff)).await;
    assert_eq!(
        body,
        json!({ "data": { "author": { "name": "Ursula K. Le Guin", "email": "a1@authors.example" } } })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_field_under_an_entity_keeps_the_shape_of_the_answer() {
    let stack = stack().await;
    let query = r#"{ book(id: "b1") { title author { email } } }"#;
    let (_, body) = send(&stack, query, None).await;
    assert_eq!(
        body["data"],
        json!({ "book": { "title": "The Dispossessed", "author": { "email": null } } }),
        "{body}"
    );
    assert_eq!(
        body["errors"],
        json!([unauthorized(
            json!(["book", "author", "email"]),
            "book.author.email"
        )])
    );
    // The authors subgraph had nothing left to answer: its only field was denied.
    assert_eq!(stack.requests()["authors"], json!(0), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_non_null_field_nulls_its_parent_with_one_error_and_policies_read_claims() {
    let stack = stack().await;
    let query = r#"{ author(id: "a1") { name royalties } }"#;
    let (_, body) = send(
        &stack,
        query,
        Some(&token("user", json!({ "role": "user" }))),
    )
    .await;
    assert_eq!(
        body,
        json!({
            "data": { "author": null },
            "errors": [unauthorized(json!(["author", "royalties"]), "author.royalties")],
        })
    );
    let finance = token("user", json!({ "role": ["staff", "finance"] }));
    let (_, body) = send(&stack, query, Some(&finance)).await;
    assert_eq!(
        body,
        json!({ "data": { "author": { "name": "Ursula K. Le Guin", "royalties": 1929 } } })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operation_whose_every_field_is_denied_makes_no_subgraph_request() {
    let stack = stack().await;
    let (status, body) = send(&stack, "{ drafts { title } }", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({
            "data": { "drafts": null },
            "errors": [unauthorized(json!(["drafts"]), "drafts")],
        })
    );
    assert_eq!(
        stack.requests(),
        json!({ "authors": 0, "books": 0, "search": 0, "shipping": 0 })
    );

    let (_, body) = send(
        &stack,
        "{ drafts { title } }",
        Some(&token("user", json!({}))),
    )
    .await;
    assert!(body.get("errors").is_none(), "{body}");
    assert!(body["data"]["drafts"].as_array().is_some(), "{body}");
}
