//! Order status events over WebSocket, straight from the orders subgraph: a customer hears each
//! change of their order once (checkout, staff's `advanceOrder`, cancellation, the courier
//! simulation), nobody else hears it, bad tokens are refused, and with NATS JetStream a change
//! made on one orders replica reaches a subscriber on another, once.
//!
//! The NATS stories use the server at `TEST_NATS_URL` (default `nats://127.0.0.1:4222`), each
//! under a subject prefix of its own, whose streams it deletes at the end.
//!
//! Seeded orders: 1 (ada, placed), 2 (grace, placed), 3 (ada, cancelled), 4 (alan), 5 (grace),
//! 6 (ada, placed).

use std::collections::HashSet;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use subgraph_kit::{Auth, EventBus, Subgraph};
use subgraph_orders::Orders;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_util::sync::CancellationToken;
use tributary_tests::{TEST_SECRET, TestStack, each_backend, error_code};

const ORDER_EVENTS: &str = "subscription($id: ID!) { orderStatusChanged(orderId: $id) {
    eventId status at order { id status customer { id } } } }";

const MY_UPDATES: &str = "subscription { myOrderUpdates { eventId status order { id } } }";

pub(crate) const ADVANCE: &str = "mutation($id: ID!) { advanceOrder(id: $id) { id status } }";

const CANCEL: &str = "mutation($id: ID!) { cancelOrder(id: $id) { id status } }";

const CHECKOUT: &str = "mutation($key: String!) {
    checkout(lines: [{ productId: \"3\", quantity: 1 }], idempotencyKey: $key) { id status } }";

/// How long a test waits for a message that should come.
const WAIT: Duration = Duration::from_secs(10);

/// How long a test listens for a message that should not come.
const QUIET: Duration = Duration::from_millis(400);

/// The pause between sending a subscription and changing what it watches: the server
/// subscribes to the bus as it reads the message, which a client cannot observe.
const SETTLE: Duration = Duration::from_millis(250);

/// A staff token, as the stack's authority would sign it.
pub(crate) fn admin() -> String {
    Auth::new(TEST_SECRET.as_bytes(), Duration::from_secs(300))
        .issue_service("staff", &["admin"])
        .expect("a staff token")
}

fn ws_url(http_url: &str) -> String {
    http_url.replacen("http://", "ws://", 1)
}

/// One GraphQL WebSocket connection, speaking as a client would.
pub(crate) struct Socket {
    ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
}

/// What the server sent next: a JSON message, or the connection's close.
#[derive(Debug)]
pub(crate) enum Frame {
    Json(Value),
    Closed(u16, String),
}

impl Socket {
    /// Opens a connection with `protocol`, `Authorization: Bearer <header_token>` on the upgrade
    /// when given.
    pub(crate) async fn open(
        url: &str,
        protocol: &str,
        header_token: Option<&str>,
    ) -> Result<Socket, tungstenite::Error> {
        let mut request = ws_url(url).into_client_request()?;
        let headers = request.headers_mut();
        headers.insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_str(protocol).expect("a header value"),
        );
        if let Some(token) = header_token {
            headers.insert(
                "Authorization",
                HeaderValue::from_str(&format!("Bearer {token}")).expect("a header value"),
            );
        }
        let (ws, _) = tokio_tungstenite::connect_async(request).await?;
        Ok(Socket { ws })
    }

    /// A `graphql-transport-ws` connection, acknowledged, its token in `connection_init`.
    pub(crate) async fn ready(url: &str, token: Option<&str>) -> Socket {
        let mut socket = Socket::open(url, "graphql-transport-ws", None)
            .await
            .expect("the upgrade is accepted");
        let ack = socket.init(token).await;
        assert_eq!(ack["type"], "connection_ack", "{ack:?}");
        socket
    }

    /// Sends `connection_init` (with the token when given) and returns the answer as JSON, or
    /// the close as `{"closed": code, "reason": ...}`.
    pub(crate) async fn init(&mut self, token: Option<&str>) -> Value {
        let payload = match token {
            Some(token) => json!({ "Authorization": format!("Bearer {token}") }),
            None => json!({}),
        };
        self.send(json!({ "type": "connection_init", "payload": payload }))
            .await;
        match self.next().await {
            Frame::Json(message) => message,
            Frame::Closed(code, reason) => json!({ "closed": code, "reason": reason }),
        }
    }

    pub(crate) async fn send(&mut self, message: Value) {
        self.ws
            .send(Message::Text(message.to_string().into()))
            .await
            .expect("the message is sent");
    }

    /// Starts subscription `id` with `query` and `variables`, then lets the server subscribe.
    pub(crate) async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.send(json!({ "id": id, "type": "subscribe", "payload": { "query": query, "variables": variables } }))
            .await;
        tokio::time::sleep(SETTLE).await;
    }

    /// The next frame the server sends, pings answered on the way; panics after [`WAIT`].
    pub(crate) async fn next(&mut self) -> Frame {
        self.next_within(WAIT)
            .await
            .unwrap_or_else(|| panic!("nothing arrived within {WAIT:?}"))
    }

    pub(crate) async fn next_within(&mut self, wait: Duration) -> Option<Frame> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let message = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .ok()?;
            match message {
                Some(Ok(Message::Text(text))) => {
                    let message: Value = serde_json::from_str(&text).expect("JSON from the server");
                    if message["type"] == "ping" {
                        self.send(json!({ "type": "pong" })).await;
                        continue;
                    }
                    if message["type"] == "ka" {
                        continue;
                    }
                    return Some(Frame::Json(message));
                }
                Some(Ok(Message::Close(frame))) => {
                    let (code, reason) = frame
                        .map(|f| (u16::from(f.code), f.reason.to_string()))
                        .unwrap_or((1005, String::new()));
                    return Some(Frame::Closed(code, reason));
                }
                Some(Ok(_)) => continue,
                Some(Err(err)) => return Some(Frame::Closed(1006, err.to_string())),
                None => return Some(Frame::Closed(1006, "the connection ended".to_owned())),
            }
        }
    }

    /// The payload of the next `next` message of subscription `id`.
    pub(crate) async fn event(&mut self, id: &str) -> Value {
        match self.next().await {
            Frame::Json(message) if message["type"] == "next" && message["id"] == id => {
                message["payload"].clone()
            }
            other => panic!("expected an event of {id}, got {other:?}"),
        }
    }

    /// Asserts that nothing but pings arrives for [`QUIET`].
    pub(crate) async fn quiet(&mut self) {
        if let Some(frame) = self.next_within(QUIET).await {
            panic!("expected silence, got {frame:?}");
        }
    }
}

