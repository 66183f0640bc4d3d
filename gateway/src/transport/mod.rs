//! Calling subgraphs: one trait, an HTTP implementation (pooled keep-alive connections per
//! subgraph) and an in-process one (an async-graphql executor called directly). This is the
//! only module besides `http/` that names HTTP types: it knows the subgraphs' wire format.

mod breaker;
mod http;
mod in_process;
mod single_flight;
pub mod ws;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;

pub use breaker::Breaker;
pub use http::{HttpTransport, OriginLimits};
pub use in_process::InProcessTransport;
pub use single_flight::SingleFlight;

/// A boxed future, the return type of [`Transport::send`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One request to a subgraph: a serialized GraphQL-over-HTTP body and the caller's headers
/// that the forwarding rules let through.
pub struct SubgraphRequest {
    /// `{"query": ..., "variables": ...}` as JSON bytes.
    pub body: Bytes,
    /// Headers forwarded from the client request.
    pub headers: Arc<Headers>,
    /// A read that may share an identical request already in flight (never a mutation).
    pub shareable: bool,
}

/// The client metadata a request passes on to its subgraphs, as HTTP headers.
#[derive(Debug, Default, Clone)]
pub struct Headers(Vec<(axum::http::HeaderName, axum::http::HeaderValue)>);

impl Headers {
    /// Headers from `(name, value)` pairs; pairs that are not valid HTTP headers are dropped.
    pub fn from_pairs(pairs: &[(String, String)]) -> Headers {
        Headers(
            pairs
                .iter()
                .filter_map(|(name, value)| {
                    let name = axum::http::HeaderName::from_bytes(name.as_bytes()).ok()?;
                    let value = axum::http::HeaderValue::from_str(value).ok()?;
                    Some((name, value))
                })
                .collect(),
        )
    }

    /// The headers in order.
    pub fn iter(&self) -> impl Iterator<Item = &(axum::http::HeaderName, axum::http::HeaderValue)> {
        self.0.iter()
    }
}

/// Whether a forwarded header can change a subgraph's answer. Correlation and tracing headers
/// (`x-request-id`, `traceparent`, `tracestate`, B3) differ on every request and never do, so
/// they are left out of every key that decides whether two requests are the same (shared
/// fetches, shared executions, cache entries); a shared request carries the first caller's.
pub fn affects_answer(name: &str) -> bool {
    !(name.eq_ignore_ascii_case("x-request-id")
        || name.eq_ignore_ascii_case("traceparent")
        || name.eq_ignore_ascii_case("tracestate")
        || name.eq_ignore_ascii_case("b3")
        || name
            .get(..6)
            .is_some_and(|prefix| prefix.eq_ignore_ascii_case("x-b3-")))
}

/// A subgraph's answer: status and raw body, parsed once by the executor.
#[derive(Clone)]
pub struct SubgraphResponse {
    /// HTTP status (200 for in-process calls).
    pub status: u16,
    /// The response body, expected to be a GraphQL response in JSON.
    pub body: Bytes,
    /// The subgraph's `Cache-Control`, a hint for the client response's caching.
    pub cache_control: Option<String>,
    /// How many requests received this answer from one shared subgraph request (1 when it
    /// was not shared).
    pub sharers: usize,
    /// The executor's reading of `body`, made by the first of the requests that share this
    /// answer and read by the others. The transport never looks inside: what a reading is
    /// belongs to a later stage.
    pub reading: Arc<std::sync::OnceLock<Arc<dyn std::any::Any + Send + Sync>>>,
}

impl SubgraphResponse {
    /// An answer received by one request.
    pub fn new(status: u16, body: Bytes, cache_control: Option<String>) -> SubgraphResponse {
        SubgraphResponse {
            status,
            body,
            cache_control,
            sharers: 1,
            reading: Arc::default(),
        }
    }
}

/// Why a subgraph could not be reached.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// No answer within the subgraph's timeout.
    #[error("the request to the subgraph timed out")]
    Timeout,
    /// Connection refused, reset, or another network failure.
    #[error("the subgraph could not be reached: {0}")]
    Unreachable(String),
    /// The HTTP client could not be built (TLS or resolver set-up).
    #[error("the HTTP client could not be built: {0}")]
    Client(#[source] reqwest::Error),
    /// The response body is larger than the engine accepts.
    #[error("the subgraph's response is larger than accepted")]
    TooLarge,
    /// An in-process subgraph failed to execute.
    #[error("the in-process subgraph failed: {0}")]
    InProcess(String),
    /// The subgraph's circuit is open: it failed repeatedly and is not called for a while.
    #[error("the subgraph's circuit is open")]
    CircuitOpen,
}

/// Sends GraphQL requests to one subgraph.
pub trait Transport: Send + Sync {
    /// Sends one request and returns the subgraph's raw answer.
    fn send(
        &self,
        request: SubgraphRequest,
    ) -> BoxFuture<'_, Result<SubgraphResponse, TransportError>>;
}

impl Clone for TransportError {
    /// A shared failure reaches every request that waited on it; the client-building error,
    /// which holds a non-clonable cause, is carried as its message.
    fn clone(&self) -> Self {
        match self {
            TransportError::Timeout => TransportError::Timeout,
            TransportError::Unreachable(reason) => TransportError::Unreachable(reason.clone()),
            TransportError::Client(err) => TransportError::Unreachable(err.to_string()),
            TransportError::TooLarge => TransportError::TooLarge,
            TransportError::InProcess(reason) => TransportError::InProcess(reason.clone()),
            TransportError::CircuitOpen => TransportError::CircuitOpen,
        }
    }
}
