//! Tokens verified at the engine: good ones pass, bad ones get one clear `UNAUTHENTICATED`
//! error before any subgraph is asked, and published keys rotate without a restart.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{ALL, Stack, config};

const SECRET: &str = "a-test-secret-that-is-at-least-32-bytes-long";
const ISSUER: &str = "tributary-tests";
const QUERY: &str = r#"{ author(id: "a1") { name } }"#;
const ANSWER: &str = "Ursula K. Le Guin";

// Test keys made for these tests only (PKCS#1 DER for RSA, PKCS#8 DER for EC); the JWKS files
// publish their public halves.
const RSA_A: &[u8] = include_bytes!("keys/rsa-a.der");
const RSA_A_PUBLIC: &str = include_str!("keys/rsa-a.pub.pem");
const RSA_B: &[u8] = include_bytes!("keys/rsa-b.der");
const EC_C: &[u8] = include_bytes!("keys/ec-c.der");
const JWKS_A_C: &str = include_str!("keys/jwks-a-c.json");
const JWKS_A_B_C: &str = include_str!("keys/jwks-a-b-c.json");

/// A JWKS endpoint on loopback whose key set a test can change, counting its fetches.
struct KeyServer {
    url: String,
    keys: Arc<std::sync::Mutex<String>>,
    fetches: Arc<AtomicUsize>,
}

