//! GraphQL over HTTP: POST with JSON and GET for queries, content negotiation between
//! `application/graphql-response+json` and `application/json` with the status codes the
//! GraphQL-over-HTTP specification gives, GraphiQL for browsers, and a health probe.

mod graphiql;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value};

use crate::engine::{Carrier, Engine, EngineResponse, GraphqlRequest, Rejection, reject};

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
const JSON: &str = "application/json";

/// Routes `/graphql` (GET, POST) and `/health` to `engine`.
pub fn router(engine: Arc<Engine>) -> Router {
    let limit = engine.config().max_body_bytes;
    Router::new()
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route("/health", get(health))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(engine)
}

/// The response media type the client asked for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum MediaType {
    GraphqlResponse,
    Json,
}

/// Picks the response type from `Accept`; `None` when the client accepts neither.
fn negotiate(headers: &HeaderMap) -> Option<MediaType> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Some(MediaType::Json);
    };
    let mut best = None;
    for part in accept.split(',') {
        let media = part.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        match media.as_str() {
            GRAPHQL_RESPONSE_JSON => return Some(MediaType::GraphqlResponse),
            JSON | "*/*" | "application/*" => best = best.or(Some(MediaType::Json)),
            _ => {}
        }
    }
    best
}

async fn graphql_post(State(engine): State<Arc<Engine>>, headers: HeaderMap, body: Bytes) -> Response {
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
        return respond(media, response, Some(StatusCode::UNSUPPORTED_MEDIA_TYPE));
    }
    let request = match parse_body(&body) {
        Ok(request) => request,
        Err(message) => {
            let response = reject(Rejection::BadRequest, "BAD_REQUEST", &message);
            return respond(media, response, Some(StatusCode::BAD_REQUEST));
        }
    };
    let response = engine.execute(request, &headers, Carrier::Post).await;
    respond(media, response, None)
}

/// Reads a POST body: a JSON object with `query`, `operationName`, `variables`, `extensions`.
fn parse_body(body: &[u8]) -> Result<GraphqlRequest, String> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| format!("the request body is not valid JSON: {e}"))?;
    let Value::Object(object) = value else {
        return Err("the request body must be a JSON object".to_owned());
    };
    request_from_members(
        object.get("query"),
        object.get("operationName"),
        object.get("variables"),
        object.get("extensions"),
    )
}

fn request_from_members(
    query: Option<&Value>,
    operation_name: Option<&Value>,
    variables: Option<&Value>,
    extensions: Option<&Value>,
) -> Result<GraphqlRequest, String> {
    let string = |value: Option<&Value>, name: &str| -> Result<Option<String>, String> {
        match value {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("`{name}` must be a string")),
        }
    };
    let object = |value: Option<&Value>, name: &str| -> Result<Option<Map<String, Value>>, String> {
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
    })
}

async fn graphql_get(
    State(engine): State<Arc<Engine>>,
    method: Method,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if wants_html && param("query").is_none() && engine.config().graphiql {
        return Html(graphiql::page("/graphql")).into_response();
    }
    let _ = method;
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
        request_from_members(query.as_ref(), name.as_ref(), variables.as_ref(), extensions.as_ref())
    });
    let request = match request {
        Ok(request) => request,
        Err(message) => {
            let response = reject(Rejection::BadRequest, "BAD_REQUEST", &message);
            return respond(media, response, Some(StatusCode::BAD_REQUEST));
        }
    };
    let response = engine.execute(request, &headers, Carrier::Get).await;
    respond(media, response, None)
}

/// Writes an engine response with the status the media type calls for.
fn respond(media: MediaType, response: EngineResponse, status: Option<StatusCode>) -> Response {
    let status = status.unwrap_or(match (response.rejected, media) {
        (None, _) => StatusCode::OK,
        (Some(Rejection::MethodNotAllowed), _) => StatusCode::METHOD_NOT_ALLOWED,
        (Some(Rejection::Internal), _) => StatusCode::INTERNAL_SERVER_ERROR,
        (Some(Rejection::BadRequest), MediaType::GraphqlResponse) => StatusCode::BAD_REQUEST,
        (Some(Rejection::BadRequest), MediaType::Json) => StatusCode::OK,
    });
    let content_type = match media {
        MediaType::GraphqlResponse => GRAPHQL_RESPONSE_JSON,
        MediaType::Json => JSON,
    };
    let mut http = (status, response.body).into_response();
    http.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if status == StatusCode::METHOD_NOT_ALLOWED {
        http.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
    }
    http
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
