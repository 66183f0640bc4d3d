//! GraphQL over HTTP: POST with JSON and GET for queries, content negotiation between
//! `application/graphql-response+json` and `application/json` with the status codes the
//! GraphQL-over-HTTP specification gives, GraphiQL for browsers, cookie sessions for
//! single-page apps (`session.rs`), health and metrics. The only module that knows the
//! clients' wire format: it turns requests into [`Request`]s, statuses from each refusal's
//! [`Code`], and headers from each response's [`CachePolicy`].

mod graphiql;
mod session;
pub mod ws;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use serde_json::{Map, Value};

use crate::admit::Admission;
use crate::config::Config;
use crate::engine::Engine;
use crate::error::{Code, GraphqlError, errors_body};
use crate::request::{
    CachePolicy, CacheScope, CacheStatus, Caller, Capabilities, ClientInfo, Request, Response,
    Secret, Status,
};

/// An HTTP response.
type HttpResponse = axum::response::Response;

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
const JSON: &str = "application/json";

/// Serves `engine` on `listener` until `shutdown` is cancelled, letting requests in flight
/// finish; the task ends with the server.
pub fn serve(
    listener: tokio::net::TcpListener,
    engine: Arc<Engine>,
    shutdown: tokio_util::sync::CancellationToken,
) -> tokio::task::JoinHandle<std::io::Result<()>> {
    if let Some(address) = engine.config().telemetry.metrics_listen.clone() {
        serve_metrics(&address, shutdown.clone());
    }
    let app = router(engine);
    // Restarted with backoff should it end early (an engine in a launcher beside others).
    tokio::spawn(tributary_process::supervise(
        "engine",
        listener,
        shutdown,
        move |listener, shutdown| {
            axum::serve(
                listener,
                app.clone()
                    .into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .into_future()
        },
    ))
}

/// Serves `/metrics` and `/health` on `address`, apart from the public port. An address that
/// cannot be bound is logged as an error; the engine serves on without it.
fn serve_metrics(address: &str, shutdown: tokio_util::sync::CancellationToken) {
    let bound = std::net::TcpListener::bind(address).and_then(|listener| {
        listener.set_nonblocking(true)?;
        tokio::net::TcpListener::from_std(listener)
    });
    let listener = match bound {
        Ok(listener) => listener,
        Err(err) => {
            tracing::error!(address, error = %err, "the metrics address could not be bound; no metrics are served");
            return;
        }
    };
    tracing::info!(address, "metrics serving");
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/health", get(|| async { "ok" }));
    tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await
    });
}

/// Routes `/graphql` (GET, POST) and `/health` to `engine`, and as configured `/metrics`,
/// `/cache/invalidate`, GraphiQL's assets and the session's `/auth/login` and `/auth/logout`.
pub fn router(engine: Arc<Engine>) -> Router {
    let config = engine.config().clone();
    let mut router = Router::new()
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route("/health", get(health));
    if config.telemetry.metrics {
        router = router.route("/metrics", get(metrics));
    }
    if config.cache.admin_token.is_some() {
        router = router.route("/cache/invalidate", axum::routing::post(invalidate));
    }
    if config.session.enabled {
        router = router
            .route("/auth/login", axum::routing::post(session_login))
            .route("/auth/logout", axum::routing::post(session_logout));
    }
    if config.graphiql.enabled {
        let path = format!("{}{{file}}", graphiql::ASSET_PREFIX);
        router = router.route(&path, get(graphiql_asset));
    }
    if config.server.compression {
        router = router.layer(tower_http::compression::CompressionLayer::new());
    }
    if !config.cors.origins.is_empty() {
        let csrf_header = config
            .session
            .enabled
            .then_some(config.session.csrf_header.as_str());
        router = router.layer(cors(&config.cors.origins, csrf_header));
    }
    let request_id = axum::http::HeaderName::from_static("x-request-id");
    router
        // Every request carries an id (the client's, or a new one) that is forwarded to the
        // subgraphs and echoed in the response, so one operation can be followed in all logs.
        .layer(tower_http::request_id::PropagateRequestIdLayer::new(
            request_id.clone(),
        ))
        .layer(tower_http::request_id::SetRequestIdLayer::new(
            request_id,
            RequestIds::default(),
        ))
        .layer(DefaultBodyLimit::max(config.server.max_body_bytes))
        // Browsers take every answer as the type it declares, never a sniffed one.
        .layer(axum::middleware::map_response(
            |mut response: HttpResponse| async move {
                response.headers_mut().insert(
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                );
                response
            },
        ))
        // A bug must cost one request a 500, never the connection or the process.
        .layer(tower_http::catch_panic::CatchPanicLayer::new())
        .with_state(engine)
}

