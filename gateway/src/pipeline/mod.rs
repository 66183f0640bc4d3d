//! The request lifecycle as a short sequence of stage calls, each with typed input and output:
//! admit → prepare → variables → execute → respond → cache policy, log line and metrics.

pub(crate) mod metrics;
mod parts;
mod shared;

use std::sync::Arc;
use std::time::Instant;

use serde_json::{Map, Value};

use crate::admit::auth::Authenticator;
use crate::admit::persisted::Manifest;
use crate::admit::rate_limit::RateLimits;
use crate::admit::session::Sessions;
use crate::admit::{Admission, Admitted};
use crate::cache::invalidate::now_ms;
use crate::cache::key::{KeyScope, ResponseKeyParts, response_key};
use crate::cache::{Caches, Entry, Scope, Tag, Target};
use crate::config::{CacheConfig, Config};
use crate::error::{Code, GraphqlError};
use crate::execute::{self, CacheHint, Deadline, EntityCache, Outcome, Subgraphs};
use crate::prepare::{self, Prepared, Preparer, variables};
use crate::request::{
    CachePolicy, CacheScope, CacheStatus, Caller, ClientInfo, OperationType, Request, Response,
    Status,
};
use crate::supergraph::Supergraph;
use crate::transport::Headers;

pub use metrics::handle as metrics_handle;

/// Counts a request the HTTP front refused with `code` before it reached the stages.
pub fn count_refusal(code: Option<Code>) {
    metrics::refusal(code);
}

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
    /// Demand control: estimated before execution, measured after.
    cost: prepare::cost::CostModel,
    max_page_size: Option<i64>,
    deadline: Option<std::time::Duration>,
    cache: CacheConfig,
    /// Which prepared operations each client version has been seen using deprecated fields
    /// with, so the log line and metric fire once per pair, not once per request.
    deprecated_seen: moka::sync::Cache<u64, ()>,
    /// Identical queries in flight, when they may share one execution.
    shared: Option<shared::SharedRequests>,
    /// The response cache and what it shares with other replicas.
    caches: Arc<Caches>,
    /// Client names with their own metric series (empty: any).
    client_names: rustc_hash::FxHashSet<String>,
}

/// An executed operation's answer as the cache sees it.
struct Answered<'b> {
    /// Its cache policy.
    policy: CachePolicy,
    /// Its bytes.
    body: &'b bytes::Bytes,
    /// The entities it contains.
    tags: Vec<Tag>,
    /// What subgraphs named as changed while it ran.
    named: Vec<Target>,
    /// When its execution started (Unix ms).
    started_ms: u64,
}

/// Where a query's response may be found in the response cache and stored: under the
/// caller's subject (private), and under no one's (public) unless the caller's credentials
/// make every response private.
struct CacheKeys {
    private: Option<u128>,
    public: Option<u128>,
}

impl Pipeline {
    /// The stages as `config` sets them, with the persisted operations of `manifest`, the
    /// engine's `caches` and the admission stage's token verifier, rate limits and sessions.
    pub fn new(
        config: &Config,
        manifest: Option<Manifest>,
        caches: Arc<Caches>,
        auth: Option<Arc<Authenticator>>,
        limits: Option<Arc<RateLimits>>,
        sessions: Option<Arc<Sessions>>,
    ) -> Pipeline {
        Pipeline {
            name: config.server.name.clone(),
            admission: Admission::new(config, manifest, auth, limits, sessions),
            preparer: Preparer::new(config),
            cost: prepare::cost::CostModel::new(
                &config.demand_control,
                &config.limits.page_size_arguments,
            ),
            max_page_size: config.limits.max_page_size,
            deadline: config.server.deadline(),
            cache: config.cache.clone(),
            deprecated_seen: moka::sync::Cache::new(10_000),
            shared: config
                .server
                .dedupe_requests
                .then(shared::SharedRequests::default),
            caches,
            client_names: config.telemetry.client_names.iter().cloned().collect(),
        }
    }

