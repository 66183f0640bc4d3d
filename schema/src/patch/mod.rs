//! Post-processing of `graphql-composition`'s supergraph into what Apollo's composer emits and
//! what the query planner needs. Each step reads the composed document (parsed with
//! `graphql-tools`, the parser the planner reads supergraphs with) and the subgraph facts, and
//! edits the document in place:
//!
//! 0. [`adapted`]: what `adapt`'s edits of the subgraph SDLs left in the output, removed.
//! 1. [`join_field`]: `external: true` where a subgraph's field is `@external` (composition
//!    drops it on key fields), `override:` naming no subgraph removed, `type:` on every
//!    `@join__field` of a field whose type differs between subgraphs, as each subgraph declares
//!    it.
//! 2. [`join_type`]: a `@join__type` for every subgraph defining a type (root types, unions and
//!    `@interfaceObject` entities included), `extension: true` on keys of type extensions.
//! 3. [`spec`]: the `@link`s, the join spec's directive definitions as Apollo declares them
//!    (`repeatable`), the `link__` types, definitions of the security and tag specs in use.
//! 4. [`order`]: a stable order: types by name, fields in subgraph declaration order, directive
//!    arguments in the order the join spec declares them; redundant `@join__field`s dropped.

mod adapted;
mod join_field;
mod join_type;
mod order;
mod spec;

use graphql_tools::parser::schema::{self, Definition, TypeDefinition};

use crate::facts::SubgraphFacts;

/// The supergraph as the planner parses it.
pub(crate) type Document = schema::Document<'static, String>;
pub(crate) type Directive = schema::Directive<'static, String>;
pub(crate) type Value = schema::Value<'static, String>;

/// One subgraph as the supergraph names it: its `join__Graph` value and what its SDL says.
pub(crate) struct Graph<'a> {
    /// The `join__Graph` enum value (`ACCOUNTS`).
    pub(crate) value: String,
    pub(crate) facts: &'a SubgraphFacts,
}

/// The subgraphs of a composition, in `join__Graph` order.
pub(crate) struct Context<'a> {
    pub(crate) graphs: Vec<Graph<'a>>,
}

impl<'a> Context<'a> {
    /// Pairs each `join__Graph` value of the document with the facts of its subgraph.
    fn new(document: &Document, subgraphs: &'a [SubgraphFacts]) -> Self {
        let mut graphs = Vec::new();
        for definition in &document.definitions {
            let Definition::TypeDefinition(TypeDefinition::Enum(e)) = definition else {
                continue;
            };
            if e.name != "join__Graph" {
                continue;
            }
            for value in &e.values {
                let name = value
                    .directives
                    .iter()
                    .find(|d| d.name == "join__graph")
                    .and_then(|d| string_arg(d, "name"));
                if let Some(facts) = name.and_then(|n| subgraphs.iter().find(|s| s.name == n)) {
                    graphs.push(Graph {
                        value: value.name.clone(),
                        facts,
                    });
                }
            }
        }
        graphs.sort_by(|a, b| a.value.cmp(&b.value));
        Context { graphs }
    }

    /// The position of a `join__Graph` value, for ordering directives.
    fn rank(&self, value: &str) -> usize {
        self.graphs
            .iter()
            .position(|g| g.value == value)
            .unwrap_or(usize::MAX)
    }

    /// Whether a subgraph of this name takes part.
    fn has_subgraph(&self, name: &str) -> bool {
        self.graphs.iter().any(|g| g.facts.name == name)
    }
}

/// Runs every patch, in order, over a composed supergraph.
pub(crate) fn apply(document: &mut Document, subgraphs: &[SubgraphFacts]) {
    let context = Context::new(document, subgraphs);
    adapted::apply(document, &context);
    join_field::apply(document, &context);
    join_type::apply(document, &context);
    spec::apply(document);
    order::apply(document, &context);
}

/// Links and defines the specs whose directives the document applies (after a contract added
/// `@inaccessible`s), then restores the definitions' order.
pub(crate) fn link_specs(document: &mut Document) {
    spec::apply(document);
    order::sort_definitions(document);
}

