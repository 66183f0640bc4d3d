//! The request lifecycle as a short sequence of stage calls, each with typed input and output:
//! admit → prepare → variables → execute → respond → cache policy, log line and metrics.

pub(crate) mod metrics;
mod shared;

use std::sync::Arc;
use std::time::Instant;

use serde_json::{Map, Value};

use crate::admit::persisted::Manifest;
use crate::admit::{Admission, Admitted};
use crate::config::{CacheConfig, Config};
use crate::error::{Code, GraphqlError};
use crate::execute::{self, CacheHint, Deadline, Outcome, Subgraphs};
use crate::prepare::{self, Prepared, Preparer, variables};
use crate::request::{
    CachePolicy, CacheScope, Caller, ClientInfo, OperationType, Request, Response, Status,
};
use crate::supergraph::Supergraph;
use crate::transport::Headers;

pub use metrics::handle as metrics_handle;

/// What a request runs against: one supergraph version and its subgraph transports.
pub struct Version {
    /// The supergraph.
    pub supergraph: Arc<Supergraph>,
    /// A transport per subgraph it names.
    pub subgraphs: Subgraphs,
}

/// Why a request stopped before execution: the errors its client gets.
struct Refusal(Vec<GraphqlError>);

impl From<GraphqlError> for Refusal {
    fn from(error: GraphqlError) -> Refusal {
        Refusal(vec![error])
    }
}

/// The stages of one engine, configured and ready to run requests.
pub struct Pipeline {
    name: String,
    admission: Admission,
    preparer: Preparer,
    max_page_size: Option<i64>,
    deadline: Option<std::time::Duration>,
    cache: CacheConfig,
    /// Which prepared operations each client version has been seen using deprecated fields
    /// with, so the log line and metric fire once per pair, not once per request.
    deprecated_seen: moka::sync::Cache<u64, ()>,
    /// Identical queries in flight, when they may share one execution.
    shared: Option<shared::SharedRequests>,
}

impl Pipeline {
    /// The stages as `config` sets them, with the persisted operations of `manifest`.
    pub fn new(config: &Config, manifest: Option<Manifest>) -> Pipeline {
        Pipeline {
            name: config.server.name.clone(),
            admission: Admission::new(config, manifest),
            preparer: Preparer::new(config),
            max_page_size: config.limits.max_page_size,
            deadline: config.server.deadline(),
            cache: config.cache.clone(),
            deprecated_seen: moka::sync::Cache::new(10_000),
            shared: config
                .server
                .dedupe_requests
                .then(shared::SharedRequests::default),
        }
    }

    /// The admission rules (the HTTP front asks them about bodies and batches).
    pub fn admission(&self) -> &Admission {
        &self.admission
    }

    /// How many prepared operations are cached.
    pub fn cached_plans(&self) -> u64 {
        self.preparer.cached()
    }

    /// Runs one request on `version`, end to end.
    pub async fn run(&self, version: &Version, request: Request) -> Response {
        let started = Instant::now();
        match self.stages(version, &request, started).await {
            Ok(response) => response,
            Err(Refusal(errors)) => Response::refused_with(errors),
        }
    }

    async fn stages(
        &self,
        version: &Version,
        request: &Request,
        started: Instant,
    ) -> Result<Response, Refusal> {
        let admitted = self.admission.admit(request)?;
        let prepared = self.prepare(version, admitted, request).await?;
        let variables = self.variables(version, &prepared, request)?;
        let leader = match self.join_shared(&prepared, &variables, request) {
            None => None,
            Some(shared::Role::Leader(leader)) => Some(leader),
            Some(shared::Role::Follower(receiver)) => match shared::follow(receiver).await {
                Some(answer) => {
                    let (response, has_errors) = answer.as_ref();
                    self.record(request, &prepared, 0, *has_errors, started);
                    return Ok(response.clone());
                }
                // The leader's client went away before it answered: run alone.
                None => None,
            },
        };
        let (response, has_errors) = self
            .execute(version, request, &prepared, &variables, started)
            .await;
        let Some(leader) = leader else {
            return Ok(response);
        };
        let answer = Arc::new((response, has_errors));
        leader.publish(answer.clone());
        Ok(Arc::unwrap_or_clone(answer).0)
    }

    /// The request's part in sharing an identical query already in flight, when queries are
    /// shared and this is one.
    fn join_shared(
        &self,
        prepared: &Arc<Prepared>,
        variables: &Map<String, Value>,
        request: &Request,
    ) -> Option<shared::Role> {
        let shared = self.shared.as_ref()?;
        if prepared.operation_type != OperationType::Query {
            return None;
        }
        let key = shared::key(prepared.key, variables, &request.forward, &request.caller);
        Some(shared.join(key))
    }

    /// Executes a prepared operation and writes its response; also says whether it has errors.
    async fn execute(
        &self,
        version: &Version,
        request: &Request,
        prepared: &Arc<Prepared>,
        variables: &Map<String, Value>,
        started: Instant,
    ) -> (Response, bool) {
        let headers = Arc::new(Headers::from_pairs(&request.forward));
        let outcome = execute::execute(
            &version.supergraph,
            &version.subgraphs,
            prepared,
            variables,
            headers,
            self.deadline.map(|configured| Deadline {
                remaining: configured.saturating_sub(started.elapsed()),
                configured,
            }),
        )
        .await;
        let (body, has_errors) =
            crate::respond::write_response(&version.supergraph, prepared, variables, &outcome);
        let cache = self.cache_policy(prepared, &outcome, &request.caller, has_errors);
        self.record(request, prepared, outcome.fetches, has_errors, started);
        let response = Response {
            body,
            status: Status::Executed,
            cache,
            fetches: outcome.fetches,
        };
        (response, has_errors)
    }

