//! `@join__field` as Apollo emits it: `external: true` on every `@external` field (composition
//! drops it on key fields, which makes the planner think the subgraph resolves them), no
//! `override:` naming a subgraph that is not composed, `type:` on all or none.

use graphql_tools::parser::schema::{Definition, TypeDefinition};

use super::{
    Context, Directive, Document, Value, bool_arg, directive, graph_arg, join_type_graphs,
    remove_arg, set_arg, string_arg,
};

/// Patches the `@join__field`s of every object, interface and input object field.
pub(super) fn apply(document: &mut Document, context: &Context<'_>) {
    for definition in &mut document.definitions {
        let Definition::TypeDefinition(definition) = definition else {
            continue;
        };
        match definition {
            TypeDefinition::Object(t) => {
                let graphs = join_type_graphs(&t.directives);
                for field in &mut t.fields {
                    patch_output_field(
                        context,
                        &t.name,
                        &field.name,
                        &graphs,
                        &mut field.directives,
                    );
                }
            }
            TypeDefinition::Interface(t) => {
                let graphs = join_type_graphs(&t.directives);
                for field in &mut t.fields {
                    patch_output_field(
                        context,
                        &t.name,
                        &field.name,
                        &graphs,
                        &mut field.directives,
                    );
                }
            }
            TypeDefinition::InputObject(t) => {
                let graphs = join_type_graphs(&t.directives);
                for field in &mut t.fields {
                    spread_types(
                        context,
                        &t.name,
                        &field.name,
                        &graphs,
                        &mut field.directives,
                    );
                }
            }
            _ => {}
        }
    }
}

fn patch_output_field(
    context: &Context<'_>,
    type_name: &str,
    field_name: &str,
    type_graphs: &[String],
    directives: &mut Vec<Directive>,
) {
    drop_unknown_overrides(context, directives);
    keep_used_overridden(context, type_name, field_name, directives);
    restore_externals(context, type_name, field_name, type_graphs, directives);
    spread_types(context, type_name, field_name, type_graphs, directives);
}

/// Apollo ignores `@override(from:)` naming a subgraph that is not part of the composition.
fn drop_unknown_overrides(context: &Context<'_>, directives: &mut [Directive]) {
    for d in directives.iter_mut().filter(|d| d.name == "join__field") {
        if string_arg(d, "override").is_some_and(|from| !context.has_subgraph(from)) {
            remove_arg(d, "override");
        }
    }
}

/// Apollo keeps `@join__field(graph: FROM, usedOverridden: true)` for the subgraph a field is
/// overridden from when that subgraph still needs the field (in a key, a `@requires`, ...).
fn keep_used_overridden(
    context: &Context<'_>,
    type_name: &str,
    field_name: &str,
    directives: &mut Vec<Directive>,
) {
    let sources: Vec<String> = directives
        .iter()
        .filter(|d| d.name == "join__field")
        .filter_map(|d| string_arg(d, "override").map(str::to_owned))
        .collect();
    for from in sources {
        let Some(graph) = context.graphs.iter().find(|g| g.facts.name == from) else {
            continue;
        };
        let declared = graph
            .facts
            .types
            .get(type_name)
            .and_then(|t| t.field(field_name));
        let needed =
            declared.is_some_and(|f| !f.external) && graph.facts.uses(type_name, field_name);
        let present = directives
            .iter()
            .any(|d| d.name == "join__field" && graph_arg(d) == Some(graph.value.as_str()));
        if needed && !present {
            let mut d = join_field_for(&graph.value);
            set_arg(&mut d, "usedOverridden", Value::Boolean(true));
            directives.push(d);
        }
    }
}

/// Makes `external: true` match the subgraphs' `@external`s.
fn restore_externals(
    context: &Context<'_>,
    type_name: &str,
    field_name: &str,
    type_graphs: &[String],
    directives: &mut Vec<Directive>,
) {
    let wanted: Vec<(&str, bool)> = context
        .graphs
        .iter()
        .filter_map(|g| {
            let field = g.facts.types.get(type_name)?.field(field_name)?;
            Some((g.value.as_str(), field.external))
        })
        .collect();
    let joined = directives.iter().any(is_join_field_with_graph);
    let current = |graph: &str| -> Option<bool> {
        directives
            .iter()
            .find(|d| d.name == "join__field" && graph_arg(d) == Some(graph))
            .map(|d| bool_arg(d, "external") == Some(true))
    };
    let differs = wanted
        .iter()
        .any(|&(graph, external)| match current(graph) {
            Some(is_external) => is_external != external,
            None => external,
        });
    if !differs {
        return;
    }
    if !joined {
        // No `@join__field` means "resolved by every subgraph of the type"; spell that out
        // before one of them becomes external.
        for graph in type_graphs {
            directives.push(join_field_for(graph));
        }
    }
    for (graph, external) in wanted {
        match directives
            .iter_mut()
            .find(|d| d.name == "join__field" && graph_arg(d) == Some(graph))
        {
            Some(d) if external => set_arg(d, "external", Value::Boolean(true)),
            Some(d) => remove_arg(d, "external"),
            None if external => {
                let mut d = join_field_for(graph);
                set_arg(&mut d, "external", Value::Boolean(true));
                directives.push(d);
            }
            None => {}
        }
    }
}

/// When subgraphs disagree on a field's type, Apollo writes `type:` on every `@join__field`,
/// each the type its subgraph declares (which composition may not have seen: see
/// `adapt::field_type`).
fn spread_types(
    context: &Context<'_>,
    type_name: &str,
    field_name: &str,
    type_graphs: &[String],
    directives: &mut Vec<Directive>,
) {
    let declared = |graph: &str| -> Option<String> {
        context
            .graphs
            .iter()
            .find(|g| g.value == graph)
            .and_then(|g| g.facts.types.get(type_name)?.field(field_name))
            .map(|field| field.ty.clone())
    };
    let joined: Vec<String> = directives
        .iter()
        .filter(|d| d.name == "join__field")
        .filter_map(|d| graph_arg(d).map(str::to_owned))
        .collect();
    // No `@join__field` means every subgraph of the type.
    let graphs: Vec<String> = if joined.is_empty() {
        type_graphs
            .iter()
            .filter(|g| declared(g).is_some())
            .cloned()
            .collect()
    } else {
        joined.clone()
    };
    let mut types: Vec<String> = graphs.iter().filter_map(|g| declared(g)).collect();
    types.sort();
    types.dedup();
    let typed = directives
        .iter()
        .any(|d| d.name == "join__field" && string_arg(d, "type").is_some());
    if !typed && types.len() < 2 {
        return;
    }
    if joined.is_empty() {
        directives.extend(graphs.iter().map(|g| join_field_for(g)));
    }
    for d in directives.iter_mut().filter(|d| d.name == "join__field") {
        let Some(graph) = graph_arg(d).map(str::to_owned) else {
            continue;
        };
        if let Some(ty) = declared(&graph) {
            set_arg(d, "type", Value::String(ty));
        }
    }
}

pub(super) fn is_join_field_with_graph(d: &Directive) -> bool {
    d.name == "join__field" && graph_arg(d).is_some()
}

/// A plain `@join__field(graph: G)`.
pub(super) fn join_field_for(graph: &str) -> Directive {
    directive(
        "join__field",
        vec![("graph", Value::Enum(graph.to_owned()))],
    )
}
