//! GraphQL calls from one subgraph to another (orders asks catalog for prices and inventory
//! for stock), over pooled keep-alive HTTP connections.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::error::{Code, error};

/// How long one call to a peer may take, connection included.
pub const PEER_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a call to a peer subgraph failed.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// The HTTP client could not be built (no TLS backend, bad system configuration).
    #[error("cannot build the HTTP client for peer subgraphs: {0}")]
    Client(reqwest::Error),
    /// No URL is configured for the peer.
    #[error("no URL is configured for the `{0}` subgraph")]
    Unconfigured(String),
    /// The request did not complete (connection refused, timeout, bad status).
    #[error("calling the `{peer}` subgraph failed: {source}")]
    Transport {
        /// The peer called.
        peer: String,
        /// What went wrong on the wire.
        source: reqwest::Error,
    },
    /// The peer answered with a GraphQL error.
    #[error("the `{peer}` subgraph refused: {message}")]
    Remote {
        /// The peer called.
        peer: String,
        /// The peer's `extensions.code`, when it gave one.
        code: Option<String>,
        /// The peer's error message.
        message: String,
    },
    /// The peer's answer was not a GraphQL response with data.
    #[error("the `{peer}` subgraph sent a malformed response")]
    Malformed {
        /// The peer called.
        peer: String,
    },
}

impl PeerError {
    /// The GraphQL error to give our own client: a peer's known code is kept with its message,
    /// the rest is `UPSTREAM_FAILED` with a fixed message naming the peer. The details (URLs,
    /// a peer's internal messages) go to the log only.
    pub fn into_graphql(self) -> async_graphql::Error {
        if let PeerError::Remote {
            code: Some(code),
            message,
            ..
        } = &self
            && let Some(code) = Code::parse(code)
            && code != Code::Internal
        {
            return error(code, message.clone());
        }
        let message = match &self {
            PeerError::Client(source) => {
                tracing::warn!(error = %source, "peer subgraph client unavailable");
                "the peer subgraphs could not be reached".to_owned()
            }
            PeerError::Unconfigured(peer) => {
                tracing::warn!(peer, "peer subgraph not configured");
                format!("the {peer} subgraph is not configured")
            }
            PeerError::Transport { peer, source } => {
                tracing::warn!(peer, error = %source, "peer subgraph could not be reached");
                format!("the {peer} subgraph could not be reached")
            }
            PeerError::Remote {
                peer,
                code,
                message,
            } => {
                tracing::warn!(
                    peer,
                    code = code.as_deref(),
                    message,
                    "peer subgraph answered with an error"
                );
                format!("the {peer} subgraph failed")
            }
            PeerError::Malformed { peer } => {
                tracing::warn!(peer, "peer subgraph sent a malformed response");
                format!("the {peer} subgraph sent an unexpected answer")
            }
        };
        error(Code::UpstreamFailed, message)
    }
}

/// The one HTTP client of a subgraph's peer calls: keep-alive connections, bounded calls.
fn client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(PEER_TIMEOUT)
        .pool_idle_timeout(Duration::from_secs(60))
        .build()
}

/// The GraphQL endpoints of the peer subgraphs, by name, and one pooled client for all.
#[derive(Clone)]
pub struct Peers {
    urls: Arc<HashMap<String, String>>,
    client: reqwest::Client,
}

impl Default for Peers {
    fn default() -> Self {
        Peers::new(HashMap::new())
    }
}

impl Peers {
    /// Peers at the given `name → http://host:port/graphql` URLs, sharing one pooled client;
    /// fails only when the HTTP client cannot be built.
    pub fn try_new(urls: HashMap<String, String>) -> Result<Self, PeerError> {
        Ok(Peers {
            urls: Arc::new(urls),
            client: client().map_err(PeerError::Client)?,
        })
    }

