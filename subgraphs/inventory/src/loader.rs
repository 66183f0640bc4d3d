//! The inventory subgraph's DataLoaders: stock by product id, one query per batch.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};

use crate::entity::stock;

/// Loads units on hand by product id in one query per batch; a product without a stock row
/// is absent from the answer (and counts as 0 units).
pub(crate) struct StockLoader {
    db: DatabaseConnection,
}

impl StockLoader {
    /// A loader reading the stock table of `db`.
    pub(crate) fn new(db: DatabaseConnection) -> Self {
        StockLoader { db }
    }
}

impl Loader<i64> for StockLoader {
    type Value = i32;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, i32>, Self::Error> {
        let rows = stock::Entity::find()
            .filter(stock::Column::ProductId.is_in(keys.iter().copied()))
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|row| (row.product_id, row.quantity))
            .collect())
    }
}
