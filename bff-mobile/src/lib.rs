//! The mobile backend-for-frontend: Tributary's federation engine in front of the mobile app,
//! with the mobile profile (the contract API schema without web-only fields, persisted
//! operations over GET with `ETag` and `Cache-Control`, capped page sizes, the safelist in
//! production) and the app's own fields (the home feed, card fields on `Product` and `Order`)
//! as an in-process subgraph named `mobile`.
//!
//! The crate composes nothing at run time: it embeds `schema/mobile/supergraph.graphql` (the
//! contract supergraph) and `operations/manifest.json` (the app's operations, one file each in
//! `operations/`), which `cargo run -p tributary-schema-cli -- compose` writes, and it never
//! depends on the schema crates (the schema command line reads [`sdl`] from here). Its fields
//! return entity references and format what the planner fetches for them; the domains' logic
//! stays in the domain subgraphs.
//!
//! # Layout
//! - `local`: the `mobile` subgraph's schema and resolvers.
//! - [`profile()`]: the engine configuration and the merchandising for an
//!   [`Environment`](tributary_gateway::Environment).
//! - [`engine`], [`start`]: the engine with its in-process subgraph and its manifest, served
//!   over HTTP.

mod local;
mod profile;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tributary_bff::Bff;
use tributary_gateway::Manifest;
use tributary_gateway::{Config, Engine};

pub use local::{MobileSchema, Query};
pub use profile::{MAX_PAGE_SIZE, Merchandising, profile};

/// The in-process subgraph's name in the mobile supergraph.
pub const SUBGRAPH: &str = "mobile";

/// The URL the supergraph declares for the in-process subgraph; nothing listens there.
pub const SUBGRAPH_URL: &str = "inprocess://mobile";

/// The mobile contract supergraph, composed from the domain subgraphs and the `mobile`
/// subgraph with every `web`-tagged element made `@inaccessible`.
pub const SUPERGRAPH: &str = include_str!("../../schema/mobile/supergraph.graphql");

/// The persisted-operation manifest of the app's operations (`operations/*.graphql`).
pub const MANIFEST: &str = include_str!("../operations/manifest.json");

/// The embedded manifest, parsed.
pub fn manifest() -> anyhow::Result<Manifest> {
    serde_json::from_str(MANIFEST).context("parsing bff-mobile/operations/manifest.json")
}

/// The mobile subgraph's executor, with the default merchandising.
pub fn schema() -> MobileSchema {
    local::schema_with(Merchandising::default())
}

/// The mobile subgraph's Federation v2 SDL, as `_service { sdl }` returns it.
pub fn sdl() -> String {
    subgraph_core::federation_sdl(&schema())
}

/// The mobile BFF's engine: the embedded contract supergraph and manifest, `config`, and the
/// `mobile` subgraph in process.
pub fn engine(config: Config) -> anyhow::Result<Engine> {
    bff(config)?.build().context("starting the mobile engine")
}

/// The mobile BFF as a [`Bff`]: what [`engine`] builds, for a caller that changes a part (a
/// [`BffFile`](tributary_bff::BffFile) naming another supergraph and manifest, say).
pub fn bff(config: Config) -> anyhow::Result<Bff> {
    Ok(Bff::new(SUBGRAPH)
        .supergraph_sdl(SUPERGRAPH)
        .local(SUBGRAPH, schema())
        .manifest_loaded(manifest()?)
        .config(config))
}

/// Serves the mobile BFF with `config` on `listener` until `shutdown` is cancelled; the task
/// ends once in-flight requests are answered.
pub async fn start(
    listener: TcpListener,
    config: Config,
    shutdown: CancellationToken,
) -> anyhow::Result<JoinHandle<std::io::Result<()>>> {
    Ok(bff(config)?.serve(listener, shutdown).await?)
}
