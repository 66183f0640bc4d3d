//! The supergraph: its SDL parsed once, the planner built from it, the client-facing API
//! schema derived from it, and the subgraph endpoints it names.
//!
//! The planner adapter lives here, not in `prepare/`: building the planner is what loading a
//! supergraph means (the API schema comes out of it), and `prepare/` only calls it.

pub mod access;
pub mod api;
#[cfg(feature = "compose")]
pub mod compose;
pub mod introspection;
pub mod planner;
pub mod source;

use std::collections::HashMap;
use std::sync::Arc;

use api::ApiSchema;
use planner::Planner;

/// Why a supergraph could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SupergraphError {
    /// The file could not be read.
    #[error("reading the supergraph {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O failure.
        source: std::io::Error,
    },
    /// The SDL is not valid GraphQL.
    #[error("the supergraph is not valid GraphQL: {0}")]
    Parse(String),
    /// The SDL is GraphQL but not a usable supergraph.
    #[error("the supergraph cannot be used: {0}")]
    Invalid(String),
}

/// One loaded supergraph version; immutable, shared by every request that started on it.
pub struct Supergraph {
    planner: Planner,
    api: ApiSchema,
    endpoints: HashMap<String, String>,
    version: u64,
}

/// The API schema with the `@defer` directive declared, so clients may use it (the engine
/// delivers deferred fragments; see `prepare::defer`).
fn with_defer(
    document: Arc<graphql_tools::static_graphql::schema::Document>,
) -> Arc<graphql_tools::static_graphql::schema::Document> {
    use graphql_tools::static_graphql::schema::Definition;
    let declared = document
        .definitions
        .iter()
        .any(|d| matches!(d, Definition::DirectiveDefinition(d) if d.name == "defer"));
    if declared {
        return document;
    }
    let Ok(parsed) = graphql_tools::parser::parse_schema::<String>(
        "directive @defer(label: String, if: Boolean! = true) on FRAGMENT_SPREAD | INLINE_FRAGMENT",
    ) else {
        return document;
    };
    let mut copy = (*document).clone();
    copy.definitions.extend(parsed.definitions);
    Arc::new(copy)
}

impl Supergraph {
    /// Parses `sdl`, builds the planner and derives the API schema.
    pub fn from_sdl(sdl: &str) -> Result<Arc<Supergraph>, SupergraphError> {
        let version = xxhash_rust::xxh3::xxh3_64(sdl.as_bytes());
        let planner = Planner::new(sdl)?;
        let api = ApiSchema::new(with_defer(planner.api_document()));
        let endpoints = planner.subgraph_endpoints();
        Ok(Arc::new(Supergraph {
            planner,
            api,
            endpoints,
            version,
        }))
    }

    /// Reads and loads the supergraph at `path`.
    pub fn from_file(path: &std::path::Path) -> Result<Arc<Supergraph>, SupergraphError> {
        let sdl = std::fs::read_to_string(path).map_err(|source| SupergraphError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Supergraph::from_sdl(&sdl)
    }

    /// The planner for this version.
    pub fn planner(&self) -> &Planner {
        &self.planner
    }

    /// The client-facing schema: types, fields and arguments clients may use.
    pub fn api(&self) -> &ApiSchema {
        &self.api
    }

    /// The access rules the supergraph declares on its fields and types.
    pub fn access(&self) -> &access::Access {
        self.planner.access()
    }

    /// The URL of each subgraph, by name, as the supergraph declares it.
    pub fn endpoints(&self) -> &HashMap<String, String> {
        &self.endpoints
    }

    /// The top-level key fields of an entity type (its first resolvable `@key`), or `None`
    /// for a type that is not an entity.
    pub fn entity_key(&self, type_name: &str) -> Option<&[Box<str>]> {
        self.planner
            .entity_keys()
            .get(type_name)
            .map(|fields| &fields[..])
    }

    /// A hash of the SDL: part of every prepared-operation cache key.
    pub fn version(&self) -> u64 {
        self.version
    }
}
