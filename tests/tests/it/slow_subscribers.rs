//! A WebSocket subscriber too slow for its events: it stops reading while its subscriptions'
//! messages pile up. The engine queues at most 256 messages for a connection; when a message
//! finds the queue full it closes the connection at once (1008, if the close still fits in the
//! socket) and drops what was queued, ending every subscription of it (their sockets to the
//! subgraph are closed). The client reads what the sockets' buffers held, then the end. Other
//! clients are served meanwhile.
//!
//! Deterministic by construction: the engine's listening socket (whose send buffer the sockets
//! it accepts inherit) and the client's socket have small kernel buffers, so little besides the
//! engine's own queue can hold messages, and the test produces far more than both (100
//! subscriptions on one connection hear every change of the customer's orders), then counts
//! what was held. With the kernel's defaults on loopback the engine's send buffer grows to
//! megabytes and all 700 messages fit in it: the queue never fills.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tributary_gateway::http::ws;
use tributary_tests::{Bff, Environment, TcpRelay, TestStack};

use crate::order_events::{ADVANCE, Frame, Socket, admin};

/// Every change of the customer's orders, with fields from catalog, so each message is a few
/// hundred bytes.
const MY_UPDATES: &str = "subscription { myOrderUpdates { eventId status order { id status
    lines { quantity product { name } } } } }";

const WATCH: &str =
    "subscription($id: ID!) { orderStatusChanged(orderId: $id) { status order { id } } }";

/// Subscriptions the slow client holds on its one connection: as many as the engine allows.
const SUBSCRIPTIONS: usize = ws::MAX_SUBSCRIPTIONS;

/// Messages the engine queues for a connection.
const QUEUED: usize = ws::BUFFERED;

/// The kernel buffer asked for on both ends of the slow connection (Linux doubles it).
const SOCKET_BUFFER: u32 = 4096;

/// How long a test waits for what should happen.
const WAIT: Duration = Duration::from_secs(20);

/// The pause between the upstream sockets being open and the first change: the orders
/// subgraph subscribes to its bus as it reads each `subscribe`, which no client can see.
const SETTLE: Duration = Duration::from_millis(300);

/// A `graphql-transport-ws` connection to `url` over a socket with a small receive buffer,
/// acknowledged for `token`.
async fn slow_client(url: &str, token: &str) -> WebSocketStream<TcpStream> {
    let authority = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or_default();
    let socket = TcpSocket::new_v4().expect("a socket");
    socket
        .set_recv_buffer_size(SOCKET_BUFFER)
        .expect("a small receive buffer");
    let stream = socket
        .connect(authority.parse().expect("the engine's address"))
        .await
        .expect("the engine accepts");
    let mut request = url
        .replacen("http://", "ws://", 1)
        .into_client_request()
        .expect("a WebSocket request");
    request.headers_mut().insert(
        "sec-websocket-protocol",
        HeaderValue::from_static("graphql-transport-ws"),
    );
    let (mut ws, _) = tokio_tungstenite::client_async(request, stream)
        .await
        .expect("the upgrade is accepted");
    send(
        &mut ws,
        json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } }),
    )
    .await;
    match read_frame(&mut ws).await {
        Frame::Json(ack) => assert_eq!(ack, json!({ "type": "connection_ack" })),
        closed => panic!("expected the acknowledgement, got {closed:?}"),
    }
    ws
}

async fn send(ws: &mut WebSocketStream<TcpStream>, message: Value) {
    ws.send(Message::Text(message.to_string().into()))
        .await
        .expect("the message is sent");
}

/// The next message or close, within [`WAIT`].
async fn read_frame(ws: &mut WebSocketStream<TcpStream>) -> Frame {
    loop {
        let message = tokio::time::timeout(WAIT, ws.next())
            .await
            .unwrap_or_else(|_| panic!("nothing arrived within {WAIT:?}"));
        match message {
            Some(Ok(Message::Text(text))) => {
                return Frame::Json(serde_json::from_str(&text).expect("JSON from the engine"));
            }
            Some(Ok(Message::Close(frame))) => {
                let (code, reason) = frame
                    .map(|f| (u16::from(f.code), f.reason.to_string()))
                    .unwrap_or((1005, String::new()));
                return Frame::Closed(code, reason);
            }
            Some(Ok(_)) => continue,
            Some(Err(err)) => return Frame::Closed(1006, err.to_string()),
            None => return Frame::Closed(1006, "the connection ended".to_owned()),
        }
    }
}

