//! Demand control: an operation's cost estimated from the schema before any subgraph request
//! (IBM's cost model, as `@cost` and `@listSize` describe it), and the same measure taken on
//! the answer once it is in, with the list sizes that actually came back.
//!
//! A field costs, per item it returns, its weight (its own `@cost`, else its type's, else 1
//! for an object, interface or union and 0 for a leaf) plus the cost of its selection; a list
//! multiplies that by its size: the value of a slicing argument when one is passed
//! (`@listSize(slicingArguments:)`, else the configured page-size arguments), else
//! `@listSize(assumedSize:)`, else the configured default. A mutation's root fields add
//! `mutation_weight` each. `[demand_control] field_costs` and `list_sizes` set or override
//! weights and sizes per `Type.field` where the supergraph has no directives.

use graphql_tools::static_graphql::schema::{Directive, Field, Type, Value as SchemaValue};
use serde_json::{Map, Value};

use crate::config::DemandControlConfig;
use crate::error::{Code, GraphqlError};
use crate::supergraph::api::{ApiSchema, TypeKind, named_type};
use crate::supergraph::planner::{AstValue, FieldSelection, SelectionItem, SelectionSet};

/// How fields are weighed, from the configuration and the schema's directives.
#[derive(Debug, Clone)]
pub struct CostModel {
    config: DemandControlConfig,
    page_arguments: Vec<String>,
}

impl CostModel {
    /// The model `config` describes; `page_arguments` are slicing arguments on every list.
    pub fn new(config: &DemandControlConfig, page_arguments: &[String]) -> CostModel {
        CostModel {
            config: config.clone(),
            page_arguments: page_arguments.to_vec(),
        }
    }

    /// Whether demand control is on at all.
    pub fn enabled(&self) -> bool {
        self.config.enabled
    }

    /// The estimated cost of a normalized operation rooted at `root`.
    pub fn estimate(
        &self,
        api: &ApiSchema,
        root: &str,
        set: &SelectionSet,
        variables: &Map<String, Value>,
        mutation: bool,
    ) -> u64 {
        let mut cost = self.set_cost(api, root, set, variables, &mut |_, _| None);
        if mutation {
            let roots = set
                .items
                .iter()
                .filter(|item| matches!(item, SelectionItem::Field(f) if !f.name.starts_with("__")))
                .count() as u64;
            cost = cost.saturating_add(roots.saturating_mul(self.config.mutation_weight));
        }
        cost
    }

    /// The refusal of an estimate over the maximum, when it is enforced.
    pub fn check(&self, estimated: u64) -> Result<(), GraphqlError> {
        match self.config.max_cost {
            Some(max) if estimated > max && !self.config.measure_only => Err(GraphqlError::new(
                Code::CostEstimatedTooExpensive,
                format!("the operation's estimated cost is {estimated}; at most {max} is allowed"),
            )
            .with_extension("estimatedCost", Value::from(estimated))
            .with_extension("maxCost", Value::from(max))),
            _ => Ok(()),
        }
    }

    /// The maximum, when one is set.
    pub fn max(&self) -> Option<u64> {
        self.config.max_cost
    }

    /// The cost of `set` on `parent`; `size_of(coordinate-free field, key)` gives a list's
    /// actual length when it is known (the measured cost), else the estimate applies.
    fn set_cost(
        &self,
        api: &ApiSchema,
        parent: &str,
        set: &SelectionSet,
        variables: &Map<String, Value>,
        size_of: &mut dyn FnMut(&FieldSelection, &str) -> Option<u64>,
    ) -> u64 {
        let mut total: u64 = 0;
        for item in &set.items {
            let cost = match item {
                SelectionItem::Field(field) => {
                    self.field_cost(api, parent, field, variables, size_of)
                }
                SelectionItem::InlineFragment(fragment) => self.set_cost(
                    api,
                    &fragment.type_condition,
                    &fragment.selections,
                    variables,
                    size_of,
                ),
                SelectionItem::FragmentSpread(_) => 0,
            };
            total = total.saturating_add(cost);
        }
        total
    }

