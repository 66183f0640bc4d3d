//! The workspace's schema files: which subgraphs and clients there are and where each derived
//! file goes. Paths are relative to the workspace root.
//!
//! - `schema/subgraphs/<name>.graphql`: each subgraph's SDL, the BFFs' local ones included;
//! - `schema/supergraph.graphql`: the domain subgraphs composed (the plain router's);
//! - `schema/<client>/supergraph.graphql`: the domain subgraphs and the client's BFF-local
//!   subgraph composed, cut down to the client's contract; `schema/<client>/api.graphql`: what
//!   the client sees of it, as the engine derives it;
//! - `bff-mobile/operations/manifest.json`: the mobile app's persisted operations, each checked
//!   against the mobile API.
//!
//! The mobile API is also gated: `schema/mobile/released.graphql` is the API of the last app
//! release, and a breaking change from it fails unless `schema/mobile/allowed-breaking.txt`
//! lists its path.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use graphql_tools::static_graphql::schema::Document;
use subgraph_kit::Subgraph;

use tributary_schema::compat::{self, Allowed, Verdict};
use tributary_schema::diff::DiffError;
use tributary_schema::files::{Artifacts, FileError, SUBGRAPHS_DIR, SUPERGRAPH_FILE};
use tributary_schema::{
    ComposeError, Contract, ContractError, SubgraphSource, compose, render_api,
};

use crate::manifest::{self, OperationsError};

/// The schema directory, under the workspace root.
pub const SCHEMA_DIR: &str = "schema";
/// The mobile app's operations (`*.graphql`) and their manifest, under the workspace root.
pub const MOBILE_OPERATIONS_DIR: &str = "bff-mobile/operations";
/// The persisted-operation manifest's file name in [`MOBILE_OPERATIONS_DIR`].
pub const MANIFEST_FILE: &str = "manifest.json";
/// The client whose old versions stay installed, so whose API is gated.
pub const GATED_CLIENT: &str = "mobile";
/// The gated client's API as last released, in its schema directory.
pub const RELEASED_FILE: &str = "released.graphql";
/// The breaking changes accepted since, in the same directory.
pub const ALLOWED_FILE: &str = "allowed-breaking.txt";

/// One kind of client: its BFF's local subgraph and the tags its contract excludes.
#[derive(Debug, Clone)]
pub struct Client {
    /// `web` or `mobile`: the local subgraph's name and the schema subdirectory.
    pub name: &'static str,
    /// The BFF's in-process subgraph, at `inprocess://<name>`.
    pub local: SubgraphSource,
    /// The contract cut out of the composed supergraph; `None` shows everything.
    pub contract: Option<Contract>,
}

/// Why the workspace's files could not be derived or read.
#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    /// A set of subgraphs does not compose.
    #[error("composing the {client} supergraph: {source}")]
    Compose {
        /// `router`, `web` or `mobile`.
        client: &'static str,
        /// The composition failure.
        source: ComposeError,
    },
    /// A contract could not be applied.
    #[error("the {client} contract: {source}")]
    Contract {
        /// The client.
        client: &'static str,
        /// The contract failure.
        source: ContractError,
    },
    /// The engine refuses a supergraph.
    #[error("the engine cannot load the {client} supergraph: {message}")]
    Engine {
        /// The client.
        client: &'static str,
        /// The engine's message.
        message: String,
    },
    /// A persisted operation is unusable: it does not parse, has not exactly one named
    /// operation, or does not validate against the client's API.
    #[error("{}: {message}", path.display())]
    Operation {
        /// The operation's file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A file could not be read or written.
    #[error(transparent)]
    File(#[from] FileError),
    /// A gated API schema does not parse.
    #[error("{}: {source}", path.display())]
    Diff {
        /// The file holding it.
        path: PathBuf,
        /// The parse failure.
        source: DiffError,
    },
}

/// The workspace root: two levels above this crate's directory (`tools/schema-cli`).
pub fn default_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map_or_else(|| PathBuf::from("../.."), Path::to_owned)
}

/// The five domain subgraphs, each at its default loopback address.
pub fn domain_sources() -> Vec<SubgraphSource> {
    vec![
        source::<subgraph_accounts::Accounts>(),
        source::<subgraph_catalog::Catalog>(),
        source::<subgraph_reviews::Reviews>(),
        source::<subgraph_inventory::Inventory>(),
        source::<subgraph_orders::Orders>(),
    ]
}

/// One subgraph's SDL from its library, at `http://127.0.0.1:<default port>/graphql`.
pub fn source<S: Subgraph>() -> SubgraphSource {
    SubgraphSource::new(
        S::NAME,
        format!("http://127.0.0.1:{}/graphql", S::DEFAULT_PORT),
        S::sdl(),
    )
}

