//! What orders asks its peers: prices from catalog, stock reservations from inventory.
//!
//! Every call carries a service token the orders subgraph issues itself (`service:orders`),
//! never the customer's: a reservation is the subgraph's act, not the client's.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Value, json};
use subgraph_kit::auth::RESERVE_SCOPE;
use subgraph_kit::peer::PeerError;
use subgraph_kit::{Auth, Code, Peers, ResultExt, error};

const PRICES: &str = "query OrdersProductPrices($representations: [_Any!]!) { \
    _entities(representations: $representations) { ... on Product { id priceCents currency } } }";

const RESERVE: &str = "mutation OrdersReserveStock($reservationId: String!, $lines: [StockLineInput!]!) { \
    reserveStock(reservationId: $reservationId, lines: $lines) }";

const RELEASE: &str = "mutation OrdersReleaseStock($reservationId: String!) { \
    releaseStock(reservationId: $reservationId) }";

/// A product's current price as the catalog quotes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Price {
    /// Cents per unit.
    pub(crate) unit_cents: i32,
    /// ISO 4217 code.
    pub(crate) currency: String,
}

/// Why a reservation did not happen.
pub(crate) enum ReserveError {
    /// Inventory answered and reserved nothing (short stock, unknown product, ...).
    Refused(async_graphql::Error),
    /// The call did not complete: whether inventory reserved is unknown.
    Unreachable(async_graphql::Error),
}

/// The peers of the orders subgraph and how to call them.
#[derive(Clone)]
pub(crate) struct Upstream {
    peers: Peers,
    auth: Auth,
}

impl Upstream {
    /// Calls `peers`, signing service tokens with `auth`.
    pub(crate) fn new(peers: Peers, auth: Auth) -> Self {
        Upstream { peers, auth }
    }

    fn token(&self, scopes: &[&str]) -> async_graphql::Result<String> {
        self.auth
            .issue_service("orders", scopes)
            .internal("signing a service token")
    }

    /// The catalog's current price of each product; `NOT_FOUND` when one is unknown,
    /// `UPSTREAM_FAILED` when the catalog cannot be reached.
    pub(crate) async fn prices(
        &self,
        product_ids: &[i64],
    ) -> async_graphql::Result<HashMap<i64, Price>> {
        let representations: Vec<Value> = product_ids
            .iter()
            .map(|id| json!({ "__typename": "Product", "id": id.to_string() }))
            .collect();
        let token = self.token(&[])?;
        let data = self
            .peers
            .call(
                "catalog",
                PRICES,
                json!({ "representations": representations }),
                &token,
            )
            .await
            .map_err(keep_codes("catalog", &[Code::NotFound]))?;
        let entities = data
            .get("_entities")
            .and_then(Value::as_array)
            .filter(|entities| entities.len() == product_ids.len())
            .ok_or_else(|| malformed("catalog"))?;
        let mut prices = HashMap::with_capacity(product_ids.len());
        for (id, entity) in product_ids.iter().zip(entities) {
            if entity.is_null() {
                return Err(error(
                    Code::NotFound,
                    format!("product {id} does not exist"),
                ));
            }
            let unit_cents = entity
                .get("priceCents")
                .and_then(Value::as_i64)
                .and_then(|cents| i32::try_from(cents).ok())
                .filter(|cents| *cents >= 0);
            let currency = entity.get("currency").and_then(Value::as_str);
            let (Some(unit_cents), Some(currency)) = (unit_cents, currency) else {
                return Err(malformed("catalog"));
            };
            prices.insert(
                *id,
                Price {
                    unit_cents,
                    currency: currency.to_owned(),
                },
            );
        }
        Ok(prices)
    }

    /// Reserves the lines in inventory under `reservation_id`; safe to repeat.
    pub(crate) async fn reserve(
        &self,
        reservation_id: &str,
        lines: &BTreeMap<i64, i32>,
    ) -> Result<(), ReserveError> {
        let token = self
            .token(&[RESERVE_SCOPE])
            .map_err(ReserveError::Unreachable)?;
        let lines: Vec<Value> = lines
            .iter()
            .map(|(product_id, quantity)| json!({ "productId": product_id.to_string(), "quantity": quantity }))
            .collect();
        let variables = json!({ "reservationId": reservation_id, "lines": lines });
        match self
            .peers
            .call("inventory", RESERVE, variables, &token)
            .await
        {
            Ok(data) if data.get("reserveStock") == Some(&Value::Bool(true)) => Ok(()),
            // Inventory answered but not as agreed: what it did is unknown.
            Ok(_) => Err(ReserveError::Unreachable(malformed("inventory"))),
            // Inventory refused in its transaction, so it reserved nothing.
            Err(err @ PeerError::Remote { .. }) => Err(ReserveError::Refused(keep_codes(
                "inventory",
                &[Code::InsufficientStock, Code::NotFound],
            )(err))),
            Err(err) => Err(ReserveError::Unreachable(keep_codes("inventory", &[])(err))),
        }
    }

    /// Returns a reservation's stock; safe to repeat, and fine for a reservation that never was.
    pub(crate) async fn release(&self, reservation_id: &str) -> async_graphql::Result<()> {
        let token = self.token(&[RESERVE_SCOPE])?;
        self.peers
            .call(
                "inventory",
                RELEASE,
                json!({ "reservationId": reservation_id }),
                &token,
            )
            .await
            .map(|_| ())
            .map_err(keep_codes("inventory", &[]))
    }
}

/// Maps a peer's failure to our client's error: the listed codes pass through, anything else
/// (a refused service token, a peer's internal error, a timeout) is `UPSTREAM_FAILED`.
fn keep_codes(
    peer: &'static str,
    kept: &'static [Code],
) -> impl Fn(PeerError) -> async_graphql::Error {
    move |err| {
        if let PeerError::Remote {
            code: Some(code),
            message,
            ..
        } = &err
            && let Some(code) = Code::parse(code)
            && kept.contains(&code)
        {
            return error(code, message.clone());
        }
        // The details (URLs, a peer's internal messages) stay in the log.
        tracing::warn!(error = %err, "peer subgraph call failed");
        error(
            Code::UpstreamFailed,
            format!("the `{peer}` subgraph failed; try again later"),
        )
    }
}

fn malformed(peer: &str) -> async_graphql::Error {
    tracing::warn!(peer, "peer subgraph answered with an unexpected shape");
    error(
        Code::UpstreamFailed,
        format!("the `{peer}` subgraph sent an unexpected answer"),
    )
}
