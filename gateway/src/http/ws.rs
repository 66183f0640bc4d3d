//! Subscriptions to clients over WebSocket, in the `graphql-transport-ws` protocol (the one of
//! the `graphql-ws` library): `connection_init` (its `Authorization`, or the upgrade request's,
//! verified as for HTTP; a bad one closes with 4403), then any number of `subscribe`s, each
//! answered with `next` messages and a `complete`, or an `error`. Each subscription runs
//! through [`Engine::subscribe`], so its events are completed through the plan like the SSE
//! stream's.
//!
//! Bounds: at most [`MAX_SUBSCRIPTIONS`] at once per connection (4400 beyond); at most
//! [`BUFFERED`] messages waiting for a client, and a write that does not finish within
//! [`WRITE_TIMEOUT`]: a client that does not keep up is closed at once ([`TOO_SLOW`], 1008,
//! which `graphql-ws` clients do not retry) and everything queued for it dropped, instead of
//! making the engine grow. The server pings every [`PING_EVERY`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};

use crate::engine::Engine;
use crate::request::{Caller, Request, Secret};

/// The subprotocol spoken.
pub const PROTOCOL: &str = "graphql-transport-ws";

/// Subscriptions one connection may hold at once.
pub const MAX_SUBSCRIPTIONS: usize = 100;

/// Messages that may wait for a client before it is closed as too slow.
pub const BUFFERED: usize = 256;

/// How long a client has to send `connection_init`.
const INIT_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest one message may take to hand to the socket before its client counts as gone.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the close of a too slow client may take to send before the socket is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// How often the server pings the client (`graphql-transport-ws`'s `ping`).
pub const PING_EVERY: Duration = Duration::from_secs(15);

/// The close code and reason for a client too slow to take its events (1008, policy
/// violation: `graphql-ws` does not reconnect on it, so events are never silently lost).
pub const TOO_SLOW: (u16, &str) = (1008, "the client is too slow to take its events");

/// Upgrades to a `graphql-transport-ws` connection served by `engine`.
pub fn upgrade(
    engine: Arc<Engine>,
    upgrade: WebSocketUpgrade,
    headers: &HeaderMap,
    peer: Option<std::net::IpAddr>,
) -> axum::response::Response {
    // The caller as the upgrade request names it: its `Authorization`, or the web's session
    // cookie. A cookie from a page of another origin is refused: browsers send cookies on
    // cross-site WebSocket upgrades, and the socket would act as the signed-in user.
    let upgrading = super::caller_of(headers, engine.config());
    if upgrading.session.is_some() && upgrading.foreign_origin {
        return (
            axum::http::StatusCode::FORBIDDEN,
            "a session cookie is accepted only from an allowed origin",
        )
            .into_response();
    }
    let forward = super::forwarded(&engine.config().subgraphs.forward_headers, headers);
    upgrade
        .protocols([PROTOCOL])
        // Small buffers: a socket per subscriber, and client messages are small (the
        // defaults are 128 KiB each way); a message over 1 MiB ends the connection.
        .read_buffer_size(8 * 1024)
        .write_buffer_size(8 * 1024)
        .max_message_size(1024 * 1024)
        .on_upgrade(move |socket| serve(engine, socket, upgrading, forward, peer))
        .into_response()
}

fn close(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.to_owned().into(),
    }))
}

fn text(value: Value) -> Message {
    Message::Text(value.to_string().into())
}

