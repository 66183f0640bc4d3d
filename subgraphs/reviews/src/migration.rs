//! Migrations of the reviews database, run at start.

use sea_orm_migration::prelude::*;

/// Every reviews migration, in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(CreateReviews)]
    }
}

struct CreateReviews;

impl MigrationName for CreateReviews {
    fn name(&self) -> &str {
        "m0001_create_reviews"
    }
}

#[derive(DeriveIden)]
enum Reviews {
    Table,
    Id,
    ProductId,
    AuthorId,
    AuthorUsername,
    Rating,
    Body,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for CreateReviews {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Reviews::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(Reviews::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Reviews::ProductId).big_integer().not_null())
                    .col(ColumnDef::new(Reviews::AuthorId).big_integer().not_null())
                    .col(ColumnDef::new(Reviews::AuthorUsername).string().not_null())
                    .col(
                        ColumnDef::new(Reviews::Rating)
                            .integer()
                            .not_null()
                            .check(Expr::col(Reviews::Rating).between(1, 5)),
                    )
                    .col(ColumnDef::new(Reviews::Body).text().not_null())
                    .col(
                        ColumnDef::new(Reviews::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        // One review per user per product; it also serves the author's list of reviews.
        manager
            .create_index(
                Index::create()
                    .name("uq_reviews_author_product")
                    .table(Reviews::Table)
                    .col(Reviews::AuthorId)
                    .col(Reviews::ProductId)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        // A product's reviews, newest first.
        manager
            .create_index(
                Index::create()
                    .name("idx_reviews_product_created")
                    .table(Reviews::Table)
                    .col(Reviews::ProductId)
                    .col(Reviews::CreatedAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Reviews::Table).to_owned())
            .await
    }
}
