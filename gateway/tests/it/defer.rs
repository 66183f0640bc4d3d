//! `@defer` end to end: the initial payload before a slow subgraph answers, the deferred
//! fragments after it, over `multipart/mixed` and Server-Sent Events; one response for a
//! client that reads neither; and no subgraph request more than without `@defer`.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::subgraphs::{Fault, data};
use crate::support::Stack;

const BOOKS_WITH_DEFERRED_AUTHOR: &str =
    r#"{ books { id title ... @defer(label: "author") { author { name } } } }"#;

/// POSTs `query` accepting `accept`; returns the response for the caller to read.
async fn send(stack: &Stack, query: &str, accept: &str) -> reqwest::Response {
    stack
        .client
        .post(stack.endpoint())
        .header("accept", accept)
        .json(&json!({ "query": query }))
        .send()
        .await
        .unwrap()
}

/// Reads a `multipart/mixed` body: each JSON part with the time it arrived.
async fn parts(mut response: reqwest::Response, since: Instant) -> Vec<(Duration, Value)> {
    let mut buffer = String::new();
    let mut out = Vec::new();
    while let Some(chunk) = tokio::time::timeout(Duration::from_secs(10), response.chunk())
        .await
        .expect("a part within 10 s")
        .unwrap()
    {
        buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        let at = since.elapsed();
        // A part is complete once its JSON body parses (the next boundary may come later).
        while let Some(start) = buffer.find("\r\n--graphql\r\n") {
            let rest = &buffer[start + "\r\n--graphql\r\n".len()..];
            let end = rest.find("\r\n--graphql").unwrap_or(rest.len());
            let Some(body) = rest[..end].split("\r\n\r\n").nth(1) else {
                break;
            };
            let Ok(value) = serde_json::from_str::<Value>(body) else {
                break;
            };
            out.push((at, value));
            let consumed = start + "\r\n--graphql\r\n".len() + end;
            buffer.drain(..consumed);
        }
    }
    assert!(buffer.ends_with("\r\n--graphql--\r\n"), "{buffer:?}");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_initial_payload_arrives_before_a_slow_deferred_subgraph_answers() {
    let stack = Stack::start().await;
    stack.fault("authors", Fault::Slow(Duration::from_millis(800)));
    let started = Instant::now();
    let response = send(
        &stack,
        BOOKS_WITH_DEFERRED_AUTHOR,
        "multipart/mixed;deferSpec=20220824,application/json",
    )
    .await;
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        content_type,
        "multipart/mixed; boundary=\"graphql\"; deferSpec=20220824"
    );
    let parts = parts(response, started).await;
    assert_eq!(parts.len(), 2, "{parts:?}");

    let (first_at, initial) = &parts[0];
    let books: Vec<Value> = data::books()
        .iter()
        .map(|b| json!({ "id": b.id, "title": b.title }))
        .collect();
    assert_eq!(
        initial,
        &json!({ "data": { "books": books }, "hasNext": true })
    );
    assert!(
        *first_at < Duration::from_millis(700),
        "the initial payload waited for the slow subgraph: {first_at:?}"
    );

    let (last_at, subsequent) = &parts[1];
    assert!(*last_at >= Duration::from_millis(800), "{last_at:?}");
    assert_eq!(subsequent["hasNext"], json!(false));
    let items = subsequent["incremental"].as_array().unwrap();
    assert_eq!(items.len(), data::books().len());
    for (index, (item, book)) in items.iter().zip(data::books()).enumerate() {
        assert_eq!(
            item,
            &json!({
                "data": { "author": { "name": book.author.name } },
                "path": ["books", index],
                "label": "author",
            })
        );
    }
    // The same fetches as without `@defer`: one to books, one batched to authors.
    assert_eq!(stack.requests()["books"], json!(1));
    assert_eq!(stack.requests()["authors"], json!(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_reads_no_parts_gets_every_field_in_one_response() {
    let stack = Stack::start().await;
    let body = stack.query(BOOKS_WITH_DEFERRED_AUTHOR, json!({})).await;
    let books: Vec<Value> = data::books()
        .iter()
        .map(|b| json!({ "id": b.id, "title": b.title, "author": { "name": b.author.name } }))
        .collect();
    assert_eq!(body, json!({ "data": { "books": books } }));

    // `if: false` defers nothing, also for a client that reads parts.
    let response = send(
        &stack,
        r#"{ books { id ... @defer(if: false) { title } } }"#,
        "multipart/mixed;deferSpec=20220824,application/json",
    )
    .await;
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["data"]["books"][0]["title"],
        json!(data::books()[0].title)
    );

    // `if: $variable` defers when the variable is true (or left to its default), not when false.
    let query =
        r#"query ($later: Boolean! = true) { books { id ... @defer(if: $later) { title } } }"#;
    for (variables, in_parts) in [
        (json!({ "later": false }), false),
        (json!({ "later": true }), true),
        (json!({}), true),
    ] {
        let response = stack
            .client
            .post(stack.endpoint())
            .header(
                "accept",
                "multipart/mixed;deferSpec=20220824,application/json",
            )
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .unwrap();
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            content_type.starts_with("multipart/mixed"),
            in_parts,
            "{variables}: {content_type}"
        );
        if !in_parts {
            let body: Value = response.json().await.unwrap();
            assert_eq!(
                body["data"]["books"][0]["title"],
                json!(data::books()[0].title)
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deferred_parts_arrive_as_server_sent_events_and_each_fragment_when_it_is_ready() {
    let stack = Stack::start().await;
    // Two deferred fragments on different subgraphs: the fast one is not held back by the
    // slow one.
    stack.fault("authors", Fault::Slow(Duration::from_millis(800)));
    let started = Instant::now();
    let mut response = send(
        &stack,
        r#"{ books { id ... @defer(label: "slow") { author { name } } ... @defer(label: "fast") { shippingCost } } }"#,
        "text/event-stream",
    )
    .await;
    assert_eq!(response.status(), 200);
    let mut buffer = String::new();
    let mut events: Vec<(Duration, String, Value)> = Vec::new();
    while let Some(chunk) = tokio::time::timeout(Duration::from_secs(10), response.chunk())
        .await
        .unwrap()
        .unwrap()
    {
        buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let event = block
                .lines()
                .find_map(|l| l.strip_prefix("event:"))
                .map(|e| e.trim().to_owned());
            let data = block
                .lines()
                .find_map(|l| l.strip_prefix("data:"))
                .map(str::trim)
                .unwrap_or("");
            if let Some(event) = event {
                let value = serde_json::from_str(data).unwrap_or(Value::Null);
                events.push((started.elapsed(), event, value));
            }
        }
    }
    let names: Vec<&str> = events.iter().map(|(_, e, _)| e.as_str()).collect();
    assert_eq!(names, ["next", "next", "next", "complete"], "{events:?}");
    assert_eq!(events[0].2["hasNext"], json!(true));
    assert_eq!(
        events[0].2["data"]["books"][0],
        json!({ "id": data::books()[0].id })
    );
    let fast = &events[1];
    assert_eq!(fast.2["incremental"][0]["label"], json!("fast"));
    assert_eq!(
        fast.2["incremental"][0]["data"],
        json!({ "shippingCost": data::books()[0].weight / 10 })
    );
    assert_eq!(fast.2["hasNext"], json!(true));
    assert!(fast.0 < Duration::from_millis(700), "{:?}", fast.0);
    let slow = &events[2];
    assert_eq!(slow.2["incremental"][0]["label"], json!("slow"));
    assert_eq!(slow.2["hasNext"], json!(false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_in_a_deferred_fragment_is_reported_in_its_part() {
    let stack = Stack::start().await;
    stack.fault("authors", Fault::ServerError);
    let response = send(
        &stack,
        BOOKS_WITH_DEFERRED_AUTHOR,
        "multipart/mixed;deferSpec=20220824,application/json",
    )
    .await;
    let parts = parts(response, Instant::now()).await;
    assert_eq!(parts.len(), 2, "{parts:?}");
    assert!(parts[0].1.get("errors").is_none(), "{:?}", parts[0].1);
    let subsequent = &parts[1].1;
    let reported: Vec<&Value> = subsequent["incremental"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|item| item.get("errors"))
        .collect();
    assert!(!reported.is_empty(), "{subsequent}");
}

/// Every error of a query delivered in parts, from the initial payload and from each item of
/// the later parts (and a later part's own `errors`), each as (message, path).
fn delivered_errors(parts: &[(Duration, Value)]) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let mut take = |errors: Option<&Value>| {
        for error in errors.and_then(Value::as_array).into_iter().flatten() {
            out.push((
                error["message"].as_str().unwrap_or_default().to_owned(),
                error.get("path").cloned().unwrap_or(Value::Null),
            ));
        }
    };
    for (_, part) in parts {
        take(part.get("errors"));
        for item in part["incremental"].as_array().into_iter().flatten() {
            take(item.get("errors"));
        }
    }
    out
}

/// Asserts no error was delivered twice.
fn assert_each_once(errors: &[(String, Value)]) {
    let mut once: Vec<String> = errors.iter().map(|(m, p)| format!("{m} at {p}")).collect();
    once.sort();
    once.dedup();
    assert_eq!(
        once.len(),
        errors.len(),
        "an error was delivered twice: {errors:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_null_error_in_a_deferred_fragment_nulls_that_fragment_only() {
    let stack = Stack::start().await;
    // Express delivery refuses b11 and b12 (over a kilogram): `shippingEstimate` is non-null,
    // so their fragment is null; b3 and b7 have no customs code, a nullable field.
    let response = send(
        &stack,
        r#"{ books { id ... @defer(label: "parcel") { shippingEstimate(express: true) customsCode } } }"#,
        "multipart/mixed;deferSpec=20220824,application/json",
    )
    .await;
    let parts = parts(response, Instant::now()).await;
    assert_eq!(parts.len(), 2, "{parts:?}");
    let (_, initial) = &parts[0];
    assert!(initial.get("errors").is_none(), "{initial}");
    assert_eq!(
        initial["data"]["books"].as_array().map(Vec::len),
        Some(data::books().len()),
        "the initial payload keeps every book: {initial}"
    );
    let items = parts[1].1["incremental"].as_array().unwrap();
    assert_eq!(items.len(), data::books().len(), "{items:?}");
    for (index, (item, book)) in items.iter().zip(data::books()).enumerate() {
        assert_eq!(item["path"], json!(["books", index]), "{item}");
        assert_eq!(item["label"], json!("parcel"));
        let heavy = book.weight > 1000;
        let no_code = matches!(book.id.as_str(), "b3" | "b7");
        if heavy {
            assert_eq!(item["data"], Value::Null, "{item}");
            let errors = item["errors"].as_array().expect("the reason");
            assert!(
                errors.iter().any(|e| e["message"]
                    .as_str()
                    .unwrap()
                    .contains("too heavy for express")
                    && e["path"] == json!(["books", index, "shippingEstimate"])),
                "{item}"
            );
        } else if no_code {
            assert_eq!(item["data"]["customsCode"], Value::Null, "{item}");
            assert!(item["data"]["shippingEstimate"].is_i64(), "{item}");
            assert_eq!(
                item["errors"][0]["path"],
                json!(["books", index, "customsCode"]),
                "{item}"
            );
        } else {
            assert_eq!(
                item["data"],
                json!({ "shippingEstimate": 1, "customsCode": format!("HS-{}", book.id) })
            );
            assert!(item.get("errors").is_none(), "{item}");
        }
    }
    assert_each_once(&delivered_errors(&parts));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_of_a_failed_deferred_fetch_is_delivered_once_and_not_with_the_initial_part() {
    let stack = Stack::start().await;
    stack.fault("shipping", Fault::ServerError);
    let response = send(
        &stack,
        r#"{ books { id title ... @defer { shippingCost } } }"#,
        "multipart/mixed;deferSpec=20220824,application/json",
    )
    .await;
    let parts = parts(response, Instant::now()).await;
    assert_eq!(parts.len(), 2, "{parts:?}");
    assert!(parts[0].1.get("errors").is_none(), "{:?}", parts[0].1);
    assert_eq!(
        parts[0].1["data"]["books"][0]["title"],
        json!(data::books()[0].title)
    );
    let errors = delivered_errors(&parts);
    assert!(!errors.is_empty(), "{parts:?}");
    assert_each_once(&errors);
    // The initial payload holds every book, so every book gets its item.
    let items = parts[1].1["incremental"].as_array().unwrap();
    assert_eq!(items.len(), data::books().len(), "{items:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_accepts_only_multipart_gets_one_part() {
    let stack = Stack::start().await;
    let response = send(&stack, "{ books { id } }", "multipart/mixed").await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("multipart/mixed")
    );
    let parts = parts(response, Instant::now()).await;
    assert_eq!(parts.len(), 1, "{parts:?}");
    assert_eq!(
        parts[0].1["data"]["books"].as_array().map(Vec::len),
        Some(data::books().len())
    );
}
