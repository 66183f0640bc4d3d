//! Rate limits: a burst over the client's budget gets 429 with `Retry-After` and
//! `RATE_LIMITED`, verified users have their own budget, and two replicas sharing Redis spend
//! one budget.

use reqwest::StatusCode;
use serde_json::{Value, json};
use tributary_gateway::config::Bucket;

use crate::support::{ALL, Stack, config};

const QUERY: &str = r#"{ author(id: "a1") { name } }"#;

/// Redis for the shared budget: `TEST_REDIS_URL`, or the local one. Not reachable fails the
/// test; nothing is skipped.
fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

async fn replica(prefix: Option<&str>) -> Stack {
    let mut config = config();
    config.server.name = "limited".to_owned();
    config.rate_limit.per_client = Some(Bucket {
        requests: 1,
        per_seconds: 60,
        burst: Some(3),
    });
    if let Some(prefix) = prefix {
        config.rate_limit.redis_url = Some(redis_url());
        config.rate_limit.redis_prefix = prefix.to_owned();
    }
    Stack::start_with(config, ALL).await
}

async fn send(stack: &Stack, client: Option<&str>) -> (StatusCode, Option<String>, Value) {
    let mut request = stack
        .client
        .post(stack.endpoint())
        .header("accept", "application/graphql-response+json")
        .json(&json!({ "query": QUERY }));
    if let Some(client) = client {
        request = request.header("apollographql-client-name", client);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, retry_after, response.json().await.unwrap())
}

fn assert_limited(answer: &(StatusCode, Option<String>, Value)) {
    let (status, retry_after, body) = answer;
    assert_eq!(*status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    let seconds: u64 = retry_after.as_deref().unwrap().parse().unwrap();
    assert!((1..=60).contains(&seconds), "Retry-After {seconds}");
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "RATE_LIMITED",
        "{body}"
    );
    assert_eq!(
        body["errors"][0]["extensions"]["retryAfter"],
        json!(seconds)
    );
    assert!(body.get("data").is_none(), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_over_the_budget_gets_429_with_retry_after_and_no_subgraph_call() {
    let stack = replica(None).await;
    for _ in 0..3 {
        let (status, _, body) = send(&stack, Some("web")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    assert_limited(&send(&stack, Some("web")).await);
    assert_eq!(stack.requests()["authors"], json!(3));
    // Another client name has its own budget; the address without a name has another.
    assert_eq!(send(&stack, Some("ios")).await.0, StatusCode::OK);
    assert_eq!(send(&stack, None).await.0, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_sharing_redis_spend_one_budget() {
    let prefix = format!("tributary-test:rate:{}", std::process::id());
    let a = replica(Some(&prefix)).await;
    let b = replica(Some(&prefix)).await;
    let client = format!("shared-{}", rand_suffix());
    assert_eq!(send(&a, Some(&client)).await.0, StatusCode::OK);
    assert_eq!(send(&b, Some(&client)).await.0, StatusCode::OK);
    assert_eq!(send(&a, Some(&client)).await.0, StatusCode::OK);
    // The fourth request of the burst, on either replica, is over the shared budget.
    assert_limited(&send(&b, Some(&client)).await);
    assert_limited(&send(&a, Some(&client)).await);

    // Without Redis each replica would have let all five through.
    let alone = replica(None).await;
    for _ in 0..3 {
        assert_eq!(send(&alone, Some(&client)).await.0, StatusCode::OK);
    }
}

/// A suffix that differs between runs, so an earlier run's buckets never count.
fn rand_suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{nanos:x}")
}
