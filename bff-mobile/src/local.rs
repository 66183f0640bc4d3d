//! The mobile app's own fields, an in-process subgraph named `mobile`: the home feed of
//! product cards, the card fields on `Product` (a display price, a sized thumbnail) and the
//! compact order-status card on `Order`. Resolvers return entity references or format what the
//! planner fetched for them through `@requires`; the domains' data and rules stay with the
//! domain subgraphs.

use async_graphql::{Context, EmptyMutation, EmptySubscription, Enum, ID, Json, Object, Schema};
use serde::Deserialize;
use subgraph_core::reference::not_provided;
use subgraph_core::{Code, error, input};

use crate::profile::Merchandising;

/// The schema type of the mobile subgraph.
pub type MobileSchema = Schema<Query, EmptyMutation, EmptySubscription>;

/// The largest home-feed page.
const MAX_FEED_PAGE: i32 = 20;
/// Thumbnail widths the image service renders, in pixels.
const THUMBNAIL_WIDTHS: std::ops::RangeInclusive<i32> = 16..=2048;

/// Builds the mobile subgraph's executor with the given merchandising.
pub(crate) fn schema_with(merchandising: Merchandising) -> MobileSchema {
    subgraph_core::harden(Schema::build(Query, EmptyMutation, EmptySubscription))
        .data(merchandising)
        .finish()
}

/// Query root of the mobile subgraph.
pub struct Query;

#[Object]
impl Query {
    /// The app's home screen: product cards in merchandising order, a page at a time.
    async fn home_feed(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 10, desc = "How many cards to return, 1 to 20.")] first: i32,
        #[graphql(desc = "The `nextCursor` of the previous page.")] after: Option<String>,
    ) -> async_graphql::Result<HomeFeedPage> {
        let first = input::page_size(first, MAX_FEED_PAGE)? as usize;
        let offset = usize::try_from(input::cursor(after.as_deref())?).unwrap_or(usize::MAX);
        let feed = &ctx.data::<Merchandising>()?.home_feed;
        let cards: Vec<Product> = feed
            .iter()
            .skip(offset)
            .take(first)
            .map(|&id| Product::reference(id))
            .collect();
        let end = offset.saturating_add(cards.len());
        let has_more = end < feed.len();
        Ok(HomeFeedPage {
            cards,
            next_cursor: has_more.then(|| input::encode_cursor(end as u64)),
            has_more,
        })
    }

    /// One of the caller's orders as a compact status card; null when there is none with this
    /// id or it is someone else's (the orders subgraph decides).
    #[graphql(directive = subgraph_core::access::authenticated::apply())]
    async fn order_status_card(&self, id: ID) -> Option<Order> {
        input::lookup_id(&id).map(|_| Order::reference(id))
    }

    /// Resolves `Product` references, with the catalog fields the card fields `@requires`.
    #[graphql(entity)]
    async fn find_product_by_id(
        &self,
        #[graphql(key)] id: ID,
        price_cents: Option<i32>,
        currency: Option<String>,
        image_url: Option<String>,
    ) -> Product {
        Product {
            id,
            price_cents,
            currency,
            image_url,
        }
    }

    /// Resolves `Order` references, with the orders fields the card fields `@requires`.
    #[graphql(entity)]
    async fn find_order_by_id(
        &self,
        #[graphql(key)] id: ID,
        status: Option<String>,
        lines: Option<Json<Vec<LineQuantity>>>,
        total_cents: Option<i32>,
        currency: Option<String>,
    ) -> Order {
        Order {
            id,
            status,
            lines: lines.map(|l| l.0),
            total_cents,
            currency,
        }
    }
}

/// One page of the home feed.
pub(crate) struct HomeFeedPage {
    cards: Vec<Product>,
    next_cursor: Option<String>,
    has_more: bool,
}

#[Object]
impl HomeFeedPage {
    /// The product cards of this page; select the compact card fields (`name`, `priceDisplay`,
    /// `thumbnailUrl`, `inStock`).
    async fn cards(&self) -> &[Product] {
        &self.cards
    }

    /// The `after` that fetches the next page, or null on the last page.
    async fn next_cursor(&self) -> Option<&str> {
        self.next_cursor.as_deref()
    }