    /// Like [`Peers::try_new`] for callers that cannot handle the failure: should the pooled
    /// client not build, the failure is logged and reqwest's default client is used. Every call
    /// sets [`PEER_TIMEOUT`] itself, so the timeout holds with either client.
    pub fn new(urls: HashMap<String, String>) -> Self {
        let client = client().unwrap_or_else(|err| {
            tracing::error!(error = %err, "cannot build the peer client; using the default one");
            reqwest::Client::new()
        });
        Peers {
            urls: Arc::new(urls),
            client,
        }
    }

    /// The URL configured for `peer`, if any.
    pub fn url(&self, peer: &str) -> Option<&str> {
        self.urls.get(peer).map(String::as_str)
    }

    /// Sends one operation to `peer` with a bearer token and returns its `data`.
    pub async fn call(
        &self,
        peer: &str,
        query: &str,
        variables: Value,
        bearer: &str,
    ) -> Result<Value, PeerError> {
        let url = self
            .url(peer)
            .ok_or_else(|| PeerError::Unconfigured(peer.to_owned()))?;
        let transport = |source| PeerError::Transport {
            peer: peer.to_owned(),
            source,
        };
        let response = self
            .client
            .post(url)
            .timeout(PEER_TIMEOUT)
            .bearer_auth(bearer)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(transport)?;
        let mut body: Value = response.json().await.map_err(transport)?;
        if let Some(first) = body.get("errors").and_then(|e| e.get(0)) {
            return Err(PeerError::Remote {
                peer: peer.to_owned(),
                code: first
                    .pointer("/extensions/code")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                message: first
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("unknown error")
                    .to_owned(),
            });
        }
        match body.get_mut("data").map(Value::take) {
            Some(data) if data.is_object() => Ok(data),
            _ => Err(PeerError::Malformed {
                peer: peer.to_owned(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code_and_message(err: &async_graphql::Error) -> (String, &str) {
        let code = err
            .extensions
            .as_ref()
            .and_then(|ext| ext.get("code"))
            .map(ToString::to_string)
            .unwrap_or_default();
        (code, err.message.as_str())
    }

    #[tokio::test]
    async fn an_unreachable_peer_is_reported_without_its_url() {
        // A port that was just free: nothing listens on it, so the connection is refused.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map(|addr| addr.port())
            .expect("a free port");
        let url = format!("http://127.0.0.1:{port}/graphql");
        let peers = Peers::try_new(HashMap::from([("catalog".to_owned(), url)])).expect("client");
        let err = peers
            .call("catalog", "{ __typename }", json!({}), "token")
            .await
            .expect_err("nothing listens");
        assert!(matches!(err, PeerError::Transport { .. }), "{err}");
        let err = err.into_graphql();
        assert_eq!(
            code_and_message(&err),
            (
                "\"UPSTREAM_FAILED\"".to_owned(),
                "the catalog subgraph could not be reached"
            )
        );
    }

    #[test]
    fn peer_failures_get_fixed_messages_and_known_codes_pass_through() {
        let remote = |code: Option<&str>| PeerError::Remote {
            peer: "inventory".to_owned(),
            code: code.map(str::to_owned),
            message: "db at postgres://internal:5432 failed".to_owned(),
        };
        let cases = [
            (
                PeerError::Unconfigured("catalog".to_owned()),
                "UPSTREAM_FAILED",
                "the catalog subgraph is not configured",
            ),
            (
                remote(Some("INTERNAL_SERVER_ERROR")),
                "UPSTREAM_FAILED",
                "the inventory subgraph failed",
            ),
            (
                remote(None),
                "UPSTREAM_FAILED",
                "the inventory subgraph failed",
            ),
            (
                PeerError::Malformed {
                    peer: "catalog".to_owned(),
                },
                "UPSTREAM_FAILED",
                "the catalog subgraph sent an unexpected answer",
            ),
            (
                remote(Some("NOT_FOUND")),
                "NOT_FOUND",
                "db at postgres://internal:5432 failed",
            ),
        ];
        for (peer_error, code, message) in cases {
            let err = peer_error.into_graphql();
            assert_eq!(code_and_message(&err), (format!("\"{code}\""), message));
        }
    }
}
