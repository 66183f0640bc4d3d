//! GraphQL subscriptions over WebSocket at `/graphql`: `graphql-transport-ws`, and the legacy
//! `graphql-ws` (subscriptions-transport-ws), both as async-graphql speaks them.
//!
//! The caller is the token of the `connection_init` payload (`{"Authorization": "Bearer ..."}`)
//! or else of the upgrade request's `Authorization` header. A bad header refuses the upgrade
//! (401, `UNAUTHENTICATED`); a bad payload token refuses the connection: close code 4403 on
//! `graphql-transport-ws` (as its protocol recommends), a `connection_error` on `graphql-ws`,
//! the reason starting with `UNAUTHENTICATED`. The server pings every [`PING_EVERY`] (a `ping`
//! message, or `ka` on the legacy protocol); a `graphql-transport-ws` client silent for
//! [`SILENT_FOR`] (it answers each ping with a pong) is closed with 3008. Connections end with
//! 1001 when the server shuts down.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_graphql::http::{ALL_WEBSOCKET_PROTOCOLS, WebSocketProtocols, WsMessage};
use async_graphql::{Data, Executor};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use futures::{SinkExt, StreamExt, future};
use serde_json::json;

use super::AppState;
use crate::auth::{Auth, AuthError, Caller};
use crate::error::Code;
use crate::events::{EventCursor, ResumeAfter};

/// How often the server pings an open connection, so proxies keep it and dead peers show.
const PING_EVERY: Duration = Duration::from_secs(15);

/// How long a `graphql-transport-ws` client may stay silent (it answers each ping with a pong)
/// before the server closes its connection.
const SILENT_FOR: Duration = Duration::from_secs(45);

/// The close code for a refused `connection_init` (the protocol's "Forbidden").
const REFUSED: u16 = 4403;

/// The longest close reason a WebSocket frame carries.
const MAX_REASON: usize = 123;

/// Whether a request asks to switch to WebSocket.
pub(super) fn is_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.eq_ignore_ascii_case("websocket"))
}

/// Upgrades a GET to a GraphQL WebSocket connection, or answers why not.
pub(super) async fn upgrade<E: Executor>(state: AppState<E>, request: Request) -> Response {
    let (mut parts, _body) = request.into_parts();
    let Some(protocol) = protocol_of(&parts.headers) else {
        return refusal(
            StatusCode::BAD_REQUEST,
            Code::BadUserInput,
            "a GraphQL WebSocket needs Sec-WebSocket-Protocol graphql-transport-ws or graphql-ws",
        );
    };
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    let caller = match state.auth.caller(&parts.headers) {
        Ok(caller) => caller,
        Err(err) => {
            return refusal(
                StatusCode::UNAUTHORIZED,
                Code::Unauthenticated,
                &err.to_string(),
            );
        }
    };
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        // Small buffers: a socket per subscriber, and events are small (the defaults are
        // 128 KiB each way).
        .read_buffer_size(8 * 1024)
        .write_buffer_size(8 * 1024)
        .max_message_size(1024 * 1024)
        .on_upgrade(move |socket| connection(socket, state, protocol, caller))
}

/// The first GraphQL protocol the client offers that async-graphql speaks.
fn protocol_of(headers: &HeaderMap) -> Option<WebSocketProtocols> {
    headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)?
        .to_str()
        .ok()?
        .split(',')
        .find_map(|offered| WebSocketProtocols::from_str(offered.trim()).ok())
}

fn refusal(status: StatusCode, code: Code, message: &str) -> Response {
    (
        status,
        Json(json!({ "errors": [{
            "message": message,
            "extensions": { "code": code.as_str() },
        }] })),
    )
        .into_response()
}

