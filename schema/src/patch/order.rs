//! A stable, readable order for the supergraph, so that composing the same subgraphs always
//! writes the same bytes: definitions by name as Apollo sorts them, fields and arguments in the
//! order the subgraphs declare them, join directives by subgraph, redundant ones dropped.

use std::cmp::Ordering;

use graphql_tools::parser::schema::{Definition, InputValue, TypeDefinition};

use super::{
    Context, Directive, Document, graph_arg, is_spec_type, join_type_graphs, string_arg,
    type_directives_mut, type_name,
};

/// The join directives' arguments in the order the join spec declares them.
const ARGUMENT_ORDER: &[&str] = &[
    "graph",
    "name",
    "url",
    "key",
    "interface",
    "member",
    "requires",
    "provides",
    "type",
    "extension",
    "external",
    "resolvable",
    "isInterfaceObject",
    "override",
    "usedOverridden",
    "overrideLabel",
];

/// Puts the whole document in its stable order.
pub(super) fn apply(document: &mut Document, context: &Context<'_>) {
    for definition in &mut document.definitions {
        let Definition::TypeDefinition(definition) = definition else {
            continue;
        };
        let name = type_name(definition).to_owned();
        let members = member_order(definition);
        order_type_directives(type_directives_mut(definition), context, &members);
        if is_spec_type(&name) {
            if let TypeDefinition::Enum(graphs) = definition
                && graphs.name == "join__Graph"
            {
                graphs.values.sort_by(|a, b| a.name.cmp(&b.name));
            }
            continue;
        }
        let rank = |field: &str| field_rank(context, &name, field);
        match definition {
            TypeDefinition::Object(t) => {
                let graphs = join_type_graphs(&t.directives);
                t.fields.sort_by_key(|f| rank(&f.name));
                for field in &mut t.fields {
                    order_arguments(context, &name, &field.name, &mut field.arguments);
                    order_field_directives(&mut field.directives, context, &graphs);
                }
            }
            TypeDefinition::Interface(t) => {
                let graphs = join_type_graphs(&t.directives);
                t.fields.sort_by_key(|f| rank(&f.name));
                for field in &mut t.fields {
                    order_arguments(context, &name, &field.name, &mut field.arguments);
                    order_field_directives(&mut field.directives, context, &graphs);
                }
            }
            TypeDefinition::InputObject(t) => {
                let graphs = join_type_graphs(&t.directives);
                t.fields.sort_by_key(|f| rank(&f.name));
                for field in &mut t.fields {
                    order_field_directives(&mut field.directives, context, &graphs);
                }
            }
            TypeDefinition::Enum(t) => {
                t.values.sort_by_key(|v| rank(&v.name));
                for value in &mut t.values {
                    sort_join(&mut value.directives, context);
                }
            }
            TypeDefinition::Scalar(_) | TypeDefinition::Union(_) => {}
        }
    }
    sort_definitions(document);
}

/// Schema first, then directive definitions by name, then types by name ignoring case.
pub(super) fn sort_definitions(document: &mut Document) {
    document.definitions.sort_by(compare_definitions);
}

/// Schema first, then directive definitions by name, then types by name ignoring case.
fn compare_definitions(
    a: &Definition<'static, String>,
    b: &Definition<'static, String>,
) -> Ordering {
    fn key(d: &Definition<'static, String>) -> (u8, String, String) {
        match d {
            Definition::SchemaDefinition(_) => (0, String::new(), String::new()),
            Definition::DirectiveDefinition(d) => (1, d.name.to_lowercase(), d.name.clone()),
            Definition::TypeDefinition(t) => {
                let name = type_name(t);
                (2, name.to_lowercase(), name.to_owned())
            }
            Definition::TypeExtension(_) => (3, String::new(), String::new()),
        }
    }
    key(a).cmp(&key(b))
}

