//! The engine: one supergraph version at a time (swapped atomically), the prepared-operation
//! cache and the subgraph transports; `execute` runs one GraphQL request end to end.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Map, Value, json};

use crate::config::Config;
use crate::execute::{self, CacheHint, Subgraphs};
use crate::http::persisted::{Manifest, Persisted};
use crate::prepare::planner::AstValue;
use crate::prepare::{OperationType, PrepareError, Preparer, variables};
use crate::supergraph::{Supergraph, SupergraphError};
use crate::transport::{HttpTransport, SingleFlight, Transport};

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
    /// The id of a persisted operation (`documentId`, or `id` in a GET query string).
    #[serde(alias = "id")]
    pub document_id: Option<String>,
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
    /// The `Cache-Control` this response may carry (`no-store` when it may not be cached).
    pub cache_control: String,
}

/// Why an engine could not be built or switched to a new supergraph.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The supergraph is unusable.
    #[error(transparent)]
    Supergraph(#[from] SupergraphError),
    /// The persisted-operation manifest is unusable.
    #[error(transparent)]
    Manifest(#[from] crate::http::persisted::ManifestError),
    /// A subgraph's transport could not be built.
    #[error("subgraph {subgraph}: {source}")]
    Transport {
        /// The subgraph.
        subgraph: String,
        /// What failed.
        source: crate::transport::TransportError,
    },
    /// A subgraph is declared in-process but no in-process transport was given for it.
    #[error("subgraph {subgraph} is in-process ({url}) but no in-process transport was given")]
    MissingLocal {
        /// The subgraph.
        subgraph: String,
        /// Its declared URL.
        url: String,
    },
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
    persisted: Persisted,
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
    ) -> Result<Engine, EngineError> {
        let forward = config
            .forward_headers
            .iter()
            .filter_map(|name| HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()).ok())
            .collect();
        let preparer = Preparer::new(&config);
        let manifest = match &config.persisted.manifest {
            Some(path) => Some(Manifest::load(path)?),
            None => None,
        };
        let persisted = Persisted::new(&config.persisted, manifest);
        let version = build_version(supergraph, &config, &local)?;
        Ok(Engine {
            current: ArcSwap::from_pointee(version),
            preparer,
            persisted,
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
    pub fn reload(&self, supergraph: Arc<Supergraph>) -> Result<(), EngineError> {
        let version = build_version(supergraph, &self.config, &self.local)?;
        self.current.store(Arc::new(version));
        Ok(())
    }

    /// How many prepared operations are cached.
    pub fn cached_plans(&self) -> u64 {
        self.preparer.cached()
    }

    /// Replaces the persisted-operation manifest given in the configuration (a BFF embeds its
    /// manifest in the binary).
    pub fn with_manifest(mut self, manifest: Manifest) -> Engine {
        self.persisted = Persisted::new(&self.config.persisted, Some(manifest));
        self
    }

    /// Runs one request end to end.
    pub async fn execute(
        &self,
        mut request: GraphqlRequest,
        headers: &HeaderMap,
        carrier: Carrier,
    ) -> EngineResponse {
        let started = std::time::Instant::now();
        let version = self.current.load_full();
        let document_id = request.document_id.take();
        let registration = match self.persisted.resolve(&mut request, document_id.as_deref()) {
            Ok(registration) => registration,
            Err(err) => return reject(Rejection::BadRequest, err.code(), &err.to_string()),
        };
        let Some(query) = request.query.as_deref().filter(|q| !q.trim().is_empty()) else {
            return reject(
                Rejection::BadRequest,
                "BAD_REQUEST",
                "the request has no `query`",
            );
        };
        let prepared = match self
            .preparer
            .prepare(
                version.supergraph.clone(),
                query,
                request.operation_name.as_deref(),
            )
            .await
        {
            Ok(prepared) => prepared,
            Err(err) => return prepare_failure(err),
        };
        if let Some(registration) = registration {
            self.persisted.register(registration);
        }
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
        let variables =
            match variables::coerce(version.supergraph.api(), &prepared.variables, provided) {
                Ok(variables) => variables,
                Err(err) => {
                    return reject(Rejection::BadRequest, "BAD_USER_INPUT", &err.to_string());
                }
            };
        if let Some(max) = self.config.max_page_size
            && let Some(message) =
                page_size_violation(&prepared.analysis.page_arguments, &variables, max)
        {
            return reject(Rejection::BadRequest, "BAD_USER_INPUT", &message);
        }
        let client = ClientInfo::from_headers(headers);
        let forwarded = Arc::new(self.forwarded(headers));
        let outcome = execute::execute(
            &version.supergraph,
            &version.subgraphs,
            &prepared,
            &variables,
            forwarded,
        )
        .await;
        let (body, has_errors) =
            execute::write_response(&version.supergraph, &prepared, &variables, &outcome);
        let identified = headers.contains_key(axum::http::header::AUTHORIZATION)
            || headers.contains_key(axum::http::header::COOKIE);
        let cache_control = if prepared.operation_type != OperationType::Query || has_errors {
            "no-store".to_owned()
        } else {
            cache_policy(
                prepared.analysis.max_age,
                outcome.cache,
                self.config.cache_control.default_max_age,
                identified,
            )
        };
        let operation: String = prepared
            .name
            .as_deref()
            .unwrap_or("anonymous")
            .chars()
            .take(64)
            .collect();
        let operation = operation.as_str();
        tracing::info!(
            engine = %self.config.name,
            operation,
            client_name = client.name,
            client_version = client.version,
            fetches = outcome.fetches,
            errors = has_errors,
            elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
            "operation"
        );
        crate::metrics::operation(
            &self.config.name,
            operation,
            &client,
            &prepared.analysis.deprecated,
            has_errors,
            started.elapsed(),
        );
        EngineResponse {
            body,
            rejected: None,
            fetches: outcome.fetches,
            cache_control,
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

/// Who is calling, as the client says in `apollographql-client-name` / `-version`.
pub struct ClientInfo {
    /// The client's name, or `unknown`.
    pub name: String,
    /// The client's version, or `unknown`.
    pub version: String,
}

impl ClientInfo {
    fn from_headers(headers: &HeaderMap) -> ClientInfo {
        let read = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.chars().take(64).collect::<String>())
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| "unknown".to_owned())
        };
        ClientInfo {
            name: read("apollographql-client-name"),
            version: read("apollographql-client-version"),
        }
    }
}

/// The `Cache-Control` of a query response: the strictest of the operation's static hint and
/// the subgraphs' headers, `private` when the caller is identified, `no-store` at max-age 0.
fn cache_policy(
    static_hint: Option<u32>,
    subgraphs: CacheHint,
    default: u32,
    identified: bool,
) -> String {
    if subgraphs.no_store {
        return "no-store".to_owned();
    }
    let max_age = match (static_hint, subgraphs.max_age) {
        (Some(a), Some(b)) => a.min(b),
        (Some(a), None) | (None, Some(a)) => a,
        (None, None) => default,
    };
    if max_age == 0 {
        return "no-store".to_owned();
    }
    let scope = if identified || subgraphs.private {
        "private"
    } else {
        "public"
    };
    format!("{scope}, max-age={max_age}")
}

/// The first page-size argument above `max`, as an error message.
fn page_size_violation(
    arguments: &[(String, String, AstValue)],
    variables: &Map<String, Value>,
    max: i64,
) -> Option<String> {
    for (field, argument, value) in arguments {
        let size = match value {
            AstValue::Int(n) => Some(*n),
            AstValue::Variable(name) => variables.get(name).and_then(Value::as_i64),
            _ => None,
        };
        if let Some(size) = size
            && size > max
        {
            return Some(format!(
                "`{argument}` on `{field}` may be at most {max} on this API, got {size}"
            ));
        }
    }
    None
}

fn build_version(
    supergraph: Arc<Supergraph>,
    config: &Config,
    local: &HashMap<String, Arc<dyn Transport>>,
) -> Result<Version, EngineError> {
    let mut subgraphs: Subgraphs = HashMap::new();
    for (name, declared) in supergraph.endpoints() {
        let url = config.subgraph_urls.get(name).unwrap_or(declared);
        let transport: Arc<dyn Transport> = match local.get(name) {
            Some(local) => local.clone(),
            None if url.starts_with("inprocess://") => {
                return Err(EngineError::MissingLocal {
                    subgraph: name.clone(),
                    url: url.clone(),
                });
            }
            None => Arc::new(
                HttpTransport::new(
                    url,
                    config.subgraph_timeout(),
                    config.subgraph_h2c,
                    config.max_subgraph_response_bytes,
                )
                .map_err(|source| EngineError::Transport {
                    subgraph: name.clone(),
                    source,
                })?,
            ),
        };
        let transport: Arc<dyn Transport> = if config.dedupe_subgraph_queries {
            Arc::new(SingleFlight::new(transport))
        } else {
            transport
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
        cache_control: "no-store".to_owned(),
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
        cache_control: "no-store".to_owned(),
    }
}
