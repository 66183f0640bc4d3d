//! Tests of the inventory subgraph over HTTP: stock and shipping on `Product` entities, and the
//! internal, scope-guarded reservations the orders subgraph makes.
//!
//! Seeded stock: product 1 has 47 units, 2 has 84, 9 is sold out, 14 has 3; 999 has no row.

use std::time::Duration;

use serde_json::{Value, json};
use subgraph_kit::Auth;
use subgraph_kit::auth::RESERVE_SCOPE;
use tributary_tests::{TEST_SECRET, TestStack, each_backend, error_code};

const RESERVE: &str = "mutation($id: String!, $lines: [StockLineInput!]!) { reserveStock(reservationId: $id, lines: $lines) }";
const RELEASE: &str = "mutation($id: String!) { releaseStock(reservationId: $id) }";

/// A service token as the orders subgraph would issue it, with the given scopes.
fn service_token(scopes: &[&str]) -> String {
    Auth::new(TEST_SECRET.as_bytes(), Duration::from_secs(300))
        .issue_service("orders", scopes)
        .expect("a service token")
}

fn reserver() -> String {
    service_token(&[RESERVE_SCOPE])
}

fn lines(pairs: &[(i64, i64)]) -> Value {
    pairs
        .iter()
        .map(
            |(product, quantity)| json!({ "productId": product.to_string(), "quantity": quantity }),
        )
        .collect()
}

/// The units on hand of each product, read through `_entities` as the gateway would.
async fn quantities(stack: &TestStack, ids: &[i64]) -> Vec<i64> {
    let representations: Vec<Value> = ids
        .iter()
        .map(|id| json!({ "__typename": "Product", "id": id.to_string() }))
        .collect();
    let response = stack
        .gql(
            "inventory",
            "query($r: [_Any!]!) { _entities(representations: $r) { ... on Product { quantity } } }",
            json!({ "r": representations }),
        )
        .await;
    response["data"]["_entities"]
        .as_array()
        .unwrap_or_else(|| panic!("no entities: {response}"))
        .iter()
        .map(|entity| entity["quantity"].as_i64().expect("a quantity"))
        .collect()
}

#[tokio::test]
async fn service_sdl_extends_product_and_hides_reservations() {
    each_backend(|stack| async move {
        let response = stack.gql("inventory", "{ _service { sdl } }", json!({})).await;
        let sdl = response["data"]["_service"]["sdl"].as_str().unwrap_or_default();
        for expected in [
            r#"type Product @key(fields: "id")"#,
            "priceCents: Int! @external",
            "weightGrams: Int! @external",
            r#"shippingEstimateCents: Int @requires(fields: "priceCents weightGrams")"#,
            "reserveStock(reservationId: String!, lines: [StockLineInput!]! @inaccessible): Boolean! @inaccessible",
            "releaseStock(reservationId: String!): Boolean! @inaccessible",
            "input StockLineInput @inaccessible",
        ] {
            assert!(sdl.contains(expected), "missing `{expected}` in\n{sdl}");
        }
        stack
    })
    .await;
}

#[tokio::test]
async fn product_entities_carry_stock_and_the_shipping_estimate() {
    each_backend(|stack| async move {
        // The gateway passes `priceCents` and `weightGrams` from the catalog, as `@requires` asks.
        let representations = json!([
            { "__typename": "Product", "id": "1", "priceCents": 2500, "weightGrams": 1234 },
            { "__typename": "Product", "id": "9", "priceCents": 10000, "weightGrams": 5000 },
            { "__typename": "Product", "id": "14", "priceCents": 9999, "weightGrams": 0 },
            { "__typename": "Product", "id": "999", "priceCents": 100, "weightGrams": 1000000 },
        ]);
        let response = stack
            .gql(
                "inventory",
                "query($r: [_Any!]!) { _entities(representations: $r) { ... on Product { id inStock quantity shippingEstimateCents } } }",
                json!({ "r": representations }),
            )
            .await;
        // Free from 10000 cents; otherwise 499 + 1 per full 10 g, at most 2999.
        assert_eq!(
            response,
            json!({ "data": { "_entities": [
                { "id": "1", "inStock": true, "quantity": 47, "shippingEstimateCents": 499 + 123 },
                { "id": "9", "inStock": false, "quantity": 0, "shippingEstimateCents": 0 },
                { "id": "14", "inStock": true, "quantity": 3, "shippingEstimateCents": 499 },
                { "id": "999", "inStock": false, "quantity": 0, "shippingEstimateCents": 2999 },
            ] } })
        );

        // Without the shipping estimate the gateway sends only the key.
        let response = stack
            .gql(
                "inventory",
                "query($r: [_Any!]!) { _entities(representations: $r) { ... on Product { id inStock } } }",
                json!({ "r": [{ "__typename": "Product", "id": "2" }, { "__typename": "Product", "id": "nope" }] }),
            )
            .await;
        assert_eq!(
            response,
            json!({ "data": { "_entities": [
                { "id": "2", "inStock": true },
                { "id": "nope", "inStock": false },
            ] } })
        );
        stack
    })
    .await;
}

