//! Composition: subgraph SDLs in, a supergraph (join spec v0.3) out, by `graphql-composition`
//! followed by the patches that make its output what Apollo's composer emits.

use crate::error::{ComposeError, Diagnostic};
use crate::facts::SubgraphFacts;
use crate::{patch, render, validate};

/// One subgraph to compose: its name, where the gateway reaches it, and its SDL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubgraphSource {
    /// The subgraph's name (`accounts`); it becomes the `join__Graph` value `ACCOUNTS`.
    pub name: String,
    /// The GraphQL endpoint the gateway sends this subgraph's fetches to.
    pub url: String,
    /// The subgraph's Federation v2 SDL, as `_service { sdl }` returns it.
    pub sdl: String,
}

impl SubgraphSource {
    /// A source from its three parts.
    pub fn new(name: impl Into<String>, url: impl Into<String>, sdl: impl Into<String>) -> Self {
        SubgraphSource {
            name: name.into(),
            url: url.into(),
            sdl: sdl.into(),
        }
    }
}

/// Composes subgraphs into a supergraph SDL that Apollo-compatible planners accept.
///
/// The result depends only on the sources' contents, not on their order, and is the same
/// bytes every time.
pub fn compose(sources: &[SubgraphSource]) -> Result<String, ComposeError> {
    if sources.is_empty() {
        return Err(ComposeError::NoSubgraphs);
    }
    // Composition keeps the first description it meets and lists graphs in the order given:
    // ingesting by name makes the result independent of the caller's order.
    let mut sources: Vec<&SubgraphSource> = sources.iter().collect();
    sources.sort_by(|a, b| a.name.cmp(&b.name));
    let mut facts = Vec::with_capacity(sources.len());
    let mut subgraphs = graphql_composition::Subgraphs::default();
    for source in sources {
        if facts.iter().any(|f: &SubgraphFacts| f.name == source.name) {
            return Err(ComposeError::DuplicateSubgraph(source.name.clone()));
        }
        subgraphs
            .ingest_str(&source.sdl, &source.name, Some(&source.url))
            .map_err(|error| ComposeError::Parse {
                subgraph: source.name.clone(),
                message: format!("{error:#}").trim().to_owned(),
            })?;
        // Ingestion parsed the same text with the same parser, so this cannot fail.
        facts.extend(SubgraphFacts::read(&source.name, &source.sdl));
    }
    let violations = validate::check(&facts);
    if !violations.is_empty() {
        return Err(ComposeError::Composition(violations));
    }

    let graph = graphql_composition::compose(&mut subgraphs)
        .into_result()
        .map_err(|diagnostics| {
            ComposeError::Composition(
                diagnostics
                    .iter_errors()
                    .map(|message| Diagnostic::attribute(message, &facts))
                    .collect(),
            )
        })?;
    let composed = graphql_composition::render_federated_sdl(&graph)
        .map_err(|error| ComposeError::Supergraph(error.to_string()))?;
    if composed.starts_with("extend schema") {
        // Composition writes this when no subgraph has a query field; Apollo rejects it too.
        return Err(ComposeError::Composition(vec![Diagnostic {
            subgraphs: Vec::new(),
            type_name: Some("Query".to_owned()),
            field: None,
            message: "no subgraph defines a field on the query root type".to_owned(),
        }]));
    }
    let mut document = graphql_tools::parser::parse_schema::<String>(&composed)
        .map_err(|error| ComposeError::Supergraph(error.to_string()))?
        .into_static();
    patch::apply(&mut document, &facts);
    Ok(render::render(&document))
}
