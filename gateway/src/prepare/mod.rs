//! Preparing an operation: parse with limits, validate against the API schema, pick the
//! operation, normalize and plan. The result is cached by document hash, operation name and
//! supergraph version, so a repeated operation costs one cache lookup. Per request, the
//! client's variables are then coerced against the prepared operation (`variables.rs`) and
//! its page-size arguments checked (`page_size`).
//!
//! Directive-based authorization (`authorization.rs`) then checks the caller against the
//! operation's guarded fields: when it denies some, the operation is pruned and planned again
//! (cached per set of denials) and the denied fields answer null with an error.

pub mod analysis;
pub mod authorization;
pub mod cost;
pub mod defer;
pub mod limits;
pub mod variables;

use std::sync::Arc;

use graphql_tools::static_graphql::query::{self, Definition, OperationDefinition, SelectionSet};
use graphql_tools::validation::rules::default_rules_validation_plan;
use graphql_tools::validation::utils::ValidationError;
use graphql_tools::validation::validate::{ValidationPlan, validate};

use serde_json::{Map, Value};

use crate::config::{CacheConfig, Config, Limits};
use crate::error::{Code, GraphqlError, Location};
use crate::request::OperationType;
use crate::supergraph::Supergraph;
use crate::supergraph::planner::{AstValue, Operation, PlanError, QueryPlan};
pub use limits::LimitError;

/// An operation ready to execute: its normalized form (the client's selection, used to shape
/// the response) and its plan.
pub struct Prepared {
    /// Query, mutation or subscription.
    pub operation_type: OperationType,
    /// The selected operation with fragments inlined.
    pub operation: Operation,
    /// The client's variable definitions, for coercion.
    pub variables: Vec<query::VariableDefinition>,
    /// The plan.
    pub plan: QueryPlan,
    /// The operation's name, if it has one.
    pub name: Option<String>,
    /// Cache hint, page-size arguments and deprecated fields.
    pub analysis: analysis::Analysis,
    /// What it is cached under (supergraph version, document, operation name): equal for two
    /// requests of the same operation even when each prepared it, cold, at the same time.
    pub key: u64,
    /// The size of the last response written for it, so the next one's buffer is allocated
    /// once at about the right size instead of doubling its way there.
    pub response_size: std::sync::atomic::AtomicUsize,
    /// The field selections an access rule covers (empty when the supergraph has none).
    pub guards: Vec<authorization::Guard>,
    /// What the caller was denied, when this is a pruned copy made for a caller.
    pub denied: Denied,
    /// How a query that defers fragments is delivered in parts (`@defer`); none otherwise.
    pub defer: Option<defer::DeferPlan>,
}

/// The fields of a prepared operation its caller may not read.
#[derive(Debug, Default)]
pub struct Denied {
    /// The addresses of the denied selections in `Prepared::operation`: the response writer
    /// answers null for them. Stable, since a prepared operation is never changed.
    pub fields: rustc_hash::FxHashSet<usize>,
    /// One `UNAUTHORIZED_FIELD_OR_TYPE` error per denied field.
    pub errors: Vec<GraphqlError>,
}

