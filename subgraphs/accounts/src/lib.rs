//! The accounts subgraph: users, sign-up and login, sessions, and the tokens every other
//! subgraph trusts.
//!
//! It owns the `users` and `refresh_tokens` tables and is the only place that sees a password.
//! It issues access tokens (`sub` = user id, `scope` = `user`) with the kit's authority (an
//! HS256 secret, or ES256 keys whose public halves it publishes at
//! `/.well-known/jwks.json`), and refresh tokens that renew them. It knows nothing of
//! products, reviews or orders: those subgraphs extend `User` themselves.
//!
//! # Layout
//! - `query`: `User`, the queries and `User` entity references.
//! - `mutation`: `signUp`, `login`, `refreshSession`, `signOut`, and password hashing.
//! - `session`: refresh tokens: families, rotation, reuse detection, revocation.
//! - `loader`: DataLoaders answering each batch of ids with one query.
//! - `entity`, `migration`, `seed`: the tables, how they are created, the demo users.

mod entity;
mod loader;
mod migration;
mod mutation;
mod query;
mod seed;
mod session;

use async_graphql::{EmptySubscription, Schema};
use subgraph_kit::{Deps, Subgraph};

pub use mutation::Mutation;
pub use query::Query;

/// The accounts subgraph's schema type.
pub type AccountsSchema = Schema<Query, Mutation, EmptySubscription>;

/// The accounts subgraph, for the kit to run.
pub struct Accounts;

impl Subgraph for Accounts {
    const NAME: &'static str = "accounts";
    const DEFAULT_PORT: u16 = 4101;
    type Migrator = migration::Migrator;

    fn sdl() -> String {
        subgraph_kit::federation_sdl(&builder().finish())
    }

    async fn seed(db: &sea_orm::DatabaseConnection) -> Result<(), sea_orm::DbErr> {
        seed::seed(db).await
    }

    fn routes(deps: &Deps) -> subgraph_kit::axum::Router {
        subgraph_kit::server::jwks(deps.auth.clone())
    }

    fn executor(deps: Deps) -> impl async_graphql::Executor {
        builder()
            .data(subgraph_kit::loader(loader::UserLoader::new(
                deps.db.clone(),
            )))
            .data(deps.db)
            .data(deps.auth)
            .finish()
    }
}

fn builder() -> async_graphql::SchemaBuilder<Query, Mutation, EmptySubscription> {
    subgraph_kit::harden(Schema::build(Query, Mutation, EmptySubscription))
}
