//! `@provides`, as Apollo checks it:
//!
//! - what it selects must be `@external` in the providing subgraph (a field it resolves anyway
//!   needs no providing), at the leaves of the selection or on a field above them; a field of an
//!   interface counts as `@external` when an implementation's is. An interface field is never
//!   `@external` itself, so an interface-typed field provides its implementations' fields
//!   through fragments (`@provides(fields: "... on Book { title }")`)
//!   (`PROVIDES_FIELDS_MISSING_EXTERNAL`);
//! - a field another subgraph provides must be `@shareable` where it is resolved.

use std::collections::BTreeSet;

use crate::error::Diagnostic;
use crate::facts::{Kind, SubgraphFacts, named_type};
use crate::fieldset::{self, Selection};

/// Every `@provides` selecting a field its subgraph resolves anyway, and every provided field
/// its owner does not share, in subgraph order.
pub(super) fn check(subgraphs: &[SubgraphFacts], diagnostics: &mut Vec<Diagnostic>) {
    for providing in subgraphs {
        for (type_name, ty) in &providing.types {
            for field in &ty.fields {
                let Some(provides) = &field.provides else {
                    continue;
                };
                let Some(selections) = fieldset::parse(provides) else {
                    continue;
                };
                let on = (type_name.as_str(), field.name.as_str());
                let mut resolved = Vec::new();
                let selected_type = named_type(&field.ty);
                not_external(providing, selected_type, &selections, false, &mut resolved);
                // Apollo checks each subgraph before merging them: an invalid `@provides` is
                // reported alone, not read for what it would provide.
                if !resolved.is_empty() {
                    for target in resolved {
                        let message = resolved_anyway(providing, provides, on, &target);
                        diagnostics.push(Diagnostic::new(
                            vec![providing.name.clone()],
                            type_name,
                            Some(&field.name),
                            message,
                            subgraphs,
                        ));
                    }
                    continue;
                }
                let mut selected = BTreeSet::new();
                providing.collect_targets(selected_type, &selections, &mut selected);
                for (target_type, target_field) in &provided_fields(providing, selected) {
                    for owner in subgraphs.iter().filter(|s| s.name != providing.name) {
                        if !shares(owner, target_type, target_field) {
                            diagnostics.push(unshared_provided_field(
                                subgraphs,
                                providing,
                                owner,
                                on,
                                (target_type, target_field),
                            ));
                        }
                    }
                }
            }
        }
    }
}

/// The message for a `@provides` on `on` selecting `target`, which is not `@external`.
fn resolved_anyway(
    providing: &SubgraphFacts,
    provides: &str,
    (on_type, on_field): (&str, &str),
    (target_type, target_field): &(String, String),
) -> String {
    let is_interface = providing
        .types
        .get(target_type)
        .is_some_and(|t| t.kind == Kind::Interface);
    let remedy = if is_interface {
        "provide the implementations' fields through fragments (`... on Type { field }`)"
    } else {
        "mark it `@external`, or leave it out of `@provides`"
    };
    format!(
        "`@provides(fields: \"{provides}\")` on `{on_type}.{on_field}` selects \
         `{target_type}.{target_field}`, which subgraph `{}` resolves itself (it is not \
         `@external`): {remedy}",
        providing.name
    )
}

/// Collects the leaves of a `@provides` selection on `type_name` that are not `@external` and
/// have no `@external` field above them.
fn not_external(
    providing: &SubgraphFacts,
    type_name: &str,
    selections: &[Selection],
    external_above: bool,
    out: &mut Vec<(String, String)>,
) {
    for selection in selections {
        match selection {
            Selection::Field { name, children } => {
                let Some(ty) = providing.types.get(type_name) else {
                    continue;
                };
                let Some(field) = ty.field(name) else {
                    continue;
                };
                if children.is_empty() {
                    if !field.external && !external_above {
                        out.push((type_name.to_owned(), name.clone()));
                    }
                    continue;
                }
                let implementation_external = ty.kind == Kind::Interface
                    && providing.types.values().any(|t| {
                        t.implements.iter().any(|i| i == type_name)
                            && t.field(name).is_some_and(|f| f.external)
                    });
                let external = external_above || field.external || implementation_external;
                not_external(providing, named_type(&field.ty), children, external, out);
            }
            Selection::Fragment { on, children } => {
                let on = on.as_deref().unwrap_or(type_name);
                not_external(providing, on, children, external_above, out);
            }
        }
    }
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
    subgraphs: &[SubgraphFacts],
    providing: &SubgraphFacts,
    owner: &SubgraphFacts,
    (on_type, on_field): (&str, &str),
    (type_name, field): (&str, &str),
) -> Diagnostic {
    Diagnostic::new(
        vec![owner.name.clone(), providing.name.clone()],
        type_name,
        Some(field),
        format!(
            "`{type_name}.{field}` is provided by subgraph `{}` (`@provides` on \
             `{on_type}.{on_field}`) but is not `@shareable` in subgraph `{}`, which resolves it; \
             mark it `@shareable` there",
            providing.name, owner.name
        ),
        subgraphs,
    )
}
