//! Subscriptions to a subgraph over WebSocket, in the `graphql-transport-ws` protocol: connect,
//! `connection_init` with the caller's credentials, `subscribe`, then every `next` payload as
//! an item of a stream until the subgraph completes, fails or the stream is dropped (which
//! closes the socket). A subgraph's `error` message is the stream's last item, as a response
//! with its errors.

use futures::stream::BoxStream;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

/// The subprotocol spoken.
const PROTOCOL: &str = "graphql-transport-ws";

/// The read and write buffer of each socket (messages larger than it still pass).
const BUFFER: usize = 8 * 1024;

/// Why a subscription to a subgraph failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SubscribeError {
    /// The socket could not be opened or the handshake failed.
    #[error("the subgraph's subscription socket could not be opened: {0}")]
    Connect(String),
    /// The subgraph refused the connection or the subscription.
    #[error("the subgraph refused the subscription: {0}")]
    Refused(String),
    /// The socket broke or the subgraph spoke out of protocol.
    #[error("the subgraph's subscription socket failed: {0}")]
    Protocol(String),
}

/// One item of a subscription: a GraphQL response (`{"data": ..., "errors": ...}`).
pub type Event = Result<Value, SubscribeError>;

/// The WebSocket URL of a subgraph's HTTP GraphQL URL (`http` → `ws`, `https` → `wss`).
pub fn websocket_url(url: &str) -> String {
    if let Some(rest) = url.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = url.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        url.to_owned()
    }
}

/// Subscribes to `query` with `variables` at the subgraph at `url`; `authorization` (the
/// caller's `Authorization` value) goes on the upgrade request and in `connection_init`, and
/// so does `resume` (as `lastEventId`), the cursor of the last event a resuming client had.
/// A subgraph that can resume marks each event with `extensions.eventCursor`.
pub async fn subscribe(
    url: &str,
    authorization: Option<&str>,
    query: &str,
    variables: Value,
    resume: Option<&str>,
) -> Result<BoxStream<'static, Event>, SubscribeError> {
    let connect = |e: &dyn std::fmt::Display| SubscribeError::Connect(e.to_string());
    let mut request = websocket_url(url)
        .into_client_request()
        .map_err(|e| connect(&e))?;
    request
        .headers_mut()
        .insert("sec-websocket-protocol", HeaderValue::from_static(PROTOCOL));
    if let Some(value) = authorization.and_then(|v| HeaderValue::from_str(v).ok()) {
        request.headers_mut().insert("authorization", value);
    }
    // Small buffers: one socket per subscriber, and events are small (the defaults, 128 KiB
    // each way, made a thousand subscribers cost a quarter of a gigabyte).
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(BUFFER)
        .write_buffer_size(BUFFER);
    let (mut socket, _) =
        tokio_tungstenite::connect_async_with_config(request, Some(config), false)
            .await
            .map_err(|e| connect(&e))?;
    let mut payload = serde_json::Map::new();
    if let Some(value) = authorization {
        payload.insert("Authorization".to_owned(), json!(value));
    }
    if let Some(resume) = resume {
        // Where the client resumes: the subgraph replays the events after it.
        payload.insert("lastEventId".to_owned(), json!(resume));
    }
    let payload = Value::Object(payload);
    let send = |value: Value| Message::Text(value.to_string().into());
    socket
        .send(send(
            json!({ "type": "connection_init", "payload": payload }),
        ))
        .await
        .map_err(|e| connect(&e))?;
    // The acknowledgement, answering pings until it comes.
    loop {
        let message = match socket.next().await {
            Some(Ok(message)) => message,
            Some(Err(e)) => return Err(connect(&e)),
            None => return Err(SubscribeError::Refused("the socket closed".to_owned())),
        };
        match message {
            Message::Text(text) => {
                let parsed: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                match parsed.get("type").and_then(Value::as_str) {
                    Some("connection_ack") => break,
                    Some("ping") => {
                        let _ = socket.send(send(json!({ "type": "pong" }))).await;
                    }
                    _ => {}
                }
            }
            Message::Close(frame) => {
                let reason = frame.map(|f| f.reason.to_string()).unwrap_or_default();
                return Err(SubscribeError::Refused(reason));
            }
            _ => {}
        }
    }
    socket
        .send(send(json!({
            "id": "1",
            "type": "subscribe",
            "payload": { "query": query, "variables": variables },
        })))
        .await
        .map_err(|e| SubscribeError::Protocol(e.to_string()))?;
    let events = futures::stream::unfold(Some(socket), move |state| async move {
        let mut socket = state?;
        loop {
            let message = match socket.next().await {
                Some(Ok(message)) => message,
                Some(Err(e)) => {
                    return Some((Err(SubscribeError::Protocol(e.to_string())), None));
                }
                None => return None,
            };
            let text = match message {
                Message::Text(text) => text,
                Message::Close(_) => return None,
                _ => continue,
            };
            let parsed: Value = match serde_json::from_str(&text) {
                Ok(parsed) => parsed,
                Err(e) => return Some((Err(SubscribeError::Protocol(e.to_string())), None)),
            };
            match parsed.get("type").and_then(Value::as_str) {
                Some("next") => {
                    let payload = parsed.get("payload").cloned().unwrap_or(Value::Null);
                    return Some((Ok(payload), Some(socket)));
                }
                Some("error") => {
                    // The subgraph's own errors (their codes included), as a last response.
                    let errors = parsed.get("payload").cloned().unwrap_or(Value::Null);
                    return Some((Ok(json!({ "data": null, "errors": errors })), None));
                }
                Some("complete") => return None,
                Some("ping") => {
                    let pong = Message::Text(json!({ "type": "pong" }).to_string().into());
                    let _ = socket.send(pong).await;
                }
                _ => {}
            }
        }
    });
    Ok(events.boxed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_urls_become_websocket_urls() {
        assert_eq!(websocket_url("http://a:1/graphql"), "ws://a:1/graphql");
        assert_eq!(websocket_url("https://a/graphql"), "wss://a/graphql");
    }
}
