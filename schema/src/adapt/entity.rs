//! A type that is an entity (has a `@key`) in one subgraph and a value type in another: Apollo
//! composes it, each subgraph's `@join__type` saying which it is there; `graphql-composition`
//! requires every federation 2 subgraph to agree. The value-type side gets a non-resolvable key
//! on a field of its own, [`VALUE_TYPE_KEY`], which no other subgraph has and which the
//! `adapted` patch removes with its `@join__type`; the plain `@join__type` the subgraph calls for
//! is then added from the facts like any other.

use super::{Edits, VALUE_TYPE_KEY, is_root};
use crate::facts::{Kind, SubgraphFacts};

/// Gives the subgraph's value-type declarations of entities the key described above.
pub(super) fn adapt(own: &SubgraphFacts, all: &[SubgraphFacts], edits: &mut Edits) {
    for type_name in value_types_of_entities(own, all) {
        let key = own.directive("key");
        edits.append(&format!(
            "extend type {type_name} @{key}(fields: \"{VALUE_TYPE_KEY}\", resolvable: false) \
             {{ {VALUE_TYPE_KEY}: ID }}"
        ));
    }
}

/// The object types `own` declares without a key while another subgraph keys them.
pub(crate) fn value_types_of_entities<'a>(
    own: &'a SubgraphFacts,
    all: &'a [SubgraphFacts],
) -> impl Iterator<Item = &'a str> + 'a {
    own.types
        .iter()
        .filter(move |(name, _)| is_mixed(name, all))
        .filter(|(_, ty)| ty.keys.is_empty())
        .filter(move |_| own.fed2)
        .map(|(name, _)| name.as_str())
}

/// Whether an object type is an entity in one subgraph and a value type in a federation 2
/// subgraph (federation 1 subgraphs never had to declare keys, so `graphql-composition`
/// accepts those already). Interfaces and `@interfaceObject`s are left to composition's own
/// entity-interface rules.
pub(crate) fn is_mixed(type_name: &str, all: &[SubgraphFacts]) -> bool {
    if is_root(type_name) {
        return false;
    }
    let mut entity = false;
    let mut value = false;
    for subgraph in all {
        let Some(ty) = subgraph.types.get(type_name) else {
            continue;
        };
        if ty.kind != Kind::Object || ty.interface_object || ty.field(VALUE_TYPE_KEY).is_some() {
            return false;
        }
        if ty.keys.is_empty() {
            value |= subgraph.fed2;
        } else {
            entity = true;
        }
    }
    entity && value
}