/// POSTs an operation to `url` with `Authorization: Bearer <token>`.
pub(crate) async fn gql_at(
    stack: &TestStack,
    url: &str,
    token: &str,
    query: &str,
    variables: Value,
) -> Value {
    stack
        .http()
        .post(url)
        .bearer_auth(token)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .expect("the subgraph answers")
        .json()
        .await
        .expect("JSON")
}

/// Checks one `orderStatusChanged` event and returns its id.
fn checked_event(payload: &Value, order: &str, status: &str, customer: &str) -> String {
    let event = &payload["data"]["orderStatusChanged"];
    assert_eq!(event["status"], status, "{payload}");
    assert_eq!(
        event["order"],
        json!({ "id": order, "status": status, "customer": { "id": customer } }),
        "{payload}"
    );
    let at = event["at"].as_str().unwrap_or_default();
    assert!(
        chrono::DateTime::parse_from_rfc3339(at).is_ok(),
        "`at` is a date-time: {payload}"
    );
    let id = event["eventId"].as_str().unwrap_or_default().to_owned();
    assert!(
        id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit()),
        "{payload}"
    );
    id
}

/// Another orders replica over the stack's database, with its own event bus, on a free port.
pub(crate) struct Replica {
    pub(crate) url: String,
    shutdown: CancellationToken,
    running: subgraph_kit::Running,
}

impl Replica {
    pub(crate) async fn start(stack: &TestStack, events: EventBus) -> Replica {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let shutdown = CancellationToken::new();
        let running = subgraph_kit::serve::<Orders>(
            listener,
            stack.deps("orders").await,
            events,
            shutdown.clone(),
        )
        .await
        .expect("the replica serves");
        Replica {
            url: running.url(),
            shutdown,
            running,
        }
    }

    pub(crate) async fn stop(self) {
        self.shutdown.cancel();
        let _ = self.running.task.await;
    }
}

pub(crate) fn nats_url() -> String {
    std::env::var("TEST_NATS_URL")
        .ok()
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| "nats://127.0.0.1:4222".to_owned())
}

/// A subject prefix no other test run uses.
pub(crate) fn fresh_prefix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("test-{}-{nanos}", std::process::id())
}

/// A bus on the test NATS server under `prefix`, with the orders topic open until `shutdown`.
pub(crate) async fn nats_bus(prefix: &str, shutdown: &CancellationToken) -> EventBus {
    EventBus::nats(&nats_url(), prefix, Orders::TOPICS, shutdown.clone())
        .await
        .expect("NATS with JetStream at TEST_NATS_URL or nats://127.0.0.1:4222")
}