    /// Whether another page follows.
    async fn has_more(&self) -> bool {
        self.has_more
    }
}

/// A catalog product, seen from the mobile subgraph: its key and what `@requires` passed along.
pub(crate) struct Product {
    id: ID,
    price_cents: Option<i32>,
    currency: Option<String>,
    image_url: Option<String>,
}

impl Product {
    fn reference(id: i64) -> Product {
        Product {
            id: ID(id.to_string()),
            price_cents: None,
            currency: None,
            image_url: None,
        }
    }
}

// Fields owned by another subgraph repeat the owner's description word for word: composition
// keeps the first description it meets, and clients must read the owner's.
#[Object(name = "Product")]
impl Product {
    /// The product's id.
    async fn id(&self) -> &ID {
        &self.id
    }

    /// The unit price in the smallest unit of `currency` (cents).
    #[graphql(external)]
    async fn price_cents(&self) -> async_graphql::Result<i32> {
        self.price_cents
            .ok_or_else(|| not_provided("priceCents", "catalog"))
    }

    /// The ISO 4217 code of the price's currency.
    #[graphql(external)]
    async fn currency(&self) -> async_graphql::Result<&str> {
        self.currency
            .as_deref()
            .ok_or_else(|| not_provided("currency", "catalog"))
    }

    /// An HTTPS URL of the product's picture.
    #[graphql(external)]
    async fn image_url(&self) -> async_graphql::Result<&str> {
        self.image_url
            .as_deref()
            .ok_or_else(|| not_provided("imageUrl", "catalog"))
    }

    /// The price as the app shows it, such as `$5.99`.
    #[graphql(requires = "priceCents currency")]
    async fn price_display(&self) -> async_graphql::Result<String> {
        let cents = self
            .price_cents
            .ok_or_else(|| not_provided("priceCents", "catalog"))?;
        let currency = self
            .currency
            .as_deref()
            .ok_or_else(|| not_provided("currency", "catalog"))?;
        Ok(money(cents, currency))
    }

    /// The picture at 200 pixels wide, as app versions before 2.0 ask for it.
    #[graphql(
        requires = "imageUrl",
        deprecation = "Use `thumbnailUrl(width:)`; kept for app versions before 2.0."
    )]
    async fn thumbnail(&self) -> async_graphql::Result<String> {
        self.sized_thumbnail(200)
    }

    /// The picture's URL at `width` pixels wide, for a list cell or a detail header.
    #[graphql(requires = "imageUrl")]
    async fn thumbnail_url(
        &self,
        #[graphql(default = 200, desc = "Width in pixels, 16 to 2048.")] width: i32,
    ) -> async_graphql::Result<String> {
        self.sized_thumbnail(width)
    }
}

impl Product {
    /// The picture's URL at `width` pixels, refusing widths the image service does not render.
    fn sized_thumbnail(&self, width: i32) -> async_graphql::Result<String> {
        if !THUMBNAIL_WIDTHS.contains(&width) {
            return Err(error(
                Code::BadUserInput,
                "`width` must be between 16 and 2048",
            ));
        }
        let url = self
            .image_url
            .as_deref()
            .ok_or_else(|| not_provided("imageUrl", "catalog"))?;
        let separator = if url.contains('?') { '&' } else { '?' };
        Ok(format!("{url}{separator}w={width}"))
    }
}

/// An amount of money as the app shows it: a symbol for the currencies it knows, the ISO
/// code after the number otherwise.
pub(crate) fn money(cents: i32, currency: &str) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let units = cents.unsigned_abs();
    let number = format!("{}.{:02}", units / 100, units % 100);
    match currency {
        "USD" => format!("{sign}${number}"),
        "EUR" => format!("{sign}€{number}"),
        "GBP" => format!("{sign}£{number}"),
        other => format!("{sign}{number} {other}"),
    }
}

/// Where an order stands, as the orders subgraph says.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OrderStatus {
    /// Stock is reserved; the order stands.
    Placed,
    /// Cancelled by its customer; the stock went back to inventory.
    Cancelled,
}

/// The part of an order line the item count needs.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub(crate) struct LineQuantity {
    quantity: i32,
}

