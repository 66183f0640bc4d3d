//! The orders subgraph: checkout, order history, cancellation, the delivery lifecycle and its
//! live status events.
//!
//! It owns the `orders` and `order_lines` tables, defines `Order` (an entity keyed by `id`),
//! extends the accounts subgraph's `User` with `orders`, and references the catalog's
//! `Product` by id only. Prices are never taken from the client: checkout asks the catalog
//! subgraph for them, and reserves stock through the inventory subgraph's internal
//! `reserveStock` with a service token, so orders never reads another subgraph's tables.
//! Every operation acts for the signed-in user only (staff's `advanceOrder` aside); an order
//! still being checked out (`PENDING`) is invisible. Every status change writes its event to an
//! outbox table in its own transaction and publishes it from there on the kit's event bus
//! (topic `orders`), which the subscriptions read: in process, or on NATS JetStream so that
//! every replica hears every change. With endpoints configured
//! ([`webhooks::ORDER_WEBHOOKS`]), every change is also POSTed to them, signed.
//!
//! # Layout
//! - `query`: `Order`, `OrderLine`, `User.orders`, the queries and entity references.
//! - `mutation`: the Mutation root, `checkout`, `cancelOrder` and `advanceOrder`.
//! - `subscription`: the Subscription root, `orderStatusChanged` and `myOrderUpdates`.
//! - `checkout`: the rules behind checkout (idempotent per customer and key, under a lease) and
//!   cancellation.
//! - `lifecycle`: the statuses and their transitions, the courier simulation, the status event.
//! - `outbox`: status events written with their change, published after the commit, and the
//!   relay that publishes what was left unpublished.
//! - `loader`: the batch loaders behind the queries.
//! - `upstream`: the calls to catalog and inventory.
//! - [`webhooks`]: status events POSTed to outside endpoints, their retries and dead letters.
//! - [`command`]: the binary's command line (serve, or `webhooks list-dead` / `replay`).
//! - `entity`, `migration`, `seed`: tables, their migrations and the demo orders.

mod checkout;
pub mod command;
mod entity;
mod lifecycle;
mod loader;
mod migration;
mod mutation;
mod outbox;
mod query;
mod seed;
mod subscription;
mod upstream;
pub mod webhooks;

use std::time::Duration;

use async_graphql::Schema;
use subgraph_kit::events::Topic;
use subgraph_kit::{CancellationToken, Deps, EventBus, Subgraph};

pub use mutation::Mutation;
pub use query::Query;
pub use subscription::Subscription;

/// The orders subgraph's schema type.
pub type OrdersSchema = Schema<Query, Mutation, Subscription>;

/// The environment variable that turns the courier simulation on: its period, in seconds
/// (`5`, `0.5`) or with a unit (`500ms`, `2s`); unset, empty, `0` or `off` leaves it off.
pub const COURIER_EVERY: &str = "TRIBUTARY_COURIER_EVERY";

/// The orders subgraph, for the kit to run.
pub struct Orders;

impl Subgraph for Orders {
    const NAME: &'static str = "orders";
    const DEFAULT_PORT: u16 = 4105;
    const TOPICS: &'static [Topic] = &[lifecycle::ORDERS];
    type Migrator = migration::Migrator;

    fn sdl() -> String {
        subgraph_kit::federation_sdl(&builder().finish())
    }

    async fn seed(db: &sea_orm::DatabaseConnection) -> Result<(), sea_orm::DbErr> {
        seed::seed(db).await
    }

    fn maintain(
        deps: Deps,
        events: EventBus,
        shutdown: CancellationToken,
    ) -> impl Future<Output = ()> + Send + 'static {
        upkeep(deps, events, shutdown)
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

/// Reconciles abandoned checkouts, relays the order events left in the outbox, runs the courier
/// simulation when [`COURIER_EVERY`] asks for it and the webhooks when
/// [`webhooks::ORDER_WEBHOOKS`] lists endpoints (a value that does not parse is logged and
/// leaves the feature off), until `shutdown`.
async fn upkeep(deps: Deps, events: EventBus, shutdown: CancellationToken) {
    let courier_every = std::env::var(COURIER_EVERY).unwrap_or_default();
    let couriers = async {
        match lifecycle::parse_period(&courier_every) {
            Ok(Some(every)) => courier(deps.clone(), events.clone(), every, shutdown.clone()).await,
            Ok(None) => {}
            Err(err) => {
                tracing::error!(variable = COURIER_EVERY, error = %err, "the courier simulation stays off")
            }
        }
    };
    let hooks = async {
        let settings = match webhooks::Settings::from_env() {
            Ok(Some(settings)) => settings,
            Ok(None) => return,
            Err(err) => {
                tracing::error!(error = %err, "order webhooks stay off");
                return;
            }
        };
        if let Err(err) =
            webhooks::run(deps.db.clone(), events.clone(), settings, shutdown.clone()).await
        {
            tracing::error!(error = %err, "order webhooks stopped");
        }
    };
    // The relay comes last: `join!` polls in order, so the webhooks subscribe before the
    // relay publishes what a crash left.
    tokio::join!(
        reconcile_until(deps.clone(), shutdown.clone()),
        couriers,
        hooks,
        outbox::relay(deps.db.clone(), events.clone(), shutdown.clone())
    );
}

async fn reconcile_until(deps: Deps, shutdown: CancellationToken) {
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

/// The courier simulation: every `every`, each order on its way moves one step (placed → paid →
/// preparing → out for delivery → delivered) and the change is published on `events`, until
/// `shutdown`. Meant for demos, on one replica ([`COURIER_EVERY`] turns it on); replicas that
/// all run it move orders that much faster, never past a status.
pub async fn courier(deps: Deps, events: EventBus, every: Duration, shutdown: CancellationToken) {
    tracing::info!(every_ms = every.as_millis() as u64, "courier simulation on");
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        match lifecycle::courier_round(&deps.db, &events).await {
            Ok(0) => {}
            Ok(moved) => tracing::debug!(moved, "the courier moved orders along"),
            Err(err) => tracing::warn!(error = %err, "a courier round failed; retrying later"),
        }
    }
}

fn builder() -> async_graphql::SchemaBuilder<Query, Mutation, Subscription> {
    // async-graphql leaves the subscription root out of the federation SDL unless asked (Apollo
    // Server did not compose subscriptions); the engine needs it to route them here.
    subgraph_kit::harden(Schema::build(Query, Mutation, Subscription))
        .enable_subscription_in_federation()
}