async fn serve(
    engine: Arc<Engine>,
    socket: WebSocket,
    upgrading: Caller,
    forward: Vec<(String, String)>,
    peer: Option<std::net::IpAddr>,
) {
    let (mut sink, mut stream) = socket.split();
    // connection_init, within its time.
    let init = tokio::time::timeout(INIT_TIMEOUT, async {
        while let Some(Ok(message)) = stream.next().await {
            if let Message::Text(body) = message {
                let parsed: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                if parsed.get("type").and_then(Value::as_str) == Some("connection_init") {
                    return Some(parsed.get("payload").cloned().unwrap_or(Value::Null));
                }
                return None;
            }
        }
        None
    })
    .await;
    let payload = match init {
        Ok(Some(payload)) => payload,
        Ok(None) => {
            let _ = sink
                .send(close(4400, "the first message must be connection_init"))
                .await;
            return;
        }
        Err(_) => {
            let _ = sink
                .send(close(4408, "connection initialisation timeout"))
                .await;
            return;
        }
    };
    // `connection_init`'s `Authorization` wins over the upgrade request's credentials.
    let caller = match ["Authorization", "authorization"]
        .iter()
        .find_map(|key| payload.get(*key).and_then(Value::as_str))
    {
        Some(credentials) => {
            let mut caller = Caller::with_credentials(credentials);
            caller.authorization = Some(Secret::new(credentials));
            caller
        }
        None => upgrading,
    };
    // The token is verified now, so a bad one never holds a connection.
    let mut probe = Request {
        caller: caller.clone(),
        ..Request::default()
    };
    if let Err(error) = engine.pipeline().admission().authenticate(&mut probe).await {
        let reason = format!("UNAUTHENTICATED: {}", error.message);
        let _ = sink.send(close(4403, &reason)).await;
        return;
    }
    let (outgoing, mut queue) = tokio::sync::mpsc::channel::<Message>(BUFFERED);
    // Told when a subscription finds the queue full: the writer closes the client at once.
    let slow = Arc::new(tokio::sync::Notify::new());
    let mut writer = tokio::spawn({
        let slow = slow.clone();
        async move {
            let start = tokio::time::Instant::now() + PING_EVERY;
            let mut pings = tokio::time::interval_at(start, PING_EVERY);
            loop {
                let message = tokio::select! {
                    biased;
                    () = slow.notified() => {
                        // Dropped with the socket: whatever was queued for this client.
                        let (code, reason) = TOO_SLOW;
                        let _ = tokio::time::timeout(CLOSE_GRACE, sink.send(close(code, reason))).await;
                        tracing::info!(code, "a WebSocket client too slow to take its events was closed");
                        break;
                    }
                    message = queue.recv() => match message {
                        Some(message) => message,
                        None => break,
                    },
                    _ = pings.tick() => text(json!({ "type": "ping" })),
                };
                let closing = matches!(message, Message::Close(_));
                match tokio::time::timeout(WRITE_TIMEOUT, sink.send(message)).await {
                    Ok(Ok(())) if !closing => {}
                    _ => break,
                }
            }
        }
    });
    if outgoing
        .send(text(json!({ "type": "connection_ack" })))
        .await
        .is_err()
    {
        return;
    }
    let mut running: HashMap<String, tokio::task::AbortHandle> = HashMap::new();
    let mut writer_ended = false;
    loop {
        let message = tokio::select! {
            message = stream.next() => message,
            _ = &mut writer => {
                // The client was closed (too slow, or its socket broke): nothing more to read.
                writer_ended = true;
                break;
            }
        };
        let Some(Ok(message)) = message else {
            break;
        };
        let Message::Text(body) = message else {
            if matches!(message, Message::Close(_)) {
                break;
            }
            continue;
        };
        let parsed: Value = match serde_json::from_str(&body) {
            Ok(parsed) => parsed,
            Err(_) => {
                let _ = outgoing.try_send(close(4400, "a message is not JSON"));
                break;
            }
        };
        let id = parsed.get("id").and_then(Value::as_str).map(str::to_owned);
        match (parsed.get("type").and_then(Value::as_str), id) {
            (Some("ping"), _) => {
                let _ = outgoing.try_send(text(json!({ "type": "pong" })));
            }
            (Some("pong"), _) => {}
            (Some("complete"), Some(id)) => {
                if let Some(task) = running.remove(&id) {
                    task.abort();
                }
            }
            (Some("subscribe"), Some(id)) => {
                running.retain(|_, task| !task.is_finished());
                if running.contains_key(&id) {
                    let _ = outgoing
                        .try_send(close(4409, &format!("subscriber for {id} already exists")));
                    break;
                }
                if running.len() >= MAX_SUBSCRIPTIONS {
                    let _ =
                        outgoing.try_send(close(4400, "too many subscriptions on this connection"));
                    break;
                }
                let payload = parsed.get("payload").cloned().unwrap_or(Value::Null);
                let request = request_of(&payload, caller.clone(), forward.clone(), peer);
                let task = tokio::spawn(run(
                    engine.clone(),
                    id.clone(),
                    request,
                    outgoing.clone(),
                    slow.clone(),
                ));
                running.insert(id, task.abort_handle());
            }
            _ => {
                let _ = outgoing.try_send(close(4400, "unknown message type"));
                break;
            }
        }
    }
    for (_, task) in running {
        task.abort();
    }
    drop(outgoing);
    if !writer_ended {
        let _ = writer.await;
    }
}

/// The engine request of a `subscribe` payload.
fn request_of(
    payload: &Value,
    caller: Caller,
    forward: Vec<(String, String)>,
    peer: Option<std::net::IpAddr>,
) -> Request {
    let string = |key: &str| payload.get(key).and_then(Value::as_str).map(str::to_owned);
    let object = |key: &str| {
        payload
            .get(key)
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    };
    let mut forward = forward;
    if let Some(authorization) = &caller.authorization
        && !forward.iter().any(|(name, _)| name == "authorization")
    {
        forward.push((
            "authorization".to_owned(),
            authorization.expose().to_owned(),
        ));
    }
    Request {
        query: string("query"),
        operation_name: string("operationName"),
        variables: object("variables"),
        extensions: object("extensions"),
        caller,
        forward,
        peer,
        ..Request::default()
    }
}

/// One subscription: its events as `next`s, then `complete`; a refusal as `error`. A client
/// too slow to take them is closed (`slow`).
async fn run(
    engine: Arc<Engine>,
    id: String,
    request: Request,
    outgoing: tokio::sync::mpsc::Sender<Message>,
    slow: Arc<tokio::sync::Notify>,
) {
    let send = |message: Message| match outgoing.try_send(message) {
        Ok(()) => true,
        Err(tokio::sync::mpsc::error::TrySendError::Full(_)) => {
            // The queue is full: the client does not keep up. The writer closes it at once,
            // ahead of what is queued.
            slow.notify_one();
            false
        }
        Err(_) => false,
    };
    match engine.subscribe(request).await {
        Err(response) => {
            let errors: Value = serde_json::from_slice::<Value>(&response.body)
                .ok()
                .and_then(|body| body.get("errors").cloned())
                .unwrap_or_else(|| json!([{ "message": "the subscription was refused" }]));
            send(text(
                json!({ "id": id, "type": "error", "payload": errors }),
            ));
        }
        Ok(mut events) => {
            while let Some(item) = events.next().await {
                let payload: Value = serde_json::from_slice(&item.body).unwrap_or(Value::Null);
                if !send(text(
                    json!({ "id": id, "type": "next", "payload": payload }),
                )) {
                    return;
                }
            }
            send(text(json!({ "id": id, "type": "complete" })));
        }
    }
}
