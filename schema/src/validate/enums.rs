//! An enum used both as an input and as an output type must have the same values in every
//! subgraph defining it, `@inaccessible` values aside: a value one subgraph lacks could be sent
//! to it, or returned to a client that cannot read it (Apollo's `ENUM_VALUE_MISMATCH`).

use std::collections::BTreeSet;

use crate::adapt::enums::{differing_values, usage};
use crate::error::Diagnostic;
use crate::facts::{Kind, SubgraphFacts};

/// Every accessible value missing from a subgraph defining such an enum.
pub(super) fn check(subgraphs: &[SubgraphFacts], diagnostics: &mut Vec<Diagnostic>) {
    let enums: BTreeSet<&String> = subgraphs
        .iter()
        .flat_map(|s| &s.types)
        .filter(|(_, ty)| ty.kind == Kind::Enum)
        .map(|(name, _)| name)
        .collect();
    for enum_name in enums {
        let usage = usage(enum_name, subgraphs);
        let (Some((input_subgraph, input)), Some((output_subgraph, output))) =
            (usage.input, usage.output)
        else {
            continue;
        };
        for (value, inaccessible) in differing_values(enum_name, subgraphs) {
            if inaccessible {
                continue;
            }
            let defining = |has: bool| -> Vec<String> {
                subgraphs
                    .iter()
                    .filter(|s| {
                        s.types
                            .get(enum_name)
                            .is_some_and(|ty| ty.field(&value).is_some() == has)
                    })
                    .map(|s| s.name.clone())
                    .collect()
            };
            let (with, without) = (defining(true), defining(false));
            let message = format!(
                "`{enum_name}` is used as an input type (`{input}` in subgraph `{input_subgraph}`) \
                 and as an output type (`{output}` in subgraph `{output_subgraph}`), so its values \
                 must be the same in every subgraph defining it, but `{value}` is defined in {} \
                 and not in {}: define it there too, or mark it `@inaccessible`",
                list(&with),
                list(&without),
            );
            let involved = with.iter().chain(&without).cloned().collect();
            diagnostics.push(Diagnostic::new(
                involved,
                enum_name,
                Some(&value),
                message,
                subgraphs,
            ));
        }
    }
}

/// `` `a` `` or `` subgraphs `a`, `b` ``.
pub(super) fn list(names: &[String]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.as_slice() {
        [one] => format!("subgraph {one}"),
        _ => format!("subgraphs {}", quoted.join(", ")),
    }
}