/// An order, seen from the mobile subgraph: its key and what `@requires` passed along.
pub(crate) struct Order {
    id: ID,
    status: Option<String>,
    lines: Option<Vec<LineQuantity>>,
    total_cents: Option<i32>,
    currency: Option<String>,
}

impl Order {
    fn reference(id: ID) -> Order {
        Order {
            id,
            status: None,
            lines: None,
            total_cents: None,
            currency: None,
        }
    }
}

#[Object(name = "Order")]
impl Order {
    /// The order's id.
    async fn id(&self) -> &ID {
        &self.id
    }

    /// Where the order stands.
    #[graphql(external)]
    async fn status(&self) -> async_graphql::Result<OrderStatus> {
        match self.status.as_deref() {
            Some("PLACED") => Ok(OrderStatus::Placed),
            Some("CANCELLED") => Ok(OrderStatus::Cancelled),
            _ => Err(not_provided("status", "orders")),
        }
    }

    /// What was ordered, one line per product, in product id order.
    #[graphql(external)]
    async fn lines(&self) -> async_graphql::Result<Vec<OrderLine>> {
        let lines = self
            .lines
            .as_ref()
            .ok_or_else(|| not_provided("lines", "orders"))?;
        Ok(lines
            .iter()
            .map(|l| OrderLine {
                quantity: l.quantity,
            })
            .collect())
    }

    /// The sum of the line totals, in cents.
    #[graphql(external)]
    async fn total_cents(&self) -> async_graphql::Result<i32> {
        self.total_cents
            .ok_or_else(|| not_provided("totalCents", "orders"))
    }

    /// The ISO 4217 currency of every amount in the order.
    #[graphql(external)]
    async fn currency(&self) -> async_graphql::Result<&str> {
        self.currency
            .as_deref()
            .ok_or_else(|| not_provided("currency", "orders"))
    }

    /// The status as the app shows it, such as `Placed`.
    #[graphql(requires = "status")]
    async fn status_label(&self) -> async_graphql::Result<String> {
        let status = self
            .status
            .as_deref()
            .ok_or_else(|| not_provided("status", "orders"))?;
        Ok(label(status))
    }

    /// How many units the order holds, over all its lines.
    #[graphql(requires = "lines { quantity }")]
    async fn item_count(&self) -> async_graphql::Result<i32> {
        let lines = self
            .lines
            .as_ref()
            .ok_or_else(|| not_provided("lines", "orders"))?;
        Ok(lines
            .iter()
            .fold(0i32, |sum, l| sum.saturating_add(l.quantity)))
    }

    /// The total as the app shows it, such as `$12.50`.
    #[graphql(requires = "totalCents currency")]
    async fn total_display(&self) -> async_graphql::Result<String> {
        let cents = self
            .total_cents
            .ok_or_else(|| not_provided("totalCents", "orders"))?;
        let currency = self
            .currency
            .as_deref()
            .ok_or_else(|| not_provided("currency", "orders"))?;
        Ok(money(cents, currency))
    }
}

/// A status value as a label: `CANCELLED` becomes `Cancelled`, values added later included.
fn label(status: &str) -> String {
    let lower = status.replace('_', " ").to_lowercase();
    let mut chars = lower.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// An order line, seen from the mobile subgraph: only the quantity the item count reads.
pub(crate) struct OrderLine {
    quantity: i32,
}

#[Object]
impl OrderLine {
    /// Units ordered.
    #[graphql(external)]
    async fn quantity(&self) -> i32 {
        self.quantity
    }
}

#[cfg(test)]
mod tests {
    use super::{label, money};

    #[test]
    fn money_reads_like_a_price_tag() {
        assert_eq!(money(599, "USD"), "$5.99");
        assert_eq!(money(1_250, "EUR"), "€12.50");
        assert_eq!(money(5, "GBP"), "£0.05");
        assert_eq!(money(100_000, "JPY"), "1000.00 JPY");
        assert_eq!(money(-250, "USD"), "-$2.50");
    }

    #[test]
    fn status_labels() {
        assert_eq!(label("PLACED"), "Placed");
        assert_eq!(label("CANCELLED"), "Cancelled");
        assert_eq!(label("AWAITING_PAYMENT"), "Awaiting payment");
    }
}
