//! Apollo requires every subgraph resolving a field that several resolve to share it
//! (`INVALID_FIELD_SHARING`); `graphql-composition` is content with one. Where `adapt` changes
//! what `graphql-composition` sees, Apollo's rule is checked here:
//!
//! - a field a key selects below its first level (`Region.code` in `@key(fields: "id region {
//!   code }")`) is shareable in that key's subgraph only, and `adapt` marks it `@shareable`
//!   there;
//! - the fields of a type that is an entity in one subgraph and a value type in another, which
//!   `graphql-composition` refused before `adapt` gave the value-type side a key.

use std::collections::BTreeSet;

use super::enums::list;
use crate::adapt::entity::is_mixed;
use crate::adapt::shareable::nested_key_fields;
use crate::error::Diagnostic;
use crate::facts::SubgraphFacts;
use crate::fieldset;

/// Every such field resolved by several subgraphs and not shared by all of them.
pub(super) fn check(subgraphs: &[SubgraphFacts], diagnostics: &mut Vec<Diagnostic>) {
    let nested: BTreeSet<(String, String)> = subgraphs.iter().flat_map(nested_key_fields).collect();
    let mixed = subgraphs
        .iter()
        .flat_map(|s| &s.types)
        .filter(|(name, _)| is_mixed(name, subgraphs));
    let mut checked: BTreeSet<(String, String)> = nested.clone();
    for (type_name, ty) in mixed {
        checked.extend(
            ty.fields
                .iter()
                .map(|f| (type_name.clone(), f.name.clone())),
        );
    }
    for (type_name, field) in checked {
        let overridden: Vec<&str> = subgraphs
            .iter()
            .filter_map(|s| s.types.get(&type_name)?.field(&field)?.overrides.as_deref())
            .collect();
        let resolving: Vec<&SubgraphFacts> = subgraphs
            .iter()
            .filter(|s| !overridden.contains(&s.name.as_str()))
            .filter(|s| {
                s.types
                    .get(&type_name)
                    .and_then(|ty| ty.field(&field))
                    .is_some_and(|f| !f.external)
            })
            .collect();
        if resolving.len() < 2 {
            continue;
        }
        let unshared: Vec<String> = resolving
            .iter()
            .filter(|s| !shares(s, &type_name, &field))
            .map(|s| s.name.clone())
            .collect();
        if unshared.is_empty() {
            continue;
        }
        let all: Vec<String> = resolving.iter().map(|s| s.name.clone()).collect();
        let why = if nested.contains(&(type_name.clone(), field.clone())) {
            " (a key selecting it makes it shareable only in the key's own subgraph)"
        } else {
            ""
        };
        let message = format!(
            "`{type_name}.{field}` is resolved by {} but is not shareable in {}{why}: mark it \
             `@shareable` there",
            list(&all),
            list(&unshared),
        );
        diagnostics.push(Diagnostic::new(
            all,
            &type_name,
            Some(&field),
            message,
            subgraphs,
        ));
    }
}

/// Whether a subgraph shares a field it resolves: `@shareable` on it or its type, a key of its
/// own selecting it at any depth, or a federation 1 subgraph, where every field is shareable.
fn shares(subgraph: &SubgraphFacts, type_name: &str, field: &str) -> bool {
    let declared = subgraph
        .types
        .get(type_name)
        .and_then(|ty| ty.field(field))
        .is_some_and(|f| f.shareable);
    if declared || !subgraph.fed2 {
        return true;
    }
    let mut selected = BTreeSet::new();
    for (name, ty) in &subgraph.types {
        for key in &ty.keys {
            if let Some(selections) = fieldset::parse(&key.fields) {
                subgraph.collect_targets(name, &selections, &mut selected);
            }
        }
    }
    selected.contains(&(type_name.to_owned(), field.to_owned()))
}
