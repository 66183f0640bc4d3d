//! Tests of the engine's response cache through the web and mobile BFFs: hits that cost the
//! subgraphs nothing, private entries per caller, invalidation by the entities a mutation
//! touches (named by the subgraphs that changed them), two replicas sharing the real Redis, and
//! a Redis that is down.

use std::collections::BTreeMap;

use reqwest::header::{self, HeaderMap};
use serde_json::{Value, json};
use tributary_gateway::Config;
use tributary_tests::{Bff, CountedBff, Environment, TestStack};

const PRODUCT: &str = "query Product($id: ID!) {
  product(id: $id) { id name priceCents inStock reviewCount reviews(first: 10) { rating author { name } } }
}";

const TWO_VARIABLES: &str = "query Two($id: ID!, $first: Int!) {
  product(id: $id) { id name reviews(first: $first) { rating } }
}";

const ADD_REVIEW: &str = "mutation($productId: ID!) {
  addReview(productId: $productId, rating: 5, body: \"Fresh every morning.\") { id rating }
}";

const ME: &str = "{ me { id name email } }";

/// Redis for the tests that share a tier: `TEST_REDIS_URL`, or the local one. A test that
/// needs it fails, never skips, when it cannot be reached.
fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A key prefix of its own for one test, so tests running at once never see each other's
/// entries or invalidations.
fn prefix(test: &str) -> String {
    format!(
        "tributary-test:{test}:{}:{}",
        std::process::id(),
        rand_suffix()
    )
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default()
}

async fn assert_redis_reachable() {
    let url = redis_url();
    let address = url
        .trim_start_matches("redis://")
        .trim_end_matches('/')
        .to_owned();
    tokio::net::TcpStream::connect(&address)
        .await
        .unwrap_or_else(|err| panic!("Redis must be reachable at {address} for this test: {err}"));
}

/// One answer: status, headers and body.
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON")
    }

    fn cache_status(&self) -> &str {
        self.headers
            .get("cache-status")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    fn hit(&self) -> bool {
        self.cache_status().starts_with("tributary; hit")
    }
}

async fn post(
    stack: &TestStack,
    url: &str,
    query: &str,
    variables: Value,
    token: Option<&str>,
) -> Answer {
    post_body(
        stack,
        url,
        json!({ "query": query, "variables": variables }).to_string(),
        token,
    )
    .await
}

