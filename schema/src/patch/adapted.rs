//! Removes from the composed supergraph what `adapt`'s edits of the subgraph SDLs put there:
//! the value-type keys and their field, the `@join__enumValue`s of enum values a subgraph was
//! given, and the joins of unions and interfaces a subgraph was made to declare (with the
//! `@join__implements` of its objects). Everything removed is checked against the facts of the
//! original SDL, so a join a subgraph calls for stays.

use graphql_tools::parser::schema::{Definition, TypeDefinition};

use super::{Context, Directive, graph_arg, string_arg};
use crate::adapt::VALUE_TYPE_KEY;
use crate::facts::Kind;

/// Removes the traces described above.
pub(super) fn apply(document: &mut super::Document, context: &Context<'_>) {
    for definition in &mut document.definitions {
        let Definition::TypeDefinition(definition) = definition else {
            continue;
        };
        match definition {
            TypeDefinition::Object(t) => {
                // Unless a subgraph really has a field of that name, it is `adapt`'s.
                let adapted = !context.graphs.iter().any(|g| {
                    g.facts
                        .types
                        .get(&t.name)
                        .is_some_and(|ty| ty.field(VALUE_TYPE_KEY).is_some())
                });
                t.directives.retain(|d| {
                    !(adapted && is_value_type_key(d))
                        && (d.name != "join__implements"
                            || string_arg(d, "interface")
                                .is_none_or(|interface| declares(context, d, interface, |_| true)))
                });
                if adapted {
                    t.fields.retain(|f| f.name != VALUE_TYPE_KEY);
                }
            }
            TypeDefinition::Interface(t) => {
                let name = t.name.clone();
                let declared = |d: &Directive| declares(context, d, &name, |_| true);
                t.directives
                    .retain(|d| !matches!(d.name.as_str(), "join__type") || declared(d));
                for field in &mut t.fields {
                    field
                        .directives
                        .retain(|d| d.name != "join__field" || declared(d));
                }
            }
            TypeDefinition::Enum(t) => {
                let name = t.name.clone();
                for value in &mut t.values {
                    value.directives.retain(|d| {
                        d.name != "join__enumValue"
                            || declares(context, d, &name, |ty| ty.field(&value.name).is_some())
                    });
                }
            }
            TypeDefinition::Union(t) => {
                let name = t.name.clone();
                t.directives.retain(|d| {
                    !matches!(d.name.as_str(), "join__unionMember" | "join__type")
                        || declares(context, d, &name, |ty| ty.kind == Kind::Union)
                });
            }
            _ => {}
        }
    }
}

/// A `@join__type` whose key is [`VALUE_TYPE_KEY`].
fn is_value_type_key(d: &Directive) -> bool {
    d.name == "join__type" && string_arg(d, "key") == Some(VALUE_TYPE_KEY)
}

/// Whether the subgraph a join directive names declares the type as `declared` requires;
/// directives naming no known subgraph are kept.
fn declares(
    context: &Context<'_>,
    d: &Directive,
    type_name: &str,
    declared: impl Fn(&crate::facts::TypeFacts) -> bool,
) -> bool {
    let Some(graph) = graph_arg(d) else {
        return true;
    };
    match context.graphs.iter().find(|g| g.value == graph) {
        Some(g) => g.facts.types.get(type_name).is_some_and(declared),
        None => true,
    }
}