/// Makes request ids: a per-process random prefix and a counter.
#[derive(Clone)]
struct RequestIds {
    prefix: u64,
    next: Arc<std::sync::atomic::AtomicU64>,
}

impl Default for RequestIds {
    fn default() -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        RequestIds {
            prefix: xxhash_rust::xxh3::xxh3_64(&seed.to_le_bytes()) ^ u64::from(std::process::id()),
            next: Arc::new(std::sync::atomic::AtomicU64::new(1)),
        }
    }
}

impl tower_http::request_id::MakeRequestId for RequestIds {
    fn make_request_id<B>(
        &mut self,
        _: &axum::http::Request<B>,
    ) -> Option<tower_http::request_id::RequestId> {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let id = format!("{:08x}-{n:x}", self.prefix as u32);
        HeaderValue::from_str(&id)
            .ok()
            .map(tower_http::request_id::RequestId::new)
    }
}

/// The response media type the client asked for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum MediaType {
    GraphqlResponse,
    Json,
}

impl MediaType {
    fn as_str(self) -> &'static str {
        match self {
            MediaType::GraphqlResponse => GRAPHQL_RESPONSE_JSON,
            MediaType::Json => JSON,
        }
    }
}

/// Picks the response type from `Accept`; `None` when the client accepts neither.
fn negotiate(headers: &HeaderMap) -> Option<MediaType> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Some(MediaType::Json);
    };
    let mut best = None;
    for part in accept.split(',') {
        let media = part
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match media.as_str() {
            GRAPHQL_RESPONSE_JSON => return Some(MediaType::GraphqlResponse),
            JSON | "*/*" | "application/*" => best = best.or(Some(MediaType::Json)),
            _ => {}
        }
    }
    best
}

async fn graphql_post(
    State(engine): State<Arc<Engine>>,
    Peer(peer): Peer,
    headers: HeaderMap,
    body: axum::body::Body,
) -> HttpResponse {
    if wants_event_stream(&headers) {
        return event_stream(engine, peer, headers, body).await;
    }
    // A client that reads only `multipart/mixed` has every answer of a run as one part.
    let multipart_only = negotiate(&headers).is_none() && accepts_multipart(&headers);
    let Some(media) = negotiate(&headers).or(multipart_only.then_some(MediaType::Json)) else {
        return not_acceptable();
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if content_type != JSON && content_type != GRAPHQL_RESPONSE_JSON {
        let error = GraphqlError::new(
            Code::UnsupportedMediaType,
            "POST bodies must be application/json",
        );
        return refuse(media, error);
    }
    let admission = engine.pipeline().admission();
    let body = match read_body(&headers, body, engine.config().server.max_body_bytes).await {
        Ok(body) => body,
        Err(unread) => return unreadable_body(admission, media, unread),
    };
    let value: Value = match serde_json::from_slice(&body) {
        Ok(value) => value,
        Err(err) => {
            let message = format!("the request body is not valid JSON: {err}");
            return refuse(media, GraphqlError::new(Code::BadRequest, message));
        }
    };
    if let Value::Array(items) = value {
        return batch(&engine, media, items, &headers, peer).await;
    }
    let request = match Members::from_object(value)
        .and_then(|members| members.into_request(&engine, &headers, false, peer))
    {
        Ok(request) => request,
        Err(error) => return refuse(media, error),
    };
    if !request.names_an_operation() {
        return refuse(media, Admission::no_operation());
    }
    let mut request = request;
    request.capabilities.incremental = accepts_multipart(&headers);
    let response = engine.run(request).await;
    if let Some(parts) = response.parts.as_ref().and_then(|parts| parts.take()) {
        return multipart(parts);
    }
    if multipart_only {
        let body = response.body;
        return multipart(Box::pin(futures::stream::once(async move { body })));
    }
    respond(media, response, &headers)
}

/// Whether the client reads `multipart/mixed` responses (incremental delivery of `@defer`).
fn accepts_multipart(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains("multipart/mixed"))
}

