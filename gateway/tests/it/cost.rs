//! Demand control: the estimated cost is checked before any subgraph request, refused over the
//! maximum with the estimate and the limit, served in measure-only mode, and both the estimate
//! and the measured cost are exported.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{ALL, Stack, config};

/// Ten authors assumed, each with ten books: 10 × (1 + 10 × 1) = 110.
const NESTED: &str = "{ authors { books { title } } }";

async fn stack(tweak: impl FnOnce(&mut tributary_gateway::Config)) -> Stack {
    let mut config = config();
    config.telemetry.metrics = true;
    config.demand_control.enabled = true;
    config.demand_control.max_cost = Some(100);
    tweak(&mut config);
    Stack::start_with(config, ALL).await
}

async fn send(stack: &Stack, query: &str) -> (StatusCode, Value) {
    let response = stack
        .client
        .post(stack.endpoint())
        .header("accept", "application/graphql-response+json")
        .json(&json!({ "query": query }))
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operation_over_the_maximum_is_refused_before_any_subgraph_request() {
    let stack = stack(|_| {}).await;
    let (status, body) = send(&stack, NESTED).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body,
        json!({ "errors": [{
            "message": "the operation's estimated cost is 110; at most 100 is allowed",
            "extensions": {
                "code": "COST_ESTIMATED_TOO_EXPENSIVE",
                "estimatedCost": 110,
                "maxCost": 100,
            },
        }] })
    );
    assert_eq!(
        stack.requests(),
        json!({ "authors": 0, "books": 0, "search": 0, "shipping": 0 })
    );
    let (status, body) = send(&stack, r#"{ author(id: "a1") { name } }"#).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_list_sizes_lower_the_estimate_and_both_costs_are_exported() {
    let stack = stack(|config| {
        config
            .demand_control
            .list_sizes
            .insert("Query.authors".to_owned(), 4);
    })
    .await;
    let (status, body) = send(&stack, NESTED).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("errors").is_none(), "{body}");
    let metrics = stack.get("/metrics").await.text().await.unwrap();
    for kind in ["estimated", "actual"] {
        assert!(
            metrics
                .lines()
                .any(|line| line.starts_with("tributary_operation_cost")
                    && line.contains(&format!("kind=\"{kind}\""))),
            "no {kind} cost in:\n{metrics}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn measure_only_serves_what_it_would_refuse() {
    let stack = stack(|config| config.demand_control.measure_only = true).await;
    let (status, body) = send(&stack, NESTED).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["data"]["authors"].as_array().is_some(), "{body}");
}
