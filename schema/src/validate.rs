//! Rules Apollo's composer enforces and `graphql-composition` does not, checked before
//! composing so that what composes here also composes there.

use std::collections::BTreeSet;

use crate::error::Diagnostic;
use crate::facts::{Kind, SubgraphFacts, named_type};
use crate::fieldset;

/// Every violation found, in subgraph order.
pub(crate) fn check(subgraphs: &[SubgraphFacts]) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    for providing in subgraphs {
        for (type_name, ty) in &providing.types {
            for field in &ty.fields {
                let Some(provides) = &field.provides else {
                    continue;
                };
                let Some(selections) = fieldset::parse(provides) else {
                    continue;
                };
                let mut selected = BTreeSet::new();
                providing.collect_targets(named_type(&field.ty), &selections, &mut selected);
                for (target_type, target_field) in &provided_fields(providing, selected) {
                    for owner in subgraphs.iter().filter(|s| s.name != providing.name) {
                        if !shares(owner, target_type, target_field) {
                            diagnostics.push(unshared_provided_field(
                                providing,
                                owner,
                                (type_name, &field.name),
                                (target_type, target_field),
                            ));
                        }
                    }
                }
            }
        }
    }
    diagnostics
}

/// The object fields a `@provides` selection makes the providing subgraph resolve: those it
/// marks `@external`, interface fields standing for the implementations it declares.
fn provided_fields(
    providing: &SubgraphFacts,
    selected: BTreeSet<(String, String)>,
) -> BTreeSet<(String, String)> {
    let mut provided = BTreeSet::new();
    for (type_name, field) in selected {
        let Some(ty) = providing.types.get(&type_name) else {
            continue;
        };
        let objects: Vec<&String> = if ty.kind == Kind::Interface {
            providing
                .types
                .iter()
                .filter(|(_, t)| t.kind == Kind::Object && t.implements.contains(&type_name))
                .map(|(name, _)| name)
                .collect()
        } else {
            vec![&type_name]
        };
        for object in objects {
            let external = providing
                .types
                .get(object)
                .and_then(|t| t.field(&field))
                .is_some_and(|f| f.external);
            if external {
                provided.insert((object.clone(), field.clone()));
            }
        }
    }
    provided
}

/// Whether a subgraph lets others resolve `type_name.field` too: it does not resolve it, or it
/// marks it `@shareable`, or it is one of its key fields (keys are shareable by definition),
/// or the subgraph is a federation 1 subgraph (all shareable).
fn shares(owner: &SubgraphFacts, type_name: &str, field: &str) -> bool {
    let Some(ty) = owner.types.get(type_name) else {
        return true;
    };
    let Some(declared) = ty.field(field) else {
        return true;
    };
    if declared.external || declared.shareable || !owner.fed2 {
        return true;
    }
    let mut keys = BTreeSet::new();
    for key in &ty.keys {
        if let Some(selections) = fieldset::parse(&key.fields) {
            owner.collect_targets(type_name, &selections, &mut keys);
        }
    }
    keys.contains(&(type_name.to_owned(), field.to_owned()))
}

fn unshared_provided_field(
    providing: &SubgraphFacts,
    owner: &SubgraphFacts,
    (on_type, on_field): (&str, &str),
    (type_name, field): (&str, &str),
) -> Diagnostic {
    let mut subgraphs = vec![owner.name.clone(), providing.name.clone()];
    subgraphs.sort();
    Diagnostic {
        subgraphs,
        type_name: Some(type_name.to_owned()),
        field: Some(field.to_owned()),
        message: format!(
            "`{type_name}.{field}` is provided by subgraph `{}` (`@provides` on \
             `{on_type}.{on_field}`) but is not `@shareable` in subgraph `{}`, which resolves it; \
             mark it `@shareable` there",
            providing.name, owner.name
        ),
    }
}
