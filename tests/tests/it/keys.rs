//! Signing keys: a stack started with a folder of ES256 keys signs with the newest, publishes
//! them all at accounts' `/.well-known/jwks.json`, verifies at every subgraph and (through that
//! JWKS) at the engines, and follows a rotation of the folder without a restart.

use std::path::Path;
use std::time::{Duration, Instant};

use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use subgraph_kit::auth::keys;
use tributary_tests::{TEST_SECRET, TestStack, error_code};

/// How often the test stacks read their key folder again (and how long a new key is published
/// before it signs).
const RELOAD: Duration = Duration::from_secs(1);

/// How long a change of the key folder may take to show everywhere.
const SETTLE: Duration = Duration::from_secs(15);

const ME: &str = "{ me { username } }";

/// A key folder holding freshly made keys named `kids`.
fn key_folder(kids: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a key folder");
    for kid in kids {
        keys::generate(dir.path(), kid).expect("a new key");
    }
    dir
}

/// The `kid` and algorithm in a token's header.
fn header(token: &str) -> (Option<String>, Algorithm) {
    let header = jsonwebtoken::decode_header(token).expect("a JWT header");
    (header.kid, header.alg)
}

/// `{ me { username } }` through a BFF or the router with `token`: the HTTP status and body.
async fn me_through(stack: &TestStack, front: &str, token: &str) -> (u16, Value) {
    let response = stack
        .http()
        .post(stack.url(front))
        .bearer_auth(token)
        .json(&json!({ "query": ME }))
        .send()
        .await
        .expect("the engine answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON"))
}

/// The username accounts, called directly, sees in `token`; or the error code it answers.
async fn me_at_accounts(stack: &TestStack, token: &str) -> Result<String, String> {
    let response = stack.gql_as("accounts", token, ME, json!({})).await;
    match response["data"]["me"]["username"].as_str() {
        Some(name) => Ok(name.to_owned()),
        None => Err(error_code(&response).to_owned()),
    }
}

async fn jwks(stack: &TestStack) -> (Value, Option<String>) {
    let response = stack
        .http()
        .get(stack.jwks_url())
        .send()
        .await
        .expect("accounts answers");
    assert_eq!(response.status(), 200);
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (response.json().await.expect("JSON"), content_type)
}

/// The kids the JWKS publishes, in order.
async fn published_kids(stack: &TestStack) -> Vec<String> {
    jwks(stack).await.0["keys"]
        .as_array()
        .expect("a key list")
        .iter()
        .map(|key| key["kid"].as_str().expect("a kid").to_owned())
        .collect()
}

