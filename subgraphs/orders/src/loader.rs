//! The orders subgraph's DataLoaders: orders by id, lines by order and a customer's order
//! pages, each answering a batch with one query and never showing a `PENDING` order.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder};

use crate::entity::{order, order_line};

/// Loads visible orders by id in one query per batch.
pub(crate) struct OrderLoader {
    db: DatabaseConnection,
}

impl Loader<i64> for OrderLoader {
    type Value = order::Model;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, order::Model>, Self::Error> {
        let rows = order::Entity::find()
            .filter(order::Column::Id.is_in(keys.iter().copied()))
            .filter(order::Column::Status.ne(order::PENDING))
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(|row| (row.id, row)).collect())
    }
}

/// Loads the lines of many orders in one query per batch, each order's in product order.
pub(crate) struct LinesLoader {
    db: DatabaseConnection,
}

impl Loader<i64> for LinesLoader {
    type Value = Vec<order_line::Model>;
    type Error = Arc<DbErr>;

    async fn load(
        &self,
        keys: &[i64],
    ) -> Result<HashMap<i64, Vec<order_line::Model>>, Self::Error> {
        let rows = order_line::Entity::find()
            .filter(order_line::Column::OrderId.is_in(keys.iter().copied()))
            .order_by_asc(order_line::Column::OrderId)
            .order_by_asc(order_line::Column::ProductId)
            .all(&self.db)
            .await?;
        let mut by_order: HashMap<i64, Vec<order_line::Model>> = HashMap::with_capacity(keys.len());
        for row in rows {
            by_order.entry(row.order_id).or_default().push(row);
        }
        Ok(by_order)
    }
}

/// Loads customers' newest visible orders, keyed by (customer id, page size), in one query per
/// batch whatever the mix of customers and page sizes.
pub(crate) struct CustomerOrdersLoader {
    db: DatabaseConnection,
}

impl Loader<(i64, u64)> for CustomerOrdersLoader {
    type Value = Vec<order::Model>;
    type Error = Arc<DbErr>;

    async fn load(
        &self,
        keys: &[(i64, u64)],
    ) -> Result<HashMap<(i64, u64), Vec<order::Model>>, Self::Error> {
        let rows = order::Entity::find()
            .filter(order::Column::CustomerId.is_in(keys.iter().map(|(customer, _)| *customer)))
            .filter(order::Column::Status.ne(order::PENDING))
            .order_by_desc(order::Column::CreatedAt)
            .order_by_desc(order::Column::Id)
            .all(&self.db)
            .await?;
        let mut by_customer: HashMap<i64, Vec<order::Model>> = HashMap::new();
        for row in rows {
            by_customer.entry(row.customer_id).or_default().push(row);
        }
        Ok(keys
            .iter()
            .map(|key @ (customer, limit)| {
                let mut page = by_customer.get(customer).cloned().unwrap_or_default();
                page.truncate(usize::try_from(*limit).unwrap_or(usize::MAX));
                (*key, page)
            })
            .collect())
    }
}

/// The loaders the orders schema needs, all on one database.
pub(crate) fn loaders(
    db: &DatabaseConnection,
) -> (
    DataLoader<OrderLoader>,
    DataLoader<LinesLoader>,
    DataLoader<CustomerOrdersLoader>,
) {
    (
        subgraph_kit::loader(OrderLoader { db: db.clone() }),
        subgraph_kit::loader(LinesLoader { db: db.clone() }),
        subgraph_kit::loader(CustomerOrdersLoader { db: db.clone() }),
    )
}
