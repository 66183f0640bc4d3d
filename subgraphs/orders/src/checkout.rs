//! Checkout and cancellation: the rules behind the Mutation root in `mutation`.
//!
//! Checkout is idempotent per customer and key: the unique index on
//! `(customer_id, idempotency_key)` lets exactly one request insert the order, as `PENDING`
//! with its lines at the catalog's prices. That request reserves the stock in inventory under a
//! reservation id derived from the order and then marks it `PLACED`; if inventory refuses
//! (short stock, unknown product) it deletes the pending order, so nothing remains. Every other
//! request with the same key waits for that outcome and answers with the same order (or, once
//! the order is gone, tries again).
//!
//! The inserting request holds the pending order under a lease ([`LEASE`]). When inventory
//! cannot be reached and the outcome of the reservation is unknown, it gives the lease up and
//! leaves the order pending; when its process dies, the lease runs out. Either way the next
//! retry claims the order and finishes it, which is safe because reserving again under the same
//! reservation id reserves nothing twice. Only the lease holder ever finishes or removes an
//! order, so two requests never race on one.
//!
//! Cancellation holds the order under the same lease while inventory takes its stock back, so
//! the order cannot move on (`lifecycle`) meanwhile: it is never out for delivery with its stock
//! released. Placing and cancelling announce the new status through the outbox
//! (`lifecycle::change_status`).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use async_graphql::{ID, InputObject};
use chrono::{SubsecRound, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, TransactionTrait, UpdateMany,
};
use subgraph_kit::db::is_unique_violation;
use subgraph_kit::{Code, EventBus, ResultExt, error, input};

use crate::entity::{order, order_line};
use crate::lifecycle::{cancellable, change_status, words};
use crate::upstream::{Price, ReserveError, Upstream};

/// The most lines one checkout may hold.
const MAX_LINES: usize = 50;

/// The most units of one product one order may hold.
const MAX_QUANTITY: i32 = 100;

/// Idempotency keys are this many characters long, at least.
const MIN_KEY: usize = 8;

/// ... and at most.
const MAX_KEY: usize = 128;

/// How often a checkout waiting for a concurrent one with the same key looks again.
const POLL_EVERY: Duration = Duration::from_millis(20);

/// How long the request holding a `PENDING` order may take to finish it before a retry takes
/// over: well past the two peer calls (10 s timeout each) finishing may make.
const LEASE: Duration = Duration::from_secs(30);

/// How many times one checkout tries to insert its order when earlier winners of the same key
/// failed and removed theirs.
const MAX_ATTEMPTS: usize = 64;

/// One product to buy. There is no price: the catalog's current price is charged.
#[derive(InputObject)]
pub(crate) struct CheckoutLineInput {
    /// The catalog product's id.
    product_id: ID,
    /// Units to buy, 1 to 100.
    quantity: i32,
}

/// A validated checkout request.
pub(crate) struct Request {
    key: String,
    /// Merged by product, in product id order.
    lines: BTreeMap<i64, i32>,
    /// [`canonical_lines`] of `lines`.
    canonical: String,
}

impl Request {
    /// The products the request orders, by id.
    pub(crate) fn product_ids(&self) -> impl Iterator<Item = i64> + '_ {
        self.lines.keys().copied()
    }
}

/// The product ids of lines in their canonical form (`3x2,7x1`).
pub(crate) fn products_of(canonical: &str) -> Vec<i64> {
    canonical
        .split(',')
        .filter_map(|line| line.split_once('x'))
        .filter_map(|(product, _)| product.parse().ok())
        .collect()
}

/// The lines in the canonical form stored with an order: `product x quantity`, comma-separated,
/// by product id.
pub(crate) fn canonical_lines(lines: &BTreeMap<i64, i32>) -> String {
    lines
        .iter()
        .map(|(product, quantity)| format!("{product}x{quantity}"))
        .collect::<Vec<_>>()
        .join(",")
}

pub(crate) fn checked_request(
    lines: &[CheckoutLineInput],
    key: &str,
) -> async_graphql::Result<Request> {
    let merged = input::merged_lines(
        lines.iter().map(|line| (&line.product_id, line.quantity)),
        MAX_LINES,
        MAX_QUANTITY,
    )?;
    let key_len = key.chars().count();
    if !(MIN_KEY..=MAX_KEY).contains(&key_len) || !key.chars().all(|c| c.is_ascii_graphic()) {
        return Err(error(
            Code::BadUserInput,
            format!("`idempotencyKey` must be {MIN_KEY} to {MAX_KEY} visible ASCII characters"),
        ));
    }
    Ok(Request {
        key: key.to_owned(),
        canonical: canonical_lines(&merged),
        lines: merged,
    })
}

