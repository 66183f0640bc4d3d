//! GraphQL over HTTP: POST with JSON and GET for queries, content negotiation between
//! `application/graphql-response+json` and `application/json` with the status codes the
//! GraphQL-over-HTTP specification gives, GraphiQL for browsers, and a health probe.

mod graphiql;
pub mod persisted;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value};

use crate::engine::{Carrier, Engine, EngineResponse, GraphqlRequest, Rejection, reject};

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
const JSON: &str = "application/json";

/// Serves `engine` on `listener` until `shutdown` is cancelled, letting requests in flight
/// finish; the task ends with the server.
pub fn serve(
    listener: tokio::net::TcpListener,
    engine: Arc<Engine>,
    shutdown: tokio_util::sync::CancellationToken,
) -> tokio::task::JoinHandle<std::io::Result<()>> {
    let app = router(engine);
    tokio::spawn(
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .into_future(),
    )
}

/// Routes `/graphql` (GET, POST) and `/health` to `engine`.
pub fn router(engine: Arc<Engine>) -> Router {
    let config = engine.config().clone();
    let mut router = Router::new()
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route("/health", get(health));
    if config.metrics {
        router = router.route("/metrics", get(metrics));
    }
    if config.compression {
        router = router.layer(tower_http::compression::CompressionLayer::new());
    }
    if !config.cors_origins.is_empty() {
        router = router.layer(cors(&config.cors_origins));
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
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
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
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Some(media) = negotiate(&headers) else {
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
        let response = reject(
            Rejection::BadRequest,
            "UNSUPPORTED_MEDIA_TYPE",
            "POST bodies must be application/json",
        );
        return respond(
            media,
            response,
            Some(StatusCode::UNSUPPORTED_MEDIA_TYPE),
            &headers,
        );
    }
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return unreadable_body(&engine, media, &rejection, &headers),
    };
    let value: Value = match serde_json::from_slice(&body) {
        Ok(value) => value,
        Err(err) => {
            let message = format!("the request body is not valid JSON: {err}");
            let response = reject(Rejection::BadRequest, "BAD_REQUEST", &message);
            return respond(media, response, Some(StatusCode::BAD_REQUEST), &headers);
        }
    };
    if let Value::Array(items) = value {
        return batch(&engine, media, items, &headers).await;
    }
    let request = match request_from_value(value) {
        Ok(request) => request,
        Err(message) => {
            let response = reject(Rejection::BadRequest, "BAD_REQUEST", &message);
            return respond(media, response, Some(StatusCode::BAD_REQUEST), &headers);
        }
    };
    if let Some(response) = missing_operation(&request) {
        return respond(media, response, Some(StatusCode::BAD_REQUEST), &headers);
    }
    let response = engine.execute(request, &headers, Carrier::Post).await;
    respond(media, response, None, &headers)
}

/// A body that could not be read (over `max_body_bytes`, or cut off) gets a GraphQL error
/// like any other refusal, not the framework's plain-text one.
fn unreadable_body(
    engine: &Engine,
    media: MediaType,
    rejection: &BytesRejection,
    headers: &HeaderMap,
) -> Response {
    let (status, code, message) = if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        let limit = engine.config().max_body_bytes;
        let message = format!("the request body is larger than the {limit} bytes accepted");
        (StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE", message)
    } else {
        let message = format!(
            "the request body could not be read: {}",
            rejection.body_text()
        );
        (StatusCode::BAD_REQUEST, "BAD_REQUEST", message)
    };
    let mut http = respond(
        media,
        reject(Rejection::BadRequest, code, &message),
        Some(status),
        headers,
    );
    // The rest of the body was never read: the connection cannot carry another request, and
    // saying so keeps the client from reusing it (it would fail with a broken pipe).
    http.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    http
}

