//! The engine's configuration: one document, every field defaulted so an empty file runs.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

pub use crate::http::persisted::PersistedConfig;
use crate::prepare::Limits;

/// Configuration of an engine and its HTTP front.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The name this engine reports in logs and metrics (`web`, `mobile`, `router`).
    pub name: String,
    /// The supergraph SDL file.
    pub supergraph: Option<PathBuf>,
    /// Address the router binary listens on.
    pub listen: String,
    /// Limits on operation shape.
    pub limits: Limits,
    /// How many prepared operations (parsed, validated, planned) to keep.
    pub plan_cache_size: u64,
    /// Per-subgraph request timeout, in milliseconds.
    pub subgraph_timeout_ms: u64,
    /// Talk to subgraphs with HTTP/2 without TLS (h2c) instead of HTTP/1.1.
    pub subgraph_h2c: bool,
    /// Share identical query requests to a subgraph that are in flight at the same time.
    pub dedupe_subgraph_queries: bool,
    /// Largest subgraph response body accepted, in bytes.
    pub max_subgraph_response_bytes: usize,
    /// Client request headers copied onto every subgraph request (lower-case names).
    pub forward_headers: Vec<String>,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Serve GraphiQL to browsers on the GraphQL path.
    pub graphiql: bool,
    /// Serve Prometheus metrics at `/metrics` (keep it off where clients can reach it).
    pub metrics: bool,
    /// Watch the supergraph file and swap to a new version when it changes.
    pub watch_supergraph: bool,
    /// Subgraph URLs replacing the ones the supergraph declares, by subgraph name.
    pub subgraph_urls: HashMap<String, String>,
    /// Persisted operations: manifest, safelist, automatic persisted queries.
    pub persisted: PersistedConfig,
    /// Browser origins allowed by CORS (empty: no CORS headers).
    pub cors_origins: Vec<String>,
    /// Most operations in one batched POST (a JSON array); 0 refuses batches.
    pub max_batch: usize,
    /// Compress responses (gzip, br, zstd) when the client accepts it.
    pub compression: bool,
    /// Largest value a page-size argument may take; `None` leaves them uncapped.
    pub max_page_size: Option<i64>,
    /// The argument names treated as page sizes.
    pub page_size_arguments: Vec<String>,
    /// Cache hints that decide the `Cache-Control` of query responses.
    pub cache_control: CacheControlConfig,
    /// Operations preloaded as tabs in GraphiQL.
    pub graphiql_examples: Vec<GraphiqlExample>,
    /// Title of the GraphiQL page.
    pub graphiql_title: String,
}

/// Where an engine runs: development turns on the conveniences (GraphiQL, automatic persisted
/// queries, free-form documents on a safelisted API), production turns them off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// A developer's machine.
    #[default]
    Development,
    /// Serving real clients.
    Production,
}

impl Environment {
    /// Whether this is production.
    pub fn is_production(self) -> bool {
        self == Environment::Production
    }
}

/// Cache hints: max-age in seconds by type or by `Type.field`; the strictest hint of every
/// type and field an operation selects (and every subgraph `Cache-Control`) wins.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheControlConfig {
    /// Max-age used when nothing selected carries a hint (0: `no-store`).
    pub default_max_age: u32,
    /// Max-age by type name.
    pub types: HashMap<String, u32>,
    /// Max-age by `Type.field`.
    pub fields: HashMap<String, u32>,
}

impl CacheControlConfig {
    /// Hints from `(type, seconds)` and `(Type.field, seconds)` pairs; no default max-age.
    pub fn from_hints(types: &[(&str, u32)], fields: &[(&str, u32)]) -> CacheControlConfig {
        let map =
            |pairs: &[(&str, u32)]| pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect();
        CacheControlConfig {
            default_max_age: 0,
            types: map(types),
            fields: map(fields),
        }
    }
}

/// An operation preloaded in GraphiQL.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GraphiqlExample {
    /// The tab's title.
    pub name: String,
    /// The document.
    pub query: String,
    /// Variables, as JSON text.
    #[serde(default)]
    pub variables: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            name: "router".to_owned(),
            supergraph: None,
            listen: "127.0.0.1:4000".to_owned(),
            limits: Limits::default(),
            plan_cache_size: 1_000,
            subgraph_timeout_ms: 30_000,
            subgraph_h2c: false,
            dedupe_subgraph_queries: true,
            max_subgraph_response_bytes: 64 * 1024 * 1024,
            forward_headers: vec!["authorization".to_owned(), "x-request-id".to_owned()],
            max_body_bytes: 2 * 1024 * 1024,
            graphiql: true,
            metrics: true,
            watch_supergraph: true,
            subgraph_urls: HashMap::new(),
            persisted: PersistedConfig::default(),
            cors_origins: Vec::new(),
            max_batch: 0,
            compression: true,
            max_page_size: None,
            page_size_arguments: vec!["first".to_owned(), "last".to_owned()],
            cache_control: CacheControlConfig::default(),
            graphiql_examples: Vec::new(),
            graphiql_title: "Tributary".to_owned(),
        }
    }
}

impl Config {
    /// The per-subgraph timeout.
    pub fn subgraph_timeout(&self) -> Duration {
        Duration::from_millis(self.subgraph_timeout_ms)
    }
}
