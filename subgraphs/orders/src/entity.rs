//! The `orders` and `order_lines` tables, the `order_events_outbox` of their status events, and
//! the outbound webhooks' `webhook_endpoints` and `webhook_deliveries`.

// sea-orm's derives generate `pub` items, so the modules are private and the lint is quiet here.
#[allow(unreachable_pub)]
pub(crate) mod order {
    use sea_orm::entity::prelude::*;

    /// An order is `PENDING` while checkout reserves its stock (never shown to clients), then
    /// `PLACED`; it moves on through `PAID`, `PREPARING` and `OUT_FOR_DELIVERY` to `DELIVERED`
    /// (see `lifecycle`), or is `CANCELLED` by its customer before it leaves.
    pub const PENDING: &str = "PENDING";
    /// Stock is reserved and the order stands.
    pub const PLACED: &str = "PLACED";
    /// Paid for.
    pub const PAID: &str = "PAID";
    /// Being packed.
    pub const PREPARING: &str = "PREPARING";
    /// With the courier (16 characters: the column's width).
    pub const OUT_FOR_DELIVERY: &str = "OUT_FOR_DELIVERY";
    /// Handed over.
    pub const DELIVERED: &str = "DELIVERED";
    /// Cancelled by its customer; its stock went back.
    pub const CANCELLED: &str = "CANCELLED";

    /// One checkout; unique per customer and idempotency key.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "orders")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        /// The accounts user id of the customer who checked out.
        pub customer_id: i64,
        /// The client's key for this checkout; a retry with it finds this order.
        pub idempotency_key: String,
        /// The merged request lines in canonical form (`3x2,5x1`), to tell a retry of this
        /// checkout from a reuse of its key for other lines.
        pub request_lines: String,
        /// One of [`PENDING`], [`PLACED`], [`PAID`], [`PREPARING`], [`OUT_FOR_DELIVERY`],
        /// [`DELIVERED`] or [`CANCELLED`].
        pub status: String,
        /// The sum of the lines' `quantity × unit_price_cents`, in cents of `currency`.
        pub total_cents: i32,
        /// The ISO 4217 code the catalog quoted every line's price in.
        pub currency: String,
        /// When the order was first inserted (as `PENDING`).
        pub created_at: DateTimeUtc,
        /// While `PENDING`: until when (Unix milliseconds) the checkout that holds the order
        /// may finish it undisturbed; once past, the next retry takes it over. Zero once
        /// placed; a cancellation holds the order the same way while its stock goes back, and
        /// the order moves on only once the lease is past.
        pub lease_expires_ms: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

#[allow(unreachable_pub)]
pub(crate) mod order_line {
    use sea_orm::entity::prelude::*;

    /// One product of an order, at the price the catalog quoted at checkout.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "order_lines")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        /// The order the line belongs to.
        pub order_id: i64,
        /// A catalog product id.
        pub product_id: i64,
        /// Units bought, the request's lines for this product merged.
        pub quantity: i32,
        /// The catalog's price per unit at checkout, in cents of the order's `currency`.
        pub unit_price_cents: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

#[allow(unreachable_pub)]
pub(crate) mod outbox_event {
    use sea_orm::entity::prelude::*;

    /// One order event, written in the transaction of the change it tells of and published
    /// after the commit (see `outbox`); deleted an hour after it was published.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "order_events_outbox")]
    pub struct Model {
        /// Increasing with each change: the relay publishes in this order.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// The event's id, the same on every publish of the row (JetStream's `Nats-Msg-Id`).
        pub event_id: String,
        /// The whole subject it goes on (`tributary.orders.42.status`): its prefix names the
        /// bus it was written for, and only that bus's relays publish it.
        pub subject: String,
        /// The order it tells of.
        pub order_id: i64,
        /// The event as JSON (a `StatusChanged`).
        pub payload: String,
        /// When it was written.
        pub created_at: DateTimeUtc,
        /// When it was marked published, once a bus accepted it; null until then.
        pub published_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

#[allow(unreachable_pub)]
pub(crate) mod webhook_endpoint {
    use sea_orm::entity::prelude::*;

    /// A receiver of order events; unique by URL. Kept once removed from the configuration
    /// (inactive), because its deliveries refer to it.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "webhook_endpoints")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        /// Where events are POSTed (an `http` URL).
        pub url: String,
        /// The key of the HMAC-SHA256 signature; stored as given, since signing needs it.
        pub secret: String,
        /// Whether new events are queued for it; pending deliveries of an inactive endpoint
        /// go dead instead of being sent.
        pub active: bool,
        /// When it was first configured.
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

#[allow(unreachable_pub)]
pub(crate) mod webhook_delivery {
    use sea_orm::entity::prelude::*;

    /// Waiting for its next attempt (or in one: a claimed delivery's `next_attempt_at` is the
    /// end of its claim).
    pub const PENDING: &str = "pending";
    /// A 2xx answer was received.
    pub const DELIVERED: &str = "delivered";
    /// Every attempt failed (or its endpoint was deactivated): the dead letters, which
    /// `webhooks replay` sets pending again.
    pub const DEAD: &str = "dead";

    /// One event for one endpoint; unique per endpoint and event id, so replicas that all hear
    /// an event queue it once.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "webhook_deliveries")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        /// The endpoint it goes to.
        pub endpoint_id: i64,
        /// The bus event's id, sent as `id` and `x-tributary-event-id`.
        pub event_id: String,
        /// The event's type (`order.status_changed`).
        pub event_type: String,
        /// The exact JSON body sent, the same on every attempt.
        pub payload: String,
        /// Attempts made (counted when an attempt starts); zero again after a replay.
        pub attempts: i32,
        /// When the next attempt is due while [`PENDING`]; during an attempt, when its claim
        /// lapses.
        pub next_attempt_at: DateTimeUtc,
        /// What the last failed attempt met (`HTTP 500 Internal Server Error`, a network error).
        pub last_error: Option<String>,
        /// [`PENDING`], [`DELIVERED`] or [`DEAD`].
        pub status: String,
        /// When it was queued.
        pub created_at: DateTimeUtc,
        /// When the receiver acknowledged it.
        pub delivered_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
