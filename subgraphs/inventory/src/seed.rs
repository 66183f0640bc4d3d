//! Deterministic demo stock for the catalog's products 1..=36.
//!
//! Every ninth product is sold out (9, 18, 27, 36), every seventh otherwise has only 3 units
//! left (7, 14, 21, 28, 35), and the rest hold between 10 and 99 units.

use sea_orm::{ActiveValue::Set, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait};

use crate::entity::stock;

/// How many products the catalog seeds; inventory holds a stock row for each.
pub(crate) const SEEDED_PRODUCTS: i64 = 36;

/// The seeded units on hand of product `id`.
pub(crate) fn seeded_quantity(id: i64) -> i32 {
    if id % 9 == 0 {
        0
    } else if id % 7 == 0 {
        3
    } else {
        // 10..=99, spread so neighbouring products differ.
        10 + ((id * 37) % 90) as i32
    }
}

/// Inserts the demo stock when the table is empty.
pub(crate) async fn seed(db: &DatabaseConnection) -> Result<(), DbErr> {
    if stock::Entity::find().count(db).await? > 0 {
        return Ok(());
    }
    let rows = (1..=SEEDED_PRODUCTS).map(|id| stock::ActiveModel {
        product_id: Set(id),
        quantity: Set(seeded_quantity(id)),
    });
    stock::Entity::insert_many(rows).exec(db).await?;
    Ok(())
}