    /// The engine's caches.
    pub fn caches(&self) -> &Caches {
        &self.caches
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
    pub async fn run(&self, version: &Arc<Version>, mut request: Request) -> Response {
        let started = Instant::now();
        if let Err(refused) = self.identify(&mut request).await {
            return refused;
        }
        match self.stages(version, &request, started).await {
            Ok(response) => response,
            Err(Refusal(errors)) => {
                metrics::refusal(errors.first().and_then(GraphqlError::code));
                Response::refused_with(errors)
            }
        }
    }

    async fn stages(
        &self,
        version: &Arc<Version>,
        request: &Request,
        started: Instant,
    ) -> Result<Response, Refusal> {
        let admitted = self.admission.admit(request)?;
        let prepared = self.prepare(version, admitted, request).await?;
        let variables = self.variables(version, &prepared, request)?;
        self.estimate_cost(version, &prepared, &variables)?;
        if request.capabilities.incremental
            && prepared
                .defer
                .as_ref()
                .is_some_and(|defer| defer.defers_with(&variables))
        {
            return Ok(self.in_parts(version, request, prepared, variables, started));
        }
        let keys = self.cache_keys(version, &prepared, &variables, request);
        if let Some(keys) = &keys
            && let Some(response) = self.cached(keys, request, &prepared, started).await
        {
            return Ok(response);
        }
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
            .execute(
                version,
                request,
                &prepared,
                &variables,
                keys.as_ref(),
                started,
            )
            .await;
        let Some(leader) = leader else {
            return Ok(response);
        };
        let answer = Arc::new((response, has_errors));
        leader.publish(answer.clone());
        Ok(Arc::unwrap_or_clone(answer).0)
    }

    /// A query that defers fragments, for a carrier that delivers parts: neither cached nor
    /// shared (each client reads its own parts), executed as the client reads it.
    fn in_parts(
        &self,
        version: &Arc<Version>,
        request: &Request,
        prepared: Arc<Prepared>,
        variables: Map<String, Value>,
        started: Instant,
    ) -> Response {
        self.record(request, &prepared, 0, false, started);
        let entity_cache = self
            .entity_cache(request)
            .map(|cache| parts::OwnedEntityCache {
                caches: self.caches.clone(),
                forwarded: cache.forwarded.to_vec(),
                max_ttl: cache.max_ttl,
            });
        Response::in_parts(parts::stream(
            version.clone(),
            prepared,
            variables,
            Arc::new(Headers::from_pairs(&request.forward)),
            self.deadline.map(|configured| Deadline {
                remaining: configured.saturating_sub(started.elapsed()),
                configured,
            }),
            entity_cache,
        ))
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
        // Private queries are never shared, even between requests with the same credentials.
        if prepared.operation_type != OperationType::Query || request.caller.identified {
            return None;
        }
        let key = shared::key(prepared.key, variables, &request.forward, &request.caller);
        Some(shared.join(key))
    }

    /// The entity cache as this request may use it: not for callers with credentials while
    /// their responses are private to them (a subgraph may answer them differently).
    fn entity_cache<'r>(&'r self, request: &'r Request) -> Option<EntityCache<'r>> {
        let store = self.caches.entity.as_ref()?;
        if request.caller.identified && self.cache.private_when_identified {
            return None;
        }
        Some(EntityCache {
            store,
            forwarded: &request.forward,
            max_ttl: self.cache.max_ttl,
        })
    }

    /// The response cache keys of a query, when the engine caches responses.
    fn cache_keys(
        &self,
        version: &Version,
        prepared: &Prepared,
        variables: &Map<String, Value>,
        request: &Request,
    ) -> Option<CacheKeys> {
        self.caches.response.as_ref()?;
        if prepared.operation_type != OperationType::Query {
            return None;
        }
        let key = |scope| {
            response_key(&ResponseKeyParts {
                engine: &self.name,
                supergraph: version.supergraph.version(),
                operation: prepared.key,
                variables,
                scope,
            })
        };
        let caller = &request.caller;
        Some(CacheKeys {
            private: caller.subject.as_deref().map(|s| key(KeyScope::Private(s))),
            public: (!(caller.identified && self.cache.private_when_identified))
                .then(|| key(KeyScope::Public)),
        })
    }

    /// The cached response for `keys`, private entry first, if a fresh one exists.
    async fn cached(
        &self,
        keys: &CacheKeys,
        request: &Request,
        prepared: &Arc<Prepared>,
        started: Instant,
    ) -> Option<Response> {
        let cache = self.caches.response.as_ref()?;
        let operation = prepared.name.as_deref().unwrap_or("anonymous");
        for key in [keys.private, keys.public].into_iter().flatten() {
            let Some(entry) = cache.get(key).await else {
                continue;
            };
            let now = now_ms();
            let Some(left) = entry.time_left(now) else {
                continue;
            };
            let ttl = u32::try_from(left.as_secs()).unwrap_or(u32::MAX);
            metrics::cache(&self.name, operation, "hit");
            self.record(request, prepared, 0, false, started);
            return Some(Response {
                body: entry.body.clone(),
                status: Status::Executed,
                cache: CachePolicy::Store {
                    max_age: ttl.max(1),
                    scope: match entry.scope {
                        Scope::Public => CacheScope::Public,
                        Scope::Private => CacheScope::Private,
                    },
                },
                fetches: 0,
                cache_status: Some(CacheStatus::Hit {
                    ttl,
                    age: entry.age(now),
                }),
                retry_after: None,
                parts: None,
            });
        }
        metrics::cache(&self.name, operation, "miss");
        None
    }

    /// Stores a query's response when its policy allows, or applies a mutation's
    /// invalidations; says what the cache did.
    async fn store_or_invalidate(
        &self,
        prepared: &Prepared,
        keys: Option<&CacheKeys>,
        answer: Answered<'_>,
    ) -> CacheStatus {
        let Answered {
            policy,
            body,
            tags,
            named,
            started_ms,
        } = answer;
        let operation = prepared.name.as_deref().unwrap_or("anonymous");
        // What any subgraph named is stale, with every entry holding an entity of its type
        // whose key is unknown; so is every entity a mutation's response contains, exactly (an
        // entity a mutation creates is in no entry, and a subgraph that changes more says so).
        let exact: Vec<Tag> = if prepared.operation_type == OperationType::Mutation {
            tags.iter()
                .filter(|tag| names_an_entity(tag))
                .cloned()
                .collect()
        } else {
            Vec::new()
        };
        if !named.is_empty() || !exact.is_empty() {
            let bumped = self.caches.invalidate(&named, &exact).await;
            metrics::invalidations(&self.name, bumped.len());
            tracing::debug!(engine = %self.name, operation, tags = ?bumped, "cache invalidated");
        }
        let (Some(cache), Some(keys)) = (self.caches.response.as_ref(), keys) else {
            metrics::cache(&self.name, operation, "bypass");
            return CacheStatus::Bypass;
        };
        let CachePolicy::Store { max_age, scope } = policy else {
            metrics::cache(&self.name, operation, "bypass");
            return CacheStatus::Bypass;
        };
        let (key, scope) = match scope {
            CacheScope::Public => (keys.public, Scope::Public),
            CacheScope::Private => (keys.private, Scope::Private),
        };
        let Some(key) = key else {
            return CacheStatus::Miss { ttl: None };
        };
        let max_age = max_age.min(self.cache.max_ttl);
        let entry = Entry {
            body: body.clone(),
            scope,
            max_age,
            stored_ms: now_ms(),
            started_ms,
            tags: tags.into_boxed_slice(),
        };
        if cache.put(key, entry) {
            metrics::cache(&self.name, operation, "store");
            CacheStatus::Miss { ttl: Some(max_age) }
        } else {
            CacheStatus::Miss { ttl: None }
        }
    }

    /// Executes a prepared operation and writes its response; also says whether it has errors.
    async fn execute(
        &self,
        version: &Version,
        request: &Request,
        prepared: &Arc<Prepared>,
        variables: &Map<String, Value>,
        keys: Option<&CacheKeys>,
        started: Instant,
    ) -> (Response, bool) {
        let started_ms = now_ms();
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
            self.entity_cache(request),
        )
        .await;
        self.measure_cost(version, prepared, variables, &outcome.data);
        let caching = self.caches.response.is_some();
        let collect_tags =
            caching && (keys.is_some() || prepared.operation_type == OperationType::Mutation);
        let written = crate::respond::write_response(
            &version.supergraph,
            prepared,
            variables,
            &outcome,
            collect_tags,
        );
        let has_errors = written.has_errors;
        let body = bytes::Bytes::from(written.body);
        let cache = self.cache_policy(prepared, &outcome, &request.caller, has_errors);
        let cache_status = if caching {
            let status = self
                .store_or_invalidate(
                    prepared,
                    keys,
                    Answered {
                        policy: cache,
                        body: &body,
                        tags: written.tags,
                        named: outcome.invalidate,
                        started_ms,
                    },
                )
                .await;
            Some(status)
        } else {
            None
        };
        self.record(request, prepared, outcome.fetches, has_errors, started);
        let response = Response {
            body,
            status: Status::Executed,
            cache,
            fetches: outcome.fetches,
            cache_status,
            retry_after: None,
            parts: None,
        };
        (response, has_errors)
    }