impl KeyServer {
    async fn start(keys: &str) -> KeyServer {
        let shared = Arc::new(std::sync::Mutex::new(keys.to_owned()));
        let fetches = Arc::new(AtomicUsize::new(0));
        let (served, counted) = (shared.clone(), fetches.clone());
        let app = axum::Router::new().route(
            "/.well-known/jwks.json",
            axum::routing::get(move || {
                let (served, counted) = (served.clone(), counted.clone());
                async move {
                    counted.fetch_add(1, Ordering::SeqCst);
                    let body = served.lock().unwrap().clone();
                    ([("content-type", "application/json")], body)
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/.well-known/jwks.json",
            listener.local_addr().unwrap()
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        KeyServer {
            url,
            keys: shared,
            fetches,
        }
    }

    fn publish(&self, keys: &str) {
        *self.keys.lock().unwrap() = keys.to_owned();
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Claims of a user token valid for an hour.
fn claims() -> Value {
    json!({ "sub": "42", "iss": ISSUER, "exp": now() + 3600, "scope": "user" })
}

fn sign(algorithm: Algorithm, key: &EncodingKey, kid: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(algorithm);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

fn hs256(claims: &Value) -> String {
    sign(
        Algorithm::HS256,
        &EncodingKey::from_secret(SECRET.as_bytes()),
        None,
        claims,
    )
}

fn rs256(der: &[u8], kid: &str, claims: &Value) -> String {
    let key = EncodingKey::from_rsa_der(der);
    sign(Algorithm::RS256, &key, Some(kid), claims)
}

fn es256(claims: &Value) -> String {
    let key = EncodingKey::from_ec_der(EC_C);
    sign(Algorithm::ES256, &key, Some("key-c"), claims)
}

/// An HS256 token signed with key A's public key as the HMAC secret (algorithm confusion).
fn confused() -> String {
    sign(
        Algorithm::HS256,
        &EncodingKey::from_secret(RSA_A_PUBLIC.as_bytes()),
        Some("key-a"),
        &claims(),
    )
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

async fn stack(keys: &KeyServer, secret: Option<&str>, min_refresh: u64) -> Stack {
    let mut config = config();
    config.auth.enabled = true;
    config.auth.hs256_secret = secret.map(str::to_owned);
    config.auth.jwks_url = Some(keys.url.clone());
    config.auth.issuers = vec![ISSUER.to_owned()];
    config.auth.jwks_min_refresh_seconds = min_refresh;
    Stack::start_with(config, ALL).await
}

/// Sends the test query with `authorization`; returns the status and the answer.
async fn send(stack: &Stack, authorization: Option<&str>) -> (StatusCode, Value) {
    let mut request = stack
        .client
        .post(stack.endpoint())
        .header("accept", "application/graphql-response+json")
        .json(&json!({ "query": QUERY }));
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    let response = request.send().await.unwrap();
    (response.status(), response.json().await.unwrap())
}

async fn assert_accepted(stack: &Stack, token: &str) {
    let (status, body) = send(stack, Some(&format!("Bearer {token}"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({ "data": { "author": { "name": ANSWER } } }));
}

async fn assert_refused(stack: &Stack, authorization: &str, message: &str) {
    let (status, body) = send(stack, Some(authorization)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{authorization}: {body}");
    assert_eq!(
        body,
        json!({ "errors": [{ "message": message, "extensions": { "code": "UNAUTHENTICATED" } }] }),
        "{authorization}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn good_tokens_pass_and_each_bad_one_gets_one_clear_error_before_any_subgraph_call() {
    let keys = KeyServer::start(JWKS_A_C).await;
    let stack = stack(&keys, Some(SECRET), 10).await;

    // No token: anonymous, public fields answer.
    let (status, body) = send(&stack, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["author"]["name"], ANSWER);
    assert_accepted(&stack, &hs256(&claims())).await;
    assert_accepted(&stack, &rs256(RSA_A, "key-a", &claims())).await;
    assert_accepted(&stack, &es256(&claims())).await;
    let answered = stack.requests()["authors"].clone();
    assert_eq!(answered, json!(4));

    let mut expired = claims();
    expired["exp"] = json!(now() - 3600);
    assert_refused(
        &stack,
        &format!("Bearer {}", hs256(&expired)),
        "the token has expired",
    )
    .await;
    let mut early = claims();
    early["nbf"] = json!(now() + 3600);
    assert_refused(
        &stack,
        &format!("Bearer {}", rs256(RSA_A, "key-a", &early)),
        "the token is not valid yet",
    )
    .await;
    let mut foreign = claims();
    foreign["iss"] = json!("someone-else");
    assert_refused(
        &stack,
        &format!("Bearer {}", es256(&foreign)),
        "the token's issuer is not accepted",
    )
    .await;

    // Tampered: the payload changed after signing.
    let token = rs256(RSA_A, "key-a", &claims());
    let parts: Vec<&str> = token.split('.').collect();
    let mut raised = claims();
    raised["scope"] = json!("user admin");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64(raised.to_string().as_bytes()),
        parts[2]
    );
    assert_refused(
        &stack,
        &format!("Bearer {tampered}"),
        "the token's signature is not valid",
    )
    .await;
    // Signed by another key under key-a's id.
    assert_refused(
        &stack,
        &format!("Bearer {}", rs256(RSA_B, "key-a", &claims())),
        "the token's signature is not valid",
    )
    .await;
    // A key the key set does not publish.
    assert_refused(
        &stack,
        &format!("Bearer {}", rs256(RSA_B, "key-b", &claims())),
        "the token is signed with an unknown key",
    )
    .await;
    // `alg: none`, unsigned.
    let unsigned = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT"}"#),
        b64(claims().to_string().as_bytes())
    );
    assert_refused(
        &stack,
        &format!("Bearer {unsigned}"),
        "the token's algorithm (none) is not accepted",
    )
    .await;
    // Algorithm confusion: HS256 with the RSA public key as the secret.
    assert_refused(
        &stack,
        &format!("Bearer {}", confused()),
        "the token's signature is not valid",
    )
    .await;
    assert_refused(&stack, "Bearer not-a-jwt", "the token is malformed").await;
    assert_refused(
        &stack,
        "Basic dXNlcjpwYXNz",
        "the Authorization header must be `Bearer <token>`",
    )
    .await;

    // None of the refused requests reached a subgraph.
    assert_eq!(stack.requests()["authors"], answered);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_secret_hs256_tokens_are_refused_by_algorithm() {
    let keys = KeyServer::start(JWKS_A_C).await;
    let stack = stack(&keys, None, 10).await;
    assert_refused(
        &stack,
        &format!("Bearer {}", confused()),
        "the token's algorithm (HS256) is not accepted",
    )
    .await;
    assert_accepted(&stack, &rs256(RSA_A, "key-a", &claims())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_key_is_picked_up_without_a_restart_and_unknown_keys_cannot_force_fetches() {
    let keys = KeyServer::start(JWKS_A_C).await;
    let stack = stack(&keys, None, 1).await;
    assert_accepted(&stack, &rs256(RSA_A, "key-a", &claims())).await;
    let rotated = rs256(RSA_B, "key-b", &claims());
    assert_refused(
        &stack,
        &format!("Bearer {rotated}"),
        "the token is signed with an unknown key",
    )
    .await;
    let fetched = keys.fetches();

    // Tokens naming made-up keys within the refresh floor fetch nothing more.
    for i in 0..20 {
        let token = rs256(RSA_B, &format!("made-up-{i}"), &claims());
        assert_refused(
            &stack,
            &format!("Bearer {token}"),
            "the token is signed with an unknown key",
        )
        .await;
    }
    assert!(keys.fetches() <= fetched + 1, "{} fetches", keys.fetches());

    // Key B is published (both keys live during the rollover): once the floor has passed,
    // the first token naming it refreshes the set.
    keys.publish(JWKS_A_B_C);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_accepted(&stack, &rotated).await;
    assert_accepted(&stack, &rs256(RSA_A, "key-a", &claims())).await;
}
