//! `@join__type` as Apollo emits it: one per subgraph defining the type (one per key for
//! entities), on root types and unions too, `extension: true` for keys declared on type
//! extensions, and the `@interfaceObject` entries composition drops.

use graphql_tools::parser::schema::{Definition, Field, TypeDefinition};

use super::join_field::{is_join_field_with_graph, join_field_for};
use super::{
    Context, Directive, Document, Value, bool_arg, directive, graph_arg, is_spec_type,
    join_type_graphs, set_arg, string_arg, type_directives_mut, type_name,
};
use crate::facts::{Key, Kind};
use crate::fieldset;

/// One `@join__type` the subgraph facts call for.
struct Wanted {
    key: Option<Key>,
    interface_object: bool,
}

/// Adds and completes `@join__type`s on every type of the supergraph.
pub(super) fn apply(document: &mut Document, context: &Context<'_>) {
    let query_root = document
        .definitions
        .iter()
        .find_map(|d| match d {
            Definition::SchemaDefinition(s) => s.query.clone(),
            _ => None,
        })
        .unwrap_or_else(|| "Query".to_owned());
    for definition in &mut document.definitions {
        let Definition::TypeDefinition(definition) = definition else {
            continue;
        };
        let name = type_name(definition).to_owned();
        if is_spec_type(&name) {
            continue;
        }
        let original_graphs = join_type_graphs(type_directives_mut(definition));
        for graph in &context.graphs {
            let facts = graph.facts.types.get(&name);
            // Every subgraph has a query root for `_entities` and `_service`, so Apollo joins
            // the supergraph's `Query` to all of them, fields or not.
            if facts.is_none() && name != query_root {
                continue;
            }
            let wanted = wanted_join_types(facts);
            for wanted in wanted {
                let added = ensure(type_directives_mut(definition), &graph.value, &wanted);
                if added && !original_graphs.contains(&graph.value) {
                    let defined =
                        |field: &str| facts.and_then(|t| t.field(field)).map(|f| f.external);
                    join_new_graph(definition, &original_graphs, &graph.value, defined);
                }
            }
        }
    }
}

/// The `@join__type`s one subgraph's declaration of a type calls for.
fn wanted_join_types(facts: Option<&crate::facts::TypeFacts>) -> Vec<Wanted> {
    let Some(facts) = facts else {
        return vec![Wanted {
            key: None,
            interface_object: false,
        }];
    };
    let keyed = matches!(facts.kind, Kind::Object | Kind::Interface) && !facts.keys.is_empty();
    if !keyed {
        return vec![Wanted {
            key: None,
            interface_object: facts.interface_object,
        }];
    }
    facts
        .keys
        .iter()
        .map(|key| Wanted {
            key: Some(key.clone()),
            interface_object: facts.interface_object,
        })
        .collect()
}

/// Makes sure the wanted `@join__type` is there, completing an existing one; true when added.
fn ensure(directives: &mut Vec<Directive>, graph: &str, wanted: &Wanted) -> bool {
    let wanted_key = wanted.key.as_ref().map(|k| k.fields.as_str());
    let existing = directives.iter_mut().find(|d| {
        d.name == "join__type"
            && graph_arg(d) == Some(graph)
            && string_arg(d, "key").map(fieldset::canonical).as_deref() == wanted_key
    });
    if let Some(d) = existing {
        complete(d, wanted);
        return false;
    }
    let unkeyed_present = wanted_key.is_none()
        && directives
            .iter()
            .any(|d| d.name == "join__type" && graph_arg(d) == Some(graph));
    if unkeyed_present {
        return false;
    }
    let mut d = directive("join__type", vec![("graph", Value::Enum(graph.to_owned()))]);
    if let Some(key) = &wanted.key {
        set_arg(&mut d, "key", Value::String(key.fields.clone()));
    }
    complete(&mut d, wanted);
    directives.push(d);
    true
}

fn complete(d: &mut Directive, wanted: &Wanted) {
    if let Some(key) = &wanted.key {
        if key.extension && bool_arg(d, "extension") != Some(true) {
            set_arg(d, "extension", Value::Boolean(true));
        }
        if !key.resolvable {
            set_arg(d, "resolvable", Value::Boolean(false));
        }
    }
    if wanted.interface_object && bool_arg(d, "isInterfaceObject") != Some(true) {
        set_arg(d, "isInterfaceObject", Value::Boolean(true));
    }
}

/// A type just joined to one more subgraph: a field without `@join__field` meant "resolved by
/// every subgraph of the type", so list the earlier subgraphs before that meaning changes, and
/// join the fields the new subgraph declares (`external` given by `defined`).
fn join_new_graph(
    definition: &mut TypeDefinition<'static, String>,
    original_graphs: &[String],
    graph: &str,
    defined: impl Fn(&str) -> Option<bool>,
) {
    let fields: &mut Vec<Field<'static, String>> = match definition {
        TypeDefinition::Object(t) => &mut t.fields,
        TypeDefinition::Interface(t) => &mut t.fields,
        _ => return,
    };
    for field in fields {
        let joined = field.directives.iter().any(is_join_field_with_graph);
        if !joined && !original_graphs.is_empty() {
            for g in original_graphs {
                field.directives.push(join_field_for(g));
            }
        }
        let has_graph = field
            .directives
            .iter()
            .any(|d| d.name == "join__field" && graph_arg(d) == Some(graph));
        // With neither `@join__field`s nor earlier subgraphs, the field means "every subgraph"
        // and needs nothing.
        let listed = joined || !original_graphs.is_empty();
        if let (Some(external), false, true) = (defined(&field.name), has_graph, listed) {
            let mut d = join_field_for(graph);
            if external {
                set_arg(&mut d, "external", Value::Boolean(true));
            }
            field.directives.push(d);
        }
    }
}