/// The two clients: the web sees everything; mobile does not see what is tagged `web`, nor
/// the types that leaves unreachable.
pub fn clients() -> Vec<Client> {
    vec![
        Client {
            name: "web",
            local: SubgraphSource::new("web", "inprocess://web", bff_web::sdl()),
            contract: None,
        },
        Client {
            name: "mobile",
            local: SubgraphSource::new("mobile", "inprocess://mobile", bff_mobile::sdl()),
            contract: Some(Contract::excluding(&["web"]).hiding_unreachable_types(true)),
        },
    ]
}

/// `schema/<client>/<file>`.
pub fn client_file(client: &str, file: &str) -> PathBuf {
    Path::new(SCHEMA_DIR).join(client).join(file)
}

/// Every file the code calls for, relative to the workspace root, reading the mobile
/// operations under `root`.
pub fn artifacts(root: &Path) -> Result<Artifacts, WorkspaceError> {
    let domains = domain_sources();
    let clients = clients();
    let schema = Path::new(SCHEMA_DIR);
    let mut files = Artifacts::new();

    let mut all = domains.clone();
    all.extend(clients.iter().map(|c| c.local.clone()));
    files.subgraphs(schema.join(SUBGRAPHS_DIR), &all);
    let router = compose(&domains).map_err(|source| WorkspaceError::Compose {
        client: "router",
        source,
    })?;
    files.add(schema.join(SUPERGRAPH_FILE), &router);

    for client in &clients {
        let mut sources = domains.clone();
        sources.push(client.local.clone());
        let composed = compose(&sources).map_err(|source| WorkspaceError::Compose {
            client: client.name,
            source,
        })?;
        let supergraph = match &client.contract {
            Some(contract) => {
                contract
                    .apply(&composed)
                    .map_err(|source| WorkspaceError::Contract {
                        client: client.name,
                        source,
                    })?
            }
            None => composed,
        };
        let engine = tributary_gateway::Supergraph::from_sdl(&supergraph).map_err(|error| {
            WorkspaceError::Engine {
                client: client.name,
                message: error.to_string(),
            }
        })?;
        let api = engine.api().document();
        files.add(client_file(client.name, "supergraph.graphql"), &supergraph);
        files.add(client_file(client.name, "api.graphql"), &render_api(api));
        if client.name == GATED_CLIENT {
            let dir = Path::new(MOBILE_OPERATIONS_DIR);
            let manifest = manifest(&root.join(dir), api)?;
            files.add(dir.join(MANIFEST_FILE), &manifest);
        }
    }
    Ok(files)
}

/// The persisted-operation manifest of the `*.graphql` files in `dir`, in Apollo's
/// `apollo-persisted-query-manifest` format, ids computed as the engine computes them.
/// Each file holds one named operation (and its fragments) valid against `api`.
pub fn manifest(dir: &Path, api: &Document) -> Result<String, WorkspaceError> {
    let plan = graphql_tools::validation::rules::default_rules_validation_plan();
    let rules = manifest::Rules {
        one_per_file: true,
        recursive: false,
    };
    let operations = manifest::read(dir, rules, |document| {
        let errors = graphql_tools::validation::validate::validate(api, document, &plan);
        if errors.is_empty() {
            return Ok(());
        }
        let messages: Vec<String> = errors.into_iter().map(|e| e.message).collect();
        Err(format!(
            "invalid against the mobile API: {}",
            messages.join("; ")
        ))
    })
    .map_err(|error| match error {
        OperationsError::File(error) => WorkspaceError::File(error),
        OperationsError::Operation { path, message } => WorkspaceError::Operation { path, message },
    })?;
    manifest::render(&operations, manifest::Format::Apollo).map_err(|error| {
        WorkspaceError::Operation {
            path: dir.to_owned(),
            message: error.to_string(),
        }
    })
}

/// The gate of the mobile API: the released version under `root` against `current`.
pub fn gate(root: &Path, current: &str) -> Result<Verdict, WorkspaceError> {
    let released_path = client_file(GATED_CLIENT, RELEASED_FILE);
    let released = read(&root.join(&released_path))?;
    let allowed = match fs::read_to_string(root.join(client_file(GATED_CLIENT, ALLOWED_FILE))) {
        Ok(text) => Allowed::parse(&text),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Allowed::default(),
        Err(source) => {
            return Err(FileError {
                path: root.join(client_file(GATED_CLIENT, ALLOWED_FILE)),
                source,
            }
            .into());
        }
    };
    compat::gate(&released, current, &allowed).map_err(|source| WorkspaceError::Diff {
        path: released_path,
        source,
    })
}

fn read(path: &Path) -> Result<String, WorkspaceError> {
    fs::read_to_string(path).map_err(|source| {
        FileError {
            path: path.to_owned(),
            source,
        }
        .into()
    })
}
