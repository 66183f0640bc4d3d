//! Tributary's federation engine, a library: it loads a supergraph, derives the API schema,
//! prepares operations (parse, validate, limits, plan; cached), executes plans over subgraph
//! transports (HTTP and in-process) with batched entity fetches, and serves GraphQL over HTTP.
//!
//! It knows nothing of the demo domains (none of their types or fields appears here) and nothing
//! of either BFF: a BFF is an engine plus configuration plus in-process subgraphs.
//!
//! The `compose` feature (on by default, off where a BFF depends on the engine) lets the
//! router compose a supergraph config at start and again on change ([`supergraph::compose`],
//! [`supergraph::source`], [`engine::follow`]); it is the only way the engine reaches the
//! composer.
//!
//! # Layout, along the request path
//! Each module depends only on the ones listed before it (`tests/it/layering.rs` keeps it so):
//! 1. [`error`]: `GraphqlError` and the `Code` of every error the engine emits.
//! 2. [`request`]: the engine's wire-agnostic request and response.
//! 3. [`config`]: the sectioned configuration and its one loader.
//! 4. [`supergraph`]: loading, the planner adapter, the API schema, introspection.
//! 5. [`admit`]: body and batch sizes, persisted operations, APQ, the safelist, tokens, cookie
//!    sessions, rate limits.
//! 6. [`prepare`]: parse, limits, validate, normalize, plan, plan cache; variables;
//!    authorization directives; demand control.
//! 7. [`transport`]: HTTP and in-process subgraph calls, single flight.
//! 8. [`cache`]: the response cache, entity tags and invalidation, the Redis tier.
//! 9. [`execute`]: walk the plan, fetch, merge; data and errors out.
//! 10. [`respond`]: the client's response written once.
//! 11. [`pipeline`]: the lifecycle as a sequence of stage calls; metrics.
//! 12. [`engine`]: the handle (current supergraph, pipeline, transports, caches).
//! 13. [`http`]: GraphQL over HTTP, GraphiQL, health, metrics endpoint, cache invalidation.

#![warn(clippy::unwrap_used, clippy::expect_used)]
// A `GraphqlError` is a few hundred bytes and travels only on the refusal path, once per
// refused request; boxing it would cost every refusal an allocation for no gain.
#![allow(clippy::result_large_err)]

pub mod admit;
pub mod cache;
pub mod config;
pub mod engine;
pub mod error;
pub mod execute;
pub mod http;
pub mod pipeline;
pub mod prepare;
pub mod request;
pub mod respond;
pub mod supergraph;
pub mod transport;

pub use admit::persisted::{Manifest, sha256_hex};
pub use config::Config;
pub use engine::{Engine, EngineError};
pub use error::{Code, GraphqlError};
pub use request::{Request, Response};
pub use supergraph::Supergraph;
/// Where an engine runs (development or production), shared with every binary.
pub use tributary_process::Environment;
