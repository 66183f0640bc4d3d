//! The webhook tables' statements: endpoints configured, deliveries queued, claimed, settled,
//! listed and replayed.
//!
//! Every change a replica makes to a delivery it shares with others is one conditional
//! statement: queueing skips an (endpoint, event) pair already there, a claim succeeds only
//! from the attempt count it read, and settling only from the count it claimed with.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, Order,
    QueryFilter, QueryOrder, QuerySelect, TransactionTrait, TryInsertResult,
};

use super::settings::Endpoint;
use crate::entity::{webhook_delivery as delivery, webhook_endpoint as endpoint};

/// The longest `last_error` kept: a receiver's error text is not ours to store whole.
const MAX_ERROR: usize = 500;

/// Makes the stored endpoints what `configured` lists: each listed URL active with its secret
/// (added when new), every other one inactive. Idempotent, so replicas starting with the same
/// list agree.
pub(crate) async fn configure(
    db: &DatabaseConnection,
    configured: &[Endpoint],
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let txn = db.begin().await?;
    for listed in configured {
        endpoint::Entity::insert(endpoint::ActiveModel {
            url: Set(listed.url.clone()),
            secret: Set(listed.secret.clone()),
            active: Set(true),
            created_at: Set(now),
            ..Default::default()
        })
        .on_conflict(
            OnConflict::column(endpoint::Column::Url)
                .update_columns([endpoint::Column::Secret, endpoint::Column::Active])
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
    }
    endpoint::Entity::update_many()
        .col_expr(endpoint::Column::Active, Expr::value(false))
        .filter(endpoint::Column::Active.eq(true))
        .filter(endpoint::Column::Url.is_not_in(configured.iter().map(|e| e.url.clone())))
        .exec(&txn)
        .await?;
    txn.commit().await
}

/// The endpoints new events are queued for.
pub(crate) async fn active_endpoints(db: &DatabaseConnection) -> Result<Vec<i64>, DbErr> {
    endpoint::Entity::find()
        .select_only()
        .column(endpoint::Column::Id)
        .filter(endpoint::Column::Active.eq(true))
        .order_by_asc(endpoint::Column::Id)
        .into_tuple()
        .all(db)
        .await
}

/// The endpoints with these ids, whatever their state.
pub(crate) async fn endpoints(
    db: &DatabaseConnection,
    ids: impl IntoIterator<Item = i64>,
) -> Result<Vec<endpoint::Model>, DbErr> {
    endpoint::Entity::find()
        .filter(endpoint::Column::Id.is_in(ids))
        .all(db)
        .await
}

/// What one event becomes for each endpoint.
pub(crate) struct Queued<'a> {
    /// The bus event's id.
    pub(crate) event_id: &'a str,
    /// Its type, `order.status_changed`.
    pub(crate) event_type: &'a str,
    /// The JSON body every attempt sends.
    pub(crate) payload: &'a str,
}

/// Queues `event` for each of `endpoints`, due now; an endpoint that has it already (another
/// replica heard the event first) is skipped. Returns how many were queued here.
pub(crate) async fn enqueue(
    db: &DatabaseConnection,
    endpoints: &[i64],
    event: &Queued<'_>,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let rows = endpoints.iter().map(|endpoint_id| delivery::ActiveModel {
        endpoint_id: Set(*endpoint_id),
        event_id: Set(event.event_id.to_owned()),
        event_type: Set(event.event_type.to_owned()),
        payload: Set(event.payload.to_owned()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        last_error: Set(None),
        status: Set(delivery::PENDING.to_owned()),
        created_at: Set(now),
        delivered_at: Set(None),
        ..Default::default()
    });
    let queued = delivery::Entity::insert_many(rows)
        .on_conflict_do_nothing_on([delivery::Column::EndpointId, delivery::Column::EventId])
        .exec_without_returning(db)
        .await?;
    Ok(match queued {
        TryInsertResult::Inserted(count) => count,
        TryInsertResult::Conflicted | TryInsertResult::Empty => 0,
    })
}