#[tokio::test]
async fn a_subscriber_that_stops_reading_is_ended_and_others_are_served() {
    let stack = TestStack::sqlite().await;
    let ada = stack.login("ada@example.com").await;
    let staff = admin();
    // The engine reaches orders through a relay that counts its sockets: one per subscription.
    let orders = TcpRelay::before(&stack.url("orders")).await;
    let listener = TcpSocket::new_v4().expect("a socket");
    listener
        .set_send_buffer_size(SOCKET_BUFFER)
        .expect("a small send buffer, inherited by accepted sockets");
    listener
        .bind("127.0.0.1:0".parse().expect("an address"))
        .expect("a free port");
    let listener = listener.listen(64).expect("listening");
    let orders_url = orders.url();
    let through_relay = move |config: &mut tributary_gateway::Config| {
        config
            .subgraphs
            .urls
            .insert("orders".to_owned(), orders_url);
    };
    let engine = stack
        .counted_bff_on(listener, Bff::Web, Environment::Development, through_relay)
        .await;

    // The slow client subscribes a hundred times and shows it hears each subscription once,
    // as the first change of order 1 arrives.
    let mut slow = slow_client(engine.url(), &ada).await;
    for n in 0..SUBSCRIPTIONS {
        send(
            &mut slow,
            json!({ "id": format!("s{n}"), "type": "subscribe", "payload": { "query": MY_UPDATES } }),
        )
        .await;
    }
    let open = orders.wait_open(WAIT, |open| open >= SUBSCRIPTIONS).await;
    assert_eq!(open, SUBSCRIPTIONS, "one socket to orders per subscription");
    tokio::time::sleep(SETTLE).await;
    let moved = stack
        .gql_as("orders", &staff, ADVANCE, json!({ "id": "1" }))
        .await;
    assert_eq!(moved["data"]["advanceOrder"]["status"], "PAID", "{moved}");
    let mut first = std::collections::HashSet::new();
    for _ in 0..SUBSCRIPTIONS {
        let Frame::Json(message) = read_frame(&mut slow).await else {
            panic!("the slow client was closed before it was slow");
        };
        assert_eq!(message["type"], "next", "{message}");
        assert_eq!(
            message["payload"]["data"]["myOrderUpdates"]["status"], "PAID",
            "{message}"
        );
        assert!(first.insert(message["id"].to_string()), "{message}");
    }

    // Another client of the same engine watches order 6.
    let mut other = Socket::ready(engine.url(), Some(&ada)).await;
    other.subscribe("six", WATCH, json!({ "id": "6" })).await;
    let open = orders.wait_open(WAIT, |open| open > SUBSCRIPTIONS).await;
    assert_eq!(open, SUBSCRIPTIONS + 1);

    // The slow client reads nothing more while orders 1 and 6 go all the way: 700 messages.
    let produced = 7 * SUBSCRIPTIONS;
    assert!(
        produced > QUEUED + 2 * SUBSCRIPTIONS,
        "enough to fill the queue"
    );
    for (order, status) in [
        ("1", "PREPARING"),
        ("1", "OUT_FOR_DELIVERY"),
        ("1", "DELIVERED"),
        ("6", "PAID"),
        ("6", "PREPARING"),
        ("6", "OUT_FOR_DELIVERY"),
        ("6", "DELIVERED"),
    ] {
        let moved = stack
            .gql_as("orders", &staff, ADVANCE, json!({ "id": order }))
            .await;
        assert_eq!(moved["data"]["advanceOrder"]["status"], status, "{moved}");
        if order == "6" {
            // The other client hears each change of its order as it happens.
            let heard = other.event("six").await;
            assert_eq!(
                heard,
                json!({ "data": { "orderStatusChanged": { "status": status, "order": { "id": "6" } } } })
            );
        }
    }
    // The engine let go of every subscription of the slow client, though that client has not
    // read a byte since: only the other client's socket to orders is left.
    let open = orders.wait_open(WAIT, |open| open <= 1).await;
    assert_eq!(
        open, 1,
        "the slow client's subscriptions are ended at the subgraph"
    );
    let page = stack
        .post_json(
            engine.url(),
            &json!({ "query": "{ product(id: \"3\") { name } }" }),
        )
        .await;
    assert!(page["data"]["product"]["name"].is_string(), "{page}");

    // The slow client now reads: what the sockets held, then the end; nothing the engine had
    // queued, and nothing of what came after.
    let mut delivered = 0;
    let closed = loop {
        match read_frame(&mut slow).await {
            Frame::Json(message) => {
                assert_eq!(message["type"], "next", "{message}");
                delivered += 1;
            }
            Frame::Closed(code, reason) => break (code, reason),
        }
    };
    eprintln!(
        "slow subscriber: {delivered} of {produced} messages delivered before the close {closed:?}"
    );
    // The close frame, when it still fitted in the socket; else the connection simply ends.
    assert!(
        closed == (1008, "the client is too slow to take its events".to_owned())
            || closed.0 == 1006,
        "{closed:?}"
    );
    // Only the few dozen messages the sockets' small buffers held: the engine's queue was
    // dropped with the connection.
    assert!(
        delivered < QUEUED,
        "{delivered} of {produced} messages delivered"
    );
    stack.stop().await;
}