    /// The caller's token verified (or its session traded for one) and its budgets spent:
    /// what every request and subscription passes before its document is read.
    async fn identify(&self, request: &mut Request) -> Result<(), Response> {
        if let Err(error) = self.admission.authenticate(request).await {
            metrics::refusal(error.code());
            return Err(Response::refused(error));
        }
        if let Err(limited) = self.admission.limit(request).await {
            metrics::refusal(Some(Code::RateLimited));
            metrics::rate_limited(limited.budget);
            let mut response = Response::refused(limited.to_graphql());
            response.retry_after = Some(limited.retry_after_seconds());
            return Err(response);
        }
        Ok(())
    }

    /// Everything before a subscription's events: the token, the budgets, the document, the
    /// plan (authorized for the caller) and the variables; refused like any request.
    pub async fn subscribing(
        &self,
        version: &Arc<Version>,
        mut request: Request,
    ) -> Result<Subscribed, Response> {
        self.identify(&mut request).await?;
        let refused = |Refusal(errors)| {
            metrics::refusal(errors.first().and_then(GraphqlError::code));
            Response::refused_with(errors)
        };
        let admitted = self
            .admission
            .admit(&request)
            .map_err(|e| refused(e.into()))?;
        let prepared = self
            .preparer
            .prepare(
                version.supergraph.clone(),
                &admitted.document,
                request.operation_name.as_deref(),
            )
            .await
            .map_err(|err| refused(Refusal(err.into_errors())))?;
        if prepared.operation_type != OperationType::Subscription {
            // A query or mutation on an event stream or socket: answered as over HTTP, its
            // deferred fragments (if any) as further events.
            request.capabilities.incremental = true;
            return match self.stages(version, &request, Instant::now()).await {
                Ok(response) => Ok(Subscribed::Answer(response)),
                Err(refusal) => Err(refused(refusal)),
            };
        }
        let prepared = self
            .preparer
            .authorize(
                version.supergraph.clone(),
                prepared,
                request.caller.claims.as_deref(),
            )
            .await
            .map_err(|err| refused(Refusal(err.into_errors())))?;
        let variables = self
            .variables(version, &prepared, &request)
            .map_err(refused)?;
        let Some(primary) = prepared.plan.node.as_ref().and_then(subscription_fetch) else {
            // Every field was denied (or none is fetched): one answer, then the end.
            return Ok(Subscribed::Events(Box::new(Subscribing {
                prepared,
                variables,
                primary: None,
                authorization: None,
                headers: Arc::new(Headers::from_pairs(&request.forward)),
                resume: None,
            })));
        };
        Ok(Subscribed::Events(Box::new(Subscribing {
            primary: Some(primary.clone()),
            prepared,
            variables,
            authorization: request
                .caller
                .authorization
                .as_ref()
                .map(|secret| secret.expose().to_owned()),
            headers: Arc::new(Headers::from_pairs(&request.forward)),
            resume: request.last_event_id.clone(),
        })))
    }

