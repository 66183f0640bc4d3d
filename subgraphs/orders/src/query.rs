//! The orders schema's read side: `Order`, its lines, the `User.orders` extension and the
//! queries, each nested list loaded once per batch.
//!
//! A `PENDING` order (checkout still reserving its stock) is never shown: every read filters
//! it out, so a client sees an order only once it is `PLACED`.

use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use subgraph_kit::access::authenticated;
use subgraph_kit::auth::require_user;
use subgraph_kit::{Caller, Code, ResultExt, error, input};

use crate::entity::{order, order_line};
use crate::lifecycle::OrderStatus;
use crate::loader::{CustomerOrdersLoader, LinesLoader, OrderLoader};

/// The most orders one page may hold.
const MAX_PAGE: i32 = 100;

/// A customer's order, at the prices the catalog quoted when it was placed.
pub(crate) struct Order(pub(crate) order::Model);

#[Object(name = "Order", cache_control(private, no_cache))]
impl Order {
    /// The order's id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Where the order stands.
    async fn status(&self) -> async_graphql::Result<OrderStatus> {
        OrderStatus::from_db(&self.0.status)
            .ok_or(&self.0.status)
            .internal("reading an order's status")
    }

    /// What was ordered, one line per product, in product id order.
    async fn lines(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<OrderLine>> {
        let lines = ctx
            .data::<DataLoader<LinesLoader>>()?
            .load_one(self.0.id)
            .await
            .internal("loading order lines")?
            .unwrap_or_default();
        Ok(lines.into_iter().map(OrderLine).collect())
    }

    /// The sum of the line totals, in cents.
    async fn total_cents(&self) -> i32 {
        self.0.total_cents
    }

    /// The ISO 4217 currency of every amount in the order.
    async fn currency(&self) -> &str {
        &self.0.currency
    }

    /// When the order was placed.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// Who placed the order.
    async fn customer(&self) -> User {
        User {
            id: self.0.customer_id,
        }
    }
}

/// One product of an order.
pub(crate) struct OrderLine(order_line::Model);

#[Object(name = "OrderLine", cache_control(private, no_cache))]
impl OrderLine {
    /// The product ordered.
    async fn product(&self) -> Product {
        Product {
            id: ID(self.0.product_id.to_string()),
        }
    }

    /// Units ordered.
    async fn quantity(&self) -> i32 {
        self.0.quantity
    }

    /// The catalog's price per unit when the order was placed, in cents.
    async fn unit_price_cents(&self) -> i32 {
        self.0.unit_price_cents
    }

    /// `quantity × unitPriceCents`.
    async fn line_total_cents(&self) -> i32 {
        self.0.quantity.saturating_mul(self.0.unit_price_cents)
    }
}

/// A catalog product, referenced by id; the catalog subgraph resolves everything else.
#[derive(SimpleObject)]
#[graphql(name = "Product", unresolvable = "id")]
pub(crate) struct Product {
    /// The product's id.
    id: ID,
}

/// A user of the accounts subgraph, extended with their orders.
pub(crate) struct User {
    id: i64,
}

#[Object(name = "User", cache_control(private, no_cache))]
impl User {
    /// The user's id.
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }

    /// The user's newest orders first; only the user themselves may read them.
    #[graphql(directive = authenticated::apply())]
    async fn orders(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 10)] first: Option<i32>,
    ) -> async_graphql::Result<Option<Vec<Order>>> {
        let caller = require_user(ctx)?;
        if caller != self.id {
            return Err(error(
                Code::Forbidden,
                "only the user themselves may read their orders",
            ));
        }
        let limit = input::page_size(first.unwrap_or(10), MAX_PAGE)?;
        let orders = ctx
            .data::<DataLoader<CustomerOrdersLoader>>()?
            .load_one((self.id, limit))
            .await
            .internal("loading a user's orders")?
            .unwrap_or_default();
        Ok(Some(orders.into_iter().map(Order).collect()))
    }
}

/// Queries of the orders subgraph.
pub struct Query;

#[Object]
impl Query {
    /// The caller's orders, newest first.
    #[graphql(directive = authenticated::apply())]
    async fn my_orders(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: Option<i32>,
    ) -> async_graphql::Result<Vec<Order>> {
        let customer = require_user(ctx)?;
        let limit = input::page_size(first.unwrap_or(20), MAX_PAGE)?;
        let db = ctx.data::<DatabaseConnection>()?;
        let rows = order::Entity::find()
            .filter(order::Column::CustomerId.eq(customer))
            .filter(order::Column::Status.ne(order::PENDING))
            .order_by_desc(order::Column::CreatedAt)
            .order_by_desc(order::Column::Id)
            .limit(limit)
            .all(db)
            .await
            .internal("listing orders")?;
        Ok(rows.into_iter().map(Order).collect())
    }

    /// One of the caller's orders; null with a `NOT_FOUND` error when there is none with this
    /// id or it is someone else's (the two are not told apart, so ids reveal nothing).
    #[graphql(directive = authenticated::apply())]
    async fn order(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Order>> {
        let customer = require_user(ctx)?;
        let Some(id) = input::lookup_id(&id) else {
            return Err(no_such_order());
        };
        let found = load_order(ctx, id).await?;
        found
            .filter(|order| order.customer_id == customer)
            .map(|order| Some(Order(order)))
            .ok_or_else(no_such_order)
    }

    /// Resolves `Order` references for the gateway: an order is visible to its customer and to
    /// other subgraphs (service tokens); to everyone else it is null with a `NOT_FOUND` error
    /// beside the answer. Beside, not returned: an entity error nulls the whole batch in
    /// async-graphql, and one foreign order must not blank the others.
    #[graphql(entity)]
    async fn find_order_by_id(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<Order>> {
        let claims = ctx
            .data_opt::<Caller>()
            .and_then(|caller| caller.claims.as_ref());
        let found = match (input::lookup_id(&id), claims) {
            (Some(id), Some(claims)) => {
                let is_service = claims.sub.starts_with("service:");
                load_order(ctx, id)
                    .await?
                    .filter(|order| is_service || claims.sub == order.customer_id.to_string())
            }
            _ => None,
        };
        if found.is_none() {
            // Pathed at `_entities`: the engine places it on the entity left null.
            let mut refused = no_such_order().into_server_error(ctx.item.pos);
            refused.path = vec![async_graphql::PathSegment::Field("_entities".to_owned())];
            ctx.add_error(refused);
        }
        Ok(found.map(Order))
    }

    /// Resolves `User` references so the gateway can ask for `orders`.
    #[graphql(entity)]
    async fn find_user_by_id(&self, id: ID) -> Option<User> {
        input::lookup_id(&id).map(|id| User { id })
    }
}

pub(crate) async fn load_order(
    ctx: &Context<'_>,
    id: i64,
) -> async_graphql::Result<Option<order::Model>> {
    ctx.data::<DataLoader<OrderLoader>>()?
        .load_one(id)
        .await
        .internal("loading an order")
}

/// The refusal for an order the caller may not see, whether it exists or not.
pub(crate) fn no_such_order() -> async_graphql::Error {
    error(Code::NotFound, "you have no order with this id")
}
