//! The accounts subgraph's DataLoaders: users by id, one query per batch.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};

use crate::entity::user;

/// Loads users by id in one query per batch.
pub(crate) struct UserLoader {
    db: DatabaseConnection,
}

impl UserLoader {
    pub(crate) fn new(db: DatabaseConnection) -> Self {
        UserLoader { db }
    }
}

impl Loader<i64> for UserLoader {
    type Value = user::Model;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, user::Model>, Self::Error> {
        let rows = user::Entity::find()
            .filter(user::Column::Id.is_in(keys.iter().copied()))
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(|row| (row.id, row)).collect())
    }
}
