//! The engine's own request and response types, free of any wire format: `http/` (and later
//! WebSocket or SSE) turns what clients send into a [`Request`] and a [`Response`] back into
//! bytes, statuses and headers.

use serde_json::{Map, Value};

use crate::error::{Code, GraphqlError};

/// One GraphQL operation to run, as the engine sees it.
#[derive(Debug, Default, Clone)]
pub struct Request {
    /// The document, when the client sent one.
    pub query: Option<String>,
    /// The id of a persisted operation (`documentId`, or `id`).
    pub document_id: Option<String>,
    /// Which operation of the document to run.
    pub operation_name: Option<String>,
    /// Variable values as the client sent them.
    pub variables: Map<String, Value>,
    /// Protocol extensions (persisted queries).
    pub extensions: Map<String, Value>,
    /// Who the client says it is.
    pub client: ClientInfo,
    /// Who is calling, as far as the engine can tell.
    pub caller: Caller,
    /// What the carrier of this request allows.
    pub capabilities: Capabilities,
    /// Request metadata to pass on to subgraphs, by name (lower case) and value, already
    /// filtered by the forwarding rules.
    pub forward: Vec<(String, String)>,
    /// The address of the connection's peer, when the carrier knows it.
    pub peer: Option<std::net::IpAddr>,
    /// The value of the configured client-address header (`[rate_limit] client_ip_header`).
    pub forwarded_for: Option<String>,
    /// Where a resumed subscription starts: the id of the last event its client received
    /// (SSE's `Last-Event-ID`).
    pub last_event_id: Option<String>,
}

/// One item of a stream of responses: a subscription's event or a part of a deferred one.
#[derive(Debug, Clone)]
pub struct Streamed {
    /// Where a client resumes after this item (SSE's event `id`), when its source says.
    pub id: Option<String>,
    /// The GraphQL response.
    pub body: bytes::Bytes,
}

impl Request {
    /// Whether the request names an operation at all: a document, a persisted id or an
    /// automatic persisted query hash.
    pub fn names_an_operation(&self) -> bool {
        self.query.as_deref().is_some_and(|q| !q.trim().is_empty())
            || self.document_id.is_some()
            || self.extensions.contains_key("persistedQuery")
    }
}

/// Who the client says it is (`apollographql-client-name` / `-version` over HTTP).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    /// The client's name, or `unknown`.
    pub name: String,
    /// The client's version, or `unknown`.
    pub version: String,
}

impl Default for ClientInfo {
    fn default() -> Self {
        ClientInfo {
            name: "unknown".to_owned(),
            version: "unknown".to_owned(),
        }
    }
}

impl ClientInfo {
    /// Longest name or version kept, in characters: both end up in logs and metric labels.
    pub const MAX_LEN: usize = 64;

    /// A client identity from what the client sent, cut to [`Self::MAX_LEN`]; missing or
    /// empty parts read `unknown`.
    pub fn new(name: Option<&str>, version: Option<&str>) -> ClientInfo {
        let read = |value: Option<&str>| {
            value
                .map(|v| v.chars().take(Self::MAX_LEN).collect::<String>())
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| "unknown".to_owned())
        };
        ClientInfo {
            name: read(name),
            version: read(version),
        }
    }
}

/// Who is calling: whether the request carries credentials, and a stable name for them that
/// keys the caller's private cache entries.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The request carries credentials (a bearer token or a session cookie).
    pub identified: bool,
    /// Who the credentials name, as far as the engine can tell: the verified token's issuer
    /// and subject, else a fingerprint of the credentials themselves. `None` for anonymous
    /// callers.
    pub subject: Option<String>,
    /// The `Authorization` header, for the engine to verify.
    pub authorization: Option<Secret>,
    /// What the verified token says, once the engine has verified it.
    pub claims: Option<std::sync::Arc<Claims>>,
    /// The session cookie's value, when the engine runs cookie sessions and the request has
    /// no `Authorization` header; admission trades it for the session's token.
    pub session: Option<Secret>,
    /// The credentials came from a session cookie (set by admission once the session is
    /// found): a mutation then needs the CSRF header.
    pub from_session: bool,
    /// The request carries the configured CSRF header with a non-empty value.
    pub csrf_header: bool,
    /// The request's `Origin` is not one of the allowed CORS origins (no `Origin` is fine).
    pub foreign_origin: bool,
}

impl Caller {
    /// An anonymous caller.
    pub fn anonymous() -> Caller {
        Caller::default()
    }

    /// A caller known by `credentials` (the `Authorization` value, or the session cookie):
    /// its subject is a hash of them, so equal credentials share private entries and nothing
    /// of them is kept.
    pub fn with_credentials(credentials: &str) -> Caller {
        Caller {
            identified: true,
            subject: Some(format!(
                "c:{:032x}",
                xxhash_rust::xxh3::xxh3_128(credentials.as_bytes())
            )),
            ..Caller::default()
        }
    }
}

