//! The schema crate's tests: composing small fixtures, checking the result against the
//! gateway's planner (and running some through the engine over small served subgraphs:
//! `stack`), contracts, API diffs, and writing and drift-checking derived files. The
//! tests over the workspace's own subgraphs and clients are the command line's
//! (`tools/schema-cli/tests`), since only it names them.

mod contracts;
mod diff;
mod entities;
mod errors;
mod files;
mod patches;
mod stack;
mod types;

use hive_router_query_planner::{
    ast::normalization::normalize_operation,
    graph::PlannerOverrideContext,
    planner::{Planner, QueryPlannerOptions},
    utils::{
        cancellation::CancellationToken,
        parsing::{safe_parse_operation, safe_parse_schema},
    },
};
use tributary_schema::{SubgraphSource, compose};

/// A federation 2.3 subgraph SDL importing `imports` (`"@key"`, ...).
pub fn fed2(imports: &[&str], body: &str) -> String {
    let imports = imports
        .iter()
        .map(|i| format!("\"{i}\""))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "extend schema @link(url: \"https://specs.apollo.dev/federation/v2.3\", import: [{imports}])\n{body}"
    )
}

/// Fixture sources, each at `http://<name>.test/graphql`.
pub fn sources(subgraphs: &[(&str, &str)]) -> Vec<SubgraphSource> {
    subgraphs
        .iter()
        .map(|(name, sdl)| SubgraphSource::new(*name, format!("http://{name}.test/graphql"), *sdl))
        .collect()
}

/// Fixtures owning their SDL, borrowed as [`sources`] and [`supergraph`] take them.
pub fn pairs<'a>(subgraphs: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    subgraphs.iter().map(|(n, s)| (*n, s.as_str())).collect()
}

/// Composes fixtures, failing the test on a composition error.
pub fn supergraph(subgraphs: &[(&str, &str)]) -> String {
    match compose(&sources(subgraphs)) {
        Ok(sdl) => sdl,
        Err(error) => panic!("composition failed: {error}"),
    }
}

/// Loads a supergraph into the gateway's planner, as the gateway will.
pub fn planner(supergraph: &str) -> Planner {
    let document = safe_parse_schema(supergraph).expect("the supergraph parses");
    Planner::new_from_supergraph(&document, QueryPlannerOptions::default())
        .expect("the planner accepts the supergraph")
}

/// Plans an operation and outlines the plan: its Sequence/Parallel/Flatten/Fetch skeleton,
/// one node per line, indented as in the plan's own `Display`.
pub fn plan_outline(planner: &Planner, operation: &str) -> String {
    let operation = safe_parse_operation(operation).expect("the operation parses");
    let normalized = normalize_operation(&planner.supergraph, &operation, None)
        .expect("the operation normalizes");
    let plan = planner
        .plan_from_normalized_operation(
            normalized.executable_operation(),
            PlannerOverrideContext::default(),
            &CancellationToken::new(),
        )
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
