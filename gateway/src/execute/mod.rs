//! Executing a plan: walk its nodes (fetches in parallel where the plan allows) and merge every
//! subgraph answer into one result. It returns merged data and errors; `respond/` writes the
//! client's bytes from them.

mod entities;
mod fetch;
mod merge;
pub mod value;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::join_all;
use serde_json::Map;

pub use value::Value;

use crate::cache::invalidate::{Tag, entity_tag, wildcard_tag};
use crate::cache::{Store, Target};
use crate::error::{Code, GraphqlError};
use crate::prepare::Prepared;
use crate::request::OperationType;
use crate::supergraph::Supergraph;
use crate::supergraph::planner::{PlanNode, QueryPlan};
use crate::transport::{BoxFuture, Headers, Transport};

/// The transports of a supergraph's subgraphs, by subgraph name.
pub type Subgraphs = HashMap<String, Arc<dyn Transport>>;

/// The state of one operation's execution: the merged data and the errors so far.
pub(crate) struct Execution<'a> {
    supergraph: &'a Supergraph,
    subgraphs: &'a Subgraphs,
    variables: &'a Map<String, serde_json::Value>,
    headers: Arc<Headers>,
    /// A std mutex, not a tokio one: it is never held across an await, and each request has
    /// its own, so there is no contention between requests.
    data: Mutex<Value>,
    errors: Mutex<Vec<GraphqlError>>,
    fetches: AtomicUsize,
    cache: Mutex<CacheHint>,
    /// What subgraphs named for cache invalidation.
    invalidate: Mutex<Vec<Target>>,
    /// The entity cache, when this execution may use it.
    entity_cache: Option<EntityCache<'a>>,
    /// When the execution started (Unix ms): cached entities are stored as of then.
    started_ms: u64,
    /// Whether fetches may share identical requests in flight (queries only).
    shareable: bool,
    /// Whether this runs the plan for one event of a subscription: the subscription's own
    /// fetch delivered the root data, so its node is passed over.
    event: bool,
    /// For a query delivered in parts (`@defer`): which fetches each part still waits for.
    gates: Option<Gates<'a>>,
}

/// Called as each part of a deferred query becomes ready, with the part (0 the initial
/// payload, `i + 1` deferred fragment `i`), the data and errors merged so far, and whether it
/// is the last part.
pub type OnPart<'a> = &'a (dyn Fn(usize, &Value, &[GraphqlError], bool) + Sync);

/// The parts of a deferred query and the fetches each still waits for.
struct Gates<'a> {
    feeds: &'a rustc_hash::FxHashMap<i64, u64>,
    state: Mutex<GateState>,
    on_part: OnPart<'a>,
    /// Whether the walk is past the fetches of the initial payload, onto the others.
    deferred_phase: std::sync::atomic::AtomicBool,
}

struct GateState {
    /// Fetches not yet done, per part.
    pending: Vec<u32>,
    /// The parts delivered, as bits.
    fired: u64,
}

impl GateState {
    /// The parts ready to go out, in order, each with whether it is the last: none before
    /// the initial payload, and with `all` every part not yet delivered.
    fn take_ready(&mut self, all: bool) -> Vec<(usize, bool)> {
        let parts = self.pending.len();
        if all {
            // Past the initial payload's fetches: it goes, whatever is left counted.
            self.pending[0] = 0;
        }
        let mut ready = Vec::new();
        for part in 0..parts {
            let bit = 1u64 << part;
            if self.fired & bit != 0 {
                continue;
            }
            if all || self.pending[part] == 0 {
                self.fired |= bit;
                ready.push(part);
            } else if part == 0 {
                return Vec::new();
            }
        }
        let complete = self.fired.count_ones() as usize == parts;
        let count = ready.len();
        ready
            .into_iter()
            .enumerate()
            .map(|(i, part)| (part, complete && i + 1 == count))
            .collect()
    }
}