/// The boundary between the parts of a `multipart/mixed` response.
const BOUNDARY: &[u8] = b"\r\n--graphql";

/// A response delivered in parts as `multipart/mixed` (`deferSpec=20220824`): each payload
/// one JSON part, sent as soon as it is ready together with the boundary after it (clients
/// take a part as complete when the next boundary arrives), then the closing `--`.
fn multipart(parts: crate::request::PartStream) -> HttpResponse {
    use futures::StreamExt;
    let opening = futures::stream::once(async { Ok(Bytes::from_static(BOUNDARY)) });
    let body = opening
        .chain(parts.map(|payload| {
            let mut chunk = bytes::BytesMut::with_capacity(payload.len() + 64);
            chunk.extend_from_slice(b"\r\ncontent-type: application/json; charset=utf-8\r\n\r\n");
            chunk.extend_from_slice(&payload);
            chunk.extend_from_slice(BOUNDARY);
            Ok::<_, std::convert::Infallible>(chunk.freeze())
        }))
        .chain(futures::stream::once(async {
            Ok(Bytes::from_static(b"--\r\n"))
        }));
    let mut http = axum::body::Body::from_stream(body).into_response();
    http.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("multipart/mixed; boundary=\"graphql\"; deferSpec=20220824"),
    );
    http.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    http
}

/// Why a request body was not taken.
enum Unread {
    /// Longer than the limit; `drained` when the rest was read and dropped, so the connection
    /// can carry the answer (and another request).
    TooLarge { drained: bool },
    /// The body broke off or could not be read.
    Broken(String),
}

/// The most bytes past the limit read and dropped, so a client still sending an oversized body
/// receives its 413: a server that answers and closes with unread bytes makes the kernel reset
/// the connection, and the client sees a broken pipe instead of the status.
const DRAIN_LIMIT: usize = 16 * 1024 * 1024;

/// Reads a request body of at most `limit` bytes. A longer one is read on and dropped, up to
/// [`DRAIN_LIMIT`] bytes past the limit, unless its declared length is already beyond that.
async fn read_body(
    headers: &HeaderMap,
    body: axum::body::Body,
    limit: usize,
) -> Result<Bytes, Unread> {
    use futures::StreamExt as _;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let bound = limit.saturating_add(DRAIN_LIMIT);
    if declared.is_some_and(|length| length > bound) {
        return Err(Unread::TooLarge { drained: false });
    }
    let mut stream = body.into_data_stream();
    let mut kept = bytes::BytesMut::with_capacity(declared.unwrap_or(0).min(limit));
    let mut read = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|err| Unread::Broken(err.to_string()))?;
        read += chunk.len();
        if read > bound {
            return Err(Unread::TooLarge { drained: false });
        }
        if read <= limit {
            kept.extend_from_slice(&chunk);
        }
    }
    if read > limit {
        return Err(Unread::TooLarge { drained: true });
    }
    Ok(kept.freeze())
}

