//! Build a backend-for-frontend on Tributary's engine. A BFF is a supergraph (a file, an SDL
//! embedded in the binary, or, with the `compose` feature, a supergraph config composed at
//! start), the client's contract (the tags it shows or hides), the BFF's own fields as an
//! in-process async-graphql subgraph, the client's persisted operations, and a profile (the
//! engine [`Config`]: limits, caching, CORS, GraphiQL tabs), served over GraphQL-over-HTTP.
//!
//! ```no_run
//! # async fn run() -> Result<(), tributary_bff::BffError> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:4000").await?;
//! tributary_bff::Bff::new("shop-web")
//!     .supergraph_file("supergraph.graphql")
//!     .manifest("operations/manifest.json")
//!     .serve(listener, tokio_util::sync::CancellationToken::new())
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! The crate holds no domain and no client: `bff-web` and `bff-mobile` are two uses of it. A
//! [`BffFile`] names the supergraph, contract and manifest in TOML, so a BFF binary can front
//! other subgraphs without a rebuild.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tributary_gateway::transport::{InProcessTransport, Transport};
use tributary_gateway::{Config, Engine, EngineError, Manifest, Supergraph};

/// Why a BFF could not be built or served.
#[derive(Debug, thiserror::Error)]
pub enum BffError {
    /// No supergraph was given.
    #[error("the BFF `{0}` has no supergraph: give a file, an SDL or a supergraph config")]
    NoSupergraph(String),
    /// The supergraph, its manifest or its configuration is unusable.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The supergraph could not be loaded.
    #[error(transparent)]
    Supergraph(#[from] tributary_gateway::supergraph::SupergraphError),
    /// The persisted-operation manifest could not be loaded.
    #[error(transparent)]
    Manifest(#[from] tributary_gateway::admit::persisted::ManifestError),
    /// A BFF file could not be read or parsed.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A supergraph config did not compose.
    #[cfg(feature = "compose")]
    #[error(transparent)]
    Compose(#[from] tributary_gateway::supergraph::compose::ComposeConfigError),
    /// The contract could not be cut.
    #[cfg(feature = "compose")]
    #[error("the contract: {0}")]
    Contract(#[from] tributary_schema::ContractError),
    /// A contract or supergraph config was named without the `compose` feature.
    #[error("{0} needs the `compose` feature of tributary-bff")]
    NeedsCompose(&'static str),
    /// Binding or serving failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// The request budgets a BFF for browsers or apps starts from: in production 200 requests a
/// second per client (bursts of 400) and 20 per verified user (bursts of 60); none in
/// development, where tests and tools send bursts from one address.
pub fn rate_limits(
    env: tributary_gateway::Environment,
) -> tributary_gateway::config::RateLimitConfig {
    use tributary_gateway::config::{Bucket, RateLimitConfig};
    let production = env.is_production();
    RateLimitConfig {
        per_client: production.then_some(Bucket {
            requests: 200,
            per_seconds: 1,
            burst: Some(400),
        }),
        per_user: production.then_some(Bucket {
            requests: 20,
            per_seconds: 1,
            burst: Some(60),
        }),
        ..RateLimitConfig::default()
    }
}

/// Where the supergraph comes from.
#[derive(Debug, Clone)]
enum Source {
    Sdl(String),
    File(PathBuf),
    Config(PathBuf),
}

/// A BFF file: what a BFF binary serves, in TOML.
///
/// ```toml
/// supergraph = "supergraph.graphql"   # or: supergraph_config = "supergraph.yaml"
/// include_tags = ["web"]              # the contract (needs the `compose` feature)
/// exclude_tags = ["internal"]
/// manifest = "operations/manifest.json"
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BffFile {
    /// A supergraph SDL file (a contract already cut by `tributary-schema compose`, say).
    pub supergraph: Option<PathBuf>,
    /// A supergraph config (rover's YAML) composed at start.
    pub supergraph_config: Option<PathBuf>,
    /// Tags the client's contract shows (empty: all).
    #[serde(default)]
    pub include_tags: Vec<String>,
    /// Tags the client's contract hides.
    #[serde(default)]
    pub exclude_tags: Vec<String>,
    /// The persisted-operation manifest.
    pub manifest: Option<PathBuf>,
}

impl BffFile {
    /// Reads a BFF file; relative paths in it resolve against its folder.
    pub fn load(path: &Path) -> Result<BffFile, BffError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|error| BffError::File {
            path: shown.clone(),
            message: error.to_string(),
        })?;
        let mut file: BffFile = toml::from_str(&text).map_err(|error| BffError::File {
            path: shown,
            message: error.to_string(),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        for entry in [
            &mut file.supergraph,
            &mut file.supergraph_config,
            &mut file.manifest,
        ] {
            if let Some(relative) = entry.as_mut() {
                *relative = base.join(&*relative);
            }
        }
        Ok(file)
    }
}

/// A BFF being put together; [`Bff::engine`] or [`Bff::serve`] finish it.
pub struct Bff {
    name: String,
    source: Option<Source>,
    include_tags: Vec<String>,
    exclude_tags: Vec<String>,
    locals: HashMap<String, Arc<dyn Transport>>,
    manifest: Option<PathBuf>,
    embedded_manifest: Option<Manifest>,
    config: Config,
}

impl Bff {
    /// A BFF named `name` (its engine's name in logs and metrics), with the engine's defaults.
    pub fn new(name: &str) -> Bff {
        let mut config = Config::default();
        config.server.name = name.to_owned();
        Bff {
            name: name.to_owned(),
            source: None,
            include_tags: Vec::new(),
            exclude_tags: Vec::new(),
            locals: HashMap::new(),
            manifest: None,
            embedded_manifest: None,
            config,
        }
    }

    /// Serves this supergraph SDL (one embedded in the binary, say).
    pub fn supergraph_sdl(mut self, sdl: impl Into<String>) -> Bff {
        self.source = Some(Source::Sdl(sdl.into()));
        self
    }

    /// Serves the supergraph in this file.
    pub fn supergraph_file(mut self, path: impl Into<PathBuf>) -> Bff {
        self.source = Some(Source::File(path.into()));
        self
    }

    /// Composes this supergraph config (rover's YAML) at start (`compose` feature).
    pub fn supergraph_config(mut self, path: impl Into<PathBuf>) -> Bff {
        self.source = Some(Source::Config(path.into()));
        self
    }

    /// The client's contract: only elements tagged with one of `include` (all when empty),
    /// without those tagged with one of `exclude` (`compose` feature).
    pub fn contract<S: AsRef<str>>(mut self, include: &[S], exclude: &[S]) -> Bff {
        self.include_tags = include.iter().map(|t| t.as_ref().to_owned()).collect();
        self.exclude_tags = exclude.iter().map(|t| t.as_ref().to_owned()).collect();
        self
    }

    /// The BFF's own fields: the async-graphql subgraph `name` of the supergraph, run in
    /// process (its URL in the supergraph is never called).
    pub fn local<E>(mut self, name: &str, executor: E) -> Bff
    where
        E: async_graphql::Executor,
    {
        let transport: Arc<dyn Transport> = Arc::new(InProcessTransport::new(executor));
        self.locals.insert(name.to_owned(), transport);
        self
    }

    /// The client's persisted operations, from a manifest file (any format the engine reads).
    pub fn manifest(mut self, path: impl Into<PathBuf>) -> Bff {
        self.manifest = Some(path.into());
        self
    }

    /// The client's persisted operations, already loaded (a manifest embedded in the binary).
    pub fn manifest_loaded(mut self, manifest: Manifest) -> Bff {
        self.embedded_manifest = Some(manifest);
        self
    }

    /// The profile: the engine configuration (its `[server] name` is kept as given here when
    /// the profile leaves the default).
    pub fn config(mut self, mut config: Config) -> Bff {
        if config.server.name == Config::default().server.name {
            config.server.name.clone_from(&self.name);
        }
        self.config = config;
        self
    }

    /// Applies a [`BffFile`]: its supergraph (when it names one), contract and manifest.
    pub fn file(mut self, file: BffFile) -> Bff {
        if let Some(path) = file.supergraph_config {
            self.source = Some(Source::Config(path));
        } else if let Some(path) = file.supergraph {
            self.source = Some(Source::File(path));
        }
        if !file.include_tags.is_empty() || !file.exclude_tags.is_empty() {
            self.include_tags = file.include_tags;
            self.exclude_tags = file.exclude_tags;
        }
        if let Some(path) = file.manifest {
            self.manifest = Some(path);
            self.embedded_manifest = None;
        }
        self
    }

    /// Builds the engine: loads (or composes) the supergraph, cuts the contract, loads the
    /// manifest.
    pub async fn engine(self) -> Result<Engine, BffError> {
        let sdl = match &self.source {
            Some(Source::Config(path)) => compose_config(path).await?,
            _ => self.read_supergraph()?,
        };
        self.finish(sdl)
    }

    /// Builds the engine without waiting: as [`Bff::engine`] for a supergraph SDL or file (a
    /// supergraph config is composed by [`Bff::engine`] only).
    pub fn build(self) -> Result<Engine, BffError> {
        let sdl = self.read_supergraph()?;
        self.finish(sdl)
    }

    fn read_supergraph(&self) -> Result<String, BffError> {
        match &self.source {
            None => Err(BffError::NoSupergraph(self.name.clone())),
            Some(Source::Sdl(sdl)) => Ok(sdl.clone()),
            Some(Source::File(path)) => {
                std::fs::read_to_string(path).map_err(|error| BffError::File {
                    path: path.display().to_string(),
                    message: error.to_string(),
                })
            }
            Some(Source::Config(_)) => Err(BffError::NeedsCompose(
                "a supergraph config (built with `Bff::engine`)",
            )),
        }
    }

    fn finish(self, sdl: String) -> Result<Engine, BffError> {
        let sdl = self.cut_contract(sdl)?;
        let supergraph = Supergraph::from_sdl(&sdl)?;
        let manifest = match (&self.manifest, self.embedded_manifest) {
            (Some(path), _) => Some(Manifest::load(path)?),
            (None, embedded) => embedded,
        };
        let engine = Engine::new(supergraph, self.config, self.locals)?;
        Ok(match manifest {
            Some(manifest) => engine.with_manifest(manifest),
            None => engine,
        })
    }

    /// Serves the BFF on `listener` until `shutdown` is cancelled; the task ends once the
    /// requests in flight are answered.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: CancellationToken,
    ) -> Result<JoinHandle<std::io::Result<()>>, BffError> {
        let name = self.name.clone();
        let engine = self.engine().await?;
        let addr = listener.local_addr()?;
        let task = tributary_gateway::http::serve(listener, Arc::new(engine), shutdown);
        tracing::info!(bff = %name, %addr, "BFF serving");
        Ok(task)
    }

    #[cfg(feature = "compose")]
    fn cut_contract(&self, sdl: String) -> Result<String, BffError> {
        if self.include_tags.is_empty() && self.exclude_tags.is_empty() {
            return Ok(sdl);
        }
        Ok(tributary_schema::Contract::excluding(&self.exclude_tags)
            .including(&self.include_tags)
            .apply(&sdl)?)
    }

    #[cfg(not(feature = "compose"))]
    fn cut_contract(&self, sdl: String) -> Result<String, BffError> {
        if self.include_tags.is_empty() && self.exclude_tags.is_empty() {
            Ok(sdl)
        } else {
            Err(BffError::NeedsCompose("a contract by tags"))
        }
    }
}

#[cfg(feature = "compose")]
async fn compose_config(path: &Path) -> Result<String, BffError> {
    let client = reqwest::Client::new();
    Ok(
        tributary_gateway::supergraph::compose::from_config(path, &client)
            .await?
            .sdl,
    )
}

#[cfg(not(feature = "compose"))]
async fn compose_config(_path: &Path) -> Result<String, BffError> {
    Err(BffError::NeedsCompose("a supergraph config"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn a_bff_file_resolves_its_paths_against_its_folder() {
        let dir = std::env::temp_dir().join(format!("bff-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bff.toml");
        std::fs::write(
            &path,
            "supergraph = \"graph/supergraph.graphql\"\nexclude_tags = [\"internal\"]\nmanifest = \"/abs/manifest.json\"\n",
        )
        .unwrap();
        let file = BffFile::load(&path).unwrap();
        assert_eq!(file.supergraph, Some(dir.join("graph/supergraph.graphql")));
        assert_eq!(file.manifest, Some(PathBuf::from("/abs/manifest.json")));
        assert_eq!(file.exclude_tags, vec!["internal".to_owned()]);
        std::fs::write(&path, "supergraf = \"x\"\n").unwrap();
        let error = BffFile::load(&path).unwrap_err().to_string();
        assert!(
            error.contains("bff.toml") && error.contains("supergraf"),
            "{error}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_bff_file_replaces_the_embedded_supergraph_and_a_contract_needs_the_feature() {
        let sdl = "schema @link(url: \"https://specs.apollo.dev/link/v1.0\") @link(url: \"https://specs.apollo.dev/join/v0.3\", for: EXECUTION) { query: Query }\n\
                   directive @join__graph(name: String!, url: String!) on ENUM_VALUE\n\
                   directive @link(url: String, as: String, for: link__Purpose, import: [link__Import]) repeatable on SCHEMA\n\
                   scalar link__Import\nenum link__Purpose { SECURITY EXECUTION }\n\
                   enum join__Graph { A @join__graph(name: \"a\", url: \"http://127.0.0.1:1/graphql\") }\n\
                   type Query { hello: String }";
        let dir = std::env::temp_dir().join(format!("bff-sdl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("supergraph.graphql");
        std::fs::write(&file, sdl).unwrap();
        let built = Bff::new("t")
            .supergraph_sdl("not a supergraph")
            .file(BffFile {
                supergraph: Some(file.clone()),
                ..BffFile::default()
            })
            .build();
        assert!(built.is_ok(), "{:?}", built.err());
        let tagged = Bff::new("t")
            .supergraph_file(&file)
            .contract(&[] as &[&str], &["internal"])
            .build();
        if cfg!(feature = "compose") {
            assert!(tagged.is_ok(), "{:?}", tagged.err());
        } else {
            assert!(matches!(tagged, Err(BffError::NeedsCompose(_))));
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