/// Up to `limit` pending deliveries due at `now`, the longest due first.
pub(crate) async fn due(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<delivery::Model>, DbErr> {
    delivery::Entity::find()
        .filter(delivery::Column::Status.eq(delivery::PENDING))
        .filter(delivery::Column::NextAttemptAt.lte(now))
        .order_by_asc(delivery::Column::NextAttemptAt)
        .order_by_asc(delivery::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// When the next pending delivery is due (perhaps already), if any is pending.
pub(crate) async fn next_due(db: &DatabaseConnection) -> Result<Option<DateTime<Utc>>, DbErr> {
    delivery::Entity::find()
        .select_only()
        .column(delivery::Column::NextAttemptAt)
        .filter(delivery::Column::Status.eq(delivery::PENDING))
        .order_by(delivery::Column::NextAttemptAt, Order::Asc)
        .into_tuple()
        .one(db)
        .await
}

/// Claims `due` for one attempt: counts the attempt and holds the delivery until `until`, so
/// no other replica attempts it meanwhile (and one takes it over if this one dies). False when
/// another replica claimed it first.
pub(crate) async fn claim(
    db: &DatabaseConnection,
    due: &delivery::Model,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let claimed = delivery::Entity::update_many()
        .col_expr(
            delivery::Column::Attempts,
            Expr::col(delivery::Column::Attempts).add(1),
        )
        .col_expr(delivery::Column::NextAttemptAt, Expr::value(until))
        .filter(delivery::Column::Id.eq(due.id))
        .filter(delivery::Column::Status.eq(delivery::PENDING))
        .filter(delivery::Column::Attempts.eq(due.attempts))
        .filter(delivery::Column::NextAttemptAt.lte(now))
        .exec(db)
        .await?;
    Ok(claimed.rows_affected == 1)
}

/// How a claimed attempt ended.
pub(crate) enum Outcome {
    /// The receiver answered 2xx.
    Delivered,
    /// It failed; try again at this time.
    Retry(DateTime<Utc>),
    /// It failed and no attempt is left (or the endpoint is gone).
    Dead,
}

/// Records how the attempt `attempts` (the count after its claim) of delivery `id` ended, with
/// `error` for a failure. False when the delivery was no longer this attempt's (its claim
/// lapsed and another replica took it over).
pub(crate) async fn settle(
    db: &DatabaseConnection,
    id: i64,
    attempts: i32,
    outcome: Outcome,
    error: Option<&str>,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let error = error.map(|error| error.chars().take(MAX_ERROR).collect::<String>());
    let update = delivery::Entity::update_many();
    let update = match outcome {
        Outcome::Delivered => update
            .col_expr(delivery::Column::Status, Expr::value(delivery::DELIVERED))
            .col_expr(delivery::Column::DeliveredAt, Expr::value(Some(now))),
        Outcome::Retry(at) => update
            .col_expr(delivery::Column::NextAttemptAt, Expr::value(at))
            .col_expr(delivery::Column::LastError, Expr::value(error)),
        Outcome::Dead => update
            .col_expr(delivery::Column::Status, Expr::value(delivery::DEAD))
            .col_expr(delivery::Column::LastError, Expr::value(error)),
    };
    let settled = update
        .filter(delivery::Column::Id.eq(id))
        .filter(delivery::Column::Status.eq(delivery::PENDING))
        .filter(delivery::Column::Attempts.eq(attempts))
        .exec(db)
        .await?;
    Ok(settled.rows_affected == 1)
}

/// Which dead deliveries an operator means: all, or those of one endpoint, or queued since a
/// time.
#[derive(Debug, Clone, Default)]
pub struct DeadFilter {
    /// Only deliveries to this endpoint.
    pub endpoint: Option<i64>,
    /// Only deliveries queued at or after this time.
    pub since: Option<DateTime<Utc>>,
}

impl DeadFilter {
    fn condition(&self) -> Condition {
        let mut condition = Condition::all().add(delivery::Column::Status.eq(delivery::DEAD));
        if let Some(endpoint) = self.endpoint {
            condition = condition.add(delivery::Column::EndpointId.eq(endpoint));
        }
        if let Some(since) = self.since {
            condition = condition.add(delivery::Column::CreatedAt.gte(since));
        }
        condition
    }
}

/// A dead delivery, as `webhooks list-dead` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadDelivery {
    /// The delivery's id.
    pub id: i64,
    /// Its endpoint's id.
    pub endpoint_id: i64,
    /// Its endpoint's URL.
    pub url: String,
    /// The event it carries.
    pub event_id: String,
    /// Attempts made.
    pub attempts: i32,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// What the last attempt met.
    pub last_error: Option<String>,
}

/// The dead deliveries `filter` selects, oldest first.
pub(crate) async fn dead(
    db: &DatabaseConnection,
    filter: &DeadFilter,
) -> Result<Vec<DeadDelivery>, DbErr> {
    let deliveries = delivery::Entity::find()
        .filter(filter.condition())
        .order_by_asc(delivery::Column::Id)
        .all(db)
        .await?;
    let urls: std::collections::HashMap<i64, String> =
        endpoints(db, deliveries.iter().map(|d| d.endpoint_id))
            .await?
            .into_iter()
            .map(|endpoint| (endpoint.id, endpoint.url))
            .collect();
    Ok(deliveries
        .into_iter()
        .map(|d| DeadDelivery {
            id: d.id,
            endpoint_id: d.endpoint_id,
            url: urls.get(&d.endpoint_id).cloned().unwrap_or_default(),
            event_id: d.event_id,
            attempts: d.attempts,
            created_at: d.created_at,
            last_error: d.last_error,
        })
        .collect())
}

/// Sets the dead deliveries `filter` selects pending again, due at `now` with no attempt
/// made; returns how many.
pub(crate) async fn replay(
    db: &DatabaseConnection,
    filter: &DeadFilter,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let replayed = delivery::Entity::update_many()
        .col_expr(delivery::Column::Status, Expr::value(delivery::PENDING))
        .col_expr(delivery::Column::Attempts, Expr::value(0))
        .col_expr(delivery::Column::NextAttemptAt, Expr::value(now))
        .filter(filter.condition())
        .exec(db)
        .await?;
    Ok(replayed.rows_affected)
}
