//! The HTTP surface of a subgraph: `/graphql` (POST and GET, and WebSocket subscriptions on GET
//! when the schema has a subscription root: the `websocket` module), `/health`, and the routes a
//! subgraph adds ([`crate::Subgraph::routes`]; accounts adds [`jwks`]).
//!
//! Request bodies are capped at [`MAX_BODY_BYTES`], and a panic in a handler answers one
//! request with a 500 instead of killing the connection's task silently. Every operation finds
//! the caller ([`crate::Caller`]) and the subgraph's [`EventBus`] in its data.

mod websocket;

use std::any::Any;

use async_graphql::http::MultipartOptions;
use async_graphql::{BatchRequest, Executor, ParseRequestError, ServerError};
use async_graphql_axum::rejection::GraphQLRejection;
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use sea_orm::DatabaseConnection;
use serde_json::json;
use tokio_util::sync::CancellationToken;
use tower_http::catch_panic::CatchPanicLayer;

use crate::auth::{Auth, JWKS_PATH};
use crate::error::Code;
use crate::events::EventBus;

/// The largest request body a subgraph reads: far above any operation a client or the gateway
/// sends, small enough that a flood of big bodies cannot exhaust memory.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// What a subgraph's server reaches besides its executor.
pub struct Surface {
    /// The subgraph's name, in logs and the health answer.
    pub name: &'static str,
    /// Verifies callers' tokens.
    pub auth: Auth,
    /// The database the health probe pings.
    pub db: DatabaseConnection,
    /// The subgraph's event bus, put in every operation's data.
    pub events: EventBus,
    /// Ends the WebSocket connections when the server stops (HTTP requests drain by themselves).
    pub shutdown: CancellationToken,
}

#[derive(Clone)]
struct AppState<E> {
    name: &'static str,
    executor: E,
    auth: Auth,
    db: DatabaseConnection,
    events: EventBus,
    shutdown: CancellationToken,
    /// Whether the schema has a subscription root, so `/graphql` accepts WebSocket upgrades.
    subscriptions: bool,
}

/// Routes a subgraph's executor at `/graphql` (with WebSocket subscriptions when its schema
/// has a subscription root), a database-checking health probe at `/health` and the subgraph's
/// own `extra` routes.
pub async fn router<E: Executor>(surface: Surface, executor: E, extra: Router) -> Router {
    let subscriptions = has_subscription_root(&executor).await;
    Router::new()
        .route("/graphql", get(graphql_get::<E>).post(graphql_post::<E>))
        .route("/health", get(health::<E>))
        .with_state(AppState {
            name: surface.name,
            executor,
            auth: surface.auth,
            db: surface.db,
            events: surface.events,
            shutdown: surface.shutdown,
            subscriptions,
        })
        .merge(extra)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(CatchPanicLayer::custom(panic_response))
}

/// Asks the schema itself, through introspection, whether it has a subscription root.
async fn has_subscription_root<E: Executor>(executor: &E) -> bool {
    let response = executor
        .execute(async_graphql::Request::new(
            "{ __schema { subscriptionType { name } } }",
        ))
        .await;
    let data = response.data.into_json().unwrap_or_default();
    data["__schema"]["subscriptionType"]["name"].is_string()
}

/// A GET is a WebSocket upgrade (for subscriptions) or a query in the query string.
async fn graphql_get<E: Executor>(State(state): State<AppState<E>>, request: Request) -> Response {
    if state.subscriptions && websocket::is_upgrade(request.headers()) {
        return websocket::upgrade(state, request).await;
    }
    let headers = request.headers().clone();
    match GraphQLRequest::<GraphQLRejection>::from_request(request, &state).await {
        Ok(request) => execute(&state, &headers, request.into_inner()).await,
        Err(rejection) => rejection.into_response(),
    }
}