/// Why an operation could not be prepared; each variant has a stable `extensions.code`.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    /// Not parseable GraphQL (or over the token limit).
    #[error("{0}")]
    Parse(String),
    /// Broke a shape limit.
    #[error(transparent)]
    Limit(#[from] LimitError),
    /// Failed validation; one message per rule broken, with locations.
    #[error("the operation is not valid")]
    Validation(Vec<ValidationError>),
    /// The document has no operation.
    #[error("the document contains no operation")]
    NoOperation,
    /// The requested operation name is not in the document.
    #[error("unknown operation named \"{0}\"")]
    UnknownOperation(String),
    /// Several operations and no name to choose one.
    #[error("an operation name is required when the document contains several operations")]
    AmbiguousOperation,
    /// A field named like a meta-field that is none (`__schem`), which validation lets pass.
    #[error(
        "Cannot query field \"{0}\": the only meta-fields are __typename, and __schema and __type on the query root"
    )]
    UnknownMetaField(String),
    /// `__schema` or `__type` where introspection is turned off.
    #[error("introspection is turned off on this endpoint")]
    IntrospectionDisabled,
    /// A subscription, `@defer` or `@stream`, which this engine does not serve.
    #[error("{0}")]
    Unsupported(&'static str),
    /// The planner could not plan it.
    #[error(transparent)]
    Plan(#[from] PlanError),
}

impl PrepareError {
    /// The stable `extensions.code`.
    pub fn code(&self) -> Code {
        match self {
            PrepareError::Parse(_) => Code::GraphqlParseFailed,
            PrepareError::Limit(limit) => limit.code(),
            PrepareError::Validation(_)
            | PrepareError::UnknownMetaField(_)
            | PrepareError::NoOperation
            | PrepareError::AmbiguousOperation => Code::GraphqlValidationFailed,
            PrepareError::UnknownOperation(_) => Code::GraphqlUnknownOperationName,
            PrepareError::IntrospectionDisabled => Code::IntrospectionDisabled,
            PrepareError::Unsupported(_) => Code::OperationNotSupported,
            PrepareError::Plan(PlanError::OperationSelection(_)) => {
                Code::GraphqlUnknownOperationName
            }
            PrepareError::Plan(PlanError::Normalization(_)) => Code::GraphqlValidationFailed,
            PrepareError::Plan(PlanError::Crashed) => Code::InternalServerError,
            PrepareError::Plan(_) => Code::QueryPlanningFailed,
        }
    }

    /// The errors the client gets: one per broken validation rule (with locations), or one.
    pub fn into_errors(self) -> Vec<GraphqlError> {
        let code = self.code();
        match self {
            PrepareError::Validation(errors) => errors
                .into_iter()
                .map(|e| {
                    let locations = e
                        .locations
                        .iter()
                        .map(|l| Location {
                            line: l.line,
                            column: l.column,
                        })
                        .collect();
                    GraphqlError::new(code, e.message).with_locations(locations)
                })
                .collect(),
            other => vec![GraphqlError::new(code, other.to_string())],
        }
    }
}

/// Prepares operations and remembers the results.
pub struct Preparer {
    rules: Arc<Rules>,
    policies: authorization::Policies,
    cache: moka::sync::Cache<u64, Arc<Prepared>>,
    /// Planning is CPU work of up to seconds: it runs on blocking threads, at most one per
    /// core at a time, so hostile documents cannot starve the request workers.
    permits: Arc<tokio::sync::Semaphore>,
}

/// What preparing needs besides the supergraph, shared with the blocking threads.
struct Rules {
    limits: Limits,
    /// Whether `__schema` and `__type` are answered.
    introspection: bool,
    hints: CacheConfig,
    page_arguments: Vec<String>,
    validation: ValidationPlan,
}

impl Preparer {
    /// A preparer enforcing the configured limits and caching prepared operations.
    pub fn new(config: &Config) -> Preparer {
        let capacity = config.limits.plan_cache_size;
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Preparer {
            rules: Arc::new(Rules {
                limits: config.limits.clone(),
                introspection: config.server.introspection,
                hints: config.cache.clone(),
                page_arguments: config.limits.page_size_arguments.clone(),
                validation: default_rules_validation_plan(),
            }),
            policies: authorization::Policies::new(&config.authorization),
            cache: moka::sync::Cache::builder().max_capacity(capacity).build(),
            permits: Arc::new(tokio::sync::Semaphore::new(cores)),
        }
    }

    /// Prepares `document`'s operation `operation_name` against `supergraph`.
    pub async fn prepare(
        &self,
        supergraph: Arc<Supergraph>,
        document: &str,
        operation_name: Option<&str>,
    ) -> Result<Arc<Prepared>, PrepareError> {
        let key = cache_key(supergraph.version(), document, operation_name);
        let rules = self.rules.clone();
        let text = document.to_owned();
        let name = operation_name.map(str::to_owned);
        self.once(key, move || {
            rules.prepare_uncached(&supergraph, &text, name.as_deref())
        })
        .await
    }

    /// The prepared operation cached under `key`, else the one `build` makes on a blocking
    /// thread, cached. A burst of one new operation waits for a permit behind its first
    /// request: once that one has built it, the others find it cached instead of building it
    /// again.
    async fn once(
        &self,
        key: u64,
        build: impl FnOnce() -> Result<Prepared, PrepareError> + Send + 'static,
    ) -> Result<Arc<Prepared>, PrepareError> {
        if let Some(hit) = self.cache.get(&key) {
            return Ok(hit);
        }
        let crashed = || PrepareError::Plan(PlanError::Crashed);
        let _permit = self.permits.acquire().await.map_err(|_| crashed())?;
        if let Some(hit) = self.cache.get(&key) {
            return Ok(hit);
        }
        let built = tokio::task::spawn_blocking(build)
            .await
            .map_err(|_| crashed())??;
        let built = Arc::new(built);
        self.cache.insert(key, built.clone());
        Ok(built)
    }

    /// The operation as `claims` may run it: `prepared` itself when the caller passes every
    /// guard, else a copy planned without the denied fields (cached per set of denials) that
    /// answers them null with an error each.
    pub async fn authorize(
        &self,
        supergraph: Arc<Supergraph>,
        prepared: Arc<Prepared>,
        claims: Option<&crate::request::Claims>,
    ) -> Result<Arc<Prepared>, PrepareError> {
        if prepared.guards.is_empty() {
            return Ok(prepared);
        }
        let denied = self.policies.denied(&prepared.guards, claims);
        if denied.is_empty() {
            return Ok(prepared);
        }
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        hasher.update(&prepared.key.to_le_bytes());
        hasher.update(b"denied");
        for index in &denied {
            hasher.update(&index.to_le_bytes());
        }
        let key = hasher.digest();
        self.once(key, move || {
            let operation = authorization::prune(&prepared.operation, &prepared.guards, &denied);
            let plan = if operation.selection_set.items.is_empty() {
                // Every root field is denied: nothing is fetched at all.
                QueryPlan {
                    kind: "QueryPlan",
                    node: None,
                }
            } else {
                supergraph
                    .planner()
                    .plan_without_introspection(&operation)?
            };
            let mut copy = Prepared {
                operation_type: prepared.operation_type,
                operation: prepared.operation.clone(),
                variables: prepared.variables.clone(),
                plan,
                name: prepared.name.clone(),
                analysis: prepared.analysis.clone(),
                key,
                response_size: std::sync::atomic::AtomicUsize::new(0),
                guards: Vec::new(),
                denied: Denied::default(),
                // A pruned copy answers in one response: its deferred parts would have to be
                // pruned alike, and a caller denied fields is rare enough not to.
                defer: None,
            };
            copy.denied = Denied {
                fields: authorization::denied_fields(&copy.operation, &prepared.guards, &denied)
                    .into_iter()
                    .collect(),
                errors: authorization::errors(&prepared.guards, &denied),
            };
            Ok(copy)
        })
        .await
    }

    /// How many prepared operations are cached (for metrics and tests).
    pub fn cached(&self) -> u64 {
        self.cache.run_pending_tasks();
        self.cache.entry_count()
    }
}

impl Rules {
    fn prepare_uncached(
        &self,
        supergraph: &Supergraph,
        text: &str,
        operation_name: Option<&str>,
    ) -> Result<Prepared, PrepareError> {
        limits::check_nesting(text, self.limits.max_nesting)?;
        let document = crate::supergraph::planner::parse_operation(text, self.limits.max_tokens)
            .map_err(PrepareError::Parse)?;
        let selected = select_operation(&document, operation_name)?;
        let (name, _) = operation_parts(selected);
        limits::check(&document, name, &self.limits)?;
        if uses_stream(&document) {
            return Err(PrepareError::Unsupported(
                "@stream is not served; @defer is, over multipart/mixed and text/event-stream",
            ));
        }
        let errors = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            validate(supergraph.api().document(), &document, &self.validation)
        }))
        .map_err(|_| PrepareError::Plan(PlanError::Crashed))?;
        if !errors.is_empty() {
            return Err(PrepareError::Validation(errors));
        }
        if let Some(field) = unknown_meta_field(&document, supergraph.api().query_type()) {
            return Err(PrepareError::UnknownMetaField(field));
        }
        let (operation_type, variables) = kind_and_variables(selected);
        let operation = supergraph.planner().normalize(&document, name)?;
        if !self.introspection && introspects(&operation.selection_set) {
            return Err(PrepareError::IntrospectionDisabled);
        }
        let plan = supergraph
            .planner()
            .plan_without_introspection(&operation)?;
        let (plan, defer) = if operation_type == OperationType::Query
            && defer::defers(&document, selected)
        {
            let split = defer::split(supergraph, &document, selected, name, plan.node.as_ref())?;
            match split {
                Some(split) => (defer::defer_node(plan, &split), Some(split)),
                None => (plan, None),
            }
        } else {
            (plan, None)
        };
        let api = supergraph.api();
        let root = api.root_type(operation_type);
        let analysis = analysis::analyse(
            api,
            root,
            &operation.selection_set,
            &self.hints,
            &self.page_arguments,
        );
        let guards =
            authorization::guards(api, supergraph.access(), root, &operation.selection_set);
        Ok(Prepared {
            guards,
            denied: Denied::default(),
            defer,
            key: cache_key(supergraph.version(), text, operation_name),
            operation_type,
            operation,
            variables,
            plan,
            name: name.map(str::to_owned),
            analysis,
            response_size: std::sync::atomic::AtomicUsize::new(0),
        })
    }
}

