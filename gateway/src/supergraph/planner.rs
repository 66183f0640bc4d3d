//! The one file that names the query-planner crate: a narrow `supergraph + operation → plan`
//! surface, so the planner can be replaced without touching the rest of the engine.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use graphql_tools::static_graphql::query;
use graphql_tools::static_graphql::schema::{Definition, Document, TypeDefinition};
use hive_router_query_planner::ast::normalization::error::NormalizationError;
use hive_router_query_planner::ast::normalization::normalize_operation;
use hive_router_query_planner::graph::PlannerOverrideContext;
use hive_router_query_planner::planner::{Planner as Inner, PlannerError, QueryPlannerOptions};
use hive_router_query_planner::utils::cancellation::CancellationToken;
use hive_router_query_planner::utils::parsing::{
    safe_parse_operation_with_token_limit, safe_parse_schema,
};

use super::SupergraphError;

pub use hive_router_query_planner::ast::operation::{
    OperationDefinition as Operation, VariableDefinition,
};
pub use hive_router_query_planner::ast::selection_item::SelectionItem;
pub use hive_router_query_planner::ast::selection_set::{
    FieldSelection, InlineFragmentSelection, SelectionSet,
};
pub use hive_router_query_planner::ast::value::Value as AstValue;
pub use hive_router_query_planner::planner::plan_nodes::{
    BatchFetchNode, ConditionNode, DeferNode, DeferPrimary, DeferredNode, FetchNode,
    FetchNodePathSegment, FetchRewrite, FlattenNode, FlattenNodePathSegment, KeyRenamer, PlanNode,
    QueryPlan, ValueSetter,
};
pub use hive_router_query_planner::state::supergraph_state::{OperationKind, TypeNode};

/// Why an operation could not be planned.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The operation named by the request is not in the document, or the choice is ambiguous.
    #[error("{0}")]
    OperationSelection(String),
    /// The operation does not fit the supergraph.
    #[error("{0}")]
    Normalization(String),
    /// The planner found no way to resolve the operation.
    #[error("the operation cannot be planned: {0}")]
    Planning(String),
    /// The planner gave up after its time budget.
    #[error("planning took too long")]
    Timeout,
    /// The planner failed unexpectedly; the request gets an internal error, the process lives.
    #[error("the planner failed unexpectedly")]
    Crashed,
}

/// The planner built for one supergraph.
pub struct Planner {
    inner: Inner,
    entity_keys: HashMap<String, Box<[Box<str>]>>,
    access: super::access::Access,
}

/// How long planning one operation may take before it is abandoned.
const PLAN_BUDGET: std::time::Duration = std::time::Duration::from_secs(5);

impl Planner {
    /// Parses the supergraph SDL and builds the planner's graph.
    pub fn new(sdl: &str) -> Result<Planner, SupergraphError> {
        let document = safe_parse_schema(sdl).map_err(|e| SupergraphError::Parse(e.to_string()))?;
        let has_query = document.definitions.iter().any(|d| {
            matches!(d, Definition::TypeDefinition(TypeDefinition::Object(o)) if o.name == "Query")
                || matches!(d, Definition::SchemaDefinition(s) if s.query.is_some())
        });
        if !has_query {
            return Err(SupergraphError::Invalid("it has no query type".to_owned()));
        }
        let built = catch_unwind(AssertUnwindSafe(|| {
            Inner::new_from_supergraph(&document, QueryPlannerOptions::default())
        }));
        let entity_keys = entity_keys(&document);
        let access = super::access::Access::read(&document);
        match built {
            Ok(Ok(inner)) => Ok(Planner {
                inner,
                entity_keys,
                access,
            }),
            Ok(Err(err)) => Err(SupergraphError::Invalid(err.to_string())),
            Err(_) => Err(SupergraphError::Invalid(
                "the planner could not read it".to_owned(),
            )),
        }
    }

    /// The API schema document derived by the planner (join/link removed, inaccessible pruned,
    /// introspection types added).
    pub fn api_document(&self) -> Arc<Document> {
        self.inner.consumer_schema.document.clone()
    }

    /// The top-level fields of each entity type's first resolvable key (`@join__type(key:)`),
    /// by type name: what identifies an entity in cache tags.
    pub fn entity_keys(&self) -> &HashMap<String, Box<[Box<str>]>> {
        &self.entity_keys
    }

    /// The access rules (`@authenticated`, `@requiresScopes`, `@policy`) the supergraph applies.
    pub fn access(&self) -> &super::access::Access {
        &self.access
    }

    /// Subgraph name → URL, as declared by `join__Graph`.
    pub fn subgraph_endpoints(&self) -> HashMap<String, String> {
        self.inner.supergraph.subgraph_endpoint_map.clone()
    }

