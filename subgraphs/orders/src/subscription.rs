//! The orders schema's live side: the Subscription root, served over WebSocket by the kit.
//!
//! Both subscriptions read the event bus, so a change made on any replica reaches a subscriber
//! on any other (on NATS), each event once. Only an order's customer hears of it: a foreign
//! order is `NOT_FOUND`, as on every other path.

use async_graphql::{Context, ID, Object, Subscription as SubscriptionRoot};
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt, future};
use subgraph_kit::access::authenticated;
use subgraph_kit::auth::require_user;
use subgraph_kit::events::{Envelope, EventCursor, ResumeAfter};
use subgraph_kit::{EventBus, ResultExt, input};

use crate::lifecycle::{OrderStatus, StatusChanged};
use crate::query::{Order, load_order, no_such_order};

/// Subscriptions of the orders subgraph.
pub struct Subscription;

#[SubscriptionRoot]
impl Subscription {
    /// Every status change of one of the caller's orders from now on, each once. `NOT_FOUND`
    /// when the caller has no order with this id (someone else's included).
    #[graphql(directive = authenticated::apply())]
    async fn order_status_changed(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
    ) -> async_graphql::Result<impl Stream<Item = OrderStatusEvent> + use<>> {
        let customer = require_user(ctx)?;
        let id = input::lookup_id(&order_id).ok_or_else(no_such_order)?;
        // Subscribed before the order is read, so no change between the two goes unheard.
        let changes = ctx
            .data::<EventBus>()?
            .subscribe_after::<StatusChanged>(&format!("{id}.status"), resume_after(ctx))
            .internal("subscribing to an order's changes")?;
        load_order(ctx, id)
            .await?
            .filter(|order| order.customer_id == customer)
            .ok_or_else(no_such_order)?;
        Ok(changes.map(delivered(ctx)))
    }

    /// Every status change of any of the caller's orders from now on, each once.
    #[graphql(directive = authenticated::apply())]
    async fn my_order_updates(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<impl Stream<Item = OrderStatusEvent> + use<>> {
        let customer = require_user(ctx)?;
        let changes = ctx
            .data::<EventBus>()?
            .subscribe_after::<StatusChanged>("*.status", resume_after(ctx))
            .internal("subscribing to a customer's order changes")?;
        Ok(changes
            .filter(move |change| future::ready(change.event.customer_id == customer))
            .map(delivered(ctx)))
    }
}

/// Where the connection's client resumes (it lost an earlier connection), if it does.
fn resume_after(ctx: &Context<'_>) -> Option<u64> {
    ctx.data_opt::<ResumeAfter>().map(|after| after.0)
}

/// Wraps each change for the client, recording its sequence as the connection's cursor.
fn delivered(ctx: &Context<'_>) -> impl FnMut(Envelope<StatusChanged>) -> OrderStatusEvent + use<> {
    let cursor = ctx.data_opt::<EventCursor>().cloned();
    move |change| {
        if let Some(cursor) = &cursor {
            cursor.set(change.sequence);
        }
        OrderStatusEvent(change)
    }
}

/// One status change of an order.
pub(crate) struct OrderStatusEvent(Envelope<StatusChanged>);

#[Object(name = "OrderStatusEvent", cache_control(private, no_cache))]
impl OrderStatusEvent {
    /// The change's unique id: the same on every replica, so a client that hears one change
    /// twice (over two connections, say) can tell.
    async fn event_id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// The order as it stands when the event is delivered (it may have moved on since).
    async fn order(&self, ctx: &Context<'_>) -> async_graphql::Result<Order> {
        load_order(ctx, self.0.event.order_id)
            .await?
            .map(Order)
            .ok_or_else(no_such_order)
    }

    /// The status the order moved to.
    async fn status(&self) -> OrderStatus {
        self.0.event.status
    }

    /// When it moved.
    async fn at(&self) -> DateTime<Utc> {
        self.0.event.at
    }
}
