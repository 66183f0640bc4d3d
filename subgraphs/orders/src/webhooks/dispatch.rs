//! The dispatcher: every order status event heard on the bus becomes one pending delivery per
//! active endpoint, its JSON body fixed once.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use futures::StreamExt;
use sea_orm::{DatabaseConnection, DbErr};
use serde::Serialize;
use subgraph_kit::CancellationToken;
use subgraph_kit::events::{Envelope, Subscription};
use tokio::sync::Notify;

use super::store::{self, Queued};
use crate::lifecycle::{OrderStatus, StatusChanged};

/// The `type` of an order status event.
pub(crate) const STATUS_CHANGED: &str = "order.status_changed";

/// How many times queueing one event is tried before it is given up (and logged).
const QUEUE_ATTEMPTS: u32 = 3;

/// The body of a webhook request.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Payload<'a> {
    /// The bus event's id: the same on every replica and every attempt, for receivers to drop
    /// a repeat.
    id: &'a str,
    /// What happened: [`STATUS_CHANGED`].
    #[serde(rename = "type")]
    kind: &'static str,
    /// When it happened.
    created_at: DateTime<Utc>,
    /// The event's own fields.
    data: StatusData,
}

/// What an order status event tells: ids as strings, as the GraphQL API spells them.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StatusData {
    order_id: String,
    customer_id: String,
    status: OrderStatus,
    /// Null for a newly placed order, or when the event did not say.
    previous_status: Option<OrderStatus>,
}

/// The JSON body of the webhook for `envelope`.
pub(crate) fn payload(envelope: &Envelope<StatusChanged>) -> Result<String, serde_json::Error> {
    let event = &envelope.event;
    serde_json::to_string(&Payload {
        id: envelope.id.as_str(),
        kind: STATUS_CHANGED,
        created_at: event.at,
        data: StatusData {
            order_id: event.order_id.to_string(),
            customer_id: event.customer_id.to_string(),
            status: event.status,
            previous_status: event.previous,
        },
    })
}

/// Queues every event of `changes` for the active endpoints and wakes the worker, until
/// `shutdown`. An event that cannot be queued after [`QUEUE_ATTEMPTS`] is logged and skipped:
/// the change it reports stands, and subscribers heard it.
pub(crate) async fn dispatch(
    db: DatabaseConnection,
    mut changes: Subscription<StatusChanged>,
    wake: Arc<Notify>,
    shutdown: CancellationToken,
) {
    loop {
        let envelope = tokio::select! {
            () = shutdown.cancelled() => return,
            next = changes.next() => match next {
                Some(envelope) => envelope,
                None => return,
            },
        };
        let body = match payload(&envelope) {
            Ok(body) => body,
            Err(err) => {
                tracing::error!(event_id = %envelope.id, error = %err, "an order event could not be written as a webhook body");
                continue;
            }
        };
        let event = Queued {
            event_id: envelope.id.as_str(),
            event_type: STATUS_CHANGED,
            payload: &body,
        };
        match queue(&db, &event).await {
            Ok(0) => {}
            Ok(queued) => {
                tracing::debug!(event_id = %envelope.id, order = envelope.event.order_id, queued, "webhook deliveries queued");
                wake.notify_one();
            }
            Err(err) => {
                tracing::error!(event_id = %envelope.id, order = envelope.event.order_id, error = %err, "queueing webhook deliveries failed; the event is not delivered")
            }
        }
    }
}

/// Queues `event` for the active endpoints, trying again on a database error.
async fn queue(db: &DatabaseConnection, event: &Queued<'_>) -> Result<u64, DbErr> {
    let mut pause = Duration::from_millis(100);
    let mut attempt = 1;
    loop {
        let queued = async {
            let endpoints = store::active_endpoints(db).await?;
            if endpoints.is_empty() {
                return Ok(0);
            }
            store::enqueue(db, &endpoints, event, Utc::now().trunc_subsecs(3)).await
        }
        .await;
        match queued {
            Err(err) if attempt < QUEUE_ATTEMPTS => {
                tracing::warn!(event_id = event.event_id, attempt, error = %err, "queueing webhook deliveries failed; retrying");
                tokio::time::sleep(pause).await;
                pause *= 2;
                attempt += 1;
            }
            outcome => return outcome,
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;
    use subgraph_kit::events::EventId;

    use super::*;

    #[test]
    fn the_body_names_the_event_and_the_order() {
        let at = Utc
            .with_ymd_and_hms(2026, 2, 3, 4, 5, 6)
            .single()
            .expect("a time");
        let envelope = Envelope {
            id: EventId::new(),
            sequence: 7,
            subject: "tributary.orders.7.status".to_owned(),
            event: StatusChanged {
                order_id: 7,
                customer_id: 2,
                status: OrderStatus::OutForDelivery,
                previous: Some(OrderStatus::Preparing),
                at,
            },
        };
        let body: serde_json::Value =
            serde_json::from_str(&payload(&envelope).expect("JSON")).expect("JSON");
        assert_eq!(
            body,
            json!({
                "id": envelope.id.as_str(),
                "type": "order.status_changed",
                "createdAt": "2026-02-03T04:05:06Z",
                "data": {
                    "orderId": "7",
                    "customerId": "2",
                    "status": "OUT_FOR_DELIVERY",
                    "previousStatus": "PREPARING"
                }
            })
        );
    }
}
