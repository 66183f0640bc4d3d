//! Migrations of the inventory database, run at start.

use sea_orm_migration::prelude::*;

/// Every inventory migration, in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(CreateStock), Box::new(CreateReservations)]
    }
}

struct CreateStock;

impl MigrationName for CreateStock {
    fn name(&self) -> &str {
        "m0001_create_stock"
    }
}

#[derive(DeriveIden)]
enum Stock {
    Table,
    ProductId,
    Quantity,
}

#[async_trait::async_trait]
impl MigrationTrait for CreateStock {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Stock::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(Stock::ProductId)
                            .big_integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(Stock::Quantity)
                            .integer()
                            .not_null()
                            .check(Expr::col(Stock::Quantity).gte(0)),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Stock::Table).to_owned())
            .await
    }
}

struct CreateReservations;

impl MigrationName for CreateReservations {
    fn name(&self) -> &str {
        "m0002_create_reservations"
    }
}

#[derive(DeriveIden)]
enum Reservations {
    Table,
    ReservationId,
    ProductId,
    Quantity,
    Released,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for CreateReservations {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Reservations::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(Reservations::ReservationId)
                            .string_len(128)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Reservations::ProductId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Reservations::Quantity)
                            .integer()
                            .not_null()
                            .check(Expr::col(Reservations::Quantity).gt(0)),
                    )
                    .col(
                        ColumnDef::new(Reservations::Released)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .col(
                        ColumnDef::new(Reservations::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(Reservations::ReservationId)
                            .col(Reservations::ProductId),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Reservations::Table).to_owned())
            .await
    }
}