fn cache_key(version: u64, document: &str, operation_name: Option<&str>) -> u64 {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    hasher.update(&version.to_le_bytes());
    hasher.update(document.as_bytes());
    hasher.update(&[0xff]);
    hasher.update(operation_name.unwrap_or("").as_bytes());
    hasher.digest()
}

/// An operation's kind and its variable definitions.
fn kind_and_variables(
    operation: &OperationDefinition,
) -> (OperationType, Vec<query::VariableDefinition>) {
    match operation {
        OperationDefinition::SelectionSet(_) => (OperationType::Query, Vec::new()),
        OperationDefinition::Query(q) => (OperationType::Query, q.variable_definitions.clone()),
        OperationDefinition::Mutation(m) => {
            (OperationType::Mutation, m.variable_definitions.clone())
        }
        OperationDefinition::Subscription(s) => {
            (OperationType::Subscription, s.variable_definitions.clone())
        }
    }
}

/// The first field named `__…` that is not a meta-field where it stands: `__typename`
/// anywhere, `__schema` and `__type` on the query root only.
fn unknown_meta_field(document: &query::Document, query_type: &str) -> Option<String> {
    fn walk(set: &SelectionSet, root: bool) -> Option<String> {
        set.items.iter().find_map(|selection| match selection {
            query::Selection::Field(field) => {
                let name = field.name.as_str();
                let meta =
                    name == "__typename" || (root && (name == "__schema" || name == "__type"));
                if name.starts_with("__") && !meta {
                    return Some(name.to_owned());
                }
                walk(&field.selection_set, false)
            }
            query::Selection::InlineFragment(fragment) => walk(&fragment.selection_set, root),
            query::Selection::FragmentSpread(_) => None,
        })
    }
    document
        .definitions
        .iter()
        .find_map(|definition| match definition {
            Definition::Operation(operation) => {
                let root = matches!(
                    operation,
                    OperationDefinition::Query(_) | OperationDefinition::SelectionSet(_)
                );
                walk(operation_parts(operation).1, root)
            }
            Definition::Fragment(fragment) => {
                let query::TypeCondition::On(on) = &fragment.type_condition;
                walk(&fragment.selection_set, on == query_type)
            }
        })
}

