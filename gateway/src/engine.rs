//! The engine: one supergraph version at a time (swapped atomically), the prepared-operation
//! cache and the subgraph transports; `execute` runs one GraphQL request end to end.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Map, Value, json};

use crate::config::Config;
use crate::execute::{self, Subgraphs};
use crate::prepare::{OperationType, PrepareError, Preparer, variables};
use crate::supergraph::{Supergraph, SupergraphError};
use crate::transport::{HttpTransport, Transport};

/// A GraphQL request as received: the four members of GraphQL-over-HTTP.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphqlRequest {
    /// The document.
    pub query: Option<String>,
    /// Which operation of the document to run.
    pub operation_name: Option<String>,
    /// Variable values.
    pub variables: Option<Map<String, Value>>,
    /// Protocol extensions (persisted queries).
    pub extensions: Option<Map<String, Value>>,
}

/// How the request was carried, which decides what it may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carrier {
    /// HTTP POST: anything.
    Post,
    /// HTTP GET: queries only.
    Get,
}

/// The engine's answer: a serialized GraphQL response and what kind of outcome it is.
pub struct EngineResponse {
    /// The JSON body.
    pub body: Vec<u8>,
    /// Whether the request failed before execution (no `data`), and why.
    pub rejected: Option<Rejection>,
    /// How many subgraph requests were made.
    pub fetches: usize,
}

/// Why a request was refused before execution; decides the HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// Malformed or invalid request: 400 with `application/graphql-response+json`.
    BadRequest,
    /// A mutation over GET: 405.
    MethodNotAllowed,
    /// The engine itself failed: 500.
    Internal,
}

struct Version {
    supergraph: Arc<Supergraph>,
    subgraphs: Subgraphs,
}

/// The federation engine.
pub struct Engine {
    current: ArcSwap<Version>,
    preparer: Preparer,
    config: Config,
    local: HashMap<String, Arc<dyn Transport>>,
    forward: Vec<HeaderName>,
}

impl Engine {
    /// An engine serving `supergraph`, with `local` transports replacing HTTP for the named
    /// subgraphs (in-process subgraphs of a BFF).
    pub fn new(
        supergraph: Arc<Supergraph>,
        config: Config,
        local: HashMap<String, Arc<dyn Transport>>,
    ) -> Result<Engine, SupergraphError> {
        let forward = config
            .forward_headers
            .iter()
            .filter_map(|name| HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()).ok())
            .collect();
        let preparer = Preparer::new(config.limits.clone(), config.plan_cache_size);
        let version = build_version(supergraph, &config, &local)?;
        Ok(Engine {
            current: ArcSwap::from_pointee(version),
            preparer,
            config,
            local,
            forward,
        })
    }

    /// The configuration the engine runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The supergraph requests start on now.
    pub fn supergraph(&self) -> Arc<Supergraph> {
        self.current.load().supergraph.clone()
    }

    /// Swaps to a new supergraph; requests already running finish on the old one.
    pub fn reload(&self, supergraph: Arc<Supergraph>) -> Result<(), SupergraphError> {
        let version = build_version(supergraph, &self.config, &self.local)?;
        self.current.store(Arc::new(version));
        Ok(())
    }

    /// How many prepared operations are cached.
    pub fn cached_plans(&self) -> u64 {
        self.preparer.cached()
    }

    /// Runs one request end to end.
    pub async fn execute(&self, request: GraphqlRequest, headers: &HeaderMap, carrier: Carrier) -> EngineResponse {
        let version = self.current.load_full();
        let Some(query) = request.query.as_deref().filter(|q| !q.trim().is_empty()) else {
            return reject(Rejection::BadRequest, "BAD_REQUEST", "the request has no `query`");
        };
        let prepared = match self.preparer.prepare(
            &version.supergraph,
            query,
            request.operation_name.as_deref(),
        ) {
            Ok(prepared) => prepared,
            Err(err) => return prepare_failure(err),
        };
        if carrier == Carrier::Get && prepared.operation_type != OperationType::Query {
            return reject(
                Rejection::MethodNotAllowed,
                "METHOD_NOT_ALLOWED",
                "only queries may be sent with GET; use POST",
            );
        }
        if prepared.operation_type == OperationType::Subscription {
            return reject(
                Rejection::BadRequest,
                "OPERATION_NOT_SUPPORTED",
                "subscriptions are served over WebSocket, not over this endpoint",
            );
        }
        let empty = Map::new();
        let provided = request.variables.as_ref().unwrap_or(&empty);
        let variables = match variables::coerce(version.supergraph.api(), &prepared.variables, provided) {
            Ok(variables) => variables,
            Err(err) => return reject(Rejection::BadRequest, "BAD_USER_INPUT", &err.to_string()),
        };
        let forwarded = Arc::new(self.forwarded(headers));
        let outcome = execute::execute(
            &version.supergraph,
            &version.subgraphs,
            &prepared,
            &variables,
            forwarded,
        )
        .await;
        let body = execute::write_response(&version.supergraph, &prepared, &variables, &outcome);
        EngineResponse {
            body,
            rejected: None,
            fetches: outcome.fetches,
        }
    }

    fn forwarded(&self, headers: &HeaderMap) -> Vec<(HeaderName, HeaderValue)> {
        let mut out = Vec::new();
        for name in &self.forward {
            for value in headers.get_all(name) {
                out.push((name.clone(), value.clone()));
            }
        }
        out
    }
}

fn build_version(
    supergraph: Arc<Supergraph>,
    config: &Config,
    local: &HashMap<String, Arc<dyn Transport>>,
) -> Result<Version, SupergraphError> {
    let mut subgraphs: Subgraphs = HashMap::new();
    for (name, url) in supergraph.endpoints() {
        let transport: Arc<dyn Transport> = match local.get(name) {
            Some(local) => local.clone(),
            None => Arc::new(
                HttpTransport::new(url, config.subgraph_timeout(), config.subgraph_h2c)
                    .map_err(|e| SupergraphError::Invalid(format!("subgraph {name}: {e}")))?,
            ),
        };
        subgraphs.insert(name.clone(), transport);
    }
    Ok(Version {
        supergraph,
        subgraphs,
    })
}

/// A response refusing the request with one error.
pub fn reject(rejection: Rejection, code: &str, message: &str) -> EngineResponse {
    let body = json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
    EngineResponse {
        body: serde_json::to_vec(&body).unwrap_or_default(),
        rejected: Some(rejection),
        fetches: 0,
    }
}

fn prepare_failure(err: PrepareError) -> EngineResponse {
    let code = err.code();
    let errors: Vec<Value> = match &err {
        PrepareError::Validation(errors) => errors
            .iter()
            .map(|e| {
                let locations: Vec<Value> = e
                    .locations
                    .iter()
                    .map(|l| json!({ "line": l.line, "column": l.column }))
                    .collect();
                json!({ "message": e.message, "locations": locations, "extensions": { "code": code } })
            })
            .collect(),
        other => vec![json!({ "message": other.to_string(), "extensions": { "code": code } })],
    };
    let rejection = match err {
        PrepareError::Plan(crate::prepare::planner::PlanError::Crashed) => Rejection::Internal,
        _ => Rejection::BadRequest,
    };
    EngineResponse {
        body: serde_json::to_vec(&json!({ "errors": errors })).unwrap_or_default(),
        rejected: Some(rejection),
        fetches: 0,
    }
}