#[tokio::test]
async fn a_customer_hears_each_status_change_of_their_order_once() {
    each_backend(|stack| async move {
        let url = stack.url("orders");
        let ada = stack.login("ada@example.com").await;
        let staff = admin();
        let mut updates = Socket::ready(&url, Some(&ada)).await;
        updates.subscribe("all", MY_UPDATES, json!({})).await;

        // Placing an order is its first status change.
        let placed = stack
            .gql_as(
                "orders",
                &ada,
                CHECKOUT,
                json!({ "key": "events-story-01" }),
            )
            .await;
        let id = placed["data"]["checkout"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no order: {placed}"))
            .to_owned();
        let first = updates.event("all").await;
        assert_eq!(
            first["data"]["myOrderUpdates"]["order"],
            json!({ "id": id }),
            "{first}"
        );
        assert_eq!(first["data"]["myOrderUpdates"]["status"], "PLACED");

        let mut changes = Socket::ready(&url, Some(&ada)).await;
        changes
            .subscribe("one", ORDER_EVENTS, json!({ "id": id }))
            .await;
        let mut ids = HashSet::new();
        for status in ["PAID", "PREPARING", "OUT_FOR_DELIVERY", "DELIVERED"] {
            let moved = stack
                .gql_as("orders", &staff, ADVANCE, json!({ "id": id }))
                .await;
            assert_eq!(
                moved,
                json!({ "data": { "advanceOrder": { "id": id, "status": status } } })
            );
            let event = changes.event("one").await;
            assert!(
                ids.insert(checked_event(&event, &id, status, "1")),
                "a new event id"
            );
            let update = updates.event("all").await;
            assert_eq!(
                update["data"]["myOrderUpdates"]["status"], status,
                "{update}"
            );
            assert_eq!(
                update["data"]["myOrderUpdates"]["eventId"].as_str(),
                event["data"]["orderStatusChanged"]["eventId"].as_str(),
                "both subscriptions hear the same event"
            );
        }
        // Each change was heard once, and nothing else was.
        changes.quiet().await;
        updates.quiet().await;

        // A delivered order moves no further, and only staff move orders.
        let past = stack
            .gql_as("orders", &staff, ADVANCE, json!({ "id": id }))
            .await;
        assert_eq!(error_code(&past), "INVALID_STATE", "{past}");
        let by_ada = stack
            .gql_as("orders", &ada, ADVANCE, json!({ "id": id }))
            .await;
        assert_eq!(error_code(&by_ada), "FORBIDDEN", "{by_ada}");
        let anonymous = stack.gql("orders", ADVANCE, json!({ "id": "1" })).await;
        assert_eq!(error_code(&anonymous), "UNAUTHENTICATED", "{anonymous}");
        let unknown = stack
            .gql_as("orders", &staff, ADVANCE, json!({ "id": "999999" }))
            .await;
        assert_eq!(error_code(&unknown), "NOT_FOUND", "{unknown}");
        changes.quiet().await;
        stack
    })
    .await;
}

#[tokio::test]
async fn orders_cancel_until_they_leave_and_the_cancel_is_heard() {
    each_backend(|stack| async move {
        let url = stack.url("orders");
        let ada = stack.login("ada@example.com").await;
        let staff = admin();
        // Order 1 is paid, then cancelled: its subscriber hears both.
        let mut first = Socket::ready(&url, Some(&ada)).await;
        first
            .subscribe("1", ORDER_EVENTS, json!({ "id": "1" }))
            .await;
        let paid = stack
            .gql_as("orders", &staff, ADVANCE, json!({ "id": "1" }))
            .await;
        assert_eq!(paid["data"]["advanceOrder"]["status"], "PAID", "{paid}");
        checked_event(&first.event("1").await, "1", "PAID", "1");
        let cancelled = stack
            .gql_as("orders", &ada, CANCEL, json!({ "id": "1" }))
            .await;
        assert_eq!(
            cancelled["data"]["cancelOrder"],
            json!({ "id": "1", "status": "CANCELLED" }),
            "{cancelled}"
        );
        checked_event(&first.event("1").await, "1", "CANCELLED", "1");
        let again = stack
            .gql_as("orders", &staff, ADVANCE, json!({ "id": "1" }))
            .await;
        assert_eq!(error_code(&again), "INVALID_STATE", "{again}");
        first.quiet().await;

        // Order 6 leaves for delivery: too late to cancel, and nothing is announced.
        for _ in 0..3 {
            let moved = stack
                .gql_as("orders", &staff, ADVANCE, json!({ "id": "6" }))
                .await;
            assert!(moved["errors"].is_null(), "{moved}");
        }
        let mut sixth = Socket::ready(&url, Some(&ada)).await;
        sixth
            .subscribe("6", ORDER_EVENTS, json!({ "id": "6" }))
            .await;
        let late = stack
            .gql_as("orders", &ada, CANCEL, json!({ "id": "6" }))
            .await;
        assert_eq!(error_code(&late), "INVALID_STATE", "{late}");
        assert!(
            late["errors"][0]["message"]
                .as_str()
                .is_some_and(|m| m.contains("out for delivery")),
            "{late}"
        );
        sixth.quiet().await;
        stack
    })
    .await;
}

#[tokio::test]
async fn only_the_customer_subscribes_and_bad_tokens_are_refused() {
    let stack = TestStack::sqlite().await;
    let url = stack.url("orders");
    let ada = stack.login("ada@example.com").await;
    let grace = stack.login("grace@example.com").await;

    // Someone else's order is not found, as on every other path; so is an unknown one.
    for (token, order) in [(&grace, "1"), (&ada, "999999"), (&ada, "first")] {
        let mut socket = Socket::ready(&url, Some(token)).await;
        socket
            .subscribe("s", ORDER_EVENTS, json!({ "id": order }))
            .await;
        let refused = socket.event("s").await;
        assert_eq!(error_code(&refused), "NOT_FOUND", "{order}: {refused}");
        assert!(refused["data"].is_null(), "{refused}");
        match socket.next().await {
            Frame::Json(message) => assert_eq!(message, json!({ "id": "s", "type": "complete" })),
            other => panic!("expected the subscription to complete, got {other:?}"),
        }
    }
    // A connection without a token may open, but subscribes to nothing.
    let mut anonymous = Socket::ready(&url, None).await;
    anonymous.subscribe("s", MY_UPDATES, json!({})).await;
    let refused = anonymous.event("s").await;
    assert_eq!(error_code(&refused), "UNAUTHENTICATED", "{refused}");
    // A staff token is no customer's.
    let mut staff = Socket::ready(&url, Some(&admin())).await;
    staff
        .subscribe("s", ORDER_EVENTS, json!({ "id": "1" }))
        .await;
    assert_eq!(error_code(&staff.event("s").await), "FORBIDDEN");

    // A bad token in `connection_init` closes the connection with 4403.
    for bad in ["not-a-token", "Basic abc"] {
        let mut socket = Socket::open(&url, "graphql-transport-ws", None)
            .await
            .expect("the upgrade is accepted");
        let payload = if bad.starts_with("Basic") {
            json!({ "Authorization": bad })
        } else {
            json!({ "Authorization": format!("Bearer {bad}") })
        };
        socket
            .send(json!({ "type": "connection_init", "payload": payload }))
            .await;
        match socket.next().await {
            Frame::Closed(code, reason) => {
                assert_eq!(code, 4403, "{reason}");
                assert!(reason.starts_with("UNAUTHENTICATED"), "{reason}");
            }
            other => panic!("expected a close, got {other:?}"),
        }
    }
    // A bad token on the upgrade request refuses the upgrade itself.
    match Socket::open(&url, "graphql-transport-ws", Some("not-a-token")).await {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 401),
        Err(other) => panic!("expected a 401, got {other}"),
        Ok(_) => panic!("a bad token was upgraded"),
    }
    // A protocol other than GraphQL's is refused too.
    match Socket::open(&url, "chat", None).await {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 400),
        Err(other) => panic!("expected a 400, got {other}"),
        Ok(_) => panic!("an unknown protocol was upgraded"),
    }

    // The upgrade request's token serves when `connection_init` names none; the legacy
    // `graphql-ws` protocol works the same way.
    let mut legacy = Socket::open(&url, "graphql-ws", Some(&ada))
        .await
        .expect("the upgrade is accepted");
    assert_eq!(legacy.init(None).await["type"], "connection_ack");
    legacy
        .send(json!({ "id": "l", "type": "start", "payload": { "query": ORDER_EVENTS, "variables": { "id": "1" } } }))
        .await;
    tokio::time::sleep(SETTLE).await;
    let moved = stack
        .gql_as("orders", &admin(), ADVANCE, json!({ "id": "1" }))
        .await;
    assert_eq!(moved["data"]["advanceOrder"]["status"], "PAID", "{moved}");
    match legacy.next().await {
        Frame::Json(message) => {
            assert_eq!(
                (&message["type"], &message["id"]),
                (&json!("data"), &json!("l"))
            );
            checked_event(&message["payload"], "1", "PAID", "1");
        }
        other => panic!("expected data, got {other:?}"),
    }
    stack.stop().await;
}