/// Reads the body through axum's `Bytes`, which honours [`DefaultBodyLimit`] (async-graphql's
/// own extractor streams the body past it), then parses it as async-graphql would.
async fn graphql_post<E: Executor>(
    State(state): State<AppState<E>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return GraphQLRejection(ParseRequestError::PayloadTooLarge).into_response();
        }
        Err(rejection) => return rejection.into_response(),
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok());
    let request = async_graphql::http::receive_batch_body(
        content_type,
        &body[..],
        MultipartOptions::default(),
    )
    .await
    .and_then(BatchRequest::into_single);
    match request {
        Ok(request) => execute(&state, &headers, request).await,
        Err(err) => GraphQLRejection(err).into_response(),
    }
}

async fn execute<E: Executor>(
    state: &AppState<E>,
    headers: &HeaderMap,
    request: async_graphql::Request,
) -> Response {
    let caller = match state.auth.caller(headers) {
        Ok(caller) => caller,
        Err(err) => {
            let mut error = ServerError::new(err.to_string(), None);
            let mut extensions = async_graphql::ErrorExtensionValues::default();
            extensions.set("code", Code::Unauthenticated.as_str());
            error.extensions = Some(extensions);
            let response = async_graphql::Response::from_errors(vec![error]);
            return GraphQLResponse::from(response).into_response();
        }
    };
    let changed = Changed::default();
    let request = request
        .data(caller)
        .data(changed.clone())
        .data(state.events.clone());
    let mut response = state.executor.execute(request).await;
    let named = changed.take();
    if !named.is_empty() {
        let list = named
            .into_iter()
            .filter_map(|item| async_graphql::Value::from_json(item).ok())
            .collect();
        response
            .extensions
            .insert("invalidate".to_owned(), async_graphql::Value::List(list));
    }
    GraphQLResponse::from(response).into_response()
}

/// Routes `GET /.well-known/jwks.json` ([`JWKS_PATH`]) to `auth`'s public keys, for the
/// subgraph that signs tokens: ES256 keys as JWKs, or an empty set with an HS256 secret.
pub fn jwks(auth: Auth) -> Router {
    Router::new()
        .route(JWKS_PATH, get(jwks_document))
        .with_state(auth)
}

async fn jwks_document(State(auth): State<Auth>) -> Response {
    // Not cached on the way: a verifier that meets a new kid refetches, and must see the key
    // the signer has just started using.
    (
        [
            (header::CACHE_CONTROL, "no-cache"),
            (header::CONTENT_TYPE, "application/jwk-set+json"),
        ],
        Json(auth.jwks()),
    )
        .into_response()
}

/// What a request's resolvers changed, named for the gateway's cache: entity representations
/// (`{"__typename": "Product", "id": "2"}`) or type names, answered in the response's
/// `extensions.invalidate` so cached data that contains them is dropped.
#[derive(Clone, Default)]
pub struct Changed(std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>);

impl Changed {
    /// Names one changed entity (its representation) or type (its name).
    pub fn name(&self, entity_or_type: serde_json::Value) {
        self.lock().push(entity_or_type);
    }

    fn take(&self) -> Vec<serde_json::Value> {
        std::mem::take(&mut *self.lock())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<serde_json::Value>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Names a changed entity of `type_name` with key `id` for the gateway's cache, when the
/// request runs under this server (in tests of a bare schema there is nothing to tell).
pub fn changed_entity(ctx: &async_graphql::Context<'_>, type_name: &str, id: i64) {
    if let Some(changed) = ctx.data_opt::<Changed>() {
        changed.name(serde_json::json!({ "__typename": type_name, "id": id.to_string() }));
    }
}

/// A 500 with a GraphQL error for a request whose handler panicked; the panic's text goes to
/// the log only.
fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("a non-text panic");
    tracing::error!(panic = detail, "a request handler panicked");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(json!({ "errors": [{
            "message": "internal error",
            "extensions": { "code": Code::Internal.as_str() },
        }] })),
    )
        .into_response()
}

async fn health<E: Executor>(State(state): State<AppState<E>>) -> Response {
    match state.db.ping().await {
        Ok(()) => Json(json!({ "status": "ok", "subgraph": state.name })).into_response(),
        Err(err) => {
            tracing::warn!(subgraph = state.name, error = %err, "health check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unavailable", "subgraph": state.name })),
            )
                .into_response()
        }
    }
}
