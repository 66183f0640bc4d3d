//! `@shareable` where Apollo reads it and `graphql-composition` does not:
//!
//! - A key makes the fields it selects shareable in its subgraph, at every depth
//!   (`@key(fields: "id region { code }")` shares `Region.code`); `graphql-composition` only
//!   counts the first level. Such fields are marked `@shareable` on the field.
//! - A type-level `@shareable` makes `graphql-composition` require the type's fields to be the
//!   same in every subgraph, which Apollo does not (it requires that each field can be planned,
//!   `validate`'s concern). Where the fields differ, the type's `@shareable` is moved onto each
//!   field of the definition carrying it, which shares the same fields without that check.

use std::collections::BTreeSet;

use cynic_parser::type_system::TypeDefinition;

use super::{Edits, Source, directive_span, entity};
use crate::facts::{Kind, SubgraphFacts};
use crate::fieldset::{self, Selection};

/// Marks the fields described above `@shareable` in one subgraph.
pub(super) fn adapt(source: &Source<'_>, all: &[SubgraphFacts], edits: &mut Edits) {
    let own = source.facts;
    let mut wanted: BTreeSet<(String, String)> = nested_key_fields(own)
        .into_iter()
        .filter(|(type_name, field)| resolved_elsewhere(own, all, type_name, field))
        .collect();
    let shareable = own.directive("shareable");
    for (type_name, ty) in &own.types {
        if !ty.shareable_type || !spelled_out(type_name, all) {
            continue;
        }
        for definition in source.definitions(type_name) {
            let TypeDefinition::Object(object) = definition else {
                continue;
            };
            let marks: Vec<_> = object
                .directives()
                .filter(|d| source.is(d, "shareable"))
                .collect();
            if marks.is_empty() {
                continue;
            }
            for mark in &marks {
                let (start, end) = directive_span(mark);
                edits.replace(start, end, "");
            }
            for field in object.fields() {
                wanted.insert((type_name.clone(), field.name().to_owned()));
            }
        }
    }
    for (type_name, field) in wanted {
        let Some(declared) = source.field(&type_name, &field) else {
            continue;
        };
        if declared.directives().any(|d| source.is(&d, "shareable")) {
            continue;
        }
        // After the field's last directive, or its type: the parser's span of a field without
        // directives reaches to the next token.
        let end = declared
            .directives()
            .map(|d| directive_span(&d).1)
            .max()
            .unwrap_or(declared.ty().span().end);
        edits.insert(end, format!(" @{shareable}"));
    }
}

/// Whether a type's `@shareable` is to be spelled out field by field: it is shareable in some
/// subgraph and its fields (other than `@inaccessible` ones) differ between subgraphs, or will
/// once [`entity`] gives a value-type side its key field.
pub(crate) fn spelled_out(type_name: &str, all: &[SubgraphFacts]) -> bool {
    let declared: Vec<_> = all.iter().filter_map(|s| s.types.get(type_name)).collect();
    if !declared
        .iter()
        .any(|ty| ty.kind == Kind::Object && ty.shareable_type)
    {
        return false;
    }
    fields_differ(type_name, all) || entity::is_mixed(type_name, all)
}

/// Whether some subgraph declaring the type lacks a field another declares, `@inaccessible`
/// fields aside.
pub(crate) fn fields_differ(type_name: &str, all: &[SubgraphFacts]) -> bool {
    let declared: Vec<_> = all.iter().filter_map(|s| s.types.get(type_name)).collect();
    let inaccessible: BTreeSet<&str> = declared
        .iter()
        .flat_map(|ty| &ty.fields)
        .filter(|f| f.inaccessible)
        .map(|f| f.name.as_str())
        .collect();
    let names: BTreeSet<&str> = declared
        .iter()
        .flat_map(|ty| &ty.fields)
        .map(|f| f.name.as_str())
        .filter(|name| !inaccessible.contains(name))
        .collect();
    declared
        .iter()
        .any(|ty| names.iter().any(|name| ty.field(name).is_none()))
}

/// The fields a subgraph's keys select below their first level, which it resolves itself and
/// does not mark `@shareable`.
pub(crate) fn nested_key_fields(own: &SubgraphFacts) -> BTreeSet<(String, String)> {
    let mut nested = BTreeSet::new();
    for (type_name, ty) in &own.types {
        for key in &ty.keys {
            let Some(selections) = fieldset::parse(&key.fields) else {
                continue;
            };
            let mut targets = BTreeSet::new();
            own.collect_targets(type_name, &selections, &mut targets);
            for top in top_level(&selections) {
                targets.remove(&(type_name.clone(), top));
            }
            nested.extend(targets);
        }
    }
    nested.retain(|(type_name, field)| {
        own.types
            .get(type_name)
            .and_then(|ty| ty.field(field))
            .is_some_and(|f| !f.external && !f.shareable)
    });
    nested
}

/// The field names a field set selects at its first level.
fn top_level(selections: &[Selection]) -> Vec<String> {
    let mut names = Vec::new();
    for selection in selections {
        match selection {
            Selection::Field { name, .. } => names.push(name.clone()),
            Selection::Fragment { on: None, children } => names.extend(top_level(children)),
            Selection::Fragment { .. } => {}
        }
    }
    names
}

/// Whether another subgraph also resolves `type_name.field`.
fn resolved_elsewhere(
    own: &SubgraphFacts,
    all: &[SubgraphFacts],
    type_name: &str,
    field: &str,
) -> bool {
    all.iter().filter(|s| s.name != own.name).any(|s| {
        s.types
            .get(type_name)
            .and_then(|ty| ty.field(field))
            .is_some_and(|f| !f.external)
    })
}
