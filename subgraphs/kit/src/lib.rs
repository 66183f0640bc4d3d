//! What every Tributary domain subgraph shares, so that a subgraph crate holds only its domain.
//!
//! The kit owns what a domain service adds to an async-graphql subgraph: the bootstrap
//! (command line, database connection, migrations, seeding, the axum server with `/graphql`,
//! WebSocket subscriptions on it, and `/health`), the event bus its replicas share, the
//! caller's identity as it arrives from the gateway (a JWT in `Authorization`) and the client
//! one subgraph uses to call another. What every subgraph
//! shares, the BFFs' in-process ones included (error codes, input checks, entity references,
//! schema settings, DataLoader wiring), is `subgraph-core`'s and re-exported here; the
//! process concerns (environment, tracing, shutdown, `main`) are `tributary-process`'s. It
//! knows nothing of any domain: it never names a product, a user or an order.
//!
//! # Layout
//! - [`Subgraph`]: the one trait a domain crate implements; [`start`] and [`main`] run it,
//!   [`serve`] runs another replica of it on a database already prepared; [`ServeArgs`] and
//!   [`serve_main`] serve it from a binary with commands of its own.
//! - [`db`]: SQLite or PostgreSQL from one URL.
//! - [`auth`]: issuing and verifying tokens (an HS256 secret, or ES256 keys from a folder,
//!   published as a JWKS); the caller of a request.
//! - [`error`], [`input`], [`reference`], [`harden`], [`federation_sdl`], [`loader`]:
//!   re-exported from `subgraph-core`.
//! - [`server`]: the HTTP surface of a subgraph (and its WebSocket subscriptions), and the JWKS
//!   route the signing one adds.
//! - [`events`]: the event bus, in process or on NATS JetStream.
//! - [`peer`]: GraphQL calls from one subgraph to another.

pub mod auth;
pub mod db;
pub mod events;
pub mod peer;
mod run;
pub mod server;

use std::future::Future;

pub use async_graphql;
pub use auth::{Auth, Caller, Claims};
pub use axum;
pub use events::EventBus;
pub use peer::Peers;
pub use run::{
    DatabaseArgs, Running, ServeArgs, StartOptions, TokenArgs, main, serve, serve_main, start,
};
pub use sea_orm;
pub use sea_orm_migration;
pub use subgraph_core::{
    Code, ResultExt, access, error, federation_sdl, harden, input, loader, not_provided, reference,
};
/// The token a subgraph's server and upkeep stop on.
pub use tokio_util::sync::CancellationToken;

use sea_orm::{DatabaseConnection, DbErr};
use sea_orm_migration::MigratorTrait;

/// What a domain crate provides so the kit can migrate, seed and serve it.
pub trait Subgraph: 'static {
    /// The subgraph's name in the supergraph (`accounts`, `catalog`, ...).
    const NAME: &'static str;
    /// The loopback port it listens on when nothing else is said.
    const DEFAULT_PORT: u16;
    /// The event topics the subgraph publishes or subscribes to (orders: its status changes):
    /// with `NATS_URL` set, the kit opens their JetStream streams at start, so the subgraph's
    /// replicas share them. None by default: the bus stays in the process.
    const TOPICS: &'static [events::Topic] = &[];
    /// The migrations that create and evolve its tables.
    type Migrator: MigratorTrait;

    /// The Federation v2 SDL of the subgraph, as `_service { sdl }` returns it.
    fn sdl() -> String;

    /// Inserts the deterministic demo data when the database holds none.
    fn seed(db: &DatabaseConnection) -> impl Future<Output = Result<(), DbErr>> + Send;

    /// Builds the GraphQL executor answering this subgraph's requests.
    fn executor(deps: Deps) -> impl async_graphql::Executor;

    /// HTTP routes the subgraph serves beside `/graphql` and `/health` (accounts publishes its
    /// token keys with [`server::jwks`]); none by default.
    fn routes(deps: &Deps) -> axum::Router {
        let _ = deps;
        axum::Router::new()
    }

    /// Background upkeep the subgraph runs beside its server until `shutdown`, publishing on
    /// `events` what it changes (orders reconciles checkouts a crash left behind and may
    /// simulate couriers); none by default.
    fn maintain(
        deps: Deps,
        events: EventBus,
        shutdown: tokio_util::sync::CancellationToken,
    ) -> impl Future<Output = ()> + Send + 'static {
        let _ = (deps, events, shutdown);
        std::future::ready(())
    }
}

/// Everything a subgraph's resolvers may reach: its database, the token authority and its peers.
#[derive(Clone)]
pub struct Deps {
    /// The subgraph's own database; no other subgraph reads it.
    pub db: DatabaseConnection,
    /// Verifies callers' tokens and issues service tokens for calls to peers.
    pub auth: Auth,
    /// GraphQL endpoints of the other subgraphs this one calls (orders calls catalog and inventory).
    pub peers: Peers,
}
