//! The catalog subgraph: products and the categories they are listed in.
//!
//! It owns the `categories` and `products` tables and defines the `Product` and `Category`
//! entities (`@key(fields: "id")`) that the other subgraphs extend: reviews adds ratings,
//! inventory adds stock, orders reads prices. It knows nothing of users, stock or orders, and
//! calls no other subgraph.
//!
//! # Layout
//! - `entity`, `migration`, `seed`: the tables, how they are created, the demo data.
//! - `loader`: DataLoaders answering each batch of keys with one query.
//! - `query`: the GraphQL types, the queries and entity references.
//! - `mutation`: the (empty) Mutation root; the catalog is read-only for clients.

mod entity;
mod loader;
mod migration;
mod mutation;
mod query;
mod seed;

use async_graphql::{EmptySubscription, Schema};
use subgraph_kit::{Deps, Subgraph, loader};

pub use mutation::Mutation;
pub use query::Query;

/// The catalog subgraph's schema type.
pub type CatalogSchema = Schema<Query, Mutation, EmptySubscription>;

/// The catalog subgraph, for the kit to run.
pub struct Catalog;

impl Subgraph for Catalog {
    const NAME: &'static str = "catalog";
    const DEFAULT_PORT: u16 = 4102;
    type Migrator = migration::Migrator;

    fn sdl() -> String {
        subgraph_kit::federation_sdl(&builder().finish())
    }

    async fn seed(db: &sea_orm::DatabaseConnection) -> Result<(), sea_orm::DbErr> {
        seed::seed(db).await
    }

    fn executor(deps: Deps) -> impl async_graphql::Executor {
        builder()
            .data(loader(loader::ProductLoader::new(deps.db.clone())))
            .data(loader(loader::CategoryLoader::new(deps.db.clone())))
            .data(loader(loader::ProductCountLoader::new(deps.db.clone())))
            .data(loader(loader::CategoryProductsLoader::new(deps.db.clone())))
            .data(deps.db)
            .finish()
    }
}

fn builder() -> async_graphql::SchemaBuilder<Query, Mutation, EmptySubscription> {
    subgraph_kit::harden(Schema::build(Query, Mutation::default(), EmptySubscription))
}
