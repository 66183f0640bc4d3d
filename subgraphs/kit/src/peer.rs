//! GraphQL calls from one subgraph to another (orders asks catalog for prices and inventory
//! for stock), over pooled keep-alive HTTP connections.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::error::{Code, error};

/// Why a call to a peer subgraph failed.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
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
    /// The GraphQL error to give our own client: a peer's known code is kept, the rest is
    /// `UPSTREAM_FAILED` (and logged).
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
        tracing::warn!(error = %self, "peer subgraph call failed");
        error(Code::UpstreamFailed, self.to_string())
    }
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
    /// Peers at the given `name → http://host:port/graphql` URLs.
    pub fn new(urls: HashMap<String, String>) -> Self {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .unwrap_or_default();
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
