//! Faults without damage: a misbehaving subgraph (stalled, dropping connections, trickling
//! bytes, HTTP 500, garbage) leaves its own fields null with a pathed, coded error while the
//! rest of the page answers, under concurrent load, within bounded time; and the next request
//! after the subgraph recovers is whole again.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tributary_tests::{Bff, CountedBff, Environment, Fault, TestStack};

const PRODUCT_PAGE: &str = "query ProductPage($id: ID!) {
  productPage(id: $id) {
    product { id name priceCents inStock shippingEstimateCents reviewCount reviews(first: 2) { rating } }
  }
}";

async fn product_page(stack: &TestStack, web: &CountedBff) -> (Value, Duration) {
    let started = Instant::now();
    let response: Value = stack
        .http()
        .post(web.url())
        .json(&json!({ "query": PRODUCT_PAGE, "variables": { "id": "25" } }))
        .send()
        .await
        .expect("the web BFF answers")
        .json()
        .await
        .expect("JSON");
    (response, started.elapsed())
}

/// The web BFF with short timeouts, so a stall costs a second, not five, and without its
/// caches, so every request meets the faults.
async fn web(stack: &TestStack) -> CountedBff {
    stack
        .counted_bff_with(Bff::Web, Environment::Development, |config| {
            config.subgraphs.timeout_ms = 1_000;
            config.server.deadline_ms = 2_000;
            config.cache.response = false;
            config.cache.entities = false;
        })
        .await
}

fn whole_page() -> Value {
    json!({ "data": { "productPage": { "product": {
        "id": "25", "name": "Dark Roast Coffee Beans", "priceCents": 1899,
        "inStock": true, "shippingEstimateCents": 599, "reviewCount": 3,
        "reviews": [{ "rating": 5 }, { "rating": 4 }],
    } } } })
}

#[tokio::test]
async fn a_failing_reviews_subgraph_leaves_the_product_page_standing_with_pathed_errors() {
    let stack = TestStack::sqlite().await;
    let web = web(&stack).await;
    web.fault("reviews", Fault::ServerError);
    let (response, _) = product_page(&stack, &web).await;
    let error = |field: &str| {
        json!({
            "message": "HTTP fetch failed from 'reviews': the subgraph answered with HTTP status 500",
            "path": ["productPage", "product", field],
            "extensions": { "code": "SUBREQUEST_HTTP_ERROR", "serviceName": "reviews" },
        })
    };
    assert_eq!(
        response,
        json!({
            "data": { "productPage": { "product": {
                "id": "25", "name": "Dark Roast Coffee Beans", "priceCents": 1899,
                "inStock": true, "shippingEstimateCents": 599,
                "reviewCount": null, "reviews": null,
            } } },
            "errors": [error("reviewCount"), error("reviews")],
        })
    );
    web.fault("reviews", Fault::None);
    assert_eq!(product_page(&stack, &web).await.0, whole_page());
    stack.stop().await;
}

