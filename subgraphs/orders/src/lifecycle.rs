//! Where an order stands and how it moves: the statuses, the one-step transitions staff and the
//! courier simulation make, and the event every status change publishes.
//!
//! A placed order goes `PLACED → PAID → PREPARING → OUT_FOR_DELIVERY → DELIVERED`, one step at
//! a time; its customer may cancel it until it leaves for delivery. Each step is one
//! compare-and-set statement (from the status read, and only while no cancellation holds the
//! order), so two steps never skip a status and an order never leaves with its stock released.
//! Every change goes through [`change_status`], which writes its [`StatusChanged`] to the
//! outbox in the change's transaction and publishes it after the commit (see `outbox`): a
//! committed change always has its event, even when the process dies before publishing it.

use std::time::Duration;

use async_graphql::Enum;
use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait, UpdateMany,
};
use serde::{Deserialize, Serialize};
use subgraph_kit::events::{Event, Topic};
use subgraph_kit::{Code, EventBus, ResultExt, error};

use crate::entity::order;
use crate::outbox::{self, OutboxError};

/// The topic of order events: subjects `<prefix>.orders.<order id>.status`.
pub(crate) const ORDERS: Topic = Topic { name: "orders" };

/// How many orders one courier round moves at most.
const COURIER_BATCH: u64 = 100;

/// Where an order stands, as clients see it (a `PENDING` checkout is never shown).
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum OrderStatus {
    /// Stock is reserved; the order stands.
    Placed,
    /// Paid for; still cancellable.
    Paid,
    /// Being packed; still cancellable.
    Preparing,
    /// With the courier; it can no longer be cancelled.
    OutForDelivery,
    /// Handed over to the customer.
    Delivered,
    /// Cancelled by its customer before it left; the stock went back to inventory.
    Cancelled,
}

impl OrderStatus {
    /// The status stored as `status`, or `None` for `PENDING` (and anything unknown).
    pub(crate) fn from_db(status: &str) -> Option<OrderStatus> {
        Some(match status {
            order::PLACED => OrderStatus::Placed,
            order::PAID => OrderStatus::Paid,
            order::PREPARING => OrderStatus::Preparing,
            order::OUT_FOR_DELIVERY => OrderStatus::OutForDelivery,
            order::DELIVERED => OrderStatus::Delivered,
            order::CANCELLED => OrderStatus::Cancelled,
            _ => return None,
        })
    }
}

/// The status after `status` on the way to the customer; `None` once delivered or cancelled.
pub(crate) fn next(status: &str) -> Option<&'static str> {
    match status {
        order::PLACED => Some(order::PAID),
        order::PAID => Some(order::PREPARING),
        order::PREPARING => Some(order::OUT_FOR_DELIVERY),
        order::OUT_FOR_DELIVERY => Some(order::DELIVERED),
        _ => None,
    }
}

/// Whether an order in `status` may still be cancelled: only before it leaves for delivery.
pub(crate) fn cancellable(status: &str) -> bool {
    matches!(status, order::PLACED | order::PAID | order::PREPARING)
}

/// A status as words for messages: `out for delivery`.
pub(crate) fn words(status: &str) -> String {
    status.to_lowercase().replace('_', " ")
}

/// An order's status changed: what the event bus carries, on `orders.<id>.status`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StatusChanged {
    /// The order.
    pub(crate) order_id: i64,
    /// Its customer, so a subscriber to all of a customer's orders can tell theirs.
    pub(crate) customer_id: i64,
    /// The status it moved to.
    pub(crate) status: OrderStatus,
    /// The status it moved from, when a client could have seen it (not for a placed order,
    /// which was a checkout before); absent in events published before it was added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) previous: Option<OrderStatus>,
    /// When it moved.
    pub(crate) at: DateTime<Utc>,
}

impl Event for StatusChanged {
    const TOPIC: Topic = ORDERS;

    fn subject(&self) -> String {
        format!("{}.status", self.order_id)
    }
}

impl StatusChanged {
    /// The event of `order` (as read before the change) moving to `to`, a stored status;
    /// `None` for a status no client sees.
    fn new(order: &order::Model, to: &str) -> Option<Self> {
        Some(StatusChanged {
            order_id: order.id,
            customer_id: order.customer_id,
            status: OrderStatus::from_db(to)?,
            previous: OrderStatus::from_db(&order.status),
            at: Utc::now().trunc_subsecs(6),
        })
    }
}

/// Makes a status change of `order` (as read before it) to `to`: runs `change`, the one
/// conditional statement that moves it, and writes its event to the outbox in the same
/// transaction; once committed, publishes the event. False, with nothing written, when
/// `change` moved no order (it was elsewhere, or held).
pub(crate) async fn change_status(
    db: &DatabaseConnection,
    events: &EventBus,
    change: UpdateMany<order::Entity>,
    order: &order::Model,
    to: &str,
) -> Result<bool, OutboxError> {
    let txn = db.begin().await?;
    // The update is the first statement, so SQLite takes its write lock up front.
    if change.exec(&txn).await?.rows_affected != 1 {
        txn.rollback().await?;
        return Ok(false);
    }
    let recorded = match StatusChanged::new(order, to) {
        Some(event) => Some(outbox::record(&txn, events, event).await?),
        None => None,
    };
    txn.commit().await?;
    if let Some(recorded) = recorded {
        tracing::info!(order = order.id, status = to, event_id = %recorded.id(), "order status changed");
        outbox::publish(db, events, recorded).await;
    }
    Ok(true)
}