/// Where a field (or enum value) first appears, subgraph by subgraph in `join__Graph` order;
/// fields no subgraph declares under that name keep their place after the others.
fn field_rank(context: &Context<'_>, type_name: &str, field: &str) -> usize {
    let mut offset = 0;
    for graph in &context.graphs {
        if let Some(ty) = graph.facts.types.get(type_name) {
            if let Some(position) = ty.fields.iter().position(|f| f.name == field) {
                return offset + position;
            }
            offset += ty.fields.len();
        }
    }
    usize::MAX
}

/// Arguments in the order of the first subgraph that declares the field.
fn order_arguments(
    context: &Context<'_>,
    type_name: &str,
    field: &str,
    arguments: &mut [InputValue<'static, String>],
) {
    let declared = context
        .graphs
        .iter()
        .find_map(|g| g.facts.types.get(type_name)?.field(field));
    if let Some(declared) = declared {
        arguments.sort_by_key(|a| {
            declared
                .arguments
                .iter()
                .position(|n| *n == a.name)
                .unwrap_or(usize::MAX)
        });
    }
}

/// The union's members in declared order, to order `@join__unionMember`s by.
fn member_order(definition: &TypeDefinition<'static, String>) -> Vec<String> {
    match definition {
        TypeDefinition::Union(u) => u.types.clone(),
        _ => Vec::new(),
    }
}

/// Join directives first (`@join__implements`, `@join__type`, `@join__unionMember`), each kind
/// by subgraph, then the other directives as composition wrote them.
fn order_type_directives(directives: &mut [Directive], context: &Context<'_>, members: &[String]) {
    let group = |d: &Directive| match d.name.as_str() {
        "join__implements" => 0,
        "join__type" => 1,
        "join__unionMember" => 2,
        _ => 3,
    };
    let member = |d: &Directive| {
        string_arg(d, "member")
            .and_then(|m| members.iter().position(|n| n == m))
            .unwrap_or(usize::MAX)
    };
    directives.sort_by_key(|d| {
        let graph = graph_arg(d).map_or(usize::MAX, |g| context.rank(g));
        match group(d) {
            2 => (2, member(d), graph),
            3 => (3, 0, 0),
            n => (n, graph, 0),
        }
    });
    directives.iter_mut().for_each(order_join_arguments);
}

/// `@join__field`s by subgraph, dropped when they only restate "every subgraph of the type".
fn order_field_directives(
    directives: &mut Vec<Directive>,
    context: &Context<'_>,
    graphs: &[String],
) {
    sort_join(directives, context);
    let joins: Vec<&Directive> = directives
        .iter()
        .filter(|d| d.name == "join__field")
        .collect();
    let plain = joins
        .iter()
        .all(|d| d.arguments.len() == 1 && graph_arg(d).is_some());
    let mut joined: Vec<&str> = joins.iter().filter_map(|d| graph_arg(d)).collect();
    joined.sort_unstable();
    let mut all: Vec<&str> = graphs.iter().map(String::as_str).collect();
    all.sort_unstable();
    if !joins.is_empty() && plain && joined == all {
        directives.retain(|d| d.name != "join__field");
    }
}

/// Join directives by subgraph, keeping the slots other directives occupy.
fn sort_join(directives: &mut [Directive], context: &Context<'_>) {
    let slots: Vec<usize> = (0..directives.len())
        .filter(|&i| directives[i].name.starts_with("join__"))
        .collect();
    let mut joins: Vec<Directive> = slots.iter().map(|&i| directives[i].clone()).collect();
    joins.sort_by_key(|d| graph_arg(d).map_or(usize::MAX, |g| context.rank(g)));
    for (slot, mut d) in slots.into_iter().zip(joins) {
        order_join_arguments(&mut d);
        directives[slot] = d;
    }
}

fn order_join_arguments(d: &mut Directive) {
    if d.name.starts_with("join__") {
        d.arguments.sort_by_key(|(name, _)| {
            ARGUMENT_ORDER
                .iter()
                .position(|n| n == name)
                .unwrap_or(usize::MAX)
        });
    }
}