/// A request that names no operation (no `query`, no persisted document id or hash) is not a
/// well-formed GraphQL-over-HTTP request: 400 whichever media type was asked for.
fn missing_operation(request: &GraphqlRequest) -> Option<EngineResponse> {
    let has_query = request
        .query
        .as_deref()
        .is_some_and(|q| !q.trim().is_empty());
    let persisted = request.document_id.is_some()
        || request
            .extensions
            .as_ref()
            .is_some_and(|extensions| extensions.contains_key("persistedQuery"));
    (!has_query && !persisted).then(|| {
        reject(
            Rejection::BadRequest,
            "BAD_REQUEST",
            "the request has no `query`",
        )
    })
}

/// Runs a batched POST (a JSON array of requests) and answers with an array of responses.
async fn batch(
    engine: &Engine,
    media: MediaType,
    items: Vec<Value>,
    headers: &HeaderMap,
) -> Response {
    let max = engine.config().max_batch;
    let refusal = if max == 0 {
        Some((
            "BATCHING_NOT_ENABLED",
            "batched requests are not accepted here".to_owned(),
        ))
    } else if items.is_empty() || items.len() > max {
        Some((
            "BATCH_LIMIT_EXCEEDED",
            format!("a batch must hold 1 to {max} operations"),
        ))
    } else {
        None
    };
    if let Some((code, message)) = refusal {
        let response = reject(Rejection::BadRequest, code, &message);
        return respond(media, response, Some(StatusCode::BAD_REQUEST), headers);
    }
    let runs = items.into_iter().map(|item| async move {
        match request_from_value(item) {
            Ok(request) => engine.execute(request, headers, Carrier::Post).await,
            Err(message) => reject(Rejection::BadRequest, "BAD_REQUEST", &message),
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

/// Reads one request: a JSON object with `query`, `operationName`, `variables`, `extensions`
/// and, for persisted operations, `documentId` (or `id`).
fn request_from_value(value: Value) -> Result<GraphqlRequest, String> {
    let Value::Object(object) = value else {
        return Err("the request body must be a JSON object".to_owned());
    };
    let document_id = object.get("documentId").or_else(|| object.get("id"));
    request_from_members(
        object.get("query"),
        object.get("operationName"),
        object.get("variables"),
        object.get("extensions"),
        document_id,
    )
}

fn request_from_members(
    query: Option<&Value>,
    operation_name: Option<&Value>,
    variables: Option<&Value>,
    extensions: Option<&Value>,
    document_id: Option<&Value>,
) -> Result<GraphqlRequest, String> {
    let string = |value: Option<&Value>, name: &str| -> Result<Option<String>, String> {
        match value {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("`{name}` must be a string")),
        }
    };
    let object =
        |value: Option<&Value>, name: &str| -> Result<Option<Map<String, Value>>, String> {
            match value {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Object(map)) => Ok(Some(map.clone())),
                Some(_) => Err(format!("`{name}` must be an object")),
            }
        };
    Ok(GraphqlRequest {
        query: string(query, "query")?,
        operation_name: string(operation_name, "operationName")?,
        variables: object(variables, "variables")?,
        extensions: object(extensions, "extensions")?,
        document_id: string(document_id, "documentId")?,
    })
}

async fn graphql_get(
    State(engine): State<Arc<Engine>>,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
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
    if wants_html && param("query").is_none() && !persisted && engine.config().graphiql {
        let config = engine.config();
        return Html(graphiql::page(
            "/graphql",
            &config.graphiql_title,
            &config.graphiql_examples,
        ))
        .into_response();
    }
    let Some(media) = negotiate(&headers) else {
        return not_acceptable();
    };
    let parse_json = |name: &str| -> Result<Option<Value>, String> {
        match param(name) {
            None | Some("") => Ok(None),
            Some(text) => serde_json::from_str(text)
                .map(Some)
                .map_err(|e| format!("`{name}` is not valid JSON: {e}")),
        }
    };
    let request = parse_json("variables").and_then(|variables| {
        let extensions = parse_json("extensions")?;
        let query = param("query").map(|q| Value::String(q.to_owned()));
        let name = param("operationName").map(|q| Value::String(q.to_owned()));
        let id = param("documentId")
            .or_else(|| param("id"))
            .map(|q| Value::String(q.to_owned()));
        request_from_members(
            query.as_ref(),
            name.as_ref(),
            variables.as_ref(),
            extensions.as_ref(),
            id.as_ref(),
        )
    });
    let request = match request {
        Ok(request) => request,
        Err(message) => {
            let response = reject(Rejection::BadRequest, "BAD_REQUEST", &message);
            return respond(media, response, Some(StatusCode::BAD_REQUEST), &headers);
        }
    };
    if let Some(response) = missing_operation(&request) {
        return respond(media, response, Some(StatusCode::BAD_REQUEST), &headers);
    }
    let response = engine.execute(request, &headers, Carrier::Get).await;
    respond(media, response, None, &headers)
}

/// Writes an engine response with the status the media type calls for, its `Cache-Control`
/// and, for executed operations, an `ETag` (answering `304` when `If-None-Match` matches).
fn respond(
    media: MediaType,
    response: EngineResponse,
    status: Option<StatusCode>,
    request_headers: &HeaderMap,
) -> Response {
    let status = status.unwrap_or(match (response.rejected, media) {
        (None, _) => StatusCode::OK,
        (Some(Rejection::MethodNotAllowed), _) => StatusCode::METHOD_NOT_ALLOWED,
        (Some(Rejection::Internal), _) => StatusCode::INTERNAL_SERVER_ERROR,
        (Some(Rejection::BadRequest), MediaType::GraphqlResponse) => StatusCode::BAD_REQUEST,
        (Some(Rejection::BadRequest), MediaType::Json) => StatusCode::OK,
    });
    let cache_control = HeaderValue::from_str(&response.cache_control)
        .unwrap_or_else(|_| HeaderValue::from_static("no-store"));
    let etag = (response.rejected.is_none())
        .then(|| format!("\"{:016x}\"", xxhash_rust::xxh3::xxh3_64(&response.body)))
        .and_then(|tag| HeaderValue::from_str(&tag).ok());
    if let Some(etag) = &etag
        && if_none_match(request_headers, etag)
    {
        let mut http = StatusCode::NOT_MODIFIED.into_response();
        http.headers_mut().insert(header::ETAG, etag.clone());
        http.headers_mut()
            .insert(header::CACHE_CONTROL, cache_control);
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
    if status == StatusCode::METHOD_NOT_ALLOWED {
        headers.insert(header::ALLOW, HeaderValue::from_static("POST"));
    }
    http
}

/// Whether `If-None-Match` names `etag` (or is `*`).
fn if_none_match(headers: &HeaderMap, etag: &HeaderValue) -> bool {
    let Some(value) = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let ours = etag.to_str().unwrap_or_default();
    value
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag == ours || tag.strip_prefix("W/") == Some(ours))
}

/// CORS for the configured browser origins: credentials allowed (cookies or bearer tokens).
fn cors(origins: &[String]) -> tower_http::cors::CorsLayer {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            header::ACCEPT,
            header::IF_NONE_MATCH,
            axum::http::HeaderName::from_static("apollographql-client-name"),
            axum::http::HeaderName::from_static("apollographql-client-version"),
        ])
        .expose_headers([header::ETAG])
        .allow_credentials(true)
        .max_age(std::time::Duration::from_secs(600))
}

async fn metrics() -> Response {
    match crate::metrics::handle() {
        Some(handle) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            handle.render(),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "metrics are not available").into_response(),
    }
}

fn not_acceptable() -> Response {
    (
        StatusCode::NOT_ACCEPTABLE,
        [(header::CONTENT_TYPE, JSON)],
        r#"{"errors":[{"message":"the Accept header allows neither application/graphql-response+json nor application/json","extensions":{"code":"NOT_ACCEPTABLE"}}]}"#,
    )
        .into_response()
}

async fn health(State(engine): State<Arc<Engine>>) -> Response {
    let version = engine.supergraph().version();
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, JSON)],
        format!(r#"{{"status":"ok","supergraph":"{version:016x}"}}"#),
    )
        .into_response()
}
