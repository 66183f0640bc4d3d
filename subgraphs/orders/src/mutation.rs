//! The orders schema's write side: the Mutation root, `checkout`, `cancelOrder` and staff's
//! `advanceOrder`; the rules behind them are `checkout`'s and `lifecycle`'s.

use async_graphql::{Context, ID, Object};
use sea_orm::DatabaseConnection;
use subgraph_kit::access::authenticated;
use subgraph_kit::auth::{require_scope, require_user};
use subgraph_kit::{EventBus, input};

use crate::checkout::{CheckoutLineInput, cancel, checked_request, place};
use crate::lifecycle::advance;
use crate::query::Order;
use crate::upstream::Upstream;

/// The scope of staff tokens, which may move any order along.
const ADMIN_SCOPE: &str = "admin";

/// Mutations of the orders subgraph.
pub struct Mutation;

#[Object]
impl Mutation {
    /// Places an order for the signed-in user at the catalog's current prices, reserving its
    /// stock. Retrying with the same `idempotencyKey` returns the same order and never places a
    /// second one; the same key with other lines is a `CONFLICT`. Fails with
    /// `INSUFFICIENT_STOCK` or `NOT_FOUND` (nothing is ordered then), or `UPSTREAM_FAILED`.
    #[graphql(directive = authenticated::apply())]
    async fn checkout(
        &self,
        ctx: &Context<'_>,
        lines: Vec<CheckoutLineInput>,
        idempotency_key: String,
    ) -> async_graphql::Result<Order> {
        let customer = require_user(ctx)?;
        let request = checked_request(&lines, &idempotency_key)?;
        let db = ctx.data::<DatabaseConnection>()?;
        let upstream = ctx.data::<Upstream>()?;
        let events = ctx.data::<EventBus>()?;
        let order = place(db, upstream, events, customer, &request).await?;
        // The stock of every product ordered changed: cached stock is stale.
        for product in request.product_ids() {
            subgraph_kit::server::changed_entity(ctx, "Product", product);
        }
        Ok(Order(order))
    }

    /// Cancels one of the signed-in user's orders before it leaves for delivery (placed, paid
    /// or preparing) and returns its stock to inventory. `NOT_FOUND` for an unknown order,
    /// `FORBIDDEN` for someone else's, `INVALID_STATE` once it is out for delivery, delivered or
    /// cancelled, `CONFLICT` when it moved on meanwhile.
    #[graphql(directive = authenticated::apply())]
    async fn cancel_order(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Order> {
        let customer = require_user(ctx)?;
        let id = input::id(&id, "id")?;
        let db = ctx.data::<DatabaseConnection>()?;
        let upstream = ctx.data::<Upstream>()?;
        let events = ctx.data::<EventBus>()?;
        let order = cancel(db, upstream, events, customer, id).await?;
        // Its stock went back to inventory.
        for product in crate::checkout::products_of(&order.request_lines) {
            subgraph_kit::server::changed_entity(ctx, "Product", product);
        }
        Ok(Order(order))
    }

    /// Moves an order one step on its way: placed → paid → preparing → out for delivery →
    /// delivered. For staff holding the `admin` scope. `NOT_FOUND` for an unknown order,
    /// `INVALID_STATE` once it is delivered or cancelled, `CONFLICT` when it changed meanwhile
    /// or its customer is cancelling it.
    #[graphql(requires_scopes = "admin")]
    async fn advance_order(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Order> {
        require_scope(ctx, ADMIN_SCOPE)?;
        let id = input::id(&id, "id")?;
        let db = ctx.data::<DatabaseConnection>()?;
        let events = ctx.data::<EventBus>()?;
        Ok(Order(advance(db, events, id).await?))
    }
}