/// A body that could not be read (over the size limit, or cut off) gets a GraphQL error like
/// any other refusal, not the framework's plain-text one.
fn unreadable_body(admission: &Admission, media: MediaType, unread: Unread) -> HttpResponse {
    let (error, keep_alive) = match unread {
        Unread::TooLarge { drained } => (admission.body_too_large(), drained),
        Unread::Broken(reason) => {
            let message = format!("the request body could not be read: {reason}");
            (GraphqlError::new(Code::BadRequest, message), false)
        }
    };
    let mut http = refuse(media, error);
    if !keep_alive {
        // The rest of the body was never read: the connection cannot carry another request,
        // and saying so keeps the client from reusing it.
        http.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    http
}

/// Runs a batched POST (a JSON array of requests) and answers with an array of responses.
async fn batch(
    engine: &Engine,
    media: MediaType,
    items: Vec<Value>,
    headers: &HeaderMap,
    peer: Option<std::net::IpAddr>,
) -> HttpResponse {
    if let Err(error) = engine.pipeline().admission().batch(items.len()) {
        return refuse(media, error);
    }
    let runs = items.into_iter().map(|item| async move {
        match Members::from_object(item)
            .and_then(|members| members.into_request(engine, headers, false, peer))
        {
            Ok(request) => engine.run(request).await,
            Err(error) => Response::refused(error),
        }
    });
    let responses = futures::future::join_all(runs).await;
    let mut body =
        Vec::with_capacity(responses.iter().map(|r| r.body.len() + 1).sum::<usize>() + 2);
    body.push(b'[');
    for (i, response) in responses.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(&response.body);
    }
    body.push(b']');
    let mut http = (StatusCode::OK, body).into_response();
    http.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(media.as_str()),
    );
    http.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    http
}

/// The members of one GraphQL-over-HTTP request, as JSON values.
#[derive(Default)]
struct Members {
    query: Option<Value>,
    operation_name: Option<Value>,
    variables: Option<Value>,
    extensions: Option<Value>,
    document_id: Option<Value>,
}

impl Members {
    /// Reads a JSON object with `query`, `operationName`, `variables`, `extensions` and, for
    /// persisted operations, `documentId` (or `id`).
    fn from_object(value: Value) -> Result<Members, GraphqlError> {
        let Value::Object(mut object) = value else {
            return Err(GraphqlError::new(
                Code::BadRequest,
                "the request body must be a JSON object",
            ));
        };
        let document_id = object.remove("documentId").or_else(|| object.remove("id"));
        Ok(Members {
            query: object.remove("query"),
            operation_name: object.remove("operationName"),
            variables: object.remove("variables"),
            extensions: object.remove("extensions"),
            document_id,
        })
    }

    /// The engine's request: members checked for their types, the caller's identity and the
    /// headers to forward taken from `headers`.
    fn into_request(
        self,
        engine: &Engine,
        headers: &HeaderMap,
        read_only: bool,
        peer: Option<std::net::IpAddr>,
    ) -> Result<Request, GraphqlError> {
        let string = |value: Option<Value>, name: &str| match value {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(GraphqlError::new(
                Code::BadRequest,
                format!("`{name}` must be a string"),
            )),
        };
        let object = |value: Option<Value>, name: &str| match value {
            None | Some(Value::Null) => Ok(Map::new()),
            Some(Value::Object(map)) => Ok(map),
            Some(_) => Err(GraphqlError::new(
                Code::BadRequest,
                format!("`{name}` must be an object"),
            )),
        };
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        Ok(Request {
            query: string(self.query, "query")?,
            operation_name: string(self.operation_name, "operationName")?,
            variables: object(self.variables, "variables")?,
            extensions: object(self.extensions, "extensions")?,
            document_id: string(self.document_id, "documentId")?,
            client: ClientInfo::new(
                header("apollographql-client-name"),
                header("apollographql-client-version"),
            ),
            caller: caller_of(headers, engine.config()),
            capabilities: Capabilities {
                read_only,
                incremental: false,
            },
            forward: forwarded(&engine.config().subgraphs.forward_headers, headers),
            peer,
            forwarded_for: engine
                .config()
                .rate_limit
                .client_ip_header
                .as_deref()
                .and_then(header)
                .map(str::to_owned),
            last_event_id: None,
        })
    }
}