impl<'a> Gates<'a> {
    fn new(
        defer: &'a crate::prepare::defer::DeferPlan,
        plan: &QueryPlan,
        on_part: OnPart<'a>,
    ) -> Gates<'a> {
        let mut pending = vec![0u32; defer.parts()];
        if let Some(node) = &plan.node {
            each_fetch(node, &mut |id| {
                let mask = defer.feeds.get(&id).copied().unwrap_or(1);
                for (part, count) in pending.iter_mut().enumerate() {
                    if mask & (1 << part) != 0 {
                        *count += 1;
                    }
                }
            });
        }
        Gates {
            feeds: &defer.feeds,
            state: Mutex::new(GateState { pending, fired: 0 }),
            on_part,
            deferred_phase: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

/// Calls `f` with the id of every fetch under `node`, once per occurrence.
fn each_fetch(node: &PlanNode, f: &mut dyn FnMut(i64)) {
    match node {
        PlanNode::Fetch(fetch) => f(fetch.id),
        PlanNode::BatchFetch(batch) => f(batch.id),
        PlanNode::Flatten(flatten) => each_fetch(&flatten.node, f),
        PlanNode::Sequence(sequence) => sequence.nodes.iter().for_each(|n| each_fetch(n, f)),
        PlanNode::Parallel(parallel) => parallel.nodes.iter().for_each(|n| each_fetch(n, f)),
        PlanNode::Condition(condition) => {
            for branch in [&condition.if_clause, &condition.else_clause]
                .into_iter()
                .flatten()
            {
                each_fetch(branch, f);
            }
        }
        PlanNode::Defer(defer) => {
            if let Some(node) = &defer.primary.node {
                each_fetch(node, f);
            }
        }
        PlanNode::Subscription(_) => {}
    }
}

/// The caching the subgraphs allowed for their answers, combined strictest-wins.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheHint {
    /// The smallest `max-age` any subgraph gave, if any gave one.
    pub max_age: Option<u32>,
    /// Some subgraph said `private`.
    pub private: bool,
    /// Some subgraph said `no-store` or `no-cache`.
    pub no_store: bool,
}

/// The entity cache as one execution may use it.
#[derive(Clone, Copy)]
pub struct EntityCache<'a> {
    /// The store.
    pub store: &'a Store,
    /// The headers sent to subgraphs (part of every key: an answer may depend on them).
    pub forwarded: &'a [(String, String)],
    /// The longest an entity is kept, in seconds.
    pub max_ttl: u32,
}

impl CacheHint {
    /// Whether an answer with this hint may be kept in a shared cache: a max-age above zero,
    /// neither private nor no-store.
    pub fn shareable_max_age(&self) -> Option<u32> {
        self.max_age
            .filter(|age| *age > 0 && !self.private && !self.no_store)
    }

    /// Lowers the max-age to at most `max_age`.
    pub fn limit(&mut self, max_age: u32) {
        self.max_age = Some(self.max_age.map_or(max_age, |m| m.min(max_age)));
    }

    /// Folds one `Cache-Control` header value into the hint.
    pub fn add(&mut self, header: &str) {
        for directive in header.split(',') {
            let directive = directive.trim().to_ascii_lowercase();
            if directive == "private" {
                self.private = true;
            } else if directive == "no-store" || directive == "no-cache" {
                self.no_store = true;
            } else if let Some(age) = directive.strip_prefix("max-age=")
                && let Ok(age) = age.trim().parse::<u32>()
            {
                self.max_age = Some(self.max_age.map_or(age, |m| m.min(age)));
            }
        }
    }
}

/// When execution must stop: the time left, and the configured deadline the client is told of.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    /// Time left for this request.
    pub remaining: Duration,
    /// The deadline as configured.
    pub configured: Duration,
}

/// What executing a plan produced, before it is shaped into the client's response.
pub struct Outcome {
    /// Everything the subgraphs answered, merged, keyed by response names.
    pub data: Value,
    /// Errors from subgraphs, already re-pathed for the client.
    pub errors: Vec<GraphqlError>,
    /// How many subgraph requests were made.
    pub fetches: usize,
    /// The subgraphs' combined caching hint.
    pub cache: CacheHint,
    /// Entities and types the subgraphs named as changed (`extensions.invalidate`).
    pub invalidate: Vec<Target>,
}

