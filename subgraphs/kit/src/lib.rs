//! What every Tributary domain subgraph shares, so that a subgraph crate holds only its domain.
//!
//! The kit owns the bootstrap (command line, database connection, migrations, seeding, the
//! axum server with `/graphql` and `/health`), the caller's identity as it arrives from the
//! gateway (a JWT in `Authorization`), the stable error codes every subgraph answers with,
//! input checks, DataLoader wiring and the client one subgraph uses to call another. It knows
//! nothing of any domain: it never names a product, a user or an order.
//!
//! # Layout
//! - [`Subgraph`]: the one trait a domain crate implements; [`start`] and [`main`] run it.
//! - [`db`]: SQLite or PostgreSQL from one URL.
//! - [`auth`]: issuing and verifying tokens; the caller of a request.
//! - [`error`], [`input`]: stable `extensions.code`s and checks on client input.
//! - [`server`]: the HTTP surface of a subgraph.
//! - [`peer`]: GraphQL calls from one subgraph to another.

pub mod auth;
pub mod db;
pub mod error;
pub mod input;
pub mod peer;
mod run;
pub mod server;

use std::future::Future;

pub use async_graphql;
pub use auth::{Auth, Caller, Claims};
pub use error::{Code, ResultExt, error};
pub use peer::Peers;
pub use run::{Running, StartOptions, main, start};
pub use sea_orm;
pub use sea_orm_migration;

use sea_orm::{DatabaseConnection, DbErr};
use sea_orm_migration::MigratorTrait;

/// What a domain crate provides so the kit can migrate, seed and serve it.
pub trait Subgraph: 'static {
    /// The subgraph's name in the supergraph (`accounts`, `catalog`, ...).
    const NAME: &'static str;
    /// The loopback port it listens on when nothing else is said.
    const DEFAULT_PORT: u16;
    /// The migrations that create and evolve its tables.
    type Migrator: MigratorTrait;

    /// The Federation v2 SDL of the subgraph, as `_service { sdl }` returns it.
    fn sdl() -> String;

    /// Inserts the deterministic demo data when the database holds none.
    fn seed(db: &DatabaseConnection) -> impl Future<Output = Result<(), DbErr>> + Send;

    /// Builds the GraphQL executor answering this subgraph's requests.
    fn executor(deps: Deps) -> impl async_graphql::Executor;
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

/// Applies the settings every subgraph schema shares: federation and limits on query shape.
pub fn harden<Q, M, S>(
    builder: async_graphql::SchemaBuilder<Q, M, S>,
) -> async_graphql::SchemaBuilder<Q, M, S> {
    builder
        .enable_federation()
        .limit_depth(32)
        .limit_recursive_depth(64)
        .limit_complexity(20_000)
        .limit_directives(32)
}

/// Renders the Federation v2 SDL of a schema the way `_service { sdl }` returns it.
pub fn federation_sdl<Q, M, S>(schema: &async_graphql::Schema<Q, M, S>) -> String
where
    Q: async_graphql::ObjectType + 'static,
    M: async_graphql::ObjectType + 'static,
    S: async_graphql::SubscriptionType + 'static,
{
    schema.sdl_with_options(
        async_graphql::SDLExportOptions::new()
            .federation()
            .compose_directive(),
    )
}

/// Wraps a loader in async-graphql's DataLoader, batching on the tokio runtime.
pub fn loader<L>(inner: L) -> async_graphql::dataloader::DataLoader<L>
where
    L: Send + Sync + 'static,
{
    async_graphql::dataloader::DataLoader::new(inner, tokio::spawn)
}
