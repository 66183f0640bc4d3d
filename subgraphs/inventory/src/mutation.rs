//! The inventory schema's write side: reserving and releasing stock for orders, internal
//! mutations hidden from clients by `@inaccessible` and guarded by the `inventory:reserve`
//! scope.
//!
//! A reservation is all-or-nothing and keyed by the caller's id, so a retried call never
//! reserves twice: its rows are inserted first (which also takes SQLite's write lock), then
//! each product's stock is decremented with one conditional `UPDATE` that cannot go below
//! zero, so concurrent reservations can never oversell.

use std::collections::BTreeMap;

use async_graphql::{Context, ID, InputObject, Object};
use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, ExprTrait, QueryFilter,
    TransactionTrait, TryInsertResult,
};
use subgraph_kit::auth::{RESERVE_SCOPE, require_scope};
use subgraph_kit::{Code, ResultExt, error, input};

use crate::entity::{reservation, stock};

/// The longest reservation id accepted (the column's width).
const MAX_RESERVATION_ID: usize = 128;
/// The most lines one reservation may hold.
const MAX_LINES: usize = 100;
/// The most units of one product one reservation may hold.
const MAX_QUANTITY: i32 = 10_000;
/// The most units `restock` may set.
const MAX_STOCK: i32 = 1_000_000;
/// The scope staff tokens carry for administrative mutations.
const ADMIN_SCOPE: &str = "admin";

/// One product and how many of its units to reserve.
#[derive(InputObject)]
#[graphql(inaccessible)]
pub(crate) struct StockLineInput {
    /// The catalog product's id.
    product_id: ID,
    /// Units to reserve, at least 1.
    quantity: i32,
}

/// Mutations of the inventory subgraph: reservations for the orders subgraph, `restock` for staff.
pub struct Mutation;

#[Object]
impl Mutation {
    /// Reserves every line or none (`INSUFFICIENT_STOCK`, `NOT_FOUND` for a product without
    /// stock). Calling it again with the same `reservationId` and lines returns true without
    /// reserving twice; the same id with other lines is a `CONFLICT`.
    #[graphql(inaccessible)]
    async fn reserve_stock(
        &self,
        ctx: &Context<'_>,
        reservation_id: String,
        #[graphql(inaccessible)] lines: Vec<StockLineInput>,
    ) -> async_graphql::Result<bool> {
        require_scope(ctx, RESERVE_SCOPE)?;
        let reservation_id = checked_reservation_id(&reservation_id)?;
        let lines = checked_lines(&lines)?;
        let db = ctx.data::<DatabaseConnection>()?;
        reserve(db, reservation_id, &lines).await
    }

    /// Returns a reservation's units to stock. True when the reservation exists (released now
    /// or by an earlier call), false when there is none with this id.
    #[graphql(inaccessible)]
    async fn release_stock(
        &self,
        ctx: &Context<'_>,
        reservation_id: String,
    ) -> async_graphql::Result<bool> {
        require_scope(ctx, RESERVE_SCOPE)?;
        let reservation_id = checked_reservation_id(&reservation_id)?;
        let db = ctx.data::<DatabaseConnection>()?;
        release(db, reservation_id)
            .await
            .internal("releasing stock")
    }

    /// Sets the units on hand of a product to `quantity` (0 to 1,000,000), creating its stock
    /// row when it has none; returns the new count. For staff holding the `admin` scope.
    #[graphql(requires_scopes = "admin")]
    async fn restock(
        &self,
        ctx: &Context<'_>,
        product_id: ID,
        quantity: i32,
    ) -> async_graphql::Result<i32> {
        require_scope(ctx, ADMIN_SCOPE)?;
        let product_id = input::id(&product_id, "productId")?;
        if !(0..=MAX_STOCK).contains(&quantity) {
            return Err(error(
                Code::BadUserInput,
                format!("`quantity` must be 0 to {MAX_STOCK}"),
            ));
        }
        let db = ctx.data::<DatabaseConnection>()?;
        stock::Entity::insert(stock::ActiveModel {
            product_id: Set(product_id),
            quantity: Set(quantity),
        })
        .on_conflict(
            sea_orm::sea_query::OnConflict::column(stock::Column::ProductId)
                .update_column(stock::Column::Quantity)
                .to_owned(),
        )
        .exec(db)
        .await
        .internal("restocking")?;
        Ok(quantity)
    }
}

fn checked_reservation_id(raw: &str) -> async_graphql::Result<&str> {
    input::text(raw, "reservationId", MAX_RESERVATION_ID)
}

/// Validates the lines and merges those naming the same product, ordered by product id so
/// concurrent reservations lock stock rows in the same order.
fn checked_lines(lines: &[StockLineInput]) -> async_graphql::Result<BTreeMap<i64, i32>> {
    input::merged_lines(
        lines.iter().map(|line| (&line.product_id, line.quantity)),
        MAX_LINES,
        MAX_QUANTITY,
    )
}

