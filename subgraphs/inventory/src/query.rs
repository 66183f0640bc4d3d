//! The inventory schema's read side: the `Product` extension (stock and the shipping estimate,
//! with its rule) and the queries.

use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, ID, Object};
use subgraph_kit::reference::not_provided;
use subgraph_kit::{ResultExt, input};

use crate::loader::StockLoader;

/// Orders at or above this price ship free.
pub const FREE_SHIPPING_FROM_CENTS: i32 = 10_000;

/// What every paid shipment costs before weight.
pub const SHIPPING_BASE_CENTS: i32 = 499;

/// The most a shipment costs, however heavy.
pub const SHIPPING_CAP_CENTS: i32 = 2_999;

/// The shipping rule: free at or above [`FREE_SHIPPING_FROM_CENTS`]; otherwise
/// [`SHIPPING_BASE_CENTS`] plus one cent per full 10 grams of weight, capped at
/// [`SHIPPING_CAP_CENTS`].
pub fn shipping_estimate_cents(price_cents: i32, weight_grams: i32) -> i32 {
    if price_cents >= FREE_SHIPPING_FROM_CENTS {
        0
    } else {
        SHIPPING_BASE_CENTS
            .saturating_add(weight_grams.max(0) / 10)
            .min(SHIPPING_CAP_CENTS)
    }
}

/// A product of the catalog, seen from inventory: its key, what the gateway passed along for
/// `@requires`, and the units on hand.
pub(crate) struct Product {
    id: ID,
    quantity: i32,
    price_cents: Option<i32>,
    weight_grams: Option<i32>,
}

#[Object(name = "Product", cache_control(max_age = 30))]
impl Product {
    /// The product's id, as the catalog subgraph assigns it.
    async fn id(&self) -> &ID {
        &self.id
    }

    /// The catalog price in cents; inventory only reads it to estimate shipping.
    #[graphql(external)]
    async fn price_cents(&self) -> async_graphql::Result<i32> {
        self.price_cents
            .ok_or_else(|| not_provided("priceCents", "catalog"))
    }

    /// The shipping weight in grams; inventory only reads it to estimate shipping.
    #[graphql(external)]
    async fn weight_grams(&self) -> async_graphql::Result<i32> {
        self.weight_grams
            .ok_or_else(|| not_provided("weightGrams", "catalog"))
    }

    /// Whether at least one unit can be ordered now.
    async fn in_stock(&self) -> Option<bool> {
        Some(self.quantity > 0)
    }

    /// Units on hand that are not reserved by an order.
    async fn quantity(&self) -> Option<i32> {
        Some(self.quantity)
    }

    /// Shipping for one unit in cents: free from 100.00 (10000 cents) up; below that 4.99 plus
    /// one cent per full 10 grams of weight, at most 29.99.
    #[graphql(requires = "priceCents weightGrams")]
    async fn shipping_estimate_cents(&self) -> async_graphql::Result<Option<i32>> {
        let price = self
            .price_cents
            .ok_or_else(|| not_provided("priceCents", "catalog"))?;
        let weight = self
            .weight_grams
            .ok_or_else(|| not_provided("weightGrams", "catalog"))?;
        Ok(Some(shipping_estimate_cents(price, weight)))
    }
}

/// Queries of the inventory subgraph: only entity references, everything else hangs off
/// `Product`.
pub struct Query;

#[Object]
impl Query {
    /// Resolves `Product` references, with the catalog fields `@requires` asks for when the
    /// shipping estimate is selected.
    #[graphql(entity)]
    async fn find_product_by_id(
        &self,
        ctx: &Context<'_>,
        #[graphql(key)] id: ID,
        price_cents: Option<i32>,
        weight_grams: Option<i32>,
    ) -> async_graphql::Result<Product> {
        let quantity = match input::lookup_id(&id) {
            Some(product_id) => ctx
                .data::<DataLoader<StockLoader>>()?
                .load_one(product_id)
                .await
                .internal("loading stock")?
                .unwrap_or(0),
            None => 0,
        };
        Ok(Product {
            id,
            quantity,
            price_cents,
            weight_grams,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::shipping_estimate_cents;

    #[test]
    fn shipping_rule() {
        assert_eq!(shipping_estimate_cents(10_000, 5_000), 0);
        assert_eq!(shipping_estimate_cents(9_999, 0), 499);
        assert_eq!(shipping_estimate_cents(9_999, 1_239), 499 + 123);
        assert_eq!(shipping_estimate_cents(500, 1_000_000), 2_999);
    }
}
