//! Migrations of the orders database, run at start.

use sea_orm_migration::prelude::*;

/// Every orders migration, in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(CreateOrders),
            Box::new(CreateOrderLines),
            Box::new(CreateWebhooks),
            Box::new(CreateOrderEventsOutbox),
        ]
    }
}

struct CreateOrders;

impl MigrationName for CreateOrders {
    fn name(&self) -> &str {
        "m0001_create_orders"
    }
}

#[derive(DeriveIden)]
enum Orders {
    Table,
    Id,
    CustomerId,
    IdempotencyKey,
    RequestLines,
    Status,
    TotalCents,
    Currency,
    CreatedAt,
    LeaseExpiresMs,
}

#[async_trait::async_trait]
impl MigrationTrait for CreateOrders {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Orders::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(Orders::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Orders::CustomerId).big_integer().not_null())
                    .col(
                        ColumnDef::new(Orders::IdempotencyKey)
                            .string_len(128)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Orders::RequestLines).text().not_null())
                    .col(ColumnDef::new(Orders::Status).string_len(16).not_null())
                    .col(ColumnDef::new(Orders::TotalCents).integer().not_null())
                    .col(ColumnDef::new(Orders::Currency).string_len(3).not_null())
                    .col(
                        ColumnDef::new(Orders::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Orders::LeaseExpiresMs)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .to_owned(),
            )
            .await?;
        // The idempotency guarantee: one order per customer and key, whoever inserts first.
        manager
            .create_index(
                Index::create()
                    .name("orders_customer_idempotency_key")
                    .table(Orders::Table)
                    .col(Orders::CustomerId)
                    .col(Orders::IdempotencyKey)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("orders_customer_created_at")
                    .table(Orders::Table)
                    .col(Orders::CustomerId)
                    .col(Orders::CreatedAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Orders::Table).to_owned())
            .await
    }
}

struct CreateOrderLines;

impl MigrationName for CreateOrderLines {
    fn name(&self) -> &str {
        "m0002_create_order_lines"
    }
}

#[derive(DeriveIden)]
enum OrderLines {
    Table,
    Id,
    OrderId,
    ProductId,
    Quantity,
    UnitPriceCents,
}

#[async_trait::async_trait]
impl MigrationTrait for CreateOrderLines {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OrderLines::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(OrderLines::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(OrderLines::OrderId).big_integer().not_null())
                    .col(
                        ColumnDef::new(OrderLines::ProductId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(OrderLines::Quantity)
                            .integer()
                            .not_null()
                            .check(Expr::col(OrderLines::Quantity).gt(0)),
                    )
                    .col(
                        ColumnDef::new(OrderLines::UnitPriceCents)
                            .integer()
                            .not_null(),
                    )
                    // Deleting a pending order that could not be placed takes its lines along.
                    .foreign_key(
                        ForeignKey::create()
                            .name("order_lines_order")
                            .from(OrderLines::Table, OrderLines::OrderId)
                            .to(Orders::Table, Orders::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("order_lines_order_product")
                    .table(OrderLines::Table)
                    .col(OrderLines::OrderId)
                    .col(OrderLines::ProductId)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(OrderLines::Table).to_owned())
            .await
    }
}

struct CreateWebhooks;

impl MigrationName for CreateWebhooks {
    fn name(&self) -> &str {
        "m0003_create_webhooks"
    }
}

#[derive(DeriveIden)]
enum WebhookEndpoints {
    Table,
    Id,
    Url,
    Secret,
    Active,
    CreatedAt,
}

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    Id,
    EndpointId,
    EventId,
    EventType,
    Payload,
    Attempts,
    NextAttemptAt,
    LastError,
    Status,
    CreatedAt,
    DeliveredAt,
}

#[async_trait::async_trait]
impl MigrationTrait for CreateWebhooks {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(WebhookEndpoints::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(WebhookEndpoints::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(WebhookEndpoints::Url).text().not_null())
                    .col(ColumnDef::new(WebhookEndpoints::Secret).text().not_null())
                    .col(
                        ColumnDef::new(WebhookEndpoints::Active)
                            .boolean()
                            .not_null()
                            .default(true),
                    )
                    .col(
                        ColumnDef::new(WebhookEndpoints::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        // Replicas configuring the same endpoints at start upsert one row per URL.
        manager
            .create_index(
                Index::create()
                    .name("webhook_endpoints_url")
                    .table(WebhookEndpoints::Table)
                    .col(WebhookEndpoints::Url)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookDeliveries::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(WebhookDeliveries::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(WebhookDeliveries::EndpointId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WebhookDeliveries::EventId)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WebhookDeliveries::EventType)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(ColumnDef::new(WebhookDeliveries::Payload).text().not_null())
                    .col(
                        ColumnDef::new(WebhookDeliveries::Attempts)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .col(
                        ColumnDef::new(WebhookDeliveries::NextAttemptAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(WebhookDeliveries::LastError).text().null())
                    .col(
                        ColumnDef::new(WebhookDeliveries::Status)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WebhookDeliveries::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WebhookDeliveries::DeliveredAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("webhook_deliveries_endpoint")
                            .from(WebhookDeliveries::Table, WebhookDeliveries::EndpointId)
                            .to(WebhookEndpoints::Table, WebhookEndpoints::Id),
                    )
                    .to_owned(),
            )
            .await?;
        // At most one delivery per endpoint and event, however many replicas hear the event.
        manager
            .create_index(
                Index::create()
                    .name("webhook_deliveries_endpoint_event")
                    .table(WebhookDeliveries::Table)
                    .col(WebhookDeliveries::EndpointId)
                    .col(WebhookDeliveries::EventId)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        // The worker's question: which pending deliveries are due.
        manager
            .create_index(
                Index::create()
                    .name("webhook_deliveries_status_next_attempt")
                    .table(WebhookDeliveries::Table)
                    .col(WebhookDeliveries::Status)
                    .col(WebhookDeliveries::NextAttemptAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(WebhookDeliveries::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(WebhookEndpoints::Table).to_owned())
            .await
    }
}

struct CreateOrderEventsOutbox;

impl MigrationName for CreateOrderEventsOutbox {
    fn name(&self) -> &str {
        "m0004_create_order_events_outbox"
    }
}

#[derive(DeriveIden)]
enum OrderEventsOutbox {
    Table,
    Id,
    EventId,
    Subject,
    OrderId,
    Payload,
    CreatedAt,
    PublishedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for CreateOrderEventsOutbox {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OrderEventsOutbox::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(OrderEventsOutbox::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(OrderEventsOutbox::EventId)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(ColumnDef::new(OrderEventsOutbox::Subject).text().not_null())
                    .col(
                        ColumnDef::new(OrderEventsOutbox::OrderId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(OrderEventsOutbox::Payload).text().not_null())
                    .col(
                        ColumnDef::new(OrderEventsOutbox::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(OrderEventsOutbox::PublishedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        // One row per event: however often it is published, it is one event.
        manager
            .create_index(
                Index::create()
                    .name("order_events_outbox_event_id")
                    .table(OrderEventsOutbox::Table)
                    .col(OrderEventsOutbox::EventId)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        // The relay's questions: which rows are unpublished (null), which were published long
        // enough ago to delete.
        manager
            .create_index(
                Index::create()
                    .name("order_events_outbox_published_at")
                    .table(OrderEventsOutbox::Table)
                    .col(OrderEventsOutbox::PublishedAt)
                    .col(OrderEventsOutbox::Id)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(OrderEventsOutbox::Table).to_owned())
            .await
    }
}