/// Whether a normalized operation's root selection asks for `__schema` or `__type`
/// (`__typename` is not introspection of the schema and always answers).
fn introspects(set: &crate::supergraph::planner::SelectionSet) -> bool {
    use crate::supergraph::planner::SelectionItem;
    set.items.iter().any(|item| match item {
        SelectionItem::Field(field) => field.name == "__schema" || field.name == "__type",
        SelectionItem::InlineFragment(fragment) => introspects(&fragment.selections),
        SelectionItem::FragmentSpread(_) => false,
    })
}

/// Whether any selection of the document carries `@stream`.
fn uses_stream(document: &query::Document) -> bool {
    fn marked(directives: &[query::Directive]) -> bool {
        directives.iter().any(|d| d.name == "stream")
    }
    fn walk(set: &SelectionSet) -> bool {
        set.items.iter().any(|selection| match selection {
            query::Selection::Field(field) => {
                marked(&field.directives) || walk(&field.selection_set)
            }
            query::Selection::InlineFragment(fragment) => {
                marked(&fragment.directives) || walk(&fragment.selection_set)
            }
            query::Selection::FragmentSpread(spread) => marked(&spread.directives),
        })
    }
    document
        .definitions
        .iter()
        .any(|definition| match definition {
            Definition::Operation(operation) => walk(operation_parts(operation).1),
            Definition::Fragment(fragment) => walk(&fragment.selection_set),
        })
}