/// Schema first, then directive definitions by name, then types by name ignoring case.
pub(crate) fn sort_definitions(document: &mut Document) {
    order::sort_definitions(document);
}

/// The value of a directive argument.
pub(crate) fn arg<'d>(directive: &'d Directive, name: &str) -> Option<&'d Value> {
    directive
        .arguments
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
}

fn string_arg<'d>(directive: &'d Directive, name: &str) -> Option<&'d str> {
    match arg(directive, name) {
        Some(Value::String(s)) => Some(s),
        _ => None,
    }
}

fn bool_arg(directive: &Directive, name: &str) -> Option<bool> {
    match arg(directive, name) {
        Some(Value::Boolean(b)) => Some(*b),
        _ => None,
    }
}

/// The `graph:` of a join directive.
fn graph_arg(directive: &Directive) -> Option<&str> {
    match arg(directive, "graph") {
        Some(Value::Enum(e)) => Some(e),
        _ => None,
    }
}

/// Sets an argument, replacing any earlier value.
fn set_arg(directive: &mut Directive, name: &str, value: Value) {
    match directive.arguments.iter_mut().find(|(n, _)| n == name) {
        Some(slot) => slot.1 = value,
        None => directive.arguments.push((name.to_owned(), value)),
    }
}

fn remove_arg(directive: &mut Directive, name: &str) {
    directive.arguments.retain(|(n, _)| n != name);
}

/// A new directive application.
pub(crate) fn directive(name: &str, arguments: Vec<(&str, Value)>) -> Directive {
    Directive {
        position: Default::default(),
        name: name.to_owned(),
        arguments: arguments
            .into_iter()
            .map(|(n, v)| (n.to_owned(), v))
            .collect(),
    }
}

/// A type definition's name.
pub(crate) fn type_name<'d>(definition: &'d TypeDefinition<'static, String>) -> &'d str {
    match definition {
        TypeDefinition::Scalar(t) => &t.name,
        TypeDefinition::Object(t) => &t.name,
        TypeDefinition::Interface(t) => &t.name,
        TypeDefinition::Union(t) => &t.name,
        TypeDefinition::Enum(t) => &t.name,
        TypeDefinition::InputObject(t) => &t.name,
    }
}

/// A type definition's directives.
pub(crate) fn type_directives<'d>(
    definition: &'d TypeDefinition<'static, String>,
) -> &'d [Directive] {
    match definition {
        TypeDefinition::Scalar(t) => &t.directives,
        TypeDefinition::Object(t) => &t.directives,
        TypeDefinition::Interface(t) => &t.directives,
        TypeDefinition::Union(t) => &t.directives,
        TypeDefinition::Enum(t) => &t.directives,
        TypeDefinition::InputObject(t) => &t.directives,
    }
}

/// A type definition's directives, to edit.
pub(crate) fn type_directives_mut<'d>(
    definition: &'d mut TypeDefinition<'static, String>,
) -> &'d mut Vec<Directive> {
    match definition {
        TypeDefinition::Scalar(t) => &mut t.directives,
        TypeDefinition::Object(t) => &mut t.directives,
        TypeDefinition::Interface(t) => &mut t.directives,
        TypeDefinition::Union(t) => &mut t.directives,
        TypeDefinition::Enum(t) => &mut t.directives,
        TypeDefinition::InputObject(t) => &mut t.directives,
    }
}

/// Whether a type belongs to the link or join spec rather than to the subgraphs.
pub(crate) fn is_spec_type(name: &str) -> bool {
    name.starts_with("join__") || name.starts_with("link__")
}

/// The distinct `graph:` values of a type's `@join__type`s, in order of appearance.
fn join_type_graphs(directives: &[Directive]) -> Vec<String> {
    let mut graphs: Vec<String> = Vec::new();
    for d in directives.iter().filter(|d| d.name == "join__type") {
        if let Some(g) = graph_arg(d)
            && !graphs.iter().any(|known| known == g)
        {
            graphs.push(g.to_owned());
        }
    }
    graphs
}