pub(crate) async fn place(
    db: &DatabaseConnection,
    upstream: &Upstream,
    events: &EventBus,
    customer: i64,
    request: &Request,
) -> async_graphql::Result<order::Model> {
    let mut prices = None;
    for _ in 0..MAX_ATTEMPTS {
        if let Some(order) = settled(db, upstream, events, customer, request).await? {
            return Ok(order);
        }
        // No order under this key: price the lines and race to insert it.
        let prices = match &prices {
            Some(prices) => prices,
            None => {
                let ids: Vec<i64> = request.lines.keys().copied().collect();
                prices.insert(upstream.prices(&ids).await?)
            }
        };
        match insert_pending(db, customer, request, prices).await {
            Ok(Inserted::Order(pending)) => {
                return finish(db, upstream, events, pending, &request.lines).await;
            }
            Ok(Inserted::Lost) => continue,
            Err(err) => return Err(err),
        }
    }
    Err(error(
        Code::Conflict,
        "concurrent checkouts with this idempotency key keep failing; retry later",
    ))
}

/// The order already recorded under the request's key once it is settled, waiting while a
/// concurrent checkout finishes it; `None` when there is none (any more).
async fn settled(
    db: &DatabaseConnection,
    upstream: &Upstream,
    events: &EventBus,
    customer: i64,
    request: &Request,
) -> async_graphql::Result<Option<order::Model>> {
    loop {
        let found = order::Entity::find()
            .filter(order::Column::CustomerId.eq(customer))
            .filter(order::Column::IdempotencyKey.eq(request.key.as_str()))
            .one(db)
            .await
            .internal("looking up an idempotency key")?;
        let Some(order) = found else {
            return Ok(None);
        };
        if order.request_lines != request.canonical {
            return Err(error(
                Code::Conflict,
                "this idempotency key was already used for a checkout of other lines",
            ));
        }
        if order.status != order::PENDING {
            return Ok(Some(order));
        }
        if order.lease_expires_ms <= now_ms() && claim(db, order.id).await? {
            // Its checkout gave up or died midway: finish it here.
            return finish(db, upstream, events, order, &request.lines)
                .await
                .map(Some);
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// Whether this request inserted the pending order or another one with the same key did.
enum Inserted {
    Order(order::Model),
    Lost,
}

async fn insert_pending(
    db: &DatabaseConnection,
    customer: i64,
    request: &Request,
    prices: &HashMap<i64, Price>,
) -> async_graphql::Result<Inserted> {
    let mut currency = None;
    let mut total: i64 = 0;
    for (product_id, quantity) in &request.lines {
        let price = prices.get(product_id).ok_or_else(|| {
            error(
                Code::NotFound,
                format!("product {product_id} does not exist"),
            )
        })?;
        match currency {
            None => currency = Some(price.currency.as_str()),
            Some(first) if first != price.currency => {
                return Err(error(
                    Code::BadUserInput,
                    "one order may only hold products of one currency",
                ));
            }
            Some(_) => {}
        }
        total += i64::from(*quantity) * i64::from(price.unit_cents);
    }
    let total = i32::try_from(total)
        .map_err(|_| error(Code::BadUserInput, "the order total is too large"))?;
    let currency = currency.unwrap_or("USD").to_owned();
    match insert_with_lines(db, customer, request, prices, total, currency).await {
        Ok(order) => Ok(Inserted::Order(order)),
        Err(err) if is_unique_violation(&err) => Ok(Inserted::Lost),
        Err(err) => Err(err).internal("recording an order"),
    }
}

async fn insert_with_lines(
    db: &DatabaseConnection,
    customer: i64,
    request: &Request,
    prices: &HashMap<i64, Price>,
    total_cents: i32,
    currency: String,
) -> Result<order::Model, DbErr> {
    let txn = db.begin().await?;
    // The insert is the first statement, so SQLite takes its write lock up front.
    let order = order::ActiveModel {
        customer_id: Set(customer),
        idempotency_key: Set(request.key.clone()),
        request_lines: Set(request.canonical.clone()),
        status: Set(order::PENDING.to_owned()),
        total_cents: Set(total_cents),
        currency: Set(currency),
        // Whole microseconds, so the time reads back identically on every backend.
        created_at: Set(Utc::now().trunc_subsecs(6)),
        lease_expires_ms: Set(lease_end()),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let lines = request
        .lines
        .iter()
        .map(|(product_id, quantity)| order_line::ActiveModel {
            order_id: Set(order.id),
            product_id: Set(*product_id),
            quantity: Set(*quantity),
            unit_price_cents: Set(prices.get(product_id).map_or(0, |price| price.unit_cents)),
            ..Default::default()
        });
    order_line::Entity::insert_many(lines).exec(&txn).await?;
    txn.commit().await?;
    Ok(order)
}

/// The inventory reservation of an order: its id and creation time, so an id reused after the
/// orders database was reset never matches an old reservation.
fn reservation_id(order: &order::Model) -> String {
    format!("order-{}-{}", order.id, order.created_at.timestamp_micros())
}

/// Reserves a pending order's stock and marks it placed, or removes it when inventory refuses.
async fn finish(
    db: &DatabaseConnection,
    upstream: &Upstream,
    events: &EventBus,
    pending: order::Model,
    lines: &BTreeMap<i64, i32>,
) -> async_graphql::Result<order::Model> {
    let reservation = reservation_id(&pending);
    match upstream.reserve(&reservation, lines).await {
        Ok(()) => {
            // Whoever placed it (this request, or a retry that took the order over) wrote its
            // event.
            let place = set_status(pending.id, order::PENDING, order::PLACED);
            change_status(db, events, place, &pending, order::PLACED)
                .await
                .internal("placing an order")?;
            let placed = order::Entity::find_by_id(pending.id)
                .one(db)
                .await
                .internal("reading a placed order")?;
            match placed {
                Some(order) => Ok(order),
                None => {
                    // Only if this request overran its lease and a retry took over and failed.
                    if let Err(err) = upstream.release(&reservation).await {
                        tracing::warn!(reservation, error = ?err, "releasing the stock of a removed order failed");
                    }
                    Err(error(
                        Code::Conflict,
                        "the checkout was abandoned concurrently; retry",
                    ))
                }
            }
        }
        Err(ReserveError::Refused(err)) => {
            remove_pending(db, pending.id).await?;
            Err(err)
        }
        Err(ReserveError::Unreachable(err)) => {
            // Whether inventory reserved is unknown: only forget the order once a release went
            // through; otherwise it stays pending and the next retry finishes it.
            if upstream.release(&reservation).await.is_ok() {
                remove_pending(db, pending.id).await?;
            } else {
                give_up(db, pending.id).await?;
            }
            Err(err)
        }
    }
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

fn lease_end() -> i64 {
    now_ms().saturating_add(LEASE.as_millis() as i64)
}

/// Releases the stock of every `PENDING` order whose lease ran out and removes it; an order
/// whose release fails stays pending, its lease given up, for the next round.
pub(crate) async fn reconcile(
    db: &DatabaseConnection,
    upstream: &Upstream,
) -> async_graphql::Result<usize> {
    let stale = order::Entity::find()
        .filter(order::Column::Status.eq(order::PENDING))
        .filter(order::Column::LeaseExpiresMs.lte(now_ms()))
        .all(db)
        .await
        .internal("finding abandoned checkouts")?;
    let mut released = 0;
    for pending in stale {
        if !claim(db, pending.id).await? {
            continue; // a retry of that checkout took it over first
        }
        let reservation = reservation_id(&pending);
        match upstream.release(&reservation).await {
            Ok(()) => {
                remove_pending(db, pending.id).await?;
                tracing::info!(
                    order = pending.id,
                    reservation,
                    "abandoned checkout released"
                );
                released += 1;
            }
            Err(err) => {
                tracing::warn!(order = pending.id, error = ?err.message, "releasing an abandoned checkout failed");
                give_up(db, pending.id).await?;
            }
        }
    }
    Ok(released)
}

/// Takes over a pending order whose lease ran out; false when another request was quicker.
async fn claim(db: &DatabaseConnection, id: i64) -> async_graphql::Result<bool> {
    let claimed = order::Entity::update_many()
        .col_expr(order::Column::LeaseExpiresMs, Expr::value(lease_end()))
        .filter(order::Column::Id.eq(id))
        .filter(order::Column::Status.eq(order::PENDING))
        .filter(order::Column::LeaseExpiresMs.lte(now_ms()))
        .exec(db)
        .await
        .internal("claiming a pending order")?;
    Ok(claimed.rows_affected == 1)
}

/// Ends this request's lease on a pending order so the next retry finishes it at once.
async fn give_up(db: &DatabaseConnection, id: i64) -> async_graphql::Result<()> {
    order::Entity::update_many()
        .col_expr(order::Column::LeaseExpiresMs, Expr::value(0i64))
        .filter(order::Column::Id.eq(id))
        .filter(order::Column::Status.eq(order::PENDING))
        .exec(db)
        .await
        .internal("giving up a pending order")
        .map(|_| ())
}

async fn remove_pending(db: &DatabaseConnection, id: i64) -> async_graphql::Result<()> {
    order::Entity::delete_many()
        .filter(order::Column::Id.eq(id))
        .filter(order::Column::Status.eq(order::PENDING))
        .exec(db)
        .await
        .internal("removing a pending order")
        .map(|_| ())
}

/// The statement that moves an order from one status to another, ending any lease on it; it
/// moves nothing when the order was not in `from`.
fn set_status(id: i64, from: &str, to: &str) -> UpdateMany<order::Entity> {
    order::Entity::update_many()
        .col_expr(order::Column::Status, Expr::value(to))
        .col_expr(order::Column::LeaseExpiresMs, Expr::value(0i64))
        .filter(order::Column::Id.eq(id))
        .filter(order::Column::Status.eq(from))
}

/// Cancels one of `customer`'s orders before it leaves for delivery and returns its stock:
/// `NOT_FOUND`, `FORBIDDEN` (someone else's), `INVALID_STATE` (out for delivery, delivered or
/// cancelled already), `CONFLICT` (it moved on or is being cancelled by another request).
pub(crate) async fn cancel(
    db: &DatabaseConnection,
    upstream: &Upstream,
    events: &EventBus,
    customer: i64,
    id: i64,
) -> async_graphql::Result<order::Model> {
    let not_found = || error(Code::NotFound, format!("there is no order {id}"));
    let order = order::Entity::find_by_id(id)
        .one(db)
        .await
        .internal("reading an order")?
        .filter(|order| order.status != order::PENDING)
        .ok_or_else(not_found)?;
    if order.customer_id != customer {
        return Err(error(
            Code::Forbidden,
            "only the customer may cancel their order",
        ));
    }
    if !cancellable(&order.status) {
        return Err(error(
            Code::InvalidState,
            format!(
                "order {id} is {} and cannot be cancelled",
                words(&order.status)
            ),
        ));
    }
    // Held first, so it cannot move on while its stock goes back; the release comes before the
    // status: it is idempotent, so a cancel that fails after it can simply be retried, and the
    // order is never cancelled while its stock stays reserved.
    if !hold(db, &order).await? {
        return Err(error(
            Code::Conflict,
            format!("order {id} changed or is being cancelled concurrently; retry"),
        ));
    }
    if let Err(err) = upstream.release(&reservation_id(&order)).await {
        let_go(db, &order).await?;
        return Err(err);
    }
    let cancel = set_status(id, &order.status, order::CANCELLED);
    if !change_status(db, events, cancel, &order, order::CANCELLED)
        .await
        .internal("cancelling an order")?
    {
        // Only when the release outlasted the lease and the order moved on meanwhile.
        tracing::error!(
            order = id,
            "an order moved on while its cancellation released its stock"
        );
        return Err(error(
            Code::Conflict,
            format!("order {id} changed while it was being cancelled"),
        ));
    }
    let cancelled = order::Entity::find_by_id(id)
        .one(db)
        .await
        .internal("reading a cancelled order")?
        .ok_or_else(not_found)?;
    Ok(cancelled)
}

/// Takes the lease of a placed order for its cancellation; false when it changed or another
/// request holds it.
async fn hold(db: &DatabaseConnection, order: &order::Model) -> async_graphql::Result<bool> {
    let held = order::Entity::update_many()
        .col_expr(order::Column::LeaseExpiresMs, Expr::value(lease_end()))
        .filter(order::Column::Id.eq(order.id))
        .filter(order::Column::Status.eq(order.status.as_str()))
        .filter(order::Column::LeaseExpiresMs.lte(now_ms()))
        .exec(db)
        .await
        .internal("holding an order")?;
    Ok(held.rows_affected == 1)
}

/// Gives up a cancellation's lease: the order may move on again.
async fn let_go(db: &DatabaseConnection, order: &order::Model) -> async_graphql::Result<()> {
    order::Entity::update_many()
        .col_expr(order::Column::LeaseExpiresMs, Expr::value(0i64))
        .filter(order::Column::Id.eq(order.id))
        .filter(order::Column::Status.eq(order.status.as_str()))
        .exec(db)
        .await
        .internal("letting go of an order")
        .map(|_| ())
}
