//! The web backend-for-frontend: Tributary's federation engine in front of the web SPA, with
//! the web profile (the full API schema, GraphiQL in development, CORS, batched POSTs, cache
//! hints) and the web's own fields (the storefront and the product page) as an in-process
//! subgraph named `web`.
//!
//! The crate composes nothing at run time: it embeds `schema/web/supergraph.graphql`, which
//! `cargo run -p tributary-schema-cli -- compose` writes from the domain subgraphs and
//! [`sdl`], and it never depends on the schema crates (the schema command line reads [`sdl`]
//! from here). Its fields return entity references and format what the planner fetches for
//! them; the domains' logic stays in the domain subgraphs.
//!
//! # Layout
//! - `local`: the `web` subgraph's schema and resolvers.
//! - [`profile()`]: the engine configuration and the merchandising for an
//!   [`Environment`](tributary_gateway::Environment).
//! - [`engine`], [`start`]: the engine with its in-process subgraph, served over HTTP.

mod local;
mod profile;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tributary_bff::Bff;
use tributary_gateway::{Config, Engine};

pub use local::{Query, WebSchema};
pub use profile::{Merchandising, PRODUCT_PAGE_DEFERRED, profile};

/// The in-process subgraph's name in the web supergraph.
pub const SUBGRAPH: &str = "web";

/// The URL the supergraph declares for the in-process subgraph; nothing listens there.
pub const SUBGRAPH_URL: &str = "inprocess://web";

/// The web supergraph, composed from the domain subgraphs and the `web` subgraph.
pub const SUPERGRAPH: &str = include_str!("../../schema/web/supergraph.graphql");

/// The web subgraph's executor, with the default merchandising.
pub fn schema() -> WebSchema {
    local::schema_with(Merchandising::default())
}

/// The web subgraph's Federation v2 SDL, as `_service { sdl }` returns it.
pub fn sdl() -> String {
    subgraph_core::federation_sdl(&schema())
}

/// The web BFF's engine: the embedded supergraph, `config`, and the `web` subgraph in process.
pub fn engine(config: Config) -> anyhow::Result<Engine> {
    bff(config).build().context("starting the web engine")
}

/// The web BFF as a [`Bff`]: what [`engine`] builds, for a caller that changes a part (a
/// [`BffFile`](tributary_bff::BffFile) naming another supergraph, say).
pub fn bff(config: Config) -> Bff {
    Bff::new(SUBGRAPH)
        .supergraph_sdl(SUPERGRAPH)
        .local(SUBGRAPH, schema())
        .config(config)
}

/// Serves the web BFF with `config` on `listener` until `shutdown` is cancelled; the task
/// ends once in-flight requests are answered.
pub async fn start(
    listener: TcpListener,
    config: Config,
    shutdown: CancellationToken,
) -> anyhow::Result<JoinHandle<std::io::Result<()>>> {
    Ok(bff(config).serve(listener, shutdown).await?)
}
