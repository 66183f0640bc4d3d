//! Watching an order live through the router: a subscription over Server-Sent Events, each
//! status change an event whose federated fields (product names from catalog) are resolved
//! through the plan, and the refusals a subscription can meet.

use std::time::Duration;

use serde_json::{Value, json};
use subgraph_kit::auth::Auth;
use tributary_tests::{TEST_SECRET, TestStack};

use crate::order_events::{Frame, Socket};

const WATCH: &str = "subscription($id: ID!) { orderStatusChanged(orderId: $id) { status order { id lines { quantity product { name } } } } }";
const ADVANCE: &str = "mutation($id: ID!) { advanceOrder(id: $id) { id status } }";

fn admin() -> String {
    Auth::new(TEST_SECRET.as_bytes(), Duration::from_secs(300))
        .issue_service("staff", &["admin"])
        .expect("a staff token")
}

/// Opens an event stream at the router; returns the response (status checked by the caller).
async fn watch(stack: &TestStack, token: Option<&str>, id: &str) -> reqwest::Response {
    let mut request = stack
        .http()
        .post(stack.url("gateway"))
        .header("accept", "text/event-stream")
        .json(&json!({ "query": WATCH, "variables": { "id": id } }));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.expect("the router answers")
}

/// Reads SSE events (`(event, data)`) until `count` arrived or a `complete` came.
async fn events(response: &mut reqwest::Response, count: usize) -> Vec<(String, Value)> {
    let mut buffer = String::new();
    let mut out = Vec::new();
    while out.len() < count {
        let chunk = tokio::time::timeout(Duration::from_secs(10), response.chunk())
            .await
            .expect("an event within 10 s")
            .expect("the stream reads");
        let Some(chunk) = chunk else { break };
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let mut event = String::new();
            let mut data = String::new();
            for line in block.lines() {
                if let Some(name) = line.strip_prefix("event:") {
                    event = name.trim().to_owned();
                } else if let Some(text) = line.strip_prefix("data:") {
                    data.push_str(text.trim_start());
                }
            }
            if event.is_empty() {
                continue; // a keep-alive comment
            }
            let done = event == "complete";
            out.push((event, serde_json::from_str(&data).unwrap_or(Value::Null)));
            if done {
                return out;
            }
        }
    }
    out
}

