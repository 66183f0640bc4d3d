//! Enums whose values differ between subgraphs. Apollo merges an enum used only as an output
//! type by union, one used only as an input type by intersection (as `graphql-composition`
//! does), and requires an enum used as both to have the same values everywhere except values
//! that are `@inaccessible`, which no client can send or receive. `graphql-composition`
//! requires the values to match exactly; so each subgraph lacking such an inaccessible value
//! is given it, and the `adapted` patch drops the `@join__enumValue` this adds for it.
//! `validate` rejects the accessible values that differ, as Apollo does.

use cynic_parser::type_system::TypeDefinition;

use super::{Edits, Source};
use crate::facts::{Kind, SubgraphFacts, named_type};

/// Where an enum is used across the subgraphs: an example of each position, as
/// `(subgraph, coordinate)`.
#[derive(Debug, Default)]
pub(crate) struct Usage {
    /// An argument or input field of the enum's type.
    pub(crate) input: Option<(String, String)>,
    /// A field returning the enum.
    pub(crate) output: Option<(String, String)>,
}

/// Where `enum_name` is used as an input and as an output type, in any subgraph.
pub(crate) fn usage(enum_name: &str, all: &[SubgraphFacts]) -> Usage {
    let mut usage = Usage::default();
    for subgraph in all {
        for (type_name, ty) in &subgraph.types {
            for field in &ty.fields {
                let names_it = |ty: &str| !ty.is_empty() && named_type(ty) == enum_name;
                match ty.kind {
                    Kind::Object | Kind::Interface => {
                        if usage.output.is_none() && names_it(&field.ty) {
                            usage.output = Some((
                                subgraph.name.clone(),
                                format!("{type_name}.{}", field.name),
                            ));
                        }
                        let argument = field
                            .arguments
                            .iter()
                            .zip(&field.argument_types)
                            .find(|(_, ty)| names_it(ty));
                        if let (None, Some((argument, _))) = (&usage.input, argument) {
                            usage.input = Some((
                                subgraph.name.clone(),
                                format!("{type_name}.{}({argument}:)", field.name),
                            ));
                        }
                    }
                    Kind::InputObject if usage.input.is_none() && names_it(&field.ty) => {
                        usage.input =
                            Some((subgraph.name.clone(), format!("{type_name}.{}", field.name)));
                    }
                    _ => {}
                }
            }
        }
    }
    usage
}

/// The values of an enum used as input and output that some subgraph defining it lacks, with
/// whether any subgraph marks them `@inaccessible`.
pub(crate) fn differing_values(enum_name: &str, all: &[SubgraphFacts]) -> Vec<(String, bool)> {
    let declared: Vec<_> = all
        .iter()
        .filter_map(|s| s.types.get(enum_name))
        .filter(|ty| ty.kind == Kind::Enum)
        .collect();
    let mut values: Vec<(String, bool)> = Vec::new();
    for value in declared.iter().flat_map(|ty| &ty.fields) {
        let missing = declared.iter().any(|ty| ty.field(&value.name).is_none());
        if !missing {
            continue;
        }
        match values.iter_mut().find(|(name, _)| *name == value.name) {
            Some((_, inaccessible)) => *inaccessible |= value.inaccessible,
            None => values.push((value.name.clone(), value.inaccessible)),
        }
    }
    values
}

/// Adds to the subgraph's enums used as input and output the inaccessible values it lacks.
pub(super) fn adapt(source: &Source<'_>, all: &[SubgraphFacts], edits: &mut Edits) {
    for (enum_name, ty) in &source.facts.types {
        if ty.kind != Kind::Enum {
            continue;
        }
        let usage = usage(enum_name, all);
        if usage.input.is_none() || usage.output.is_none() {
            continue;
        }
        let lacking: Vec<String> = differing_values(enum_name, all)
            .into_iter()
            .filter(|(value, inaccessible)| *inaccessible && ty.field(value).is_none())
            .map(|(value, _)| value)
            .collect();
        if lacking.is_empty() {
            continue;
        }
        // Into the first definition with a value list: before its closing brace.
        let block = source.definitions(enum_name).iter().find_map(|d| match d {
            TypeDefinition::Enum(e) if e.values().len() > 0 => Some(e.span().end),
            _ => None,
        });
        let closing = block.and_then(|end| end.checked_sub(1));
        if let Some(at) = closing.filter(|&at| source.text.get(at..=at) == Some("}")) {
            edits.insert(at, format!(" {} ", lacking.join(" ")));
        }
    }
}