/// The caller as its credentials name it: the `Authorization` header, else the cookies. With
/// cookie sessions on, the session cookie is set apart for admission to look up (the other
/// cookies still name the caller), with the CSRF header's and the origin's standing.
fn caller_of(headers: &HeaderMap, config: &Config) -> Caller {
    let text = |name| {
        headers
            .get(name)
            .map(|value: &HeaderValue| String::from_utf8_lossy(value.as_bytes()).into_owned())
    };
    let authorization = text(header::AUTHORIZATION);
    let (session, cookie) = if config.session.enabled {
        session::split_cookies(headers, &config.session.cookie_name)
    } else {
        (None, text(header::COOKIE))
    };
    let mut caller = match authorization.as_deref().or(cookie.as_deref()) {
        Some(credentials) => Caller::with_credentials(credentials),
        None => Caller::anonymous(),
    };
    caller.authorization = authorization.map(Secret::new);
    if config.session.enabled {
        session::mark(&mut caller, session, headers, config);
    }
    caller
}

/// `POST /auth/login`: the session sign-in, with the client's metadata.
async fn session_login(
    State(engine): State<Arc<Engine>>,
    Peer(peer): Peer,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> HttpResponse {
    match Members::default().into_request(&engine, &headers, false, peer) {
        Ok(request) => session::login(&engine, &headers, request, body).await,
        Err(error) => refuse(MediaType::Json, error),
    }
}

/// `POST /auth/logout`: the session sign-out, with the client's metadata.
async fn session_logout(
    State(engine): State<Arc<Engine>>,
    Peer(peer): Peer,
    headers: HeaderMap,
) -> HttpResponse {
    match Members::default().into_request(&engine, &headers, false, peer) {
        Ok(request) => session::logout(&engine, &headers, request).await,
        Err(error) => refuse(MediaType::Json, error),
    }
}

/// The request headers the forwarding rules pass on to subgraphs.
fn forwarded(names: &[String], headers: &HeaderMap) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for name in names {
        for value in headers.get_all(name.as_str()) {
            if let Ok(value) = value.to_str() {
                out.push((name.to_ascii_lowercase(), value.to_owned()));
            }
        }
    }
    out
}

async fn graphql_get(
    State(engine): State<Arc<Engine>>,
    Peer(peer): Peer,
    MaybeUpgrade(upgrade): MaybeUpgrade,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
) -> HttpResponse {
    if let Some(upgrade) = upgrade {
        return ws::upgrade(engine, upgrade, &headers, peer);
    }
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    let persisted =
        param("documentId").is_some() || param("id").is_some() || param("extensions").is_some();
    let graphiql = &engine.config().graphiql;
    if wants_html && param("query").is_none() && !persisted && graphiql.enabled {
        let mut page = Html(graphiql::page(
            "/graphql",
            &graphiql.title,
            &graphiql.examples,
        ))
        .into_response();
        // The page may not be framed by another site (clickjacking) nor leak its URL onwards.
        let headers = page.headers_mut();
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("frame-ancestors 'none'"),
        );
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        return page;
    }
    let Some(media) = negotiate(&headers) else {
        return not_acceptable();
    };
    let parse_json = |name: &str| -> Result<Option<Value>, GraphqlError> {
        match param(name) {
            None | Some("") => Ok(None),
            Some(text) => serde_json::from_str(text).map(Some).map_err(|e| {
                GraphqlError::new(Code::BadRequest, format!("`{name}` is not valid JSON: {e}"))
            }),
        }
    };
    let text = |name: &str| param(name).map(|q| Value::String(q.to_owned()));
    let request = parse_json("variables").and_then(|variables| {
        let members = Members {
            query: text("query"),
            operation_name: text("operationName"),
            variables,
            extensions: parse_json("extensions")?,
            document_id: text("documentId").or_else(|| text("id")),
        };
        members.into_request(&engine, &headers, true, peer)
    });
    let request = match request {
        Ok(request) => request,
        Err(error) => return refuse(media, error),
    };
    if !request.names_an_operation() {
        return refuse(media, Admission::no_operation());
    }
    let response = engine.run(request).await;
    respond(media, response, &headers)
}