#[tokio::test]
async fn a_failing_inventory_leaves_the_mobile_feed_cards_with_null_stock() {
    let stack = TestStack::sqlite().await;
    let mobile = stack
        .counted_bff_with(Bff::Mobile, Environment::Development, |config| {
            config.cache.response = false;
            config.cache.entities = false;
        })
        .await;
    mobile.fault("inventory", Fault::Garbage);
    let response: Value = stack
        .http()
        .post(mobile.url())
        .json(&json!({ "query": "{ homeFeed(first: 2) { cards { id name inStock } } }" }))
        .send()
        .await
        .expect("the mobile BFF answers")
        .json()
        .await
        .expect("JSON");
    let cards = response["data"]["homeFeed"]["cards"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(cards.len(), 2, "{response}");
    for (i, card) in cards.iter().enumerate() {
        assert!(card["name"].is_string(), "{response}");
        assert_eq!(card["inStock"], Value::Null, "{response}");
        let path = json!(["homeFeed", "cards", i, "inStock"]);
        assert!(
            response["errors"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|e| e["path"] == path
                    && e["extensions"]["code"] == "SUBREQUEST_MALFORMED_RESPONSE"),
            "{response}"
        );
    }
    stack.stop().await;
}

#[tokio::test]
async fn every_fault_under_load_gives_coded_partial_pages_in_bounded_time_and_recovers() {
    let stack = TestStack::sqlite().await;
    let web = web(&stack).await;
    let faults = [
        (Fault::Stall, "SUBREQUEST_TIMEOUT"),
        (Fault::Drop, "SUBREQUEST_HTTP_ERROR"),
        (Fault::ServerError, "SUBREQUEST_HTTP_ERROR"),
        (Fault::Garbage, "SUBREQUEST_MALFORMED_RESPONSE"),
        // Three bytes a second: the answer cannot arrive within the subgraph timeout.
        (
            Fault::SlowBytes(Duration::from_millis(300)),
            "SUBREQUEST_TIMEOUT",
        ),
    ];
    for (fault, code) in faults {
        web.fault("inventory", fault);
        let answers = futures::future::join_all((0..16).map(|_| product_page(&stack, &web))).await;
        for (response, elapsed) in &answers {
            let product = &response["data"]["productPage"]["product"];
            assert_eq!(
                product["name"], "Dark Roast Coffee Beans",
                "{fault:?}: {response}"
            );
            assert_eq!(product["reviewCount"], 3, "{fault:?}: {response}");
            assert_eq!(product["inStock"], Value::Null, "{fault:?}: {response}");
            let errors = response["errors"].as_array().cloned().unwrap_or_default();
            assert!(!errors.is_empty(), "{fault:?}: {response}");
            for error in &errors {
                assert_eq!(error["extensions"]["code"], code, "{fault:?}: {response}");
                assert!(error["path"].is_array(), "{fault:?}: {response}");
            }
            // Bounded by the 1 s subgraph timeout and the 2 s deadline, with room for a debug
            // build on two cores.
            assert!(*elapsed < Duration::from_secs(4), "{fault:?}: {elapsed:?}");
        }
        // The subgraph returns: the very next page is whole, and fast.
        web.fault("inventory", Fault::None);
        let (response, elapsed) = product_page(&stack, &web).await;
        assert_eq!(response, whole_page(), "after {fault:?}");
        assert!(
            elapsed < Duration::from_secs(1),
            "after {fault:?}: {elapsed:?}"
        );
    }
    stack.stop().await;
}

#[tokio::test]
async fn stopping_the_stack_lets_requests_in_flight_finish_whole() {
    let stack = TestStack::sqlite().await;
    let url = stack.url("web");
    let http = stack.http().clone();
    let answered_so_far = Arc::new(AtomicUsize::new(0));
    // Eight clients send pages back to back until the BFF refuses them, so whenever the stop
    // begins, each has a request on the wire.
    let workers: Vec<_> = (0..8)
        .map(|_| {
            let (http, url, counter) = (http.clone(), url.clone(), answered_so_far.clone());
            tokio::spawn(async move {
                let mut answers = Vec::new();
                loop {
                    match product_page_at(&http, &url).await {
                        Ok(response) => {
                            answers.push(response);
                            counter.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(refused) => return (answers, refused),
                    }
                }
            })
        })
        .collect();
    while answered_so_far.load(Ordering::Relaxed) < 16 {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let started = Instant::now();
    stack.stop().await;
    let stopped_in = started.elapsed();
    for worker in workers {
        let (answers, refused) = worker.await.expect("the client task");
        // A request taken in is answered whole, even while the stop is under way.
        for response in answers {
            assert_eq!(response, whole_page());
        }
        // The request that ended each client was never taken in: its connection was not
        // accepted, or was accepted idle and closed before the request's bytes were read.
        assert!(
            ["connect", "closed before message completed", "reset"]
                .iter()
                .any(|cause| refused.contains(cause)),
            "{refused}"
        );
    }
    assert!(stopped_in < Duration::from_secs(15), "{stopped_in:?}");
}

/// One product page from `url`, or the whole error chain of a request that was refused.
async fn product_page_at(http: &reqwest::Client, url: &str) -> Result<Value, String> {
    let response = http
        .post(url)
        .json(&json!({ "query": PRODUCT_PAGE, "variables": { "id": "25" } }))
        .send()
        .await
        .map_err(|e| error_chain(&e))?;
    response.json::<Value>().await.map_err(|e| error_chain(&e))
}

/// The error and every cause under it, so a test can tell a refusal from a broken answer.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}
