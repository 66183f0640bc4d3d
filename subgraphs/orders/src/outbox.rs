//! The transactional outbox of order events: every status change writes its event to
//! `order_events_outbox` in the change's own transaction, so no committed change is without its
//! event, and the event reaches the bus from there.
//!
//! The code that made the change publishes its row right after the commit ([`publish`]) and
//! marks it published, so the request answers once its event is on the bus, as fast as before.
//! The relay ([`relay`], in the subgraph's upkeep) is the backstop: every [`RELAY_EVERY`] it
//! publishes, in id order, the rows left unpublished for [`LEFT_AFTER`] (by a crash between
//! commit and publish, a bus that refused, a mark that failed), so the next start or another
//! replica publishes them; it deletes published rows after [`KEEP_PUBLISHED`].
//!
//! The writer publishes its row itself rather than waking its relay: a relay reads whatever is
//! unpublished, and replicas on different buses may share a database (an in-process replica
//! beside another, a test stack beside NATS replicas), whose relays would take each other's
//! fresh rows; the writer always puts its own on its own bus.
//!
//! Rows are not claimed: one may be published twice (two replicas' relays reading it at once,
//! a publisher dying between publish and mark). Every publish of a row carries its event id
//! (JetStream's `Nats-Msg-Id`), so JetStream stores a repeat within its two-minute duplicate
//! window once, every subscription drops an id it has delivered, and the webhooks queue an
//! event once per endpoint. A relay publishes only the rows whose subject has its bus's prefix,
//! so deployments (or tests) sharing one database keep to their own. Within one order, changes
//! follow one another (each a compare-and-set from the status the last one left), so their
//! rows' ids increase; the relay publishes in id order and stops at the first row its bus
//! refuses, so it never sends an order's later change before an earlier one.

use std::time::{Duration, Instant};

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use sea_orm::sea_query::{Expr, LikeExpr};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use subgraph_kit::events::{EventError, EventId};
use subgraph_kit::{CancellationToken, EventBus};

use crate::entity::outbox_event as row;
use crate::lifecycle::StatusChanged;

/// How often the relay looks for rows left unpublished.
const RELAY_EVERY: Duration = Duration::from_millis(500);

/// How old an unpublished row is before the relay takes it: a younger one is still its
/// writer's, which publishes it right after its commit.
const LEFT_AFTER: TimeDelta = TimeDelta::seconds(2);

/// How many rows one read of the relay takes.
const BATCH: u64 = 100;

/// How long a published row is kept (for operators to look into) before it is deleted.
const KEEP_PUBLISHED: TimeDelta = TimeDelta::hours(1);

/// How often the relay deletes the published rows past [`KEEP_PUBLISHED`].
const PURGE_EVERY: Duration = Duration::from_secs(60);