    /// Prepares the admitted document and checks the operation fits the request's carrier.
    async fn prepare(
        &self,
        version: &Version,
        admitted: Admitted,
        request: &Request,
    ) -> Result<Arc<Prepared>, Refusal> {
        let prepared = self
            .preparer
            .prepare(
                version.supergraph.clone(),
                &admitted.document,
                request.operation_name.as_deref(),
            )
            .await
            .map_err(|err| Refusal(err.into_errors()))?;
        if let Some(registration) = admitted.registration {
            self.admission.register(registration);
        }
        if request.capabilities.read_only && prepared.operation_type != OperationType::Query {
            return Err(GraphqlError::new(
                Code::MethodNotAllowed,
                "only queries may be sent with GET; use POST",
            )
            .into());
        }
        if prepared.operation_type == OperationType::Subscription {
            return Err(GraphqlError::new(
                Code::OperationNotSupported,
                "subscriptions are served over WebSocket, not over this endpoint",
            )
            .into());
        }
        Ok(prepared)
    }

    /// Coerces the request's variables and checks its page sizes.
    fn variables(
        &self,
        version: &Version,
        prepared: &Prepared,
        request: &Request,
    ) -> Result<Map<String, Value>, Refusal> {
        let api = version.supergraph.api();
        let variables = variables::coerce(api, &prepared.variables, &request.variables)
            .map_err(|err| GraphqlError::new(Code::BadUserInput, err.to_string()))?;
        prepare::check_page_sizes(prepared, &variables, self.max_page_size)?;
        Ok(variables)
    }

    /// How the response may be cached: never for mutations or responses with errors; else the
    /// strictest of the operation's static hint and the subgraphs' headers, private for an
    /// identified caller.
    fn cache_policy(
        &self,
        prepared: &Prepared,
        outcome: &Outcome,
        caller: &Caller,
        has_errors: bool,
    ) -> CachePolicy {
        if prepared.operation_type != OperationType::Query || has_errors {
            return CachePolicy::NoStore;
        }
        cache_policy(
            prepared.analysis.max_age,
            outcome.cache,
            self.cache.default_max_age,
            caller.identified,
        )
    }

    /// The log line and metrics of one executed operation.
    fn record(
        &self,
        request: &Request,
        prepared: &Arc<Prepared>,
        fetches: usize,
        has_errors: bool,
        started: Instant,
    ) {
        let operation: String = prepared
            .name
            .as_deref()
            .unwrap_or("anonymous")
            .chars()
            .take(64)
            .collect();
        let elapsed = started.elapsed();
        let client = &request.client;
        // One line per operation is an access log: at `debug`, so a busy engine does not spend
        // its time writing it; operations that answered errors stay visible at `info`.
        macro_rules! operation_line {
            ($level:expr) => {
                tracing::event!(
                    $level,
                    engine = %self.name,
                    operation,
                    client_name = client.name,
                    client_version = client.version,
                    fetches,
                    errors = has_errors,
                    elapsed_ms = elapsed.as_secs_f64() * 1000.0,
                    "operation"
                )
            };
        }
        if has_errors {
            operation_line!(tracing::Level::INFO);
        } else {
            operation_line!(tracing::Level::DEBUG);
        }
        metrics::operation(&self.name, &operation, client, has_errors, elapsed);
        if !prepared.analysis.deprecated.is_empty() && self.first_deprecated_use(prepared, client) {
            metrics::deprecated(&self.name, client, &prepared.analysis.deprecated);
        }
    }

    /// Whether this is the first time `client` is seen running `prepared`.
    fn first_deprecated_use(&self, prepared: &Arc<Prepared>, client: &ClientInfo) -> bool {
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        hasher.update(&(Arc::as_ptr(prepared) as usize).to_le_bytes());
        hasher.update(client.name.as_bytes());
        hasher.update(&[0]);
        hasher.update(client.version.as_bytes());
        let key = hasher.digest();
        if self.deprecated_seen.contains_key(&key) {
            return false;
        }
        self.deprecated_seen.insert(key, ());
        true
    }
}

/// The policy of a query response: the strictest of the operation's static hint and the
/// subgraphs' headers, `private` when the caller is identified, `no-store` at max-age 0.
fn cache_policy(
    static_hint: Option<u32>,
    subgraphs: CacheHint,
    default: u32,
    identified: bool,
) -> CachePolicy {
    if subgraphs.no_store {
        return CachePolicy::NoStore;
    }
    let max_age = match (static_hint, subgraphs.max_age) {
        (Some(a), Some(b)) => a.min(b),
        (Some(a), None) | (None, Some(a)) => a,
        (None, None) => default,
    };
    if max_age == 0 {
        return CachePolicy::NoStore;
    }
    let scope = if identified || subgraphs.private {
        CacheScope::Private
    } else {
        CacheScope::Public
    };
    CachePolicy::Store { max_age, scope }
}