/// Moves an order one step on (staff's `advanceOrder`) and announces it. `NOT_FOUND` for an
/// unknown (or still pending) order, `INVALID_STATE` once delivered or cancelled, `CONFLICT` when
/// it changed meanwhile or its customer is cancelling it.
pub(crate) async fn advance(
    db: &DatabaseConnection,
    events: &EventBus,
    id: i64,
) -> async_graphql::Result<order::Model> {
    let not_found = || error(Code::NotFound, format!("there is no order {id}"));
    let current = order::Entity::find_by_id(id)
        .one(db)
        .await
        .internal("reading an order")?
        .filter(|order| order.status != order::PENDING)
        .ok_or_else(not_found)?;
    let Some(to) = next(&current.status) else {
        return Err(error(
            Code::InvalidState,
            format!(
                "order {id} is {} and cannot move on",
                words(&current.status)
            ),
        ));
    };
    if !change_status(db, events, step(id, &current.status, to), &current, to)
        .await
        .internal("advancing an order")?
    {
        return Err(error(
            Code::Conflict,
            format!("order {id} changed or is being cancelled concurrently; retry"),
        ));
    }
    let moved = order::Entity::find_by_id(id)
        .one(db)
        .await
        .internal("reading an advanced order")?
        .ok_or_else(not_found)?;
    Ok(moved)
}

/// The statement that moves an order from `from` to `to` unless a cancellation holds it (its
/// lease runs); it moves nothing when the order was elsewhere or held.
fn step(id: i64, from: &str, to: &str) -> UpdateMany<order::Entity> {
    order::Entity::update_many()
        .col_expr(order::Column::Status, Expr::value(to))
        .filter(order::Column::Id.eq(id))
        .filter(order::Column::Status.eq(from))
        .filter(order::Column::LeaseExpiresMs.lte(Utc::now().timestamp_millis()))
}

/// One round of the courier simulation: every order on its way (placed to out for delivery)
/// moves one step, oldest first, at most [`COURIER_BATCH`]; returns how many moved. An order
/// that changed meanwhile is left for the next round.
pub(crate) async fn courier_round(
    db: &DatabaseConnection,
    events: &EventBus,
) -> Result<usize, OutboxError> {
    let on_the_way = order::Entity::find()
        .filter(order::Column::Status.is_in([
            order::PLACED,
            order::PAID,
            order::PREPARING,
            order::OUT_FOR_DELIVERY,
        ]))
        .order_by_asc(order::Column::Id)
        .limit(COURIER_BATCH)
        .all(db)
        .await?;
    let mut moved = 0;
    for current in on_the_way {
        let Some(to) = next(&current.status) else {
            continue;
        };
        let change = step(current.id, &current.status, to);
        if change_status(db, events, change, &current, to).await? {
            moved += 1;
        }
    }
    Ok(moved)
}

/// Parses the courier period: seconds (`5`, `0.5`), or with a unit (`500ms`, `2s`); empty, `0`
/// or `off` is no courier.
pub(crate) fn parse_period(text: &str) -> Result<Option<Duration>, String> {
    let text = text.trim();
    if text.is_empty() || text == "0" || text.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let (number, scale) = if let Some(ms) = text.strip_suffix("ms") {
        (ms, 0.001)
    } else if let Some(s) = text.strip_suffix('s') {
        (s, 1.0)
    } else {
        (text, 1.0)
    };
    let seconds = number
        .trim()
        .parse::<f64>()
        .ok()
        .map(|n| n * scale)
        .filter(|s| s.is_finite() && *s >= 0.01 && *s <= 86_400.0)
        .ok_or_else(|| {
            format!("`{text}` is not a period between 10ms and a day (like `5`, `500ms` or `2s`)")
        })?;
    Ok(Some(Duration::from_secs_f64(seconds)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lifecycle_goes_one_way_and_cancels_only_before_delivery() {
        let mut status = order::PLACED;
        let mut path = vec![status];
        while let Some(to) = next(status) {
            status = to;
            path.push(status);
        }
        assert_eq!(
            path,
            [
                order::PLACED,
                order::PAID,
                order::PREPARING,
                order::OUT_FOR_DELIVERY,
                order::DELIVERED
            ]
        );
        let cancellable: Vec<&str> = path.iter().copied().filter(|s| cancellable(s)).collect();
        assert_eq!(cancellable, [order::PLACED, order::PAID, order::PREPARING]);
        assert_eq!(next(order::CANCELLED), None);
        assert_eq!(next(order::PENDING), None);
        assert_eq!(OrderStatus::from_db(order::PENDING), None);
        assert_eq!(
            serde_json::to_value(OrderStatus::OutForDelivery).expect("JSON"),
            "OUT_FOR_DELIVERY"
        );
    }

    #[test]
    fn courier_periods_parse_with_or_without_a_unit() {
        assert_eq!(parse_period(""), Ok(None));
        assert_eq!(parse_period("off"), Ok(None));
        assert_eq!(parse_period("0"), Ok(None));
        assert_eq!(parse_period("5"), Ok(Some(Duration::from_secs(5))));
        assert_eq!(parse_period("2s"), Ok(Some(Duration::from_secs(2))));
        assert_eq!(parse_period("500ms"), Ok(Some(Duration::from_millis(500))));
        assert_eq!(parse_period("0.25"), Ok(Some(Duration::from_millis(250))));
        for bad in ["soon", "-1", "1ms", "1e9", "NaN"] {
            assert!(parse_period(bad).is_err(), "{bad}");
        }
    }
}