/// Picks the operation to run: by name, or the only one.
fn select_operation<'d>(
    document: &'d query::Document,
    operation_name: Option<&str>,
) -> Result<&'d OperationDefinition, PrepareError> {
    let mut operations = document.definitions.iter().filter_map(|d| match d {
        Definition::Operation(op) => Some(op),
        Definition::Fragment(_) => None,
    });
    match operation_name {
        Some(wanted) => operations
            .find(|op| operation_parts(op).0 == Some(wanted))
            .ok_or_else(|| PrepareError::UnknownOperation(wanted.to_owned())),
        None => {
            let first = operations.next().ok_or(PrepareError::NoOperation)?;
            if operations.next().is_some() {
                return Err(PrepareError::AmbiguousOperation);
            }
            Ok(first)
        }
    }
}

/// The name and top-level selection set of an operation definition.
pub(crate) fn operation_parts(operation: &OperationDefinition) -> (Option<&str>, &SelectionSet) {
    match operation {
        OperationDefinition::SelectionSet(set) => (None, set),
        OperationDefinition::Query(q) => (q.name.as_deref(), &q.selection_set),
        OperationDefinition::Mutation(m) => (m.name.as_deref(), &m.selection_set),
        OperationDefinition::Subscription(s) => (s.name.as_deref(), &s.selection_set),
    }
}

/// Refuses a page-size argument above `max` (refused rather than clamped, so a client never
/// mistakes a short page for the end of a list).
pub fn check_page_sizes(
    prepared: &Prepared,
    variables: &Map<String, Value>,
    max: Option<i64>,
) -> Result<(), GraphqlError> {
    let Some(max) = max else {
        return Ok(());
    };
    for (field, argument, value) in &prepared.analysis.page_arguments {
        let size = match value {
            AstValue::Int(n) => Some(*n),
            AstValue::Variable(name) => variables.get(name).and_then(Value::as_i64),
            _ => None,
        };
        if let Some(size) = size
            && size > max
        {
            return Err(GraphqlError::new(
                Code::BadUserInput,
                format!("`{argument}` on `{field}` may be at most {max} on this API, got {size}"),
            ));
        }
    }
    Ok(())
}