#[tokio::test]
async fn an_order_watched_through_the_router_gets_each_change_with_federated_fields() {
    let stack = TestStack::sqlite().await;
    let ada = stack.login("ada@example.com").await;
    let mut stream = watch(&stack, Some(&ada), "1").await;
    assert_eq!(stream.status(), 200);
    assert!(
        stream.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    for status in ["PAID", "PREPARING"] {
        let advanced = stack
            .gql_as("orders", &admin(), ADVANCE, json!({ "id": "1" }))
            .await;
        assert_eq!(
            advanced["data"]["advanceOrder"]["status"], status,
            "{advanced}"
        );
        let got = events(&mut stream, 1).await;
        let (kind, body) = &got[0];
        assert_eq!(kind, "next");
        assert!(body.get("errors").is_none(), "{body}");
        let event = &body["data"]["orderStatusChanged"];
        assert_eq!(event["status"], status, "{body}");
        assert_eq!(event["order"]["id"], "1");
        let names: Vec<&str> = event["order"]["lines"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|line| line["product"]["name"].as_str())
            .collect();
        assert!(!names.is_empty(), "product names come from catalog: {body}");
    }
    drop(stream);
    stack.stop().await;
}

#[tokio::test]
async fn someone_elses_order_and_an_anonymous_watch_are_refused_with_codes() {
    let stack = TestStack::sqlite().await;
    let grace = stack.login("grace@example.com").await;
    let mut stream = watch(&stack, Some(&grace), "1").await;
    let got = events(&mut stream, 2).await;
    assert_eq!(got[0].0, "next");
    assert_eq!(
        got[0].1["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "{:?}",
        got
    );
    assert_eq!(got.last().map(|e| e.0.as_str()), Some("complete"));

    let mut anonymous = watch(&stack, None, "1").await;
    let got = events(&mut anonymous, 2).await;
    assert_eq!(
        got[0].1["errors"][0]["extensions"]["code"], "UNAUTHORIZED_FIELD_OR_TYPE",
        "{:?}",
        got
    );
    assert_eq!(got.last().map(|e| e.0.as_str()), Some("complete"));

    let refused = stack
        .http()
        .post(stack.url("gateway"))
        .header("accept", "text/event-stream")
        .bearer_auth("not-a-token")
        .json(&json!({ "query": WATCH, "variables": { "id": "1" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    stack.stop().await;
}

#[tokio::test]
async fn an_order_watched_over_websocket_through_a_bff_and_a_bad_token_closed() {
    let stack = TestStack::sqlite().await;
    let ada = stack.login("ada@example.com").await;
    let mut socket = Socket::ready(&stack.url("web"), Some(&ada)).await;
    socket.subscribe("w1", WATCH, json!({ "id": "1" })).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let advanced = stack
        .gql_as("orders", &admin(), ADVANCE, json!({ "id": "1" }))
        .await;
    assert_eq!(
        advanced["data"]["advanceOrder"]["status"], "PAID",
        "{advanced}"
    );
    let event = socket.event("w1").await;
    let watched = &event["data"]["orderStatusChanged"];
    assert_eq!(watched["status"], "PAID", "{event}");
    assert!(
        watched["order"]["lines"][0]["product"]["name"].is_string(),
        "federated fields resolved: {event}"
    );

    // Someone else's order: an `error` for that subscription, the connection lives on.
    let grace = stack.login("grace@example.com").await;
    let mut other = Socket::ready(&stack.url("web"), Some(&grace)).await;
    other.subscribe("g1", WATCH, json!({ "id": "1" })).await;
    match other.next().await {
        Frame::Json(message) => {
            assert_eq!(message["id"], "g1", "{message}");
            let code = if message["type"] == "error" {
                message["payload"][0]["extensions"]["code"].clone()
            } else {
                message["payload"]["errors"][0]["extensions"]["code"].clone()
            };
            assert_eq!(code, "NOT_FOUND", "{message}");
        }
        Frame::Closed(code, reason) => panic!("closed {code} {reason}"),
    }

    // A bad token on connection_init closes the connection with 4403.
    let mut bad = Socket::open(&stack.url("web"), "graphql-transport-ws", None)
        .await
        .expect("the upgrade succeeds");
    bad.send(json!({ "type": "connection_init", "payload": { "Authorization": "Bearer nope" } }))
        .await;
    match bad.next().await {
        Frame::Closed(code, reason) => {
            assert_eq!(code, 4403);
            assert!(reason.starts_with("UNAUTHENTICATED"), "{reason}");
        }
        Frame::Json(message) => panic!("expected a close, got {message}"),
    }
    stack.stop().await;
}

#[tokio::test]
async fn the_app_watches_its_order_with_a_persisted_subscription() {
    let stack = TestStack::sqlite().await;
    let ada = stack.login("ada@example.com").await;
    let manifest: Value = serde_json::from_str(bff_mobile::MANIFEST).unwrap();
    let id = manifest["operations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|op| op["name"] == "OrderUpdates")
        .and_then(|op| op["id"].as_str())
        .unwrap()
        .to_owned();
    let mut stream = stack
        .http()
        .post(stack.url("mobile"))
        .header("accept", "text/event-stream")
        .bearer_auth(&ada)
        .json(&json!({ "documentId": id, "variables": { "id": "1" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    stack
        .gql_as("orders", &admin(), ADVANCE, json!({ "id": "1" }))
        .await;
    let got = events(&mut stream, 1).await;
    let card = &got[0].1["data"]["orderStatusChanged"];
    assert_eq!(card["status"], "PAID", "{:?}", got);
    assert!(card["order"]["statusLabel"].is_string(), "{:?}", got);
    assert!(card["eventId"].is_string(), "{:?}", got);
    drop(stream);
    stack.stop().await;
}

#[tokio::test]
async fn a_web_page_watches_with_its_session_cookie_from_its_own_origin_only() {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    let stack = TestStack::sqlite().await;
    let page = "http://localhost:5173";
    let login = stack
        .http()
        .post(stack.url("web").replace("/graphql", "/auth/login"))
        .header("x-tributary-csrf", "1")
        .header("origin", page)
        .json(&json!({ "email": "ada@example.com", "password": tributary_tests::DEMO_PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let cookie = login.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let upgrade = |origin: &str| {
        let mut request = stack
            .url("web")
            .replacen("http://", "ws://", 1)
            .into_client_request()
            .unwrap();
        let headers = request.headers_mut();
        headers.insert(
            "sec-websocket-protocol",
            "graphql-transport-ws".parse().unwrap(),
        );
        headers.insert("cookie", cookie.parse().unwrap());
        headers.insert("origin", origin.parse().unwrap());
        request
    };

    // From another site, the cookie opens nothing.
    let refused = tokio_tungstenite::connect_async(upgrade("https://evil.example")).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 403)
        }
        other => panic!("expected a 403, got {other:?}"),
    }

    let (mut socket, _) = tokio_tungstenite::connect_async(upgrade(page))
        .await
        .unwrap();
    let send = |value: Value| Message::Text(value.to_string().into());
    socket
        .send(send(json!({ "type": "connection_init", "payload": {} })))
        .await
        .unwrap();
    let ack = loop {
        match tokio::time::timeout(Duration::from_secs(10), socket.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => {
                break serde_json::from_str::<Value>(&text).unwrap();
            }
            Ok(Some(Ok(_))) => continue,
            other => panic!("no message: {other:?}"),
        }
    };
    assert_eq!(ack["type"], "connection_ack");
    socket
        .send(send(json!({
            "id": "s1",
            "type": "subscribe",
            "payload": { "query": WATCH, "variables": { "id": "1" } },
        })))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    stack
        .gql_as("orders", &admin(), ADVANCE, json!({ "id": "1" }))
        .await;
    let event = loop {
        match tokio::time::timeout(Duration::from_secs(10), socket.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => {
                break serde_json::from_str::<Value>(&text).unwrap();
            }
            Ok(Some(Ok(_))) => continue,
            other => panic!("no event: {other:?}"),
        }
    };
    assert_eq!(event["type"], "next", "{event}");
    assert_eq!(
        event["payload"]["data"]["orderStatusChanged"]["status"], "PAID",
        "{event}"
    );
    stack.stop().await;
}

/// Reads SSE events as `(id, data)` until `count` `next` events arrived.
pub(crate) async fn identified_events(
    response: &mut reqwest::Response,
    count: usize,
) -> Vec<(String, Value)> {
    let mut buffer = String::new();
    let mut out = Vec::new();
    while out.len() < count {
        let chunk = tokio::time::timeout(Duration::from_secs(10), response.chunk())
            .await
            .expect("an event within 10 s")
            .expect("the stream reads")
            .expect("the stream is open");
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let field = |name: &str| {
                block
                    .lines()
                    .find_map(|line| line.strip_prefix(name))
                    .map(|value| value.trim().to_owned())
            };
            if field("event:").as_deref() == Some("next") {
                let data = serde_json::from_str(&field("data:").unwrap_or_default())
                    .unwrap_or(Value::Null);
                out.push((field("id:").unwrap_or_default(), data));
            }
        }
    }
    out
}

#[tokio::test]
async fn a_watcher_that_lost_its_connection_resumes_after_the_last_event_it_had() {
    let stack = TestStack::sqlite().await;
    let ada = stack.login("ada@example.com").await;
    let advance = || async {
        stack
            .gql_as("orders", &admin(), ADVANCE, json!({ "id": "1" }))
            .await["data"]["advanceOrder"]["status"]
            .clone()
    };
    let status = |event: &(String, Value)| event.1["data"]["orderStatusChanged"]["status"].clone();

    let mut first = watch(&stack, Some(&ada), "1").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(advance().await, "PAID");
    let heard = identified_events(&mut first, 1).await;
    assert_eq!(status(&heard[0]), "PAID");
    let last_id = heard[0].0.clone();
    assert!(
        !last_id.is_empty(),
        "each event carries an id to resume after"
    );
    // The connection drops; the order moves on meanwhile.
    drop(first);
    assert_eq!(advance().await, "PREPARING");
    assert_eq!(advance().await, "OUT_FOR_DELIVERY");

    let mut resumed = stack
        .http()
        .post(stack.url("gateway"))
        .header("accept", "text/event-stream")
        .header("last-event-id", &last_id)
        .bearer_auth(&ada)
        .json(&json!({ "query": WATCH, "variables": { "id": "1" } }))
        .send()
        .await
        .expect("the router answers");
    assert_eq!(resumed.status(), 200);
    let missed = identified_events(&mut resumed, 2).await;
    assert_eq!(
        missed.iter().map(status).collect::<Vec<_>>(),
        ["PREPARING", "OUT_FOR_DELIVERY"],
        "each missed change once, in order"
    );
    assert!(
        missed
            .iter()
            .all(|(id, _)| !id.is_empty() && *id != last_id)
    );
    // And it is live again.
    assert_eq!(advance().await, "DELIVERED");
    let live = identified_events(&mut resumed, 1).await;
    assert_eq!(status(&live[0]), "DELIVERED");
    drop(resumed);
    stack.stop().await;
}