/// A refusal the HTTP front makes itself (a malformed request): its code's status, whichever
/// media type was asked for.
fn refuse(media: MediaType, error: GraphqlError) -> HttpResponse {
    crate::pipeline::count_refusal(error.code());
    let status = error.code().map_or(StatusCode::BAD_REQUEST, status_of);
    let mut http = (status, errors_body(&[error])).into_response();
    let headers = http.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(media.as_str()),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    http
}

/// The HTTP status of a code.
fn status_of(code: Code) -> StatusCode {
    StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// The status of an engine response: 200 when it executed; a refusal's status from its code,
/// except that a client accepting only `application/json` gets 200 for request errors, as
/// the GraphQL-over-HTTP specification asks of that legacy media type.
fn response_status(status: Status, media: MediaType) -> StatusCode {
    match status {
        Status::Executed => StatusCode::OK,
        Status::Refused(code) => {
            let status = status_of(code);
            if media == MediaType::Json && status == StatusCode::BAD_REQUEST {
                StatusCode::OK
            } else {
                status
            }
        }
    }
}

/// The `Cache-Control` value of a policy.
fn cache_control(policy: CachePolicy) -> HeaderValue {
    match policy {
        CachePolicy::NoStore => HeaderValue::from_static("no-store"),
        CachePolicy::Store { max_age, scope } => {
            let scope = match scope {
                CacheScope::Public => "public",
                CacheScope::Private => "private",
            };
            HeaderValue::from_str(&format!("{scope}, max-age={max_age}"))
                .unwrap_or_else(|_| HeaderValue::from_static("no-store"))
        }
    }
}

/// Writes an engine response with the status the media type calls for, its `Cache-Control`
/// and, for executed operations, an `ETag` (answering `304` when `If-None-Match` matches).
fn respond(media: MediaType, response: Response, request_headers: &HeaderMap) -> HttpResponse {
    let status = response_status(response.status, media);
    let cache_control = cache_control(response.cache);
    // Weak: the same JSON is sent gzip-, brotli- or zstd-encoded or plain, byte for byte
    // different representations of one response.
    let etag = (response.status == Status::Executed)
        .then(|| format!("W/\"{:016x}\"", xxhash_rust::xxh3::xxh3_64(&response.body)))
        .and_then(|tag| HeaderValue::from_str(&tag).ok());
    if let Some(etag) = &etag
        && if_none_match(request_headers, etag)
    {
        let mut http = StatusCode::NOT_MODIFIED.into_response();
        http.headers_mut().insert(header::ETAG, etag.clone());
        http.headers_mut()
            .insert(header::CACHE_CONTROL, cache_control);
        http.headers_mut()
            .insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        cache_status_headers(http.headers_mut(), response.cache_status);
        return http;
    }
    let mut http = (status, response.body).into_response();
    let headers = http.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(media.as_str()),
    );
    headers.insert(header::CACHE_CONTROL, cache_control);
    if let Some(etag) = etag {
        headers.insert(header::ETAG, etag);
    }
    if !headers.contains_key(header::VARY) {
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    cache_status_headers(headers, response.cache_status);
    if status == StatusCode::METHOD_NOT_ALLOWED {
        headers.insert(header::ALLOW, HeaderValue::from_static("POST"));
    }
    if let Some(seconds) = response.retry_after {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    http
}

/// The connection's peer address, when the server was started with connect info (a router
/// served some other way has none).
struct Peer(Option<std::net::IpAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Peer(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|info| info.0.ip()),
        ))
    }
}