    /// Picks the operation named `operation_name` and normalizes it (fragments inlined,
    /// fields deduplicated) for planning and for shaping the response.
    pub fn normalize(
        &self,
        document: &query::Document,
        operation_name: Option<&str>,
    ) -> Result<Operation, PlanError> {
        let normalized = catch_unwind(AssertUnwindSafe(|| {
            normalize_operation(&self.inner.supergraph, document, operation_name)
        }))
        .map_err(|_| PlanError::Crashed)?;
        match normalized {
            Ok(doc) => Ok(doc.operation),
            Err(
                err @ (NormalizationError::SpecifiedOperationNotFound { .. }
                | NormalizationError::MultipleMatchingOperationsFound
                | NormalizationError::OperationNotFound),
            ) => Err(PlanError::OperationSelection(err.to_string())),
            Err(err) => Err(PlanError::Normalization(err.to_string())),
        }
    }

    /// Plans a normalized operation.
    pub fn plan(&self, operation: &Operation) -> Result<QueryPlan, PlanError> {
        let cancel = CancellationToken::with_timeout(PLAN_BUDGET);
        let planned = catch_unwind(AssertUnwindSafe(|| {
            self.inner.plan_from_normalized_operation(
                operation,
                PlannerOverrideContext::default(),
                &cancel,
            )
        }))
        .map_err(|_| PlanError::Crashed)?;
        planned.map_err(|err| match err {
            PlannerError::CancellationError(_) => PlanError::Timeout,
            other => PlanError::Planning(other.to_string()),
        })
    }
}

impl Planner {
    /// Plans an operation after setting aside its root introspection fields (`__schema`,
    /// `__type`), which the engine answers itself from the API schema.
    pub fn plan_without_introspection(
        &self,
        operation: &Operation,
    ) -> Result<QueryPlan, PlanError> {
        let is_introspection = |item: &SelectionItem| matches!(item, SelectionItem::Field(f) if f.name == "__schema" || f.name == "__type");
        if !operation.selection_set.items.iter().any(is_introspection) {
            return self.plan(operation);
        }
        let mut rest = operation.clone();
        rest.selection_set
            .items
            .retain(|item| !is_introspection(item));
        let only_typename = rest
            .selection_set
            .items
            .iter()
            .all(|item| matches!(item, SelectionItem::Field(f) if f.name == "__typename"));
        if only_typename {
            return Ok(QueryPlan {
                kind: "QueryPlan",
                node: None,
            });
        }
        self.plan(&rest)
    }
}

/// Parses an operation document, refusing documents of more than `token_limit` tokens.
pub fn parse_operation(text: &str, token_limit: usize) -> Result<query::Document, String> {
    safe_parse_operation_with_token_limit(text, token_limit).map_err(|e| e.to_string())
}

/// The top-level fields of the first `@join__type(key: "...")` of every object and interface
/// type: `"id"` gives `["id"]`, `"sku upc { code }"` gives `["sku", "upc"]`.
fn entity_keys(document: &Document) -> HashMap<String, Box<[Box<str>]>> {
    use graphql_tools::static_graphql::schema::{Directive, Value};
    let first_key = |directives: &[Directive]| {
        directives
            .iter()
            .filter(|d| d.name == "join__type")
            .filter(|d| {
                !d.arguments
                    .iter()
                    .any(|(name, value)| name == "resolvable" && *value == Value::Boolean(false))
            })
            .find_map(|d| {
                d.arguments.iter().find_map(|(name, value)| match value {
                    Value::String(key) if name == "key" => Some(top_level_fields(key)),
                    _ => None,
                })
            })
            .filter(|fields| !fields.is_empty())
    };
    let mut out = HashMap::new();
    for definition in &document.definitions {
        let (name, directives) = match definition {
            Definition::TypeDefinition(TypeDefinition::Object(o)) => (&o.name, &o.directives),
            Definition::TypeDefinition(TypeDefinition::Interface(i)) => (&i.name, &i.directives),
            _ => continue,
        };
        if let Some(fields) = first_key(directives) {
            out.insert(name.clone(), fields);
        }
    }
    out
}

/// The field names at depth 0 of a field set, in order, without their sub-selections.
fn top_level_fields(field_set: &str) -> Box<[Box<str>]> {
    let mut fields = Vec::new();
    let mut depth = 0usize;
    let mut word = String::new();
    let flush = |word: &mut String, depth: usize, fields: &mut Vec<Box<str>>| {
        if depth == 0 && !word.is_empty() {
            fields.push(std::mem::take(word).into_boxed_str());
        }
        word.clear();
    };
    for c in field_set.chars() {
        match c {
            '{' => {
                flush(&mut word, depth, &mut fields);
                depth += 1;
            }
            '}' => {
                flush(&mut word, depth, &mut fields);
                depth = depth.saturating_sub(1);
            }
            c if c.is_alphanumeric() || c == '_' => word.push(c),
            _ => flush(&mut word, depth, &mut fields),
        }
    }
    flush(&mut word, depth, &mut fields);
    fields.into_boxed_slice()
}

#[cfg(test)]
mod tests {
    use super::top_level_fields;

    #[test]
    fn key_field_sets_give_their_top_level_fields() {
        let names = |set: &str| -> Vec<String> {
            top_level_fields(set)
                .iter()
                .map(|f| f.to_string())
                .collect()
        };
        assert_eq!(names("id"), ["id"]);
        assert_eq!(names("sku  upc { code kind }"), ["sku", "upc"]);
        assert_eq!(names("a { b { c } } d"), ["a", "d"]);
        assert!(names("").is_empty());
    }
}
