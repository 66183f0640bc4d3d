//! The engine's configuration: one document, every field defaulted so an empty file runs.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::prepare::Limits;

/// Configuration of an engine and its HTTP front.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
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
    /// Client request headers copied onto every subgraph request (lower-case names).
    pub forward_headers: Vec<String>,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Serve GraphiQL to browsers on the GraphQL path.
    pub graphiql: bool,
    /// Watch the supergraph file and swap to a new version when it changes.
    pub watch_supergraph: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            supergraph: None,
            listen: "127.0.0.1:4000".to_owned(),
            limits: Limits::default(),
            plan_cache_size: 1_000,
            subgraph_timeout_ms: 30_000,
            subgraph_h2c: false,
            forward_headers: vec!["authorization".to_owned(), "x-request-id".to_owned()],
            max_body_bytes: 2 * 1024 * 1024,
            graphiql: true,
            watch_supergraph: true,
        }
    }
}

impl Config {
    /// The per-subgraph timeout.
    pub fn subgraph_timeout(&self) -> Duration {
        Duration::from_millis(self.subgraph_timeout_ms)
    }
}