/// What a reservation attempt found out inside its transaction.
enum Outcome {
    Reserved,
    AlreadyReserved,
    Conflict,
    Short(i64),
}

async fn reserve(
    db: &DatabaseConnection,
    reservation_id: &str,
    lines: &BTreeMap<i64, i32>,
) -> async_graphql::Result<bool> {
    let outcome = reserve_in_transaction(db, reservation_id, lines)
        .await
        .internal("reserving stock")?;
    match outcome {
        Outcome::Reserved | Outcome::AlreadyReserved => Ok(true),
        Outcome::Conflict => Err(error(
            Code::Conflict,
            "this reservation id was already used for other lines",
        )),
        Outcome::Short(product_id) => {
            let known = stock::Entity::find_by_id(product_id)
                .one(db)
                .await
                .internal("checking a product's stock")?
                .is_some();
            if known {
                Err(error(
                    Code::InsufficientStock,
                    format!("not enough stock of product {product_id}"),
                ))
            } else {
                Err(error(
                    Code::NotFound,
                    format!("no stock is kept for product {product_id}"),
                ))
            }
        }
    }
}

async fn reserve_in_transaction(
    db: &DatabaseConnection,
    reservation_id: &str,
    lines: &BTreeMap<i64, i32>,
) -> Result<Outcome, DbErr> {
    let txn = db.begin().await?;
    // The first statement writes, so SQLite takes its write lock now and a concurrent
    // reservation waits for it instead of failing on a read-to-write upgrade. On PostgreSQL
    // a concurrent insert of the same id waits here for this transaction to end.
    let now = Utc::now();
    let rows = lines
        .iter()
        .map(|(product_id, quantity)| reservation::ActiveModel {
            reservation_id: Set(reservation_id.to_owned()),
            product_id: Set(*product_id),
            quantity: Set(*quantity),
            released: Set(false),
            created_at: Set(now),
        });
    let inserted = match reservation::Entity::insert_many(rows)
        .on_conflict_do_nothing_on([
            reservation::Column::ReservationId,
            reservation::Column::ProductId,
        ])
        .exec_without_returning(&txn)
        .await?
    {
        TryInsertResult::Inserted(count) => count,
        TryInsertResult::Conflicted | TryInsertResult::Empty => 0,
    };
    if inserted == 0 {
        let existing: BTreeMap<i64, i32> = reservation::Entity::find()
            .filter(reservation::Column::ReservationId.eq(reservation_id))
            .all(&txn)
            .await?
            .into_iter()
            .map(|row| (row.product_id, row.quantity))
            .collect();
        txn.rollback().await?;
        return Ok(if &existing == lines {
            Outcome::AlreadyReserved
        } else {
            Outcome::Conflict
        });
    }
    if inserted != lines.len() as u64 {
        txn.rollback().await?;
        return Ok(Outcome::Conflict);
    }
    for (product_id, quantity) in lines {
        let updated = stock::Entity::update_many()
            .col_expr(
                stock::Column::Quantity,
                Expr::col(stock::Column::Quantity).sub(*quantity),
            )
            .filter(stock::Column::ProductId.eq(*product_id))
            .filter(stock::Column::Quantity.gte(*quantity))
            .exec(&txn)
            .await?;
        if updated.rows_affected != 1 {
            txn.rollback().await?;
            return Ok(Outcome::Short(*product_id));
        }
    }
    txn.commit().await?;
    Ok(Outcome::Reserved)
}

async fn release(db: &DatabaseConnection, reservation_id: &str) -> Result<bool, DbErr> {
    // A reservation's rows never change except for `released`, so reading them before the
    // transaction is safe; each row is then flipped with a conditional update, and only the
    // call that flips it puts its units back.
    let rows = reservation::Entity::find()
        .filter(reservation::Column::ReservationId.eq(reservation_id))
        .all(db)
        .await?;
    if rows.is_empty() {
        return Ok(false);
    }
    let mut open: Vec<_> = rows.into_iter().filter(|row| !row.released).collect();
    if open.is_empty() {
        return Ok(true);
    }
    open.sort_by_key(|row| row.product_id);
    let txn = db.begin().await?;
    for row in open {
        let flipped = reservation::Entity::update_many()
            .col_expr(reservation::Column::Released, Expr::value(true))
            .filter(reservation::Column::ReservationId.eq(reservation_id))
            .filter(reservation::Column::ProductId.eq(row.product_id))
            .filter(reservation::Column::Released.eq(false))
            .exec(&txn)
            .await?;
        if flipped.rows_affected == 1 {
            stock::Entity::update_many()
                .col_expr(
                    stock::Column::Quantity,
                    Expr::col(stock::Column::Quantity).add(row.quantity),
                )
                .filter(stock::Column::ProductId.eq(row.product_id))
                .exec(&txn)
                .await?;
        }
    }
    txn.commit().await?;
    Ok(true)
}
