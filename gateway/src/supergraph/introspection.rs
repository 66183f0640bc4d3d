//! Answering `__schema` and `__type` from the API schema: the client's introspection
//! selection is resolved into a value, which the response writer then writes like data.

use graphql_tools::static_graphql::schema::{
    Definition, DirectiveDefinition, Field, InputValue, Type, TypeDefinition,
};
use serde_json::{Map, Value};

use super::Supergraph;
use super::api::{ApiSchema, type_name};
use super::planner::{AstValue, FieldSelection, SelectionItem, SelectionSet};

/// An object of the introspection schema.
#[derive(Clone, Copy)]
enum Node<'s> {
    Schema,
    Type(&'s Type),
    Named(&'s str),
    Field(&'s Field),
    InputValue(&'s InputValue),
    EnumValue(&'s graphql_tools::static_graphql::schema::EnumValue),
    Directive(&'s DirectiveDefinition),
}

/// Most introspection objects one field may produce: nested selections such as
/// `fields { type { fields { type ... } } }` multiply, and each level is cheap to ask for.
const NODE_BUDGET: usize = 100_000;

impl Supergraph {
    /// Resolves a root `__schema` or `__type(name:)` field against the API schema; refuses
    /// selections that would produce more than a fixed number of objects.
    pub fn introspect(
        &self,
        field: &FieldSelection,
        variables: &Map<String, Value>,
    ) -> Result<Value, String> {
        let api = self.api();
        let resolver = Resolver {
            api,
            variables,
            budget: std::cell::Cell::new(NODE_BUDGET),
        };
        let value = match field.name.as_str() {
            "__schema" => resolver.object(Node::Schema, &field.selections),
            "__type" => match resolver.string_arg(field, "name") {
                Some(name) if api.type_def(&name).is_some() => {
                    let name = api.type_def(&name).map(type_name).unwrap_or_default();
                    resolver.object(Node::Named(name), &field.selections)
                }
                _ => Value::Null,
            },
            _ => Value::Null,
        };
        if resolver.budget.get() == 0 {
            return Err(format!(
                "the introspection query selects more than {NODE_BUDGET} objects"
            ));
        }
        Ok(value)
    }
}

struct Resolver<'s> {
    api: &'s ApiSchema,
    variables: &'s Map<String, Value>,
    /// Objects still allowed; at zero every further object resolves to null.
    budget: std::cell::Cell<usize>,
}

impl<'s> Resolver<'s> {
    fn object(&self, node: Node<'s>, selection: &SelectionSet) -> Value {
        let left = self.budget.get();
        if left == 0 {
            return Value::Null;
        }
        self.budget.set(left - 1);
        let mut out = Map::new();
        self.fill(node, selection, &mut out);
        Value::Object(out)
    }

    fn fill(&self, node: Node<'s>, selection: &SelectionSet, out: &mut Map<String, Value>) {
        for item in &selection.items {
            match item {
                SelectionItem::Field(field) => {
                    let key = field.alias.clone().unwrap_or_else(|| field.name.clone());
                    let value = self.field(node, field);
                    out.insert(key, value);
                }
                SelectionItem::InlineFragment(fragment) => {
                    self.fill(node, &fragment.selections, out)
                }
                SelectionItem::FragmentSpread(_) => {}
            }
        }
    }

    fn list<I: IntoIterator<Item = Node<'s>>>(&self, nodes: I, selection: &SelectionSet) -> Value {
        Value::Array(
            nodes
                .into_iter()
                .map(|n| self.object(n, selection))
                .collect(),
        )
    }

    fn field(&self, node: Node<'s>, field: &FieldSelection) -> Value {
        let name = field.name.as_str();
        let sel = &field.selections;
        if name == "__typename" {
            return Value::String(node_typename(node).to_owned());
        }
        match node {
            Node::Schema => match name {
                "types" => self.list(self.api.type_defs().map(|t| Node::Named(type_name(t))), sel),
                "queryType" => self.object(Node::Named(self.api.query_type()), sel),
                "mutationType" => self
                    .api
                    .mutation_type()
                    .map_or(Value::Null, |t| self.object(Node::Named(t), sel)),
                "subscriptionType" => self
                    .api
                    .subscription_type()
                    .map_or(Value::Null, |t| self.object(Node::Named(t), sel)),
                "directives" => self.list(
                    self.api
                        .document()
                        .definitions
                        .iter()
                        .filter_map(|d| match d {
                            Definition::DirectiveDefinition(d) => Some(Node::Directive(d)),
                            _ => None,
                        }),
                    sel,
                ),
                _ => Value::Null,
            },
            Node::Type(Type::NamedType(type_name)) => self.field(Node::Named(type_name), field),
            Node::Type(wrapper @ (Type::ListType(inner) | Type::NonNullType(inner))) => {
                match name {
                    "kind" => Value::String(
                        if matches!(wrapper, Type::ListType(_)) {
                            "LIST"
                        } else {
                            "NON_NULL"
                        }
                        .into(),
                    ),
                    "ofType" => self.object(Node::Type(inner), sel),
                    _ => Value::Null,
                }
            }
            Node::Named(type_name) => self.type_field(type_name, field),
            Node::Field(def) => match name {
                "name" => Value::String(def.name.clone()),
                "description" => opt_string(&def.description),
                "args" => self.list(def.arguments.iter().map(Node::InputValue), sel),
                "type" => self.object(Node::Type(&def.field_type), sel),
                "isDeprecated" => Value::Bool(deprecation(&def.directives).is_some()),
                "deprecationReason" => {
                    deprecation(&def.directives).map_or(Value::Null, Value::String)
                }
                _ => Value::Null,
            },
            Node::InputValue(def) => match name {
                "name" => Value::String(def.name.clone()),
                "description" => opt_string(&def.description),
                "type" => self.object(Node::Type(&def.value_type), sel),
                "defaultValue" => def
                    .default_value
                    .as_ref()
                    .map_or(Value::Null, |v| Value::String(v.to_string())),
                "isDeprecated" => Value::Bool(deprecation(&def.directives).is_some()),
                "deprecationReason" => {
                    deprecation(&def.directives).map_or(Value::Null, Value::String)
                }
                _ => Value::Null,
            },
            Node::EnumValue(def) => match name {
                "name" => Value::String(def.name.clone()),
                "description" => opt_string(&def.description),
                "isDeprecated" => Value::Bool(deprecation(&def.directives).is_some()),
                "deprecationReason" => {
                    deprecation(&def.directives).map_or(Value::Null, Value::String)
                }
                _ => Value::Null,
            },
            Node::Directive(def) => match name {
                "name" => Value::String(def.name.clone()),
                "description" => opt_string(&def.description),
                "locations" => Value::Array(
                    def.locations
                        .iter()
                        .map(|l| Value::String(l.as_str().to_owned()))
                        .collect(),
                ),
                "args" => self.list(def.arguments.iter().map(Node::InputValue), sel),
                "isRepeatable" => Value::Bool(def.repeatable),
                _ => Value::Null,
            },
        }
    }

    fn type_field(&self, name: &'s str, field: &FieldSelection) -> Value {
        let Some(def) = self.api.type_def(name) else {
            return Value::Null;
        };
        let sel = &field.selections;
        let include_deprecated = self.bool_arg(field, "includeDeprecated");
        let visible = |directives: &[graphql_tools::static_graphql::schema::Directive]| {
            include_deprecated || deprecation(directives).is_none()
        };
        match field.name.as_str() {
            "kind" => Value::String(
                match def {
                    TypeDefinition::Scalar(_) => "SCALAR",
                    TypeDefinition::Object(_) => "OBJECT",
                    TypeDefinition::Interface(_) => "INTERFACE",
                    TypeDefinition::Union(_) => "UNION",
                    TypeDefinition::Enum(_) => "ENUM",
                    TypeDefinition::InputObject(_) => "INPUT_OBJECT",
                }
                .into(),
            ),
            "name" => Value::String(name.to_owned()),
            "description" => opt_string(match def {
                TypeDefinition::Scalar(t) => &t.description,
                TypeDefinition::Object(t) => &t.description,
                TypeDefinition::Interface(t) => &t.description,
                TypeDefinition::Union(t) => &t.description,
                TypeDefinition::Enum(t) => &t.description,
                TypeDefinition::InputObject(t) => &t.description,
            }),
            "fields" => {
                let fields = match def {
                    TypeDefinition::Object(t) => &t.fields,
                    TypeDefinition::Interface(t) => &t.fields,
                    _ => return Value::Null,
                };
                self.list(
                    fields
                        .iter()
                        .filter(|f| !f.name.starts_with("__") && visible(&f.directives))
                        .map(Node::Field),
                    sel,
                )
            }
            "interfaces" => match def {
                TypeDefinition::Object(t) => {
                    self.list(t.implements_interfaces.iter().map(|i| Node::Named(i)), sel)
                }
                TypeDefinition::Interface(t) => {
                    self.list(t.implements_interfaces.iter().map(|i| Node::Named(i)), sel)
                }
                _ => Value::Null,
            },
            "possibleTypes" => match def {
                TypeDefinition::Interface(_) | TypeDefinition::Union(_) => self.list(
                    self.api.possible_types(name).into_iter().map(Node::Named),
                    sel,
                ),
                _ => Value::Null,
            },
            "enumValues" => match def {
                TypeDefinition::Enum(t) => self.list(
                    t.values
                        .iter()
                        .filter(|v| visible(&v.directives))
                        .map(Node::EnumValue),
                    sel,
                ),
                _ => Value::Null,
            },
            "inputFields" => match def {
                TypeDefinition::InputObject(t) => self.list(
                    t.fields
                        .iter()
                        .filter(|v| visible(&v.directives))
                        .map(Node::InputValue),
                    sel,
                ),
                _ => Value::Null,
            },
            "specifiedByURL" | "specifiedByUrl" => Value::Null,
            "isOneOf" => Value::Bool(false),
            _ => Value::Null,
        }
    }

    fn arg(&self, field: &FieldSelection, name: &str) -> Option<Value> {
        let value = field.arguments.as_ref()?.get_argument(name)?;
        Some(match value {
            AstValue::Variable(var) => self.variables.get(var).cloned().unwrap_or(Value::Null),
            AstValue::String(s) => Value::String(s.clone()),
            AstValue::Boolean(b) => Value::Bool(*b),
            _ => Value::Null,
        })
    }

    fn string_arg(&self, field: &FieldSelection, name: &str) -> Option<String> {
        self.arg(field, name)?.as_str().map(str::to_owned)
    }

    fn bool_arg(&self, field: &FieldSelection, name: &str) -> bool {
        self.arg(field, name)
            .and_then(|v| v.as_bool())
            .unwrap_or(false)
    }
}

fn node_typename(node: Node<'_>) -> &'static str {
    match node {
        Node::Schema => "__Schema",
        Node::Type(_) | Node::Named(_) => "__Type",
        Node::Field(_) => "__Field",
        Node::InputValue(_) => "__InputValue",
        Node::EnumValue(_) => "__EnumValue",
        Node::Directive(_) => "__Directive",
    }
}

fn opt_string(text: &Option<String>) -> Value {
    text.as_ref()
        .map_or(Value::Null, |t| Value::String(t.clone()))
}

/// The deprecation reason, when `@deprecated` is present.
fn deprecation(directives: &[graphql_tools::static_graphql::schema::Directive]) -> Option<String> {
    let directive = directives.iter().find(|d| d.name == "deprecated")?;
    let reason = directive
        .arguments
        .iter()
        .find(|(name, _)| name == "reason")
        .and_then(|(_, value)| match value {
            graphql_tools::static_graphql::schema::Value::String(s) => Some(s.clone()),
            _ => None,
        });
    Some(reason.unwrap_or_else(|| "No longer supported".to_owned()))
}