    /// The response for one event of a subscription: the subgraph's event data, completed by
    /// the rest of the plan and shaped to the client's selection.
    pub async fn event(
        &self,
        version: &Version,
        subscribing: &Subscribing,
        event: serde_json::Value,
    ) -> bytes::Bytes {
        let service = subscribing
            .primary
            .as_ref()
            .map(|fetch| fetch.service_name.as_str())
            .unwrap_or("");
        let data = event.get("data").cloned().unwrap_or(Value::Null);
        let mut outcome = execute::execute_event(
            &version.supergraph,
            &version.subgraphs,
            &subscribing.prepared,
            &subscribing.variables,
            subscribing.headers.clone(),
            None,
            data,
        )
        .await;
        if let Some(errors) = event.get("errors").and_then(Value::as_array) {
            for error in errors {
                let mut error = GraphqlError::from_subgraph(error.clone());
                error = error.with_extension("serviceName", Value::from(service));
                outcome.errors.push(error);
            }
        }
        let written = crate::respond::write_response(
            &version.supergraph,
            &subscribing.prepared,
            &subscribing.variables,
            &outcome,
            false,
        );
        bytes::Bytes::from(written.body)
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
                "subscriptions are served as an event stream: send `Accept: text/event-stream`",
            )
            .into());
        }
        self.admission
            .check_csrf(&request.caller, prepared.operation_type)?;
        self.preparer
            .authorize(
                version.supergraph.clone(),
                prepared,
                request.caller.claims.as_deref(),
            )
            .await
            .map_err(|err| Refusal(err.into_errors()))
    }

    /// Estimates the operation's cost when demand control is on: exported as a metric, and
    /// refused over the maximum unless only measuring.
    fn estimate_cost(
        &self,
        version: &Version,
        prepared: &Prepared,
        variables: &Map<String, Value>,
    ) -> Result<(), Refusal> {
        if !self.cost.enabled() {
            return Ok(());
        }
        let api = version.supergraph.api();
        let estimated = self.cost.estimate(
            api,
            api.root_type(prepared.operation_type),
            &prepared.operation.selection_set,
            variables,
            prepared.operation_type == OperationType::Mutation,
        );
        metrics::cost(&self.name, "estimated", estimated);
        self.cost.check(estimated)?;
        Ok(())
    }

    /// Measures the cost of an executed operation's answer, when demand control is on.
    fn measure_cost(
        &self,
        version: &Version,
        prepared: &Prepared,
        variables: &Map<String, Value>,
        data: &crate::execute::value::Value,
    ) {
        if !self.cost.enabled() {
            return;
        }
        let mut lengths = std::collections::HashMap::new();
        list_lengths(data, &mut lengths);
        let api = version.supergraph.api();
        let actual = self.cost.measure(
            api,
            api.root_type(prepared.operation_type),
            &prepared.operation.selection_set,
            variables,
            &lengths,
        );
        metrics::cost(&self.name, "actual", actual);
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
        let client = self.metric_client(client);
        metrics::operation(&self.name, &operation, &client, has_errors, elapsed);
        if !prepared.analysis.deprecated.is_empty() && self.first_deprecated_use(prepared, &client)
        {
            metrics::deprecated(&self.name, &client, &prepared.analysis.deprecated);
        }
    }

    /// The client as metric labels name it: itself when its name is a configured client name
    /// (or none is configured), else `other`, so callers cannot invent series.
    fn metric_client<'c>(&self, client: &'c ClientInfo) -> std::borrow::Cow<'c, ClientInfo> {
        if self.client_names.is_empty() || self.client_names.contains(&client.name) {
            return std::borrow::Cow::Borrowed(client);
        }
        std::borrow::Cow::Owned(ClientInfo::new(Some("other"), Some("other")))
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