/// `Cache-Status` (RFC 9211) saying what the engine's response cache did, and `Age` on hits.
fn cache_status_headers(headers: &mut HeaderMap, status: Option<CacheStatus>) {
    let Some(status) = status else { return };
    let value = match status {
        CacheStatus::Hit { ttl, age } => {
            headers.insert(header::AGE, HeaderValue::from(age));
            format!("tributary; hit; ttl={ttl}")
        }
        CacheStatus::Miss { ttl: Some(ttl) } => format!("tributary; fwd=miss; stored; ttl={ttl}"),
        CacheStatus::Miss { ttl: None } => "tributary; fwd=miss".to_owned(),
        CacheStatus::Bypass => "tributary; fwd=bypass".to_owned(),
    };
    if let Ok(value) = HeaderValue::from_str(&value) {
        headers.insert(HeaderName::from_static("cache-status"), value);
    }
}

/// Whether `If-None-Match` names `etag` (or is `*`).
fn if_none_match(headers: &HeaderMap, etag: &HeaderValue) -> bool {
    let Some(value) = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    // Weak comparison (RFC 9110 13.1.2): `W/` is ignored on both sides.
    let opaque = |tag: &str| tag.strip_prefix("W/").unwrap_or(tag).to_owned();
    let ours = opaque(etag.to_str().unwrap_or_default());
    value
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || opaque(tag) == ours)
}

/// CORS for the configured browser origins (a list, never `*`, since credentials are
/// allowed: cookies or bearer tokens), `x-request-id` allowed in and exposed out, and the
/// session's CSRF header allowed in when cookie sessions are on.
fn cors(origins: &[String], csrf_header: Option<&str>) -> tower_http::cors::CorsLayer {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    let mut allowed = vec![
        header::CONTENT_TYPE,
        header::AUTHORIZATION,
        header::ACCEPT,
        header::IF_NONE_MATCH,
        axum::http::HeaderName::from_static("apollographql-client-name"),
        axum::http::HeaderName::from_static("apollographql-client-version"),
        axum::http::HeaderName::from_static("x-request-id"),
    ];
    allowed.extend(csrf_header.and_then(|name| HeaderName::from_bytes(name.as_bytes()).ok()));
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers(allowed)
        // What a browser client may read: validators, cache status and the request id to
        // quote in a bug report.
        .expose_headers([
            header::ETAG,
            header::AGE,
            axum::http::HeaderName::from_static("cache-status"),
            axum::http::HeaderName::from_static("x-request-id"),
        ])
        .allow_credentials(true)
        .max_age(std::time::Duration::from_secs(600))
}

/// A GraphiQL script, style sheet or licence, kept by browsers for a year (the path names the
/// version).
async fn graphiql_asset(axum::extract::Path(file): axum::extract::Path<String>) -> HttpResponse {
    match graphiql::asset(&file) {
        Some((content_type, bytes)) => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, content_type),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            bytes,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such GraphiQL asset").into_response(),
    }
}

async fn metrics() -> HttpResponse {
    match crate::pipeline::metrics_handle() {
        Some(handle) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            handle.render(),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "metrics are not available").into_response(),
    }
}

fn not_acceptable() -> HttpResponse {
    let error = GraphqlError::new(
        Code::NotAcceptable,
        "the Accept header allows neither application/graphql-response+json nor application/json",
    );
    refuse(MediaType::Json, error)
}

async fn health(State(engine): State<Arc<Engine>>) -> HttpResponse {
    let version = engine.supergraph().version();
    // The cache's shared tier is a detail, not a failure: the engine serves without it.
    let cache = match engine.caches().shared_up() {
        None => String::new(),
        Some(up) => format!(
            r#","cache":{{"redis":"{}"}}"#,
            if up { "up" } else { "down" }
        ),
    };
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, JSON)],
        format!(r#"{{"status":"ok","supergraph":"{version:016x}"{cache}}}"#),
    )
        .into_response()
}