/// Waits until the JWKS publishes exactly `kids`.
async fn wait_for_kids(stack: &TestStack, kids: &[&str]) {
    let deadline = Instant::now() + SETTLE;
    loop {
        let published = published_kids(stack).await;
        if published == kids {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the JWKS still publishes {published:?}, not {kids:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the router answers `expected` for `token`.
async fn wait_for_router_status(stack: &TestStack, token: &str, expected: u16) -> Value {
    let deadline = Instant::now() + SETTLE;
    loop {
        let (status, body) = me_through(stack, "gateway", token).await;
        if status == expected {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "the router still answers {status} {body}, not {expected}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn keyed_stack(folder: &Path) -> TestStack {
    TestStack::with_keys(folder, RELOAD).await
}

#[tokio::test]
async fn an_es256_token_from_login_verifies_at_a_subgraph_and_at_every_engine_through_the_jwks() {
    let folder = key_folder(&["2026-01"]);
    let stack = keyed_stack(folder.path()).await;
    let token = stack.login("grace@example.com").await;
    assert_eq!(
        header(&token),
        (Some("2026-01".to_owned()), Algorithm::ES256)
    );

    assert_eq!(me_at_accounts(&stack, &token).await, Ok("grace".to_owned()));
    for front in ["gateway", "web", "mobile"] {
        let (status, body) = me_through(&stack, front, &token).await;
        assert_eq!(
            (status, body),
            (200, json!({ "data": { "me": { "username": "grace" } } })),
            "{front}"
        );
    }

    // A token signed by a key outside the folder under a kid of the folder, and an HS256
    // token signed with the development-style secret (algorithm confusion), are refused by a
    // subgraph called directly and by the engines before any subgraph sees them.
    let stranger_folder = key_folder(&["2026-01"]);
    let stranger =
        subgraph_kit::Auth::from_key_dir(stranger_folder.path(), RELOAD, Duration::from_secs(60))
            .expect("a stranger's keys")
            .issue_user(2, "grace")
            .expect("signed");
    let hs256 = subgraph_kit::Auth::new(TEST_SECRET.as_bytes(), Duration::from_secs(60))
        .issue_user(2, "grace")
        .expect("signed");
    for forged in [&stranger, &hs256] {
        assert_eq!(
            me_at_accounts(&stack, forged).await,
            Err("UNAUTHENTICATED".to_owned())
        );
        let reviews = stack
            .gql_as("reviews", forged, "{ __typename }", json!({}))
            .await;
        assert_eq!(error_code(&reviews), "UNAUTHENTICATED", "{reviews}");
        for front in ["gateway", "web", "mobile"] {
            let (status, body) = me_through(&stack, front, forged).await;
            assert_eq!(status, 401, "{front}: {body}");
            assert_eq!(error_code(&body), "UNAUTHENTICATED", "{front}: {body}");
        }
    }
    stack.stop().await;
}

#[tokio::test]
async fn the_jwks_publishes_every_public_key_and_nothing_private() {
    let folder = key_folder(&["k1", "k2"]);
    let stack = keyed_stack(folder.path()).await;
    let (document, content_type) = jwks(&stack).await;
    assert_eq!(content_type.as_deref(), Some("application/jwk-set+json"));
    let keys = document["keys"].as_array().expect("a key list");
    assert_eq!(keys.len(), 2, "{document}");
    for (key, kid) in keys.iter().zip(["k1", "k2"]) {
        let x = key["x"].as_str().expect("x");
        let y = key["y"].as_str().expect("y");
        assert_eq!(
            (x.len(), y.len()),
            (43, 43),
            "32-byte coordinates, base64url"
        );
        assert_eq!(
            key,
            &json!({ "kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": kid, "alg": "ES256", "use": "sig" })
        );
    }
    // The kid that sorts last signs.
    let token = stack.login("ada@example.com").await;
    assert_eq!(header(&token).0.as_deref(), Some("k2"));
    stack.stop().await;

    // With the HS256 secret nothing is published: the secret is never a JWK.
    let stack = TestStack::sqlite().await;
    assert_eq!(jwks(&stack).await.0, json!({ "keys": [] }));
    stack.stop().await;
}

#[tokio::test]
async fn a_key_added_to_the_folder_signs_and_a_key_removed_stops_verifying_without_a_restart() {
    let folder = key_folder(&["2026-01"]);
    let stack = keyed_stack(folder.path()).await;
    let old = stack.login("ada@example.com").await;
    assert_eq!(header(&old).0.as_deref(), Some("2026-01"));
    assert_eq!(me_through(&stack, "gateway", &old).await.0, 200);

    // Rollover: the new key joins; both are published, and once the new key has been
    // published for a period new tokens use it, while old ones still pass.
    keys::generate(folder.path(), "2026-07").expect("a new key");
    wait_for_kids(&stack, &["2026-01", "2026-07"]).await;
    let deadline = Instant::now() + SETTLE;
    let new = loop {
        let token = stack.login("ada@example.com").await;
        if header(&token).0.as_deref() == Some("2026-07") {
            break token;
        }
        assert!(
            Instant::now() < deadline,
            "tokens are still signed with the old key"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    for token in [&old, &new] {
        assert_eq!(me_at_accounts(&stack, token).await, Ok("ada".to_owned()));
        let (status, body) = me_through(&stack, "gateway", token).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body, json!({ "data": { "me": { "username": "ada" } } }));
    }

    // Retirement: the old key leaves the folder; its tokens are refused at the subgraphs at
    // once and at the engines as soon as their copy of the JWKS is renewed.
    std::fs::remove_file(folder.path().join("2026-01.pem")).expect("the old key removed");
    wait_for_kids(&stack, &["2026-07"]).await;
    assert_eq!(
        me_at_accounts(&stack, &old).await,
        Err("UNAUTHENTICATED".to_owned())
    );
    let refused = wait_for_router_status(&stack, &old, 401).await;
    assert_eq!(error_code(&refused), "UNAUTHENTICATED", "{refused}");
    assert_eq!(me_at_accounts(&stack, &new).await, Ok("ada".to_owned()));
    assert_eq!(me_through(&stack, "gateway", &new).await.0, 200);
    stack.stop().await;
}

#[tokio::test]
async fn service_tokens_are_signed_with_the_keys_so_checkout_reaches_inventory() {
    let folder = key_folder(&["k1"]);
    let stack = keyed_stack(folder.path()).await;
    let token = stack.login("grace@example.com").await;
    let placed = stack
        .gql_as(
            "orders",
            &token,
            "mutation($lines: [CheckoutLineInput!]!, $key: String!) {
                checkout(lines: $lines, idempotencyKey: $key) { status customer { id } } }",
            json!({ "lines": [{ "productId": "1", "quantity": 1 }], "key": "es256-checkout" }),
        )
        .await;
    assert_eq!(
        placed["data"],
        json!({ "checkout": { "status": "PLACED", "customer": { "id": "2" } } }),
        "{placed}"
    );
    stack.stop().await;
}