/// Whether a tag names one entity (`Article:2`), not a type or a wildcard.
fn names_an_entity(tag: &Tag) -> bool {
    tag.split_once(':').is_some_and(|(_, key)| key != "*")
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

/// The longest list under each key anywhere in an answer's data.
fn list_lengths(
    value: &crate::execute::value::Value,
    out: &mut std::collections::HashMap<String, u64>,
) {
    use crate::execute::value::Value as Data;
    match value {
        Data::Object(object) => {
            for (key, value) in object.iter() {
                if let Data::Array(items) = value {
                    let longest = out.entry(key.to_string()).or_insert(0);
                    *longest = (*longest).max(items.len() as u64);
                }
                list_lengths(value, out);
            }
        }
        Data::Array(items) => {
            for item in items {
                list_lengths(item, out);
            }
        }
        _ => {}
    }
}

/// What a request on an event stream or socket became: a subscription's events to follow, or
/// the one answer (possibly in parts) of a query or mutation.
pub enum Subscribed {
    /// A subscription, admitted and prepared.
    Events(Box<Subscribing>),
    /// A query's or mutation's response.
    Answer(Response),
}

/// What a subscription runs with once admitted and prepared.
pub struct Subscribing {
    /// The prepared (and authorized) operation.
    pub prepared: Arc<Prepared>,
    /// The coerced variables.
    pub variables: Map<String, Value>,
    /// The subgraph subscription the plan starts with; none when nothing is to be fetched.
    pub primary: Option<crate::supergraph::planner::FetchNode>,
    /// The caller's `Authorization` value, passed on to the subgraph.
    pub authorization: Option<String>,
    /// The headers the forwarding rules pass on.
    pub headers: Arc<Headers>,
    /// Where the client resumes (the cursor of the last event it received), if it does.
    pub resume: Option<String>,
}

impl Subscribing {
    /// The variables the subgraph's subscription uses.
    pub fn primary_variables(&self) -> Value {
        let Some(fetch) = &self.primary else {
            return Value::Object(Map::new());
        };
        let used: Map<String, Value> = fetch
            .variable_usages
            .iter()
            .flatten()
            .filter_map(|name| Some((name.clone(), self.variables.get(name)?.clone())))
            .collect();
        Value::Object(used)
    }
}

/// The subscription fetch a plan starts with.
fn subscription_fetch(
    node: &crate::supergraph::planner::PlanNode,
) -> Option<&crate::supergraph::planner::FetchNode> {
    use crate::supergraph::planner::PlanNode;
    match node {
        PlanNode::Subscription(subscription) => Some(&subscription.primary),
        PlanNode::Sequence(sequence) => sequence.nodes.first().and_then(subscription_fetch),
        _ => None,
    }
}