/// Why an event could not be written to the outbox or published from it.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OutboxError {
    /// The database refused a statement.
    #[error("the order events outbox: {0}")]
    Database(#[from] DbErr),
    /// The bus refused the event, or its subject.
    #[error("publishing an order event: {0}")]
    Publish(#[from] EventError),
    /// The event could not be written as JSON.
    #[error("encoding an order event: {0}")]
    Encode(#[from] serde_json::Error),
}

/// An event written to the outbox, for [`publish`] once its transaction committed.
pub(crate) struct Recorded {
    row: i64,
    id: EventId,
    event: StatusChanged,
}

impl Recorded {
    /// The event's id.
    pub(crate) fn id(&self) -> &EventId {
        &self.id
    }
}

/// Writes `event` to the outbox under a fresh id, through `txn`: the transaction of the change
/// it tells of, so both are committed or neither.
pub(crate) async fn record(
    txn: &impl ConnectionTrait,
    events: &EventBus,
    event: StatusChanged,
) -> Result<Recorded, OutboxError> {
    let id = EventId::new();
    let inserted = row::Entity::insert(row::ActiveModel {
        event_id: Set(id.as_str().to_owned()),
        subject: Set(events.subject_of(&event)?),
        order_id: Set(event.order_id),
        payload: Set(serde_json::to_string(&event)?),
        // Whole microseconds, so the time reads back identically on every backend.
        created_at: Set(Utc::now().trunc_subsecs(6)),
        published_at: Set(None),
        ..Default::default()
    })
    .exec(txn)
    .await?;
    Ok(Recorded {
        row: inserted.last_insert_id,
        id,
        event,
    })
}

/// Publishes what [`record`] wrote, once its transaction committed, and marks the row
/// published. A failure is logged, never returned (the change is made): the row stays for the
/// relay.
pub(crate) async fn publish(db: &DatabaseConnection, events: &EventBus, recorded: Recorded) {
    let Recorded { row, id, event } = recorded;
    if let Err(err) = events.publish_with_id(&event, &id).await {
        tracing::warn!(order = event.order_id, event_id = %id, error = %err, "publishing an order event failed; the outbox relay publishes it later");
        return;
    }
    if let Err(err) = mark(db, row).await {
        tracing::warn!(order = event.order_id, event_id = %id, error = %err, "marking an order event published failed; the outbox relay publishes it again");
    }
}

/// Runs the relay until `shutdown`: a round at once (publishing what a crash left), then one
/// every [`RELAY_EVERY`]; every [`PURGE_EVERY`] it deletes the rows published more than
/// [`KEEP_PUBLISHED`] ago. A failing round is logged once, and again when the relay recovers.
pub(crate) async fn relay(db: DatabaseConnection, events: EventBus, shutdown: CancellationToken) {
    let mut failing = false;
    let mut purged: Option<Instant> = None;
    loop {
        match relay_round(&db, &events).await {
            Ok(published) => {
                if failing {
                    tracing::info!("the order events relay publishes again");
                    failing = false;
                }
                if published > 0 {
                    tracing::info!(published, "order events left unpublished were published");
                }
            }
            Err(err) if failing => {
                tracing::debug!(error = %err, "the order events relay still fails")
            }
            Err(err) => {
                tracing::warn!(error = %err, "the order events relay failed; it retries every 500 ms");
                failing = true;
            }
        }
        if purged.is_none_or(|at| at.elapsed() >= PURGE_EVERY) {
            purged = Some(Instant::now());
            match purge(&db, Utc::now() - KEEP_PUBLISHED).await {
                Ok(0) => {}
                Ok(deleted) => tracing::debug!(deleted, "published order events deleted"),
                Err(err) => {
                    tracing::warn!(error = %err, "deleting published order events failed; retrying later")
                }
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(RELAY_EVERY) => {}
        }
    }
}

/// Publishes the rows of this bus left unpublished for [`LEFT_AFTER`], in id order, marking
/// each; returns how many. Stops at the first row still young or refused by the bus.
async fn relay_round(db: &DatabaseConnection, events: &EventBus) -> Result<usize, OutboxError> {
    let left_before = Utc::now() - LEFT_AFTER;
    let mine = LikeExpr::new(format!("{}.%", escaped(events.prefix()))).escape('\\');
    let mut published = 0;
    loop {
        let rows = row::Entity::find()
            .filter(row::Column::PublishedAt.is_null())
            .filter(row::Column::Subject.like(mine.clone()))
            .order_by_asc(row::Column::Id)
            .limit(BATCH)
            .all(db)
            .await?;
        let full = rows.len() as u64 == BATCH;
        let before = published;
        for left in rows {
            if left.created_at > left_before {
                return Ok(published);
            }
            let Some((id, event)) = decoded(&left) else {
                // It can never be published, and would hold up every row after it.
                tracing::error!(
                    row = left.id,
                    event_id = left.event_id,
                    payload = left.payload,
                    "an order event in the outbox does not decode; it is deleted"
                );
                row::Entity::delete_by_id(left.id).exec(db).await?;
                continue;
            };
            // SQLite's LIKE ignores case: a prefix differing only by case is another bus's.
            if events.subject_of(&event)? != left.subject {
                continue;
            }
            events.publish_with_id(&event, &id).await?;
            mark(db, left.id).await?;
            published += 1;
        }
        if !full || published == before {
            return Ok(published);
        }
    }
}

/// The event id and event a row holds, if they decode.
fn decoded(left: &row::Model) -> Option<(EventId, StatusChanged)> {
    let id = EventId::parse(&left.event_id)?;
    let event = serde_json::from_str(&left.payload).ok()?;
    Some((id, event))
}

/// `text` with LIKE's wildcards (and the escape itself) escaped by `\`.
fn escaped(text: &str) -> String {
    text.chars()
        .flat_map(|c| match c {
            '%' | '_' | '\\' => vec!['\\', c],
            _ => vec![c],
        })
        .collect()
}

/// Records that row `id` was published, unless it already was.
async fn mark(db: &DatabaseConnection, id: i64) -> Result<(), DbErr> {
    row::Entity::update_many()
        .col_expr(
            row::Column::PublishedAt,
            Expr::value(Some(Utc::now().trunc_subsecs(6))),
        )
        .filter(row::Column::Id.eq(id))
        .filter(row::Column::PublishedAt.is_null())
        .exec(db)
        .await
        .map(|_| ())
}

/// Deletes the rows published before `before`; returns how many.
async fn purge(db: &DatabaseConnection, before: DateTime<Utc>) -> Result<u64, DbErr> {
    let deleted = row::Entity::delete_many()
        .filter(row::Column::PublishedAt.lt(before))
        .exec(db)
        .await?;
    Ok(deleted.rows_affected)
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;
    use sea_orm::TransactionTrait;
    use sea_orm_migration::MigratorTrait;

    use super::*;
    use crate::lifecycle::OrderStatus;

    async fn database() -> DatabaseConnection {
        let db = sea_orm::Database::connect("sqlite::memory:")
            .await
            .expect("SQLite in memory");
        crate::migration::Migrator::up(&db, None)
            .await
            .expect("the migrations run");
        db
    }

    fn paid(order_id: i64) -> StatusChanged {
        StatusChanged {
            order_id,
            customer_id: 1,
            status: OrderStatus::Paid,
            previous: Some(OrderStatus::Placed),
            at: Utc::now().trunc_subsecs(6),
        }
    }

    /// Records `event` in a transaction of its own, as a change does; returns its row.
    async fn recorded(db: &DatabaseConnection, events: &EventBus, event: StatusChanged) -> i64 {
        let txn = db.begin().await.expect("a transaction");
        let recorded = record(&txn, events, event).await.expect("recorded");
        txn.commit().await.expect("committed");
        recorded.row
    }

    /// Makes row `id` look written `by` ago.
    async fn age(db: &DatabaseConnection, id: i64, by: TimeDelta) {
        row::Entity::update_many()
            .col_expr(row::Column::CreatedAt, Expr::value(Utc::now() - by))
            .filter(row::Column::Id.eq(id))
            .exec(db)
            .await
            .expect("aged");
    }

    async fn unpublished(db: &DatabaseConnection) -> Vec<i64> {
        row::Entity::find()
            .filter(row::Column::PublishedAt.is_null())
            .order_by_asc(row::Column::Id)
            .all(db)
            .await
            .expect("the outbox")
            .into_iter()
            .map(|left| left.order_id)
            .collect()
    }

    #[tokio::test]
    async fn the_relay_publishes_what_was_left_in_order_and_leaves_the_rest() {
        let db = database().await;
        let events = EventBus::in_process();
        let mut heard = events
            .subscribe::<StatusChanged>("*.status")
            .expect("a subscription");
        let first = recorded(&db, &events, paid(1)).await;
        let second = recorded(&db, &events, paid(2)).await;
        let broken = recorded(&db, &events, paid(3)).await;
        row::Entity::update_many()
            .col_expr(row::Column::Payload, Expr::value("not an event"))
            .filter(row::Column::Id.eq(broken))
            .exec(&db)
            .await
            .expect("broken");
        let young = recorded(&db, &events, paid(4)).await;
        let other = recorded(&db, &events, paid(5)).await;
        row::Entity::update_many()
            .col_expr(row::Column::Subject, Expr::value("other.orders.5.status"))
            .filter(row::Column::Id.eq(other))
            .exec(&db)
            .await
            .expect("another bus's row");
        for id in [first, second, broken, other] {
            age(&db, id, TimeDelta::seconds(10)).await;
        }

        assert_eq!(relay_round(&db, &events).await.expect("a round"), 2);
        for order in [1, 2] {
            let event = heard.next().await.expect("an event");
            assert_eq!(event.event.order_id, order);
            let row = row::Entity::find_by_id(if order == 1 { first } else { second })
                .one(&db)
                .await
                .expect("the row")
                .expect("kept once published");
            assert_eq!(
                event.id.as_str(),
                row.event_id,
                "published under its row's id"
            );
        }
        // The broken row is gone; the young one is its writer's; the other bus's is not ours.
        assert_eq!(unpublished(&db).await, [4, 5]);
        assert_eq!(relay_round(&db, &events).await.expect("a round"), 0);
        age(&db, young, TimeDelta::seconds(10)).await;
        assert_eq!(relay_round(&db, &events).await.expect("a round"), 1);
        assert_eq!(heard.next().await.expect("an event").event.order_id, 4);
        assert_eq!(unpublished(&db).await, [5]);

        // Published rows are deleted once past their keep.
        assert_eq!(
            purge(&db, Utc::now() - KEEP_PUBLISHED)
                .await
                .expect("purged"),
            0
        );
        assert_eq!(
            purge(&db, Utc::now() + TimeDelta::seconds(1))
                .await
                .expect("purged"),
            3
        );
        assert_eq!(
            row::Entity::find()
                .all(&db)
                .await
                .expect("the outbox")
                .len(),
            1
        );
    }

    #[test]
    fn a_prefix_matches_itself_in_like_and_nothing_wider() {
        assert_eq!(escaped("tributary"), "tributary");
        assert_eq!(escaped("test_1-2"), "test\\_1-2");
        assert_eq!(escaped("100%\\"), "100\\%\\\\");
    }
}
