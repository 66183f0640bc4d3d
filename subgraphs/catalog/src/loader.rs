//! DataLoaders of the catalog: each answers a whole batch of keys with one query.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    FromQueryResult, QueryFilter, QuerySelect, QueryTrait,
};

use crate::entity::{category, product};

/// Loads products by id.
pub(crate) struct ProductLoader {
    db: DatabaseConnection,
}

impl ProductLoader {
    pub(crate) fn new(db: DatabaseConnection) -> Self {
        ProductLoader { db }
    }
}

impl Loader<i64> for ProductLoader {
    type Value = product::Model;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, product::Model>, Self::Error> {
        let rows = product::Entity::find()
            .filter(product::Column::Id.is_in(keys.iter().copied()))
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(|row| (row.id, row)).collect())
    }
}

/// Loads categories by id.
pub(crate) struct CategoryLoader {
    db: DatabaseConnection,
}

impl CategoryLoader {
    pub(crate) fn new(db: DatabaseConnection) -> Self {
        CategoryLoader { db }
    }
}

impl Loader<i64> for CategoryLoader {
    type Value = category::Model;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, category::Model>, Self::Error> {
        let rows = category::Entity::find()
            .filter(category::Column::Id.is_in(keys.iter().copied()))
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(|row| (row.id, row)).collect())
    }
}

/// Counts the products of categories, by category id.
pub(crate) struct ProductCountLoader {
    db: DatabaseConnection,
}

impl ProductCountLoader {
    pub(crate) fn new(db: DatabaseConnection) -> Self {
        ProductCountLoader { db }
    }
}

impl Loader<i64> for ProductCountLoader {
    type Value = i64;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, i64>, Self::Error> {
        let counts: Vec<(i64, i64)> = product::Entity::find()
            .select_only()
            .column(product::Column::CategoryId)
            .column_as(product::Column::Id.count(), "count")
            .filter(product::Column::CategoryId.is_in(keys.iter().copied()))
            .group_by(product::Column::CategoryId)
            .into_tuple()
            .all(&self.db)
            .await?;
        // Categories without products have no row; they count zero.
        let mut by_category: HashMap<i64, i64> = keys.iter().map(|key| (*key, 0)).collect();
        by_category.extend(counts);
        Ok(by_category)
    }
}

/// One page of one category's products: `limit` products after the first `offset`, by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct CategoryPage {
    pub(crate) category_id: i64,
    pub(crate) offset: u64,
    pub(crate) limit: u64,
}

/// The products of a [`CategoryPage`] and whether more follow.
#[derive(Debug, Clone, Default)]
pub(crate) struct PageRows {
    pub(crate) rows: Vec<product::Model>,
    pub(crate) has_next: bool,
}

/// Loads pages of several categories' products at once.
pub(crate) struct CategoryProductsLoader {
    db: DatabaseConnection,
}

impl CategoryProductsLoader {
    pub(crate) fn new(db: DatabaseConnection) -> Self {
        CategoryProductsLoader { db }
    }
}

impl Loader<CategoryPage> for CategoryProductsLoader {
    type Value = PageRows;
    type Error = Arc<DbErr>;

    async fn load(
        &self,
        keys: &[CategoryPage],
    ) -> Result<HashMap<CategoryPage, PageRows>, Self::Error> {
        // One window query covers every page asked for: number each category's products by id,
        // keep the positions a page of that category needs (plus one past its end, to know if
        // more follow). Pages are grouped by their (offset, limit) window, so the rows read are
        // bounded by the page sizes asked for, however far apart the offsets are.
        let mut windows: HashMap<(u64, u64), Vec<i64>> = HashMap::new();
        for key in keys {
            windows
                .entry((key.offset, key.limit))
                .or_default()
                .push(key.category_id);
        }
        let mut wanted = Condition::any();
        for ((offset, limit), categories) in windows {
            wanted = wanted.add(
                Condition::all()
                    .add(Expr::col("category_id").is_in(categories))
                    .add(Expr::col("position").gt(offset as i64))
                    .add(Expr::col("position").lte((offset + limit + 1) as i64)),
            );
        }
        let ranked = product::Entity::find()
            .expr_as(
                Expr::cust("ROW_NUMBER() OVER (PARTITION BY category_id ORDER BY id)"),
                "position",
            )
            .filter(product::Column::CategoryId.is_in(keys.iter().map(|k| k.category_id)))
            .into_query();
        let query = Query::select()
            .expr(Expr::cust("*"))
            .from_subquery(ranked, "ranked")
            .cond_where(wanted)
            .order_by("category_id", sea_orm::Order::Asc)
            .order_by("position", sea_orm::Order::Asc)
            .to_owned();
        let rows = self.db.query_all(&query).await?;
        // Each category's products with their 1-based position inside it.
        let mut by_category: HashMap<i64, Vec<(i64, product::Model)>> = HashMap::new();
        for row in rows {
            let position: i64 = row.try_get("", "position")?;
            let product = product::Model::from_query_result(&row, "")?;
            by_category
                .entry(product.category_id)
                .or_default()
                .push((position, product));
        }
        Ok(keys
            .iter()
            .map(|key| {
                let start = key.offset as i64;
                let mut rows: Vec<product::Model> = by_category
                    .get(&key.category_id)
                    .into_iter()
                    .flatten()
                    .filter(|(position, _)| {
                        *position > start && *position <= start + key.limit as i64 + 1
                    })
                    .map(|(_, product)| product.clone())
                    .collect();
                let has_next = rows.len() as u64 > key.limit;
                rows.truncate(key.limit as usize);
                (*key, PageRows { rows, has_next })
            })
            .collect())
    }
}
