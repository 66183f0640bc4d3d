//! Tributary's federation engine, a library: it loads a supergraph, derives the API schema,
//! prepares operations (parse, validate, limits, plan; cached), executes plans over subgraph
//! transports (HTTP and in-process) with batched entity fetches, and serves GraphQL over HTTP.
//!
//! It knows nothing of the demo domains (no product, user or order appears here) and nothing
//! of either BFF: a BFF is an engine plus configuration plus in-process subgraphs.
//!
//! # Layout, along the request path
//! - [`http`]: receive (GraphQL-over-HTTP, GraphiQL, health).
//! - [`engine`]: the current supergraph version and the request lifecycle.
//! - [`prepare`]: parse, limits, validate, normalize, plan, plan cache.
//! - [`execute`]: walk the plan, fetch, merge, write the response.
//! - [`transport`]: HTTP and in-process subgraph calls.
//! - [`supergraph`]: loading, the API schema, introspection.
//! - [`config`]: the one configuration document.

#![warn(clippy::unwrap_used, clippy::expect_used)]

pub mod config;
pub mod engine;
pub mod execute;
pub mod http;
pub mod metrics;
pub mod prepare;
pub mod shutdown;
pub mod supergraph;
pub mod transport;

pub use config::{Config, Environment};
pub use engine::{Carrier, Engine, EngineError, EngineResponse, GraphqlRequest};
pub use supergraph::Supergraph;