/// A credential that is never written to logs: its `Debug` shows only that it is there.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The credential itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// What a verified token says about its caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// `sub`.
    pub subject: String,
    /// `iss`, if present.
    pub issuer: Option<String>,
    /// The scopes it grants (`scope`, `scp` or `scopes`).
    pub scopes: Vec<String>,
    /// Every claim of the token.
    pub payload: Map<String, Value>,
}

impl Claims {
    /// Whether the token grants `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

/// What the carrier of a request lets it do.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// Only queries may run (GraphQL over HTTP GET).
    pub read_only: bool,
    /// The carrier can deliver a response in parts (`multipart/mixed` or Server-Sent
    /// Events), so a query's `@defer` is honoured; without it deferred fields come in the
    /// one response.
    pub incremental: bool,
}

/// The kind of operation a request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationType {
    /// A read.
    Query,
    /// A write; never over a read-only carrier.
    Mutation,
    /// A stream of events.
    Subscription,
}

/// How a response may be cached, as data; `http/` turns it into `Cache-Control`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CachePolicy {
    /// Not to be stored anywhere.
    NoStore,
    /// Storable for `max_age` seconds, by any cache or by the caller's only.
    Store {
        /// Seconds the response stays fresh; never 0.
        max_age: u32,
        /// Who may store it.
        scope: CacheScope,
    },
}

/// Who may store a cacheable response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheScope {
    /// Any cache, shared ones included.
    Public,
    /// Only the caller's own cache.
    Private,
}

/// How a request ended, which decides its status on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The operation ran; the body may still carry field errors.
    Executed,
    /// The request was refused before execution, with this code.
    Refused(Code),
}

/// What the engine's response cache did for a request (RFC 9211's `Cache-Status` in data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheStatus {
    /// Served from the cache.
    Hit {
        /// Seconds it stays fresh.
        ttl: u32,
        /// Seconds since it was stored.
        age: u32,
    },
    /// Not in the cache: executed, and stored for `ttl` seconds when `ttl` is set.
    Miss {
        /// Seconds it was stored for, when it was.
        ttl: Option<u32>,
    },
    /// Not cacheable (a mutation, errors, or a `no-store` policy): executed, not stored.
    Bypass,
}

/// The engine's answer to one request.
#[derive(Debug, Clone)]
pub struct Response {
    /// The GraphQL response, serialized once.
    pub body: bytes::Bytes,
    /// Executed or refused.
    pub status: Status,
    /// How it may be cached.
    pub cache: CachePolicy,
    /// How many subgraph requests it took.
    pub fetches: usize,
    /// What the response cache did, when the engine has one.
    pub cache_status: Option<CacheStatus>,
    /// Seconds the client should wait before retrying (`Retry-After`), on a rate-limit refusal.
    pub retry_after: Option<u64>,
    /// For a query delivered in parts (`@defer`): its payloads, in order, in place of `body`.
    pub parts: Option<Parts>,
}

/// The payloads of a response delivered in parts; the carrier takes them once.
#[derive(Clone, Default)]
pub struct Parts(std::sync::Arc<std::sync::Mutex<Option<PartStream>>>);

/// A stream of JSON payloads, each one part of a response.
pub type PartStream = futures::stream::BoxStream<'static, bytes::Bytes>;

impl Parts {
    /// Parts to be read from `stream`.
    pub fn new(stream: PartStream) -> Parts {
        Parts(std::sync::Arc::new(std::sync::Mutex::new(Some(stream))))
    }

    /// The stream, the first time it is asked for.
    pub fn take(&self) -> Option<PartStream> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
    }
}

impl std::fmt::Debug for Parts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Parts")
    }
}

impl Response {
    /// A refusal with one error.
    pub fn refused(error: GraphqlError) -> Response {
        Response::refused_with(vec![error])
    }

    /// A refusal with several errors; the first one's code decides the status.
    pub fn refused_with(errors: Vec<GraphqlError>) -> Response {
        let code = errors
            .first()
            .and_then(GraphqlError::code)
            .unwrap_or(Code::InternalServerError);
        Response {
            body: crate::error::errors_body(&errors).into(),
            status: Status::Refused(code),
            cache: CachePolicy::NoStore,
            fetches: 0,
            cache_status: None,
            retry_after: None,
            parts: None,
        }
    }

    /// A query's response delivered in parts.
    pub fn in_parts(stream: PartStream) -> Response {
        Response {
            body: bytes::Bytes::new(),
            status: Status::Executed,
            cache: CachePolicy::NoStore,
            fetches: 0,
            cache_status: None,
            retry_after: None,
            parts: Some(Parts::new(stream)),
        }
    }

    /// A refusal with `code` and `message`.
    pub fn refuse(code: Code, message: impl Into<String>) -> Response {
        Response::refused(GraphqlError::new(code, message))
    }
}
