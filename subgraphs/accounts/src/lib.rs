//! The accounts subgraph: users, sign-up and login, and the tokens every other subgraph trusts.
//!
//! It owns the `users` table and is the only place that sees a password. It issues HS256
//! tokens (`sub` = user id, `scope` = `user`) with the secret shared through the kit, and
//! knows nothing of products, reviews or orders: those subgraphs extend `User` themselves.
//!
//! # Layout
//! - `query`: `User`, the queries and `User` entity references.
//! - `mutation`: `signUp` and `login`, and password hashing.
//! - `loader`: DataLoaders answering each batch of ids with one query.
//! - `entity`, `migration`, `seed`: the table, how it is created, the demo users.

mod entity;
mod loader;
mod migration;
mod mutation;
mod query;
mod seed;

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