/// `POST /cache/invalidate` with `Authorization: Bearer <[cache] admin_token>` and a body
/// `{"invalidate": ["Article", {"__typename": "Article", "id": "2"}]}`: makes every cached
/// response with those types or entities stale, on every replica sharing the Redis tier.
async fn invalidate(
    State(engine): State<Arc<Engine>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> HttpResponse {
    let refuse = |code: Code, message: &str| {
        let error = GraphqlError::new(code, message.to_owned());
        (
            status_of(code),
            [(header::CONTENT_TYPE, JSON)],
            errors_body(&[error]),
        )
            .into_response()
    };
    let expected = engine.config().cache.admin_token.as_deref().unwrap_or("");
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if expected.is_empty() || !constant_time_eq(given.as_bytes(), expected.as_bytes()) {
        return refuse(
            Code::Unauthenticated,
            "cache invalidation needs `Authorization: Bearer <the configured admin token>`",
        );
    }
    let Ok(body) = body else {
        return refuse(Code::BadRequest, "the body could not be read");
    };
    let named = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(mut object)) => match object.remove("invalidate") {
            Some(Value::Array(items)) if !items.is_empty() => items,
            _ => {
                return refuse(
                    Code::BadRequest,
                    "`invalidate` must be a non-empty list of type names and entity representations",
                );
            }
        },
        _ => return refuse(Code::BadRequest, "the body must be a JSON object"),
    };
    match engine.invalidate(&named).await {
        Ok(tags) => {
            tracing::info!(tags = ?tags, "cache invalidated by an administrator");
            let body = serde_json::json!({ "invalidated": tags });
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, JSON)],
                body.to_string(),
            )
                .into_response()
        }
        Err(unreadable) => refuse(
            Code::BadRequest,
            &format!(
                "not a type or an entity with its key fields: {}",
                Value::Array(unreadable)
            ),
        ),
    }
}

/// Compares secrets without leaking, through timing, how much of them matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether the client asks for Server-Sent Events (a subscription's event stream).
fn wants_event_stream(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("text/event-stream"))
}

/// A subscription over Server-Sent Events (GraphQL over SSE, distinct connections): each
/// event a `next` with its response, then `complete`; a refusal is an ordinary JSON answer
/// with its status.
async fn event_stream(
    engine: Arc<Engine>,
    peer: Option<std::net::IpAddr>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> HttpResponse {
    use futures::StreamExt;
    let media = MediaType::GraphqlResponse;
    let admission = engine.pipeline().admission();
    let body = match read_body(&headers, body, engine.config().server.max_body_bytes).await {
        Ok(body) => body,
        Err(unread) => return unreadable_body(admission, media, unread),
    };
    let request = serde_json::from_slice::<Value>(&body)
        .map_err(|err| {
            GraphqlError::new(
                Code::BadRequest,
                format!("the request body is not valid JSON: {err}"),
            )
        })
        .and_then(Members::from_object)
        .and_then(|members| members.into_request(&engine, &headers, false, peer));
    let mut request = match request {
        Ok(request) => request,
        Err(error) => return refuse(media, error),
    };
    request.last_event_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|id| !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned);
    match engine.subscribe(request).await {
        Err(response) => respond(media, response, &headers),
        Ok(events) => {
            let next = events.map(|item| {
                let mut event = axum::response::sse::Event::default()
                    .event("next")
                    .data(String::from_utf8_lossy(&item.body));
                if let Some(id) = &item.id {
                    event = event.id(id.as_str());
                }
                Ok::<_, std::convert::Infallible>(event)
            });
            let complete = futures::stream::once(async {
                Ok(axum::response::sse::Event::default()
                    .event("complete")
                    .data(""))
            });
            axum::response::sse::Sse::new(next.chain(complete))
                .keep_alive(axum::response::sse::KeepAlive::default())
                .into_response()
        }
    }
}

/// A WebSocket upgrade, when the request is one.
struct MaybeUpgrade(Option<axum::extract::ws::WebSocketUpgrade>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for MaybeUpgrade {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(MaybeUpgrade(
            axum::extract::ws::WebSocketUpgrade::from_request_parts(parts, state)
                .await
                .ok(),
        ))
    }
}