/// Serves one connection until the client leaves, the protocol closes it or the server stops.
async fn connection<E: Executor>(
    socket: WebSocket,
    state: AppState<E>,
    protocol: WebSocketProtocols,
    upgrade_caller: Caller,
) {
    let (mut sink, stream) = socket.split();
    let input = stream
        .take_while(|message| future::ready(message.is_ok()))
        .filter_map(|message| {
            future::ready(match message {
                Ok(message @ (Message::Text(_) | Message::Binary(_))) => Some(message.into_data()),
                _ => None,
            })
        });
    let refused = Arc::new(AtomicBool::new(false));
    let cursor = EventCursor::default();
    let on_init = {
        let auth = state.auth.clone();
        let events = state.events.clone();
        let refused = refused.clone();
        let cursor = cursor.clone();
        move |payload: serde_json::Value| async move {
            match init_caller(&auth, &payload, upgrade_caller) {
                Ok(caller) => {
                    let mut data = Data::default();
                    data.insert(caller);
                    data.insert(events);
                    data.insert(cursor);
                    if let Some(after) = resume_after(&payload) {
                        data.insert(after);
                    }
                    Ok(data)
                }
                Err(err) => {
                    refused.store(true, Ordering::Relaxed);
                    Err(async_graphql::Error::new(format!(
                        "{}: {err}",
                        Code::Unauthenticated.as_str()
                    )))
                }
            }
        }
    };
    let silent_for = (protocol == WebSocketProtocols::GraphQLWS).then_some(SILENT_FOR);
    let replies = async_graphql::http::WebSocket::new(state.executor.clone(), input, protocol)
        .on_connection_init(on_init)
        .keepalive_timeout(silent_for)
        .map(|reply| to_frame(reply, refused.load(Ordering::Relaxed), &cursor));
    futures::pin_mut!(replies);
    let ping = match protocol {
        WebSocketProtocols::GraphQLWS => r#"{"type":"ping"}"#,
        WebSocketProtocols::SubscriptionsTransportWS => r#"{"type":"ka"}"#,
    };
    let mut pings = tokio::time::interval_at(tokio::time::Instant::now() + PING_EVERY, PING_EVERY);
    tracing::debug!(
        subgraph = state.name,
        ?protocol,
        "WebSocket connection opened"
    );
    loop {
        let frame = tokio::select! {
            () = state.shutdown.cancelled() => {
                let _ = sink
                    .send(Message::Close(Some(CloseFrame {
                        code: 1001,
                        reason: "the server is shutting down".into(),
                    })))
                    .await;
                break;
            }
            _ = pings.tick() => Message::Text(ping.into()),
            reply = replies.next() => match reply {
                Some(frame) => frame,
                None => break,
            },
        };
        if sink.send(frame).await.is_err() {
            break;
        }
    }
    let _ = sink.close().await;
    tracing::debug!(subgraph = state.name, "WebSocket connection closed");
}

/// The caller a `connection_init` payload names, or the upgrade request's when it names none.
fn init_caller(
    auth: &Auth,
    payload: &serde_json::Value,
    upgrade_caller: Caller,
) -> Result<Caller, AuthError> {
    let named = payload.as_object().and_then(|fields| {
        fields
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case("authorization"))
            .map(|(_, value)| value)
    });
    let Some(value) = named else {
        return Ok(upgrade_caller);
    };
    let value = value
        .as_str()
        .and_then(|text| HeaderValue::from_str(text).ok())
        .ok_or(AuthError::Malformed)?;
    let mut headers = HeaderMap::new();
    headers.insert(header::AUTHORIZATION, value);
    match auth.caller(&headers)? {
        Caller { claims: None, .. } => Err(AuthError::Malformed),
        caller => Ok(caller),
    }
}

/// The resume point a `connection_init` payload gives (`lastEventId`, a number or its text).
fn resume_after(payload: &serde_json::Value) -> Option<ResumeAfter> {
    let value = payload.get("lastEventId")?;
    value
        .as_u64()
        .or_else(|| value.as_str()?.trim().parse().ok())
        .map(ResumeAfter)
}

/// An async-graphql reply as a WebSocket frame; a close after a refused `connection_init`
/// carries [`REFUSED`], and an event (`next`, or `data` on the legacy protocol) the sequence
/// of the bus event it answers, when a resolver recorded one, as `extensions.eventCursor`:
/// one subscription per connection (as the engine opens them) resumes exactly after it.
fn to_frame(reply: WsMessage, refused: bool, cursor: &EventCursor) -> Message {
    match reply {
        WsMessage::Text(text) => match cursor.get() {
            Some(sequence)
                if text.contains(r#""type":"next""#) || text.contains(r#""type":"data""#) =>
            {
                Message::Text(with_cursor(text, sequence).into())
            }
            _ => Message::Text(text.into()),
        },
        WsMessage::Close(code, reason) => Message::Close(Some(CloseFrame {
            code: if refused { REFUSED } else { code },
            reason: truncated(reason, MAX_REASON).into(),
        })),
    }
}

/// An event message with `payload.extensions.eventCursor` set to `sequence`.
fn with_cursor(text: String, sequence: u64) -> String {
    let Ok(mut message) = serde_json::from_str::<serde_json::Value>(&text) else {
        return text;
    };
    let Some(payload) = message.get_mut("payload").and_then(|p| p.as_object_mut()) else {
        return text;
    };
    let extensions = payload.entry("extensions").or_insert_with(|| json!({}));
    if let Some(extensions) = extensions.as_object_mut() {
        extensions.insert("eventCursor".to_owned(), json!(sequence.to_string()));
    }
    message.to_string()
}

/// `text` cut to at most `max` bytes on a character boundary.
fn truncated(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}