/// Executes `prepared`'s plan with coerced `variables`, forwarding `headers` to subgraphs,
/// stopping at `deadline` (if any) with whatever has been merged by then; entity fetches of a
/// query consult `entity_cache` when given.
pub async fn execute(
    supergraph: &Supergraph,
    subgraphs: &Subgraphs,
    prepared: &Prepared,
    variables: &Map<String, serde_json::Value>,
    headers: Arc<Headers>,
    deadline: Option<Deadline>,
    entity_cache: Option<EntityCache<'_>>,
) -> Outcome {
    let root = Value::Object(value::Object::default());
    execute_from(
        supergraph,
        subgraphs,
        prepared,
        variables,
        headers,
        deadline,
        entity_cache,
        root,
        false,
    )
    .await
}

/// Executes a query that defers fragments (`prepared.defer`), calling `on_part` as each part
/// of the response becomes ready: the initial payload first, then each deferred fragment once
/// the fetches it waits for are done. Every part is delivered, the last ones when execution
/// ends (also at the deadline).
#[allow(clippy::too_many_arguments)]
pub async fn execute_deferred(
    supergraph: &Supergraph,
    subgraphs: &Subgraphs,
    prepared: &Prepared,
    variables: &Map<String, serde_json::Value>,
    headers: Arc<Headers>,
    deadline: Option<Deadline>,
    entity_cache: Option<EntityCache<'_>>,
    on_part: OnPart<'_>,
) -> Outcome {
    let root = Value::Object(value::Object::default());
    let gates = prepared
        .defer
        .as_ref()
        .map(|defer| Gates::new(defer, &prepared.plan, on_part));
    run_execution(
        supergraph,
        subgraphs,
        prepared,
        variables,
        headers,
        deadline,
        entity_cache,
        root,
        false,
        gates,
    )
    .await
}