#[tokio::test]
async fn reservations_need_the_reserve_scope() {
    each_backend(|stack| async move {
        let variables = json!({ "id": "scope-check", "lines": lines(&[(1, 1)]) });
        let anonymous = stack.gql("inventory", RESERVE, variables.clone()).await;
        assert_eq!(error_code(&anonymous), "UNAUTHENTICATED", "{anonymous}");

        let user = stack.login("ada@example.com").await;
        let as_user = stack
            .gql_as("inventory", &user, RESERVE, variables.clone())
            .await;
        assert_eq!(error_code(&as_user), "FORBIDDEN", "{as_user}");

        let other_scope = service_token(&["catalog:write"]);
        let wrong_scope = stack
            .gql_as("inventory", &other_scope, RESERVE, variables)
            .await;
        assert_eq!(error_code(&wrong_scope), "FORBIDDEN", "{wrong_scope}");

        let release = stack
            .gql_as("inventory", &user, RELEASE, json!({ "id": "scope-check" }))
            .await;
        assert_eq!(error_code(&release), "FORBIDDEN", "{release}");

        let forged = stack
            .gql_as(
                "inventory",
                "not-a-token",
                RESERVE,
                json!({ "id": "x", "lines": lines(&[(1, 1)]) }),
            )
            .await;
        assert_eq!(error_code(&forged), "UNAUTHENTICATED", "{forged}");

        assert_eq!(quantities(&stack, &[1]).await, [47]);
        stack
    })
    .await;
}

#[tokio::test]
async fn a_reservation_is_all_or_nothing() {
    each_backend(|stack| async move {
        let token = reserver();
        // Product 14 has only 3 units: nothing of the order is reserved, not even product 1.
        let short = stack
            .gql_as(
                "inventory",
                &token,
                RESERVE,
                json!({ "id": "r-short", "lines": lines(&[(1, 2), (14, 4)]) }),
            )
            .await;
        assert_eq!(error_code(&short), "INSUFFICIENT_STOCK", "{short}");
        assert_eq!(short["data"], json!(null));

        let unknown = stack
            .gql_as(
                "inventory",
                &token,
                RESERVE,
                json!({ "id": "r-unknown", "lines": lines(&[(1, 2), (999, 1)]) }),
            )
            .await;
        assert_eq!(error_code(&unknown), "NOT_FOUND", "{unknown}");

        for bad in [
            json!({ "id": "r-bad", "lines": [] }),
            json!({ "id": "r-bad", "lines": lines(&[(1, 0)]) }),
            json!({ "id": "r-bad", "lines": lines(&[(1, -2)]) }),
            json!({ "id": "r-bad", "lines": [{ "productId": "one", "quantity": 1 }] }),
            json!({ "id": "  ", "lines": lines(&[(1, 1)]) }),
            json!({ "id": "x".repeat(129), "lines": lines(&[(1, 1)]) }),
        ] {
            let response = stack
                .gql_as("inventory", &token, RESERVE, bad.clone())
                .await;
            assert_eq!(
                error_code(&response),
                "BAD_USER_INPUT",
                "{bad} → {response}"
            );
        }
        assert_eq!(quantities(&stack, &[1, 14]).await, [47, 3]);

        // The ids of refused reservations were not used up.
        let retry = stack
            .gql_as(
                "inventory",
                &token,
                RESERVE,
                json!({ "id": "r-short", "lines": lines(&[(1, 2), (14, 3)]) }),
            )
            .await;
        assert_eq!(retry, json!({ "data": { "reserveStock": true } }));
        assert_eq!(quantities(&stack, &[1, 14]).await, [45, 0]);
        stack
    })
    .await;
}

