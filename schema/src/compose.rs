//! Composition: subgraph SDLs in, a supergraph (join spec v0.3) out, by `graphql-composition`
//! followed by the patches that make its output what Apollo's composer emits.

use crate::error::{ComposeError, Diagnostic};
use crate::facts::SubgraphFacts;
use crate::{adapt, patch, render, validate};

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
    let mut facts: Vec<SubgraphFacts> = Vec::with_capacity(sources.len());
    for source in &sources {
        if facts.iter().any(|f| f.name == source.name) {
            return Err(ComposeError::DuplicateSubgraph(source.name.clone()));
        }
        match SubgraphFacts::read(&source.name, &source.sdl) {
            Some(read) => facts.push(read),
            None => return Err(parse_error(source)),
        }
    }
    let violations = validate::check(&facts);
    if !violations.is_empty() {
        return Err(ComposeError::Composition(violations));
    }
    // `graphql-composition` reads each SDL as `adapt` rewrites it; the facts stay those of the
    // SDL as written.
    let mut subgraphs = graphql_composition::Subgraphs::default();
    for (source, own) in sources.iter().zip(&facts) {
        let sdl = adapt::sdl(&source.sdl, own, &facts);
        subgraphs
            .ingest_str(&sdl, &source.name, Some(&source.url))
            .map_err(|error| ComposeError::Parse {
                subgraph: source.name.clone(),
                message: format!("{error:#}").trim().to_owned(),
            })?;
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
            locations: Vec::new(),
        }]));
    }
    let mut document = graphql_tools::parser::parse_schema::<String>(&composed)
        .map_err(|error| ComposeError::Supergraph(error.to_string()))?
        .into_static();
    patch::apply(&mut document, &facts);
    Ok(render::render(&document))
}

/// The parse error of a subgraph whose SDL does not parse, in `graphql-composition`'s words.
fn parse_error(source: &SubgraphSource) -> ComposeError {
    let mut scratch = graphql_composition::Subgraphs::default();
    let message = match scratch.ingest_str(&source.sdl, &source.name, Some(&source.url)) {
        Err(error) => format!("{error:#}").trim().to_owned(),
        Ok(_) => "it is not a GraphQL type system document".to_owned(),
    };
    ComposeError::Parse {
        subgraph: source.name.clone(),
        message,
    }
}