/// Executes the rest of a subscription's plan for one event: `event` is the data the
/// subgraph's subscription delivered (the root of the response), and every other fetch of the
/// plan (entities, `@requires`) runs on it as for a query.
pub async fn execute_event(
    supergraph: &Supergraph,
    subgraphs: &Subgraphs,
    prepared: &Prepared,
    variables: &Map<String, serde_json::Value>,
    headers: Arc<Headers>,
    deadline: Option<Deadline>,
    event: serde_json::Value,
) -> Outcome {
    let root = match Value::from(event) {
        Value::Object(object) => Value::Object(object),
        _ => Value::Object(value::Object::default()),
    };
    execute_from(
        supergraph, subgraphs, prepared, variables, headers, deadline, None, root, true,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn execute_from(
    supergraph: &Supergraph,
    subgraphs: &Subgraphs,
    prepared: &Prepared,
    variables: &Map<String, serde_json::Value>,
    headers: Arc<Headers>,
    deadline: Option<Deadline>,
    entity_cache: Option<EntityCache<'_>>,
    root: Value,
    event: bool,
) -> Outcome {
    run_execution(
        supergraph,
        subgraphs,
        prepared,
        variables,
        headers,
        deadline,
        entity_cache,
        root,
        event,
        None,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn run_execution<'a>(
    supergraph: &'a Supergraph,
    subgraphs: &'a Subgraphs,
    prepared: &'a Prepared,
    variables: &'a Map<String, serde_json::Value>,
    headers: Arc<Headers>,
    deadline: Option<Deadline>,
    entity_cache: Option<EntityCache<'a>>,
    root: Value,
    event: bool,
    gates: Option<Gates<'a>>,
) -> Outcome {
    let execution = Execution {
        supergraph,
        subgraphs,
        variables,
        headers,
        data: Mutex::new(root),
        errors: Mutex::new(Vec::new()),
        fetches: AtomicUsize::new(0),
        cache: Mutex::new(CacheHint::default()),
        invalidate: Mutex::new(Vec::new()),
        entity_cache: entity_cache.filter(|_| prepared.operation_type == OperationType::Query),
        started_ms: crate::cache::invalidate::now_ms(),
        shareable: prepared.operation_type == OperationType::Query,
        event,
        gates,
    };
    // A part that waits for no fetch (an initial payload of `__typename` only) goes at once.
    execution.deliver(false);
    match deadline {
        None => execution.walk(&prepared.plan).await,
        Some(deadline) => {
            // Past the deadline the walk is dropped: fetches still in flight are cancelled,
            // and what has been merged so far is answered, with an error for the rest.
            if tokio::time::timeout(deadline.remaining, execution.walk(&prepared.plan))
                .await
                .is_err()
            {
                let ms = deadline.configured.as_millis();
                execution.error(GraphqlError::new(
                    Code::RequestDeadlineExceeded,
                    format!(
                        "the request's deadline of {ms} ms passed; fields not fetched by then are null"
                    ),
                ));
            }
        }
    }
    execution.deliver(true);
    Outcome {
        data: execution
            .data
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner()),
        errors: execution
            .errors
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner()),
        fetches: execution.fetches.load(Ordering::Relaxed),
        cache: *lock(&execution.cache),
        invalidate: std::mem::take(&mut *lock(&execution.invalidate)),
    }
}

impl<'a> Execution<'a> {
    /// Runs the plan; for a query delivered in parts, twice: first only the fetches of the
    /// initial payload (and what they depend on), which then goes out, then the others, so a
    /// slow deferred fetch never holds up the initial payload behind a step of the plan.
    async fn walk(&self, plan: &QueryPlan) {
        let Some(node) = &plan.node else {
            return;
        };
        self.run(node).await;
        if let Some(gates) = &self.gates {
            {
                let mut state = lock(&gates.state);
                state.pending[0] = 0;
            }
            self.deliver(false);
            gates.deferred_phase.store(true, Ordering::Relaxed);
            self.run(node).await;
        }
    }

    /// Whether the fetch `id` runs in this pass of the walk (always, unless in parts).
    fn in_phase(&self, id: i64) -> bool {
        let Some(gates) = &self.gates else {
            return true;
        };
        let initial = gates.feeds.get(&id).copied().unwrap_or(1) & 1 != 0;
        initial != gates.deferred_phase.load(Ordering::Relaxed)
    }

    fn run<'s>(&'s self, node: &'s PlanNode) -> BoxFuture<'s, ()> {
        Box::pin(async move {
            match node {
                PlanNode::Fetch(fetch) => {
                    if self.in_phase(fetch.id) {
                        self.fetch_root(fetch).await;
                        self.done(fetch.id);
                    }
                }
                PlanNode::BatchFetch(batch) => {
                    if self.in_phase(batch.id) {
                        self.fetch_batch(batch).await;
                        self.done(batch.id);
                    }
                }
                PlanNode::Flatten(flatten) => match flatten.node.as_ref() {
                    PlanNode::Fetch(fetch) => {
                        if self.in_phase(fetch.id) {
                            self.fetch_entities(flatten.path.as_slice(), fetch).await;
                            self.done(fetch.id);
                        }
                    }
                    other => self.run(other).await,
                },
                PlanNode::Sequence(sequence) => {
                    for node in &sequence.nodes {
                        self.run(node).await;
                    }
                }
                PlanNode::Parallel(parallel) => {
                    join_all(parallel.nodes.iter().map(|node| self.run(node))).await;
                }
                PlanNode::Condition(condition) => {
                    let holds = self
                        .variables
                        .get(&condition.condition)
                        .and_then(serde_json::Value::as_bool)
                        .unwrap_or(false);
                    let (branch, other) = if holds {
                        (
                            condition.if_clause.as_deref(),
                            condition.else_clause.as_deref(),
                        )
                    } else {
                        (
                            condition.else_clause.as_deref(),
                            condition.if_clause.as_deref(),
                        )
                    };
                    if self.gates.is_some()
                        && let Some(other) = other
                    {
                        // The fetches of the branch not taken are never waited for.
                        each_fetch(other, &mut |id| {
                            if self.in_phase(id) {
                                self.done(id);
                            }
                        });
                    }
                    if let Some(branch) = branch {
                        self.run(branch).await;
                    }
                }
                PlanNode::Defer(defer) => {
                    if let Some(node) = &defer.primary.node {
                        self.run(node).await;
                    }
                }
                PlanNode::Subscription(_) if self.event => {}
                PlanNode::Subscription(_) => {
                    self.error(GraphqlError::new(
                        Code::OperationNotSupported,
                        "a subscription is served as an event stream (text/event-stream or a WebSocket), not as one response",
                    ));
                }
            }
        })
    }

    /// Marks one fetch of a deferred query done and delivers the parts it completed.
    fn done(&self, id: i64) {
        let Some(gates) = &self.gates else {
            return;
        };
        let mask = gates.feeds.get(&id).copied().unwrap_or(1);
        {
            let mut state = lock(&gates.state);
            for (part, count) in state.pending.iter_mut().enumerate() {
                if mask & (1 << part) != 0 {
                    *count = count.saturating_sub(1);
                }
            }
        }
        self.deliver(false);
    }

    /// Hands the parts that are ready (with `all`, every part not yet delivered) to the
    /// caller, with the data as merged so far.
    fn deliver(&self, all: bool) {
        let Some(gates) = &self.gates else {
            return;
        };
        let ready = lock(&gates.state).take_ready(all);
        if ready.is_empty() {
            return;
        }
        let data = lock(&self.data);
        let errors = lock(&self.errors);
        for (part, last) in ready {
            (gates.on_part)(part, &data, &errors, last);
        }
    }

    fn error(&self, error: GraphqlError) {
        lock(&self.errors).push(error);
    }

    fn errors(&self, errors: impl IntoIterator<Item = GraphqlError>) {
        lock(&self.errors).extend(errors);
    }

    /// The shared part of the cache keys of one fetch: the subgraph, what it asks, the values
    /// of the variables it uses and the headers it is sent with.
    fn cache_keys(
        &self,
        cache: EntityCache<'_>,
        service: &str,
        asked: &str,
        usages: Option<&std::collections::BTreeSet<String>>,
    ) -> crate::cache::key::EntityKeys {
        let used = usages
            .into_iter()
            .flatten()
            .filter_map(|name| Some((name.as_str(), self.variables.get(name)?)));
        crate::cache::key::EntityKeys::new(service, asked, used, cache.forwarded)
    }

    /// A cached answer read back, its remaining life folded into the response's hint.
    fn cached_value(&self, entry: &crate::cache::Entry, now_ms: u64) -> Option<Value> {
        if let Some(left) = entry.time_left(now_ms) {
            lock(&self.cache).limit(u32::try_from(left.as_secs()).unwrap_or(u32::MAX));
        }
        serde_json::from_slice::<Value>(&entry.body).ok()
    }

    fn count_fetch(&self) {
        self.fetches.fetch_add(1, Ordering::Relaxed);
    }
}

/// Adds the cache tags of `object`, of type `type_name`, to `tags` when the type is an entity:
/// the type, and the entity by its key fields (`Type:42`), or the type's wildcard when they are
/// not in the object.
pub fn tag_object(
    supergraph: &Supergraph,
    object: &value::Object,
    type_name: &str,
    tags: &mut rustc_hash::FxHashSet<Tag>,
) {
    let Some(key) = supergraph.entity_key(type_name) else {
        return;
    };
    if !tags.contains(type_name) {
        tags.insert(Tag::from(type_name));
    }
    tags.insert(match key_text(object, key) {
        Some(text) => entity_tag(type_name, &text),
        None => wildcard_tag(type_name),
    });
}

/// An entity's key as tag text: a single scalar key field as its plain value (`42`), else the
/// key fields as a JSON object in key order; `None` when a key field is missing or null.
fn key_text(object: &value::Object, key: &[Box<str>]) -> Option<String> {
    if let [field] = key {
        match object.get(field)? {
            Value::String(s) => return Some(s.to_string()),
            Value::Number(n) => return Some(n.to_string()),
            Value::Null => return None,
            _ => {}
        }
    }
    let mut out = Vec::with_capacity(32);
    out.push(b'{');
    for (i, field) in key.iter().enumerate() {
        let value = object.get(field).filter(|v| !v.is_null())?;
        if i > 0 {
            out.push(b',');
        }
        value::write_str(&mut out, field);
        out.push(b':');
        value.write_json(&mut out);
    }
    out.push(b'}');
    String::from_utf8(out).ok()
}

/// Locks a per-request mutex; a poisoned one (a panic elsewhere in this request) still
/// holds consistent JSON, so it is used as is.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
