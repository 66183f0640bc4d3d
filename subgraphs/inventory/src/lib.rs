//! The inventory subgraph: how many units of each product are on hand, shipping estimates,
//! and the stock reservations orders are placed against.
//!
//! It owns the `stock` and `reservations` tables and extends the catalog's `Product` with
//! `inStock`, `quantity` and `shippingEstimateCents` (which `@requires` the catalog's
//! `priceCents` and `weightGrams`; see [`shipping_estimate_cents`] for the rule). Its only
//! mutations, `reserveStock` and `releaseStock`, are `@inaccessible` (never in a client API)
//! and need a token with the `inventory:reserve` scope, which only the orders subgraph is
//! issued. It knows nothing of orders or users beyond an opaque reservation id.
//!
//! # Layout
//! - `query`: the `Product` extension and the shipping rule.
//! - `mutation`: the all-or-nothing, idempotent reservation and its release.
//! - `loader`: the batched stock loader.
//! - `entity`, `migration`, `seed`: tables, their migrations and the demo stock.

mod entity;
mod loader;
mod migration;
mod mutation;
mod query;
mod seed;

use async_graphql::{EmptySubscription, Schema};
use subgraph_kit::{Deps, Subgraph};

pub use mutation::Mutation;
pub use query::{
    FREE_SHIPPING_FROM_CENTS, Query, SHIPPING_BASE_CENTS, SHIPPING_CAP_CENTS,
    shipping_estimate_cents,
};

/// The inventory subgraph's schema type.
pub type InventorySchema = Schema<Query, Mutation, EmptySubscription>;

/// The inventory subgraph, for the kit to run.
pub struct Inventory;

impl Subgraph for Inventory {
    const NAME: &'static str = "inventory";
    const DEFAULT_PORT: u16 = 4104;
    type Migrator = migration::Migrator;

    fn sdl() -> String {
        subgraph_kit::federation_sdl(&builder().finish())
    }

    async fn seed(db: &sea_orm::DatabaseConnection) -> Result<(), sea_orm::DbErr> {
        seed::seed(db).await
    }

    fn executor(deps: Deps) -> impl async_graphql::Executor {
        builder()
            .data(subgraph_kit::loader(loader::StockLoader::new(
                deps.db.clone(),
            )))
            .data(deps.db)
            .finish()
    }
}

fn builder() -> async_graphql::SchemaBuilder<Query, Mutation, EmptySubscription> {
    subgraph_kit::harden(Schema::build(Query, Mutation, EmptySubscription))
}