    fn field_cost(
        &self,
        api: &ApiSchema,
        parent: &str,
        field: &FieldSelection,
        variables: &Map<String, Value>,
        size_of: &mut dyn FnMut(&FieldSelection, &str) -> Option<u64>,
    ) -> u64 {
        if field.name.starts_with("__") {
            return 0;
        }
        let Some(definition) = api.field(parent, &field.name) else {
            return 0;
        };
        let returns = named_type(&definition.field_type);
        let coordinate = format!("{parent}.{}", field.name);
        let composite = matches!(
            api.type_kind(returns),
            Some(TypeKind::Object | TypeKind::Interface | TypeKind::Union)
        );
        let weight = self
            .config
            .field_costs
            .get(&coordinate)
            .copied()
            .or_else(|| directive_int(&definition.directives, "cost", "weight"))
            .or_else(|| self.config.field_costs.get(returns).copied())
            .unwrap_or(u64::from(composite));
        let child = if field.selections.items.is_empty() {
            0
        } else {
            self.set_cost(api, returns, &field.selections, variables, size_of)
        };
        let per_item = weight.saturating_add(child);
        if !is_list(&definition.field_type) {
            return per_item;
        }
        let size = size_of(field, &coordinate)
            .unwrap_or_else(|| self.list_size(definition, field, &coordinate, variables));
        size.saturating_mul(per_item)
    }

    /// A list's size as estimated: a slicing argument's value, else the assumed size.
    fn list_size(
        &self,
        definition: &Field,
        field: &FieldSelection,
        coordinate: &str,
        variables: &Map<String, Value>,
    ) -> u64 {
        let list_size = definition.directives.iter().find(|d| d.name == "listSize");
        let mut slicing: Vec<String> = list_size
            .and_then(|d| d.arguments.iter().find(|(n, _)| n == "slicingArguments"))
            .map(|(_, value)| match value {
                SchemaValue::List(items) => items
                    .iter()
                    .filter_map(|item| match item {
                        SchemaValue::String(s) => Some(s.clone()),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            })
            .unwrap_or_default();
        slicing.extend(self.page_arguments.iter().cloned());
        let passed = field.arguments.as_ref().and_then(|arguments| {
            slicing
                .iter()
                .find_map(|name| match arguments.get_argument(name)? {
                    AstValue::Int(n) => u64::try_from(*n).ok(),
                    AstValue::Variable(variable) => variables.get(variable)?.as_u64(),
                    _ => None,
                })
        });
        let slicing_default = definition.arguments.iter().find_map(|argument| {
            if !slicing.contains(&argument.name) {
                return None;
            }
            match &argument.default_value {
                Some(SchemaValue::Int(n)) => n.as_i64().and_then(|n| u64::try_from(n).ok()),
                _ => None,
            }
        });
        passed
            .or(slicing_default)
            .or_else(|| self.config.list_sizes.get(coordinate).copied())
            .or_else(|| list_size.and_then(|d| directive_int_of(d, "assumedSize")))
            .unwrap_or(self.config.list_size)
    }

    /// The cost of the answer as it came back: the estimate's weights with each list's
    /// actual length, `lengths` giving the longest list found under each response key (an
    /// upper bound that needs no walk per list item).
    pub fn measure(
        &self,
        api: &ApiSchema,
        root: &str,
        set: &SelectionSet,
        variables: &Map<String, Value>,
        lengths: &std::collections::HashMap<String, u64>,
    ) -> u64 {
        self.set_cost(api, root, set, variables, &mut |field, _| {
            let key = field.alias.as_deref().unwrap_or(&field.name);
            Some(lengths.get(key).copied().unwrap_or(0))
        })
    }
}

fn is_list(ty: &Type) -> bool {
    match ty {
        Type::NonNullType(inner) => is_list(inner),
        Type::ListType(_) => true,
        Type::NamedType(_) => false,
    }
}

fn directive_int(directives: &[Directive], name: &str, argument: &str) -> Option<u64> {
    directives
        .iter()
        .find(|d| d.name == name)
        .and_then(|d| directive_int_of(d, argument))
}

fn directive_int_of(directive: &Directive, argument: &str) -> Option<u64> {
    directive
        .arguments
        .iter()
        .find(|(n, _)| n == argument)
        .and_then(|(_, value)| match value {
            SchemaValue::Int(n) => n.as_i64().and_then(|n| u64::try_from(n).ok()),
            SchemaValue::String(s) => s.parse().ok(),
            _ => None,
        })
}
