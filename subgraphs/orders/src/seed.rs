//! Deterministic past orders of the demo users ada (1), grace (2) and alan (3) over the
//! catalog's products 1..=36, at the prices they were bought for. Seeds reserve no stock, so
//! cancelling one returns nothing to inventory.

use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};
use sea_orm::{ActiveValue::Set, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait};

use crate::checkout::canonical_lines;
use crate::entity::{order, order_line};

/// A seeded order: customer, status, day of February 2026, lines of (product, quantity, unit price).
struct Seed {
    customer_id: i64,
    status: &'static str,
    day: u32,
    lines: &'static [(i64, i32, i32)],
}

const ORDERS: &[Seed] = &[
    Seed {
        customer_id: 1,
        status: order::PLACED,
        day: 2,
        lines: &[(1, 2, 499), (5, 1, 449), (13, 1, 299)],
    },
    Seed {
        customer_id: 2,
        status: order::PLACED,
        day: 3,
        lines: &[(25, 1, 1899), (34, 1, 3499)],
    },
    Seed {
        customer_id: 1,
        status: order::CANCELLED,
        day: 5,
        lines: &[(31, 1, 5999)],
    },
    Seed {
        customer_id: 3,
        status: order::PLACED,
        day: 8,
        lines: &[(20, 2, 899), (21, 3, 249), (22, 2, 399)],
    },
    Seed {
        customer_id: 2,
        status: order::PLACED,
        day: 11,
        lines: &[(8, 2, 799), (16, 1, 549)],
    },
    Seed {
        customer_id: 1,
        status: order::PLACED,
        day: 14,
        lines: &[(19, 1, 1299)],
    },
];

/// Inserts the demo orders when there are none.
pub(crate) async fn seed(db: &DatabaseConnection) -> Result<(), DbErr> {
    if order::Entity::find().count(db).await? > 0 {
        return Ok(());
    }
    let mut orders = Vec::new();
    let mut lines = Vec::new();
    for (i, seed) in ORDERS.iter().enumerate() {
        let id = i as i64 + 1;
        let created_at = Utc
            .with_ymd_and_hms(2026, 2, seed.day, 10, 30, 0)
            .single()
            .ok_or_else(|| DbErr::Custom(format!("invalid seed date for order {id}")))?;
        let merged: BTreeMap<i64, i32> = seed.lines.iter().map(|(p, q, _)| (*p, *q)).collect();
        orders.push(order::ActiveModel {
            id: Set(id),
            customer_id: Set(seed.customer_id),
            idempotency_key: Set(format!("seed-order-{id:04}")),
            request_lines: Set(canonical_lines(&merged)),
            status: Set(seed.status.to_owned()),
            total_cents: Set(seed.lines.iter().map(|(_, q, p)| q * p).sum()),
            currency: Set("USD".to_owned()),
            created_at: Set(created_at),
            lease_expires_ms: Set(0),
        });
        for (product_id, quantity, unit_price_cents) in seed.lines {
            lines.push(order_line::ActiveModel {
                id: Set(lines.len() as i64 + 1),
                order_id: Set(id),
                product_id: Set(*product_id),
                quantity: Set(*quantity),
                unit_price_cents: Set(*unit_price_cents),
            });
        }
    }
    order::Entity::insert_many(orders).exec(db).await?;
    order_line::Entity::insert_many(lines).exec(db).await?;
    subgraph_kit::db::sync_sequence(db, "orders").await?;
    subgraph_kit::db::sync_sequence(db, "order_lines").await
}