#[tokio::test]
async fn reserving_again_is_a_no_op_and_release_returns_the_units_once() {
    each_backend(|stack| async move {
        let token = reserver();
        // Duplicate lines of one product are merged: 2 + 1 units of product 1.
        let order = json!({ "id": "order-7", "lines": lines(&[(1, 2), (2, 5), (1, 1)]) });
        for _ in 0..3 {
            let response = stack
                .gql_as("inventory", &token, RESERVE, order.clone())
                .await;
            assert_eq!(response, json!({ "data": { "reserveStock": true } }));
        }
        assert_eq!(quantities(&stack, &[1, 2]).await, [44, 79]);

        let other_lines = stack
            .gql_as(
                "inventory",
                &token,
                RESERVE,
                json!({ "id": "order-7", "lines": lines(&[(1, 3)]) }),
            )
            .await;
        assert_eq!(error_code(&other_lines), "CONFLICT", "{other_lines}");

        for _ in 0..2 {
            let released = stack
                .gql_as("inventory", &token, RELEASE, json!({ "id": "order-7" }))
                .await;
            assert_eq!(released, json!({ "data": { "releaseStock": true } }));
            assert_eq!(quantities(&stack, &[1, 2]).await, [47, 84]);
        }
        let unknown = stack
            .gql_as("inventory", &token, RELEASE, json!({ "id": "order-8" }))
            .await;
        assert_eq!(unknown, json!({ "data": { "releaseStock": false } }));

        // A released reservation id stays used: reserving under it again reserves nothing.
        let again = stack.gql_as("inventory", &token, RESERVE, order).await;
        assert_eq!(again, json!({ "data": { "reserveStock": true } }));
        assert_eq!(quantities(&stack, &[1, 2]).await, [47, 84]);
        stack
    })
    .await;
}

#[tokio::test]
async fn concurrent_reservations_never_oversell() {
    each_backend(|stack| async move {
        let token = reserver();
        let attempts = (0..8).map(|i| {
            let variables = json!({ "id": format!("race-{i}"), "lines": lines(&[(14, 1)]) });
            stack.gql_as("inventory", &token, RESERVE, variables)
        });
        let responses = futures::future::join_all(attempts).await;
        let reserved = responses
            .iter()
            .filter(|r| r["data"]["reserveStock"] == json!(true))
            .count();
        let short = responses
            .iter()
            .filter(|r| error_code(r) == "INSUFFICIENT_STOCK")
            .count();
        assert_eq!((reserved, short), (3, 5), "{responses:#?}");
        assert_eq!(quantities(&stack, &[14]).await, [0]);
        stack
    })
    .await;
}

#[tokio::test]
async fn through_the_gateway_stock_shows_on_products_and_reservations_are_hidden() {
    each_backend(|stack| async move {
        // `shippingEstimateCents` needs the catalog's price and weight, which the gateway fetches.
        let page = r#"{ product(id: "7") { priceCents weightGrams inStock quantity shippingEstimateCents } }"#;
        let response = stack.gql("gateway", page, json!({})).await;
        let product = &response["data"]["product"];
        let (price, weight) = match (product["priceCents"].as_i64(), product["weightGrams"].as_i64()) {
            (Some(price), Some(weight)) => (price, weight),
            _ => panic!("no product: {response}"),
        };
        let shipping = if price >= 10_000 { 0 } else { (499 + weight / 10).min(2_999) };
        assert_eq!(
            response,
            json!({ "data": { "product": {
                "priceCents": price, "weightGrams": weight, "inStock": true, "quantity": 3,
                "shippingEstimateCents": shipping,
            } } })
        );

        // Not even a token with the reserve scope reaches the internal mutations from outside.
        let token = reserver();
        for mutation in [
            r#"mutation { reserveStock(reservationId: "outside", lines: [{ productId: "7", quantity: 1 }]) }"#,
            r#"mutation { releaseStock(reservationId: "outside") }"#,
        ] {
            let response = stack.gql_as("gateway", &token, mutation, json!({})).await;
            assert_eq!(response["data"], json!(null), "{response}");
            assert!(response["errors"][0]["message"].is_string(), "{response}");
        }
        assert_eq!(quantities(&stack, &[7]).await, [3]);
        stack
    })
    .await;
}