#[tokio::test]
async fn a_change_on_one_replica_reaches_subscribers_on_another_once() {
    let stack = TestStack::sqlite().await;
    let prefix = fresh_prefix();
    let shutdown = CancellationToken::new();
    let a = Replica::start(&stack, nats_bus(&prefix, &shutdown).await).await;
    let b = Replica::start(&stack, nats_bus(&prefix, &shutdown).await).await;
    let ada = stack.login("ada@example.com").await;
    let staff = admin();

    let mut on_b = Socket::ready(&b.url, Some(&ada)).await;
    on_b.subscribe("b", ORDER_EVENTS, json!({ "id": "1" }))
        .await;
    let mut on_a = Socket::ready(&a.url, Some(&ada)).await;
    on_a.subscribe("a", ORDER_EVENTS, json!({ "id": "1" }))
        .await;
    let mut all_on_b = Socket::ready(&b.url, Some(&ada)).await;
    all_on_b.subscribe("all", MY_UPDATES, json!({})).await;

    for status in ["PAID", "PREPARING"] {
        let moved = gql_at(&stack, &a.url, &staff, ADVANCE, json!({ "id": "1" })).await;
        assert_eq!(moved["data"]["advanceOrder"]["status"], status, "{moved}");
        let heard_on_b = checked_event(&on_b.event("b").await, "1", status, "1");
        let heard_on_a = checked_event(&on_a.event("a").await, "1", status, "1");
        assert_eq!(heard_on_a, heard_on_b, "one event, one id on every replica");
        let all = all_on_b.event("all").await;
        assert_eq!(all["data"]["myOrderUpdates"]["eventId"], json!(heard_on_b));
    }
    // Grace's order moving on reaches none of ada's subscriptions.
    let graces = gql_at(&stack, &b.url, &staff, ADVANCE, json!({ "id": "2" })).await;
    assert_eq!(graces["data"]["advanceOrder"]["status"], "PAID", "{graces}");
    on_b.quiet().await;
    on_a.quiet().await;
    all_on_b.quiet().await;

    a.stop().await;
    b.stop().await;
    let cleaner = nats_bus(&prefix, &shutdown).await;
    shutdown.cancel();
    cleaner
        .delete_streams(Orders::TOPICS)
        .await
        .expect("the test's streams are deleted");
    stack.stop().await;
}

