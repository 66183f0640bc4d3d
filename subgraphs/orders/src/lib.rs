//! The orders subgraph: checkout, order history and cancellation.
//!
//! It owns the `orders` and `order_lines` tables, defines `Order` (an entity keyed by `id`),
//! extends the accounts subgraph's `User` with `orders`, and references the catalog's
//! `Product` by id only. Prices are never taken from the client: checkout asks the catalog
//! subgraph for them, and reserves stock through the inventory subgraph's internal
//! `reserveStock` with a service token, so orders never reads another subgraph's tables.
//! Every operation acts for the signed-in user only; an order still being checked out
//! (`PENDING`) is invisible.
//!
//! # Layout
//! - `query`: `Order`, `OrderLine`, `User.orders`, the queries and entity references.
//! - `mutation`: the Mutation root, `checkout` and `cancelOrder`.
//! - `checkout`: the rules behind both: checkout idempotent per customer and key, under a
//!   lease; cancellation.
//! - `loader`: the batch loaders behind the queries.
//! - `upstream`: the calls to catalog and inventory.
//! - `entity`, `migration`, `seed`: tables, their migrations and the demo orders.

mod checkout;
mod entity;
mod loader;
mod migration;
mod mutation;
mod query;
mod seed;
mod upstream;

use async_graphql::{EmptySubscription, Schema};
use subgraph_kit::{Deps, Subgraph};

pub use mutation::Mutation;
pub use query::Query;

/// The orders subgraph's schema type.
pub type OrdersSchema = Schema<Query, Mutation, EmptySubscription>;

/// The orders subgraph, for the kit to run.
pub struct Orders;

impl Subgraph for Orders {
    const NAME: &'static str = "orders";
    const DEFAULT_PORT: u16 = 4105;
    type Migrator = migration::Migrator;

    fn sdl() -> String {
        subgraph_kit::federation_sdl(&builder().finish())
    }

    async fn seed(db: &sea_orm::DatabaseConnection) -> Result<(), sea_orm::DbErr> {
        seed::seed(db).await
    }

    fn maintain(
        deps: Deps,
        shutdown: subgraph_kit::CancellationToken,
    ) -> impl Future<Output = ()> + Send + 'static {
        reconcile_until(deps, shutdown)
    }

    fn executor(deps: Deps) -> impl async_graphql::Executor {
        let (orders, lines, customer_orders) = loader::loaders(&deps.db);
        builder()
            .data(orders)
            .data(lines)
            .data(customer_orders)
            .data(upstream::Upstream::new(deps.peers, deps.auth))
            .data(deps.db)
            .finish()
    }
}

/// How often checkouts a crash left `PENDING` are looked for (also once at start).
pub const RECONCILE_EVERY: std::time::Duration = std::time::Duration::from_secs(15);

/// Releases the stock of checkouts left `PENDING` past their lease (the process that held them
/// died, or inventory could not say whether it reserved) and removes them; returns how many.
/// Safe to run again and beside running checkouts: it only takes orders whose lease ran out,
/// claiming each first, and releasing a reservation twice returns its stock once.
pub async fn reconcile(deps: &Deps) -> async_graphql::Result<usize> {
    let upstream = upstream::Upstream::new(deps.peers.clone(), deps.auth.clone());
    checkout::reconcile(&deps.db, &upstream).await
}

async fn reconcile_until(deps: Deps, shutdown: subgraph_kit::CancellationToken) {
    loop {
        match reconcile(&deps).await {
            Ok(0) => {}
            Ok(released) => tracing::info!(released, "abandoned checkouts reconciled"),
            Err(err) => {
                tracing::warn!(error = ?err.message, "reconciling checkouts failed; retrying later")
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(RECONCILE_EVERY) => {}
        }
    }
}

fn builder() -> async_graphql::SchemaBuilder<Query, Mutation, EmptySubscription> {
    subgraph_kit::harden(Schema::build(Query, Mutation, EmptySubscription))
}
