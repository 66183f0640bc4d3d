//! Outbound webhooks: every order status change POSTed, signed, to the endpoints the
//! environment lists, retried with backoff until delivered or dead.
//!
//! Off unless [`ORDER_WEBHOOKS`] lists endpoints. Then each replica, at start, makes the stored
//! endpoints what the list says ([`Settings`]), and runs two tasks beside its server ([`run`]):
//! - the dispatcher hears every status event on the bus and queues one `pending` delivery per
//!   active endpoint, its body fixed once; the unique (endpoint, event id) pair makes replicas
//!   that all hear an event (the bus delivers at least once, to every replica) queue it once;
//! - the worker claims due deliveries with a conditional update (from the attempt count it
//!   read, so of two replicas one wins), POSTs each with [`signature`]d headers, and marks it
//!   `delivered` on a 2xx; anything else is retried after `base · 2^(n-1)`, capped, until the
//!   last attempt fails and the delivery is `dead`. The dead deliveries are the dead letters:
//!   [`dead`] lists them and [`replay`] sets them pending again (the `webhooks` command).
//!
//! Receivers get each event at least once: a replica that dies between the receiver's answer
//! and recording it leaves the delivery to another once its claim lapses, which sends it again
//! with the same `x-tributary-event-id`. An event published while no replica listens (the bus
//! keeps no history for a new subscriber) is never queued; one a crash left in the outbox is
//! published later by a replica's relay (its webhooks subscribed first), so it is queued.
//!
//! # Layout
//! - `settings`: the environment's endpoints and retry policy.
//! - `signature`: the HMAC-SHA256 of `<timestamp>.<body>`.
//! - `store`: the statements on `webhook_endpoints` and `webhook_deliveries`.
//! - `dispatch`: status events into pending deliveries, and the body they carry.
//! - `worker`: claims, POSTs and outcomes.

mod dispatch;
mod settings;
mod signature;
mod store;
mod worker;

use std::sync::Arc;

use chrono::{SubsecRound, Utc};
use sea_orm::{DatabaseConnection, DbErr};
use subgraph_kit::{CancellationToken, EventBus};
use tokio::sync::Notify;

use crate::lifecycle::StatusChanged;

pub use settings::{
    Endpoint, MAX_ATTEMPTS, ORDER_WEBHOOKS, RETRY_BASE_MS, RETRY_CAP_MS, Retry, Settings,
    TIMEOUT_MS, parse_endpoints,
};
pub use signature::signature;
pub use store::{DeadDelivery, DeadFilter};

/// Why the webhooks could not be configured, run or operated on.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// An environment variable holds what it may not.
    #[error("{variable}: {detail}")]
    Setting {
        /// The variable.
        variable: &'static str,
        /// What is wrong with its value.
        detail: String,
    },
    /// The orders database refused a statement.
    #[error("the webhook tables: {0}")]
    Database(#[from] DbErr),
    /// The event bus refused the subscription.
    #[error("subscribing to order events: {0}")]
    Events(#[from] subgraph_kit::events::EventError),
    /// The HTTP client could not be built.
    #[error("building the webhook HTTP client: {0}")]
    Client(String),
    /// A secret could not key the HMAC (HMAC takes any length: never seen).
    #[error("a webhook secret of {0} bytes cannot key HMAC-SHA256")]
    SigningKey(usize),
}

/// Runs the webhooks until `shutdown`: subscribes to the order events first (so none published
/// from now on is missed), makes the stored endpoints those of `settings`, then dispatches and
/// delivers. Returns early only when the subscription, the endpoints or the HTTP client fail.
pub async fn run(
    db: DatabaseConnection,
    events: EventBus,
    settings: Settings,
    shutdown: CancellationToken,
) -> Result<(), WebhookError> {
    let changes = events.subscribe::<StatusChanged>("*.status")?;
    let client = worker::client(&settings)?;
    store::configure(&db, &settings.endpoints, Utc::now().trunc_subsecs(3)).await?;
    tracing::info!(
        endpoints = settings.endpoints.len(),
        max_attempts = settings.retry.max_attempts,
        retry_base_ms = settings.retry.base.as_millis() as u64,
        "order webhooks on"
    );
    let wake = Arc::new(Notify::new());
    let dispatcher = dispatch::dispatch(db.clone(), changes, wake.clone(), shutdown.clone());
    tokio::join!(
        dispatcher,
        worker::work(db, client, settings, wake, shutdown)
    );
    Ok(())
}

/// The dead deliveries `filter` selects, oldest first (`webhooks list-dead`).
pub async fn dead(
    db: &DatabaseConnection,
    filter: &DeadFilter,
) -> Result<Vec<DeadDelivery>, WebhookError> {
    Ok(store::dead(db, filter).await?)
}

/// Sets the dead deliveries `filter` selects pending again, with no attempt made, so a running
/// worker sends them within a poll; returns how many (`webhooks replay`).
pub async fn replay(db: &DatabaseConnection, filter: &DeadFilter) -> Result<u64, WebhookError> {
    Ok(store::replay(db, filter, Utc::now().trunc_subsecs(3)).await?)
}
