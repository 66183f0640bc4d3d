//! What any async-graphql subgraph of Tributary shares, the domain services and the BFFs'
//! in-process subgraphs alike: the stable error codes and the helpers that attach them, checks
//! on client input, entity-reference helpers, and the schema settings and SDL rendering every
//! subgraph uses.
//!
//! The crate links no database, no HTTP server and no token library: a BFF's in-process
//! subgraph depends on it and on nothing that opens a connection. What a domain service adds on
//! top (database, tokens, server, peers, start-up) lives in `subgraph-kit`, which re-exports
//! this crate's items. It knows nothing of any domain.
//!
//! # Layout
//! - [`error`]: [`Code`], [`error()`], [`ResultExt`].
//! - [`input`]: checks on client input, each failing with `BAD_USER_INPUT`.
//! - [`reference`]: answers for entity representations missing a field.
//! - [`access`]: the `@authenticated` and `@policy` directives.
//! - [`harden`], [`federation_sdl`], [`loader`]: schema settings, SDL and DataLoader wiring.

pub mod access;
pub mod error;
pub mod hygiene;
pub mod input;
pub mod reference;

pub use async_graphql;
pub use error::{Code, ResultExt, error};
pub use reference::not_provided;

/// Applies the settings every subgraph schema shares: federation, limits on query shape, and
/// the input hygiene guard.
pub fn harden<Q, M, S>(
    builder: async_graphql::SchemaBuilder<Q, M, S>,
) -> async_graphql::SchemaBuilder<Q, M, S> {
    builder
        .enable_federation()
        .limit_depth(32)
        .limit_recursive_depth(64)
        .limit_complexity(20_000)
        .limit_directives(32)
        .extension(hygiene::InputHygiene)
}

/// Renders the Federation v2 SDL of a schema for composition: async-graphql's rendering,
/// linking federation v2.6 with `@authenticated` and `@policy` imported (see [`access`]).
pub fn federation_sdl<Q, M, S>(schema: &async_graphql::Schema<Q, M, S>) -> String
where
    Q: async_graphql::ObjectType + 'static,
    M: async_graphql::ObjectType + 'static,
    S: async_graphql::SubscriptionType + 'static,
{
    access::link_access_directives(
        &schema.sdl_with_options(
            async_graphql::SDLExportOptions::new()
                .federation()
                .compose_directive(),
        ),
    )
}

/// Wraps a loader in async-graphql's DataLoader, batching on the tokio runtime.
pub fn loader<L>(inner: L) -> async_graphql::dataloader::DataLoader<L>
where
    L: Send + Sync + 'static,
{
    async_graphql::dataloader::DataLoader::new(inner, tokio::spawn)
}