#[tokio::test]
async fn the_courier_moves_orders_along_when_turned_on() {
    let stack = TestStack::sqlite().await;
    let events = EventBus::in_process();
    let replica = Replica::start(&stack, events.clone()).await;
    let ada = stack.login("ada@example.com").await;
    let mut updates = Socket::ready(&replica.url, Some(&ada)).await;
    updates.subscribe("all", MY_UPDATES, json!({})).await;
    let mut first = Socket::ready(&replica.url, Some(&ada)).await;
    first
        .subscribe("1", ORDER_EVENTS, json!({ "id": "1" }))
        .await;

    let courier = tokio::spawn(subgraph_orders::courier(
        stack.deps("orders").await,
        events,
        Duration::from_millis(150),
        replica.shutdown.clone(),
    ));
    for status in ["PAID", "PREPARING", "OUT_FOR_DELIVERY", "DELIVERED"] {
        checked_event(&first.event("1").await, "1", status, "1");
    }
    // Ada's placed orders (1 and 6) each went the whole way; her cancelled one (3) and the
    // other customers' orders were never heard of here.
    let mut heard = Vec::new();
    for _ in 0..8 {
        let update = updates.event("all").await;
        let update = &update["data"]["myOrderUpdates"];
        heard.push(format!(
            "{}:{}",
            update["order"]["id"].as_str().unwrap_or_default(),
            update["status"].as_str().unwrap_or_default()
        ));
    }
    heard.sort();
    assert_eq!(
        heard,
        [
            "1:DELIVERED",
            "1:OUT_FOR_DELIVERY",
            "1:PAID",
            "1:PREPARING",
            "6:DELIVERED",
            "6:OUT_FOR_DELIVERY",
            "6:PAID",
            "6:PREPARING"
        ]
    );
    updates.quiet().await;
    first.quiet().await;
    let mine = stack
        .gql_as("orders", &ada, "{ myOrders { id status } }", json!({}))
        .await;
    assert_eq!(
        mine["data"]["myOrders"],
        json!([
            { "id": "6", "status": "DELIVERED" },
            { "id": "3", "status": "CANCELLED" },
            { "id": "1", "status": "DELIVERED" },
        ]),
        "{mine}"
    );
    replica.stop().await;
    courier.await.expect("the courier stops with its replica");
    stack.stop().await;
}
