//! DataLoaders of the reviews subgraph: each answers a whole batch of keys with one query.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, FromQueryResult, Order,
    QueryFilter, QuerySelect, QueryTrait,
};

use crate::entity::review;

/// The most reviews one parent's list may show; `first` is checked against it.
pub(crate) const MAX_LIST: i32 = 50;

/// The loader behind `Product.reviews`, a distinct type from the one behind `User.reviews`.
pub(crate) struct ProductReviews(pub(crate) DataLoader<NewestReviewsLoader>);

/// The loader behind `User.reviews`.
pub(crate) struct AuthorReviews(pub(crate) DataLoader<NewestReviewsLoader>);

/// Loads reviews by id.
pub(crate) struct ReviewLoader {
    db: DatabaseConnection,
}

impl ReviewLoader {
    pub(crate) fn new(db: DatabaseConnection) -> Self {
        ReviewLoader { db }
    }
}

impl Loader<i64> for ReviewLoader {
    type Value = review::Model;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, review::Model>, Self::Error> {
        let rows = review::Entity::find()
            .filter(review::Column::Id.is_in(keys.iter().copied()))
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(|row| (row.id, row)).collect())
    }
}

/// The parent a list of reviews hangs off.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Parent {
    /// `Product.reviews`.
    Product,
    /// `User.reviews`.
    Author,
}

impl Parent {
    fn column(self) -> review::Column {
        match self {
            Parent::Product => review::Column::ProductId,
            Parent::Author => review::Column::AuthorId,
        }
    }

    fn id_of(self, review: &review::Model) -> i64 {
        match self {
            Parent::Product => review.product_id,
            Parent::Author => review.author_id,
        }
    }
}

/// Loads the newest [`MAX_LIST`] reviews of each product or each author; callers cut the
/// list to their `first`.
pub(crate) struct NewestReviewsLoader {
    db: DatabaseConnection,
    parent: Parent,
}

impl NewestReviewsLoader {
    pub(crate) fn new(db: DatabaseConnection, parent: Parent) -> Self {
        NewestReviewsLoader { db, parent }
    }
}

impl Loader<i64> for NewestReviewsLoader {
    type Value = Vec<review::Model>;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Vec<review::Model>>, Self::Error> {
        // Number each parent's reviews newest first and keep the first MAX_LIST of each, so
        // one prolific product cannot make the batch unbounded.
        let partition = match self.parent {
            Parent::Product => "product_id",
            Parent::Author => "author_id",
        };
        let ranked = review::Entity::find()
            .expr_as(
                Expr::cust(format!(
                    "ROW_NUMBER() OVER (PARTITION BY {partition} ORDER BY created_at DESC, id DESC)"
                )),
                "position",
            )
            .filter(self.parent.column().is_in(keys.iter().copied()))
            .into_query();
        let query = Query::select()
            .expr(Expr::cust("*"))
            .from_subquery(ranked, "ranked")
            .and_where(Expr::col("position").lte(MAX_LIST))
            .order_by(partition, Order::Asc)
            .order_by("position", Order::Asc)
            .to_owned();
        let mut lists: HashMap<i64, Vec<review::Model>> =
            keys.iter().map(|key| (*key, Vec::new())).collect();
        for row in self.db.query_all(&query).await? {
            let review = review::Model::from_query_result(&row, "")?;
            lists
                .entry(self.parent.id_of(&review))
                .or_default()
                .push(review);
        }
        Ok(lists)
    }
}

/// How many reviews a product has and the sum of their ratings.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RatingStats {
    pub(crate) count: i64,
    pub(crate) sum: i64,
}

/// Loads [`RatingStats`] by product id.
pub(crate) struct RatingStatsLoader {
    db: DatabaseConnection,
}

impl RatingStatsLoader {
    pub(crate) fn new(db: DatabaseConnection) -> Self {
        RatingStatsLoader { db }
    }
}

impl Loader<i64> for RatingStatsLoader {
    type Value = RatingStats;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, RatingStats>, Self::Error> {
        // Integer sums, not AVG: PostgreSQL's AVG is NUMERIC, SQLite's REAL; Rust divides.
        let rows: Vec<(i64, i64, i64)> = review::Entity::find()
            .select_only()
            .column(review::Column::ProductId)
            .column_as(review::Column::Id.count(), "count")
            .column_as(Expr::cust("CAST(SUM(rating) AS BIGINT)"), "sum")
            .filter(review::Column::ProductId.is_in(keys.iter().copied()))
            .group_by(review::Column::ProductId)
            .into_tuple()
            .all(&self.db)
            .await?;
        let mut stats: HashMap<i64, RatingStats> = keys
            .iter()
            .map(|key| (*key, RatingStats::default()))
            .collect();
        stats.extend(
            rows.into_iter()
                .map(|(product_id, count, sum)| (product_id, RatingStats { count, sum })),
        );
        Ok(stats)
    }
}
