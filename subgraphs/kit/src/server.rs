//! The HTTP surface of a subgraph: `/graphql` (POST and GET) and `/health`.

use async_graphql::{Executor, ServerError};
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use sea_orm::DatabaseConnection;
use serde_json::json;

use crate::auth::Auth;
use crate::error::Code;

#[derive(Clone)]
struct AppState<E> {
    name: &'static str,
    executor: E,
    auth: Auth,
    db: DatabaseConnection,
}

/// Routes a subgraph's executor at `/graphql` and a database-checking health probe at `/health`.
pub fn router<E: Executor>(
    name: &'static str,
    executor: E,
    auth: Auth,
    db: DatabaseConnection,
) -> Router {
    Router::new()
        .route("/graphql", get(graphql::<E>).post(graphql::<E>))
        .route("/health", get(health::<E>))
        .with_state(AppState {
            name,
            executor,
            auth,
            db,
        })
}

async fn graphql<E: Executor>(
    State(state): State<AppState<E>>,
    headers: HeaderMap,
    request: GraphQLRequest,
) -> Response {
    let caller = match state.auth.caller(&headers) {
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
    let request = request.into_inner().data(caller);
    GraphQLResponse::from(state.executor.execute(request).await).into_response()
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