async fn post_body(stack: &TestStack, url: &str, body: String, token: Option<&str>) -> Answer {
    let mut request = stack
        .http()
        .post(url)
        .header(header::CONTENT_TYPE, "application/json")
        .body(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("the BFF answers");
    Answer {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.bytes().await.expect("a body").to_vec(),
    }
}

fn requests(bff: &CountedBff) -> usize {
    bff.take_subgraph_requests().values().sum()
}

async fn web_with(stack: &TestStack, tweak: impl FnOnce(&mut Config)) -> CountedBff {
    stack
        .counted_bff_with(Bff::Web, Environment::Development, tweak)
        .await
}

#[tokio::test]
async fn a_repeated_public_query_is_answered_from_the_cache_byte_for_byte() {
    let stack = TestStack::sqlite().await;
    let web = web_with(&stack, |_| {}).await;
    let first = post(&stack, web.url(), PRODUCT, json!({ "id": "3" }), None).await;
    assert_eq!(first.status, 200);
    assert!(first.json()["errors"].is_null(), "{}", first.json());
    assert!(
        first
            .cache_status()
            .starts_with("tributary; fwd=miss; stored"),
        "{}",
        first.cache_status()
    );
    assert!(requests(&web) >= 3, "the first answer asks the subgraphs");
    // Stock is hinted for ten seconds, the rest longer: the response lives as long as its
    // shortest-lived part.
    let control = first.headers[header::CACHE_CONTROL].to_str().unwrap_or("");
    assert_eq!(control, "public, max-age=10");

    let second = post(&stack, web.url(), PRODUCT, json!({ "id": "3" }), None).await;
    assert!(second.hit(), "{}", second.cache_status());
    assert_eq!(second.body, first.body, "a hit is the stored bytes");
    assert_eq!(requests(&web), 0, "a hit asks no subgraph");
    assert!(second.headers.contains_key(header::AGE));
    assert!(second.headers[header::ETAG] == first.headers[header::ETAG]);

    // Another product is another entry.
    let other = post(&stack, web.url(), PRODUCT, json!({ "id": "4" }), None).await;
    assert!(!other.hit());
    stack.stop().await;
}

#[tokio::test]
async fn variables_in_another_order_hit_and_another_contract_never_does() {
    let stack = TestStack::sqlite().await;
    let web = web_with(&stack, |_| {}).await;
    let mobile = stack
        .counted_bff_with(Bff::Mobile, Environment::Development, |_| {})
        .await;
    let first = post_body(
        &stack,
        web.url(),
        format!(
            r#"{{"query":{},"variables":{{"id":"5","first":2}}}}"#,
            json!(TWO_VARIABLES)
        ),
        None,
    )
    .await;
    assert!(!first.hit());
    let reordered = post_body(
        &stack,
        web.url(),
        format!(
            r#"{{"query":{},"variables":{{"first":2,"id":"5"}}}}"#,
            json!(TWO_VARIABLES)
        ),
        None,
    )
    .await;
    assert!(reordered.hit(), "{}", reordered.cache_status());
    assert_eq!(reordered.body, first.body);
    let on_mobile = post(
        &stack,
        mobile.url(),
        TWO_VARIABLES,
        json!({ "id": "5", "first": 2 }),
        None,
    )
    .await;
    assert_eq!(on_mobile.status, 200, "{}", on_mobile.json());
    assert!(!on_mobile.hit(), "the mobile contract has its own entries");
    stack.stop().await;
}

#[tokio::test]
async fn a_private_answer_is_cached_for_its_caller_only() {
    let stack = TestStack::sqlite().await;
    let web = web_with(&stack, |_| {}).await;
    let ada = stack.login("ada@example.com").await;
    let grace = stack.login("grace@example.com").await;

    let first = post(&stack, web.url(), ME, json!({}), Some(&ada)).await;
    assert_eq!(first.json()["data"]["me"]["email"], "ada@example.com");
    assert!(
        first.headers[header::CACHE_CONTROL]
            .to_str()
            .unwrap_or("")
            .starts_with("private")
    );
    let again = post(&stack, web.url(), ME, json!({}), Some(&ada)).await;
    assert!(again.hit(), "{}", again.cache_status());
    assert_eq!(again.body, first.body);

    let other = post(&stack, web.url(), ME, json!({}), Some(&grace)).await;
    assert!(!other.hit(), "another caller never gets ada's entry");
    assert_eq!(other.json()["data"]["me"]["email"], "grace@example.com");

    let anonymous = post(&stack, web.url(), ME, json!({}), None).await;
    assert!(
        !anonymous.hit(),
        "an anonymous caller never gets a private entry"
    );
    assert_eq!(anonymous.json()["data"]["me"], Value::Null);
    stack.stop().await;
}

#[tokio::test]
async fn a_new_review_invalidates_its_product_and_nothing_else() {
    let stack = TestStack::sqlite().await;
    let web = web_with(&stack, |_| {}).await;
    let ada = stack.login("ada@example.com").await;
    let before_11 = post(&stack, web.url(), PRODUCT, json!({ "id": "11" }), None).await;
    assert_eq!(before_11.json()["data"]["product"]["reviewCount"], 0);
    post(&stack, web.url(), PRODUCT, json!({ "id": "3" }), None).await;
    assert!(
        post(&stack, web.url(), PRODUCT, json!({ "id": "11" }), None)
            .await
            .hit()
    );

    // The mutation selects nothing of the product: reviews names it as changed.
    let added = post(
        &stack,
        web.url(),
        ADD_REVIEW,
        json!({ "productId": "11" }),
        Some(&ada),
    )
    .await;
    assert!(added.json()["errors"].is_null(), "{}", added.json());
    assert_eq!(added.cache_status(), "tributary; fwd=bypass");

    let after_11 = post(&stack, web.url(), PRODUCT, json!({ "id": "11" }), None).await;
    assert!(
        !after_11.hit(),
        "product 11's page is stale after its review"
    );
    assert_eq!(after_11.json()["data"]["product"]["reviewCount"], 1);
    let page_3 = post(&stack, web.url(), PRODUCT, json!({ "id": "3" }), None).await;
    assert!(
        page_3.hit(),
        "product 3's page is untouched: {}",
        page_3.cache_status()
    );
    stack.stop().await;
}

#[tokio::test]
async fn a_checkout_invalidates_the_stock_of_what_it_reserved() {
    let stack = TestStack::sqlite().await;
    let web = web_with(&stack, |_| {}).await;
    let ada = stack.login("ada@example.com").await;
    let stock = "query($id: ID!) { product(id: $id) { id inStock quantity } }";
    let before = post(&stack, web.url(), stock, json!({ "id": "14" }), None).await;
    assert_eq!(
        before.json()["data"]["product"]["quantity"],
        3,
        "{}",
        before.json()
    );
    assert!(
        post(&stack, web.url(), stock, json!({ "id": "14" }), None)
            .await
            .hit()
    );
    let checkout = post(
        &stack,
        web.url(),
        "mutation($lines: [CheckoutLineInput!]!, $key: String!) { checkout(lines: $lines, idempotencyKey: $key) { id status } }",
        json!({ "lines": [{ "productId": "14", "quantity": 2 }], "key": "cache-checkout-0001" }),
        Some(&ada),
    )
    .await;
    assert_eq!(
        checkout.json()["data"]["checkout"]["status"],
        "PLACED",
        "{}",
        checkout.json()
    );
    let after = post(&stack, web.url(), stock, json!({ "id": "14" }), None).await;
    assert!(!after.hit(), "the stock changed");
    assert_eq!(after.json()["data"]["product"]["quantity"], 1);
    stack.stop().await;
}

#[tokio::test]
async fn concurrent_identical_public_queries_make_one_execution() {
    let stack = TestStack::sqlite().await;
    let web = web_with(&stack, |_| {}).await;
    let sends = (0..100).map(|_| post(&stack, web.url(), PRODUCT, json!({ "id": "6" }), None));
    let answers = futures::future::join_all(sends).await;
    let first = &answers[0].body;
    assert!(answers.iter().all(|a| a.status == 200 && &a.body == first));
    let per_subgraph: BTreeMap<String, usize> = web.take_subgraph_requests();
    assert_eq!(per_subgraph.get("catalog"), Some(&1), "{per_subgraph:?}");
    stack.stop().await;
}

#[tokio::test]
async fn two_replicas_on_one_redis_share_entries_and_invalidations() {
    assert_redis_reachable().await;
    let stack = TestStack::sqlite().await;
    let prefix = prefix("replicas");
    let shared = |config: &mut Config| {
        config.cache.redis_url = Some(redis_url());
        config.cache.redis_prefix = prefix.clone();
    };
    let a = web_with(&stack, shared).await;
    let b = web_with(&stack, shared).await;
    let ada = stack.login("ada@example.com").await;
    // Both replicas listen for invalidations before anything is cached.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    let on_a = post(&stack, a.url(), PRODUCT, json!({ "id": "12" }), None).await;
    assert!(!on_a.hit());
    // The shared tier is written in the background.
    let mut on_b = post(&stack, b.url(), PRODUCT, json!({ "id": "12" }), None).await;
    for _ in 0..20 {
        if on_b.hit() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        on_b = post(&stack, b.url(), PRODUCT, json!({ "id": "12" }), None).await;
    }
    assert!(
        on_b.hit(),
        "B is served A's entry from Redis: {}",
        on_b.cache_status()
    );
    assert_eq!(on_b.body, on_a.body);
    b.take_subgraph_requests();

    let added = post(
        &stack,
        a.url(),
        ADD_REVIEW,
        json!({ "productId": "12" }),
        Some(&ada),
    )
    .await;
    assert!(added.json()["errors"].is_null(), "{}", added.json());
    // The invalidation reaches B over Redis' channel while A answers the mutation; B's next
    // request is fresh once it has arrived, which is at once on loopback (bounded here, so a
    // loaded machine cannot fail the test by a millisecond).
    let mut fresh = post(&stack, b.url(), PRODUCT, json!({ "id": "12" }), None).await;
    for _ in 0..20 {
        if !fresh.hit() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        fresh = post(&stack, b.url(), PRODUCT, json!({ "id": "12" }), None).await;
    }
    assert!(!fresh.hit(), "B sees A's mutation");
    let reviews_before = on_a.json()["data"]["product"]["reviewCount"]
        .as_i64()
        .unwrap_or(-1);
    assert_eq!(
        fresh.json()["data"]["product"]["reviewCount"].as_i64(),
        Some(reviews_before + 1)
    );
    assert!(requests(&b) > 0);
    stack.stop().await;
}

#[tokio::test]
async fn with_redis_down_every_request_still_answers_and_health_says_so() {
    let stack = TestStack::sqlite().await;
    let web = web_with(&stack, |config| {
        // Nothing listens on port 1.
        config.cache.redis_url = Some("redis://127.0.0.1:1".to_owned());
        config.cache.redis_timeout_ms = 200;
    })
    .await;
    let first = post(&stack, web.url(), PRODUCT, json!({ "id": "7" }), None).await;
    assert_eq!(first.status, 200);
    assert!(first.json()["errors"].is_null(), "{}", first.json());
    let second = post(&stack, web.url(), PRODUCT, json!({ "id": "7" }), None).await;
    assert!(
        second.hit(),
        "memory still serves: {}",
        second.cache_status()
    );
    let health_url = web.url().replace("/graphql", "/health");
    let health: Value = stack
        .http()
        .get(&health_url)
        .send()
        .await
        .expect("health answers")
        .json()
        .await
        .expect("JSON");
    assert_eq!(health["status"], "ok");
    assert_eq!(health["cache"]["redis"], "down", "{health}");
    stack.stop().await;
}

#[tokio::test]
async fn an_administrator_invalidates_a_type_with_the_admin_token_only() {
    let stack = TestStack::sqlite().await;
    let web = web_with(&stack, |config| {
        config.cache.admin_token = Some("let-me-in".to_owned());
    })
    .await;
    post(&stack, web.url(), PRODUCT, json!({ "id": "8" }), None).await;
    assert!(
        post(&stack, web.url(), PRODUCT, json!({ "id": "8" }), None)
            .await
            .hit()
    );
    let endpoint = web.url().replace("/graphql", "/cache/invalidate");
    let refused = stack
        .http()
        .post(&endpoint)
        .bearer_auth("guess")
        .json(&json!({ "invalidate": ["Product"] }))
        .send()
        .await
        .expect("answers");
    assert_eq!(refused.status(), 401);
    let refused: Value = refused.json().await.expect("JSON");
    assert_eq!(
        refused["errors"][0]["extensions"]["code"],
        "UNAUTHENTICATED"
    );
    assert!(
        post(&stack, web.url(), PRODUCT, json!({ "id": "8" }), None)
            .await
            .hit()
    );

    let unreadable = stack
        .http()
        .post(&endpoint)
        .bearer_auth("let-me-in")
        .json(&json!({ "invalidate": [{ "__typename": "Product" }] }))
        .send()
        .await
        .expect("answers");
    assert_eq!(unreadable.status(), 400);

    let done: Value = stack
        .http()
        .post(&endpoint)
        .bearer_auth("let-me-in")
        .json(&json!({ "invalidate": ["Product"] }))
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("JSON");
    assert_eq!(done["invalidated"], json!(["Product"]));
    assert!(
        !post(&stack, web.url(), PRODUCT, json!({ "id": "8" }), None)
            .await
            .hit()
    );
    stack.stop().await;
}

#[tokio::test]
async fn overlapping_product_lists_ask_reviews_only_for_the_products_not_cached() {
    let stack = TestStack::sqlite().await;
    // The response cache off: every request executes, and only the entity cache can help.
    let web = web_with(&stack, |config| config.cache.response = false).await;
    let first =
        "{ a: product(id: \"1\") { id reviewCount } b: product(id: \"2\") { id reviewCount } }";
    let second =
        "{ b: product(id: \"2\") { id reviewCount } c: product(id: \"3\") { id reviewCount } }";
    let one = post(&stack, web.url(), first, json!({}), None).await.json();
    assert!(one["errors"].is_null(), "{one}");
    let sent = web.take_subgraph_bodies();
    let to_reviews: Vec<&String> = sent
        .iter()
        .filter(|(n, _)| n == "reviews")
        .map(|(_, b)| b)
        .collect();
    assert_eq!(to_reviews.len(), 1);
    assert!(to_reviews[0].contains(r#""id":"1""#) && to_reviews[0].contains(r#""id":"2""#));

    let two = post(&stack, web.url(), second, json!({}), None)
        .await
        .json();
    assert!(two["errors"].is_null(), "{two}");
    assert_eq!(
        two["data"]["b"], one["data"]["b"],
        "product 2 from the cache is the same"
    );
    let sent = web.take_subgraph_bodies();
    let to_reviews: Vec<&String> = sent
        .iter()
        .filter(|(n, _)| n == "reviews")
        .map(|(_, b)| b)
        .collect();
    assert_eq!(to_reviews.len(), 1, "{sent:?}");
    assert!(to_reviews[0].contains(r#""id":"3""#), "{}", to_reviews[0]);
    assert!(
        !to_reviews[0].contains(r#""id":"2""#),
        "product 2 is cached: {}",
        to_reviews[0]
    );

    // A third query whose entities are all cached asks reviews nothing.
    let three = post(
        &stack,
        web.url(),
        "{ c: product(id: \"3\") { id reviewCount } }",
        json!({}),
        None,
    )
    .await
    .json();
    assert_eq!(three["data"]["c"], two["data"]["c"]);
    assert!(
        web.take_subgraph_bodies()
            .iter()
            .all(|(n, _)| n != "reviews")
    );

    // The same query again: its root fetch and its entities are all cached, so no subgraph is
    // asked anything, while the response cache is off.
    let again = post(&stack, web.url(), second, json!({}), None).await;
    assert_eq!(again.json(), two);
    assert!(!again.hit());
    assert_eq!(web.take_subgraph_bodies(), Vec::<(String, String)>::new());
    stack.stop().await;
}
