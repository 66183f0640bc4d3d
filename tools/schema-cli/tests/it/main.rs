//! The schema command line's tests: the workspace's subgraphs compose into supergraphs the
//! gateway's planner plans across, each client gets its files (its supergraph, its API, the
//! mobile manifest), the checked-in files match the code, the mobile gate and the `diff`
//! command refuse breaking changes, and `manifest` writes any folder's operations.

mod clients;
mod compat;
mod domain;
mod invariants;
mod manifest;
mod properties;
mod snapshots;

use tributary_gateway::Supergraph;
use tributary_gateway::supergraph::planner::parse_operation;

/// Plans an operation on a supergraph the way the engine does (its own `Supergraph`) and
/// outlines the plan: its Sequence/Parallel/Flatten/Fetch skeleton, one node per line, indented
/// as in the plan's own `Display`.
pub fn plan_outline(supergraph: &str, operation: &str) -> String {
    let supergraph = Supergraph::from_sdl(supergraph).expect("the engine loads the supergraph");
    let parsed = parse_operation(operation, 15_000).expect("the operation parses");
    let normalized = supergraph
        .planner()
        .normalize(&parsed, None)
        .expect("the operation normalizes");
    let plan = supergraph
        .planner()
        .plan_without_introspection(&normalized)
        .expect("the operation plans");
    plan.to_string()
        .lines()
        .filter(|line| {
            let node = line.trim_start();
            ["Sequence", "Parallel", "Flatten", "Fetch(", "BatchFetch"]
                .iter()
                .any(|kind| node.starts_with(kind))
        })
        .map(|line| line.trim_end_matches(" {").to_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The lines of a definition (`type Query`) up to its closing brace, for focused assertions.
pub fn definition<'s>(supergraph: &'s str, header: &str) -> &'s str {
    let start = supergraph
        .find(&format!("\n{header}\n"))
        .or_else(|| supergraph.find(&format!("\n{header} ")))
        .unwrap_or_else(|| panic!("`{header}` is not in the supergraph:\n{supergraph}"))
        + 1;
    // Unions and scalars have no braces: they end at the blank line before the next one.
    let (terminator, extra) = if header.starts_with("union ") || header.starts_with("scalar ") {
        ("\n\n", 0)
    } else {
        ("\n}", 2)
    };
    let end = supergraph[start..]
        .find(terminator)
        .map_or(supergraph.len(), |end| start + end + extra);
    &supergraph[start..end]
}
