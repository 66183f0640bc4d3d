//! Tests of the orders subgraph over HTTP: checkout at the catalog's prices, idempotent
//! retries, no overselling, cancellation, and orders as entities.
//!
//! Seeded orders: 1 (ada, placed), 2 (grace), 3 (ada, cancelled), 4 (alan), 5 (grace),
//! 6 (ada, placed, newest). Seeded stock: product 1 has 47 units, 3 has 31, 9 none, 14 three.

use serde_json::{Value, json};
use tributary_tests::{TestStack, each_backend, error_code};

const CHECKOUT: &str = "mutation($lines: [CheckoutLineInput!]!, $key: String!) {
    checkout(lines: $lines, idempotencyKey: $key) {
        id status totalCents currency customer { id }
        lines { product { id } quantity unitPriceCents lineTotalCents }
    } }";

const CANCEL: &str = "mutation($id: ID!) { cancelOrder(id: $id) { id status } }";

const MY_ORDER_IDS: &str = "{ myOrders(first: 100) { id } }";

fn lines(pairs: &[(i64, i64)]) -> Value {
    pairs
        .iter()
        .map(
            |(product, quantity)| json!({ "productId": product.to_string(), "quantity": quantity }),
        )
        .collect()
}

async fn checkout(stack: &TestStack, token: &str, pairs: &[(i64, i64)], key: &str) -> Value {
    stack
        .gql_as(
            "orders",
            token,
            CHECKOUT,
            json!({ "lines": lines(pairs), "key": key }),
        )
        .await
}

/// The ids of the caller's visible orders, newest first.
async fn my_order_ids(stack: &TestStack, token: &str) -> Vec<String> {
    let response = stack.gql_as("orders", token, MY_ORDER_IDS, json!({})).await;
    response["data"]["myOrders"]
        .as_array()
        .unwrap_or_else(|| panic!("no orders: {response}"))
        .iter()
        .map(|order| order["id"].as_str().expect("an order id").to_owned())
        .collect()
}

/// The units on hand of a product, as inventory reports them.
async fn stock(stack: &TestStack, product: i64) -> i64 {
    let response = stack
        .gql(
            "inventory",
            "query($r: [_Any!]!) { _entities(representations: $r) { ... on Product { quantity } } }",
            json!({ "r": [{ "__typename": "Product", "id": product.to_string() }] }),
        )
        .await;
    response["data"]["_entities"][0]["quantity"]
        .as_i64()
        .unwrap_or_else(|| panic!("no stock of {product}: {response}"))
}

/// The catalog's current price (cents) and currency of a product.
async fn price(stack: &TestStack, product: i64) -> (i64, String) {
    let response = stack
        .gql(
            "catalog",
            "query($r: [_Any!]!) { _entities(representations: $r) { ... on Product { priceCents currency } } }",
            json!({ "r": [{ "__typename": "Product", "id": product.to_string() }] }),
        )
        .await;
    let entity = &response["data"]["_entities"][0];
    match (entity["priceCents"].as_i64(), entity["currency"].as_str()) {
        (Some(cents), Some(currency)) => (cents, currency.to_owned()),
        _ => panic!("no price of {product}: {response}"),
    }
}

#[tokio::test]
async fn service_sdl_declares_orders_and_extends_users() {
    each_backend(|stack| async move {
        let response = stack.gql("orders", "{ _service { sdl } }", json!({})).await;
        let sdl = response["data"]["_service"]["sdl"]
            .as_str()
            .unwrap_or_default();
        for expected in [
            r#"type Order @key(fields: "id")"#,
            r#"type User @key(fields: "id")"#,
            "orders(first: Int = 10): [Order!]",
            r#"type Product @key(fields: "id", resolvable: false)"#,
            "checkout(lines: [CheckoutLineInput!]!, idempotencyKey: String!): Order!",
            "myOrders(first: Int = 20): [Order!]!",
        ] {
            assert!(sdl.contains(expected), "missing `{expected}` in\n{sdl}");
        }
        stack
    })
    .await;
}

#[tokio::test]
async fn checkout_charges_catalog_prices_and_reserves_stock() {
    each_backend(|stack| async move {
        let ada = stack.login("ada@example.com").await;
        let (apple, currency) = price(&stack, 1).await;
        let (avocado, _) = price(&stack, 2).await;
        let before = (stock(&stack, 1).await, stock(&stack, 2).await);
        let orders_before = my_order_ids(&stack, &ada).await;

        // Two lines of product 1 are merged into one of 3 units.
        let response = checkout(&stack, &ada, &[(1, 2), (2, 1), (1, 1)], "happy-path-0001").await;
        let order = &response["data"]["checkout"];
        let id = order["id"].as_str().unwrap_or_else(|| panic!("no order: {response}")).to_owned();
        assert_eq!(
            response,
            json!({ "data": { "checkout": {
                "id": id, "status": "PLACED", "totalCents": 3 * apple + avocado,
                "currency": currency, "customer": { "id": "1" },
                "lines": [
                    { "product": { "id": "1" }, "quantity": 3, "unitPriceCents": apple, "lineTotalCents": 3 * apple },
                    { "product": { "id": "2" }, "quantity": 1, "unitPriceCents": avocado, "lineTotalCents": avocado },
                ],
            } },
            // The stock of both products changed: the gateway's caches are told.
            "extensions": { "invalidate": [
                { "__typename": "Product", "id": "1" },
                { "__typename": "Product", "id": "2" },
            ] } })
        );
        assert_eq!((stock(&stack, 1).await, stock(&stack, 2).await), (before.0 - 3, before.1 - 1));

        // The new order is ada's newest, readable by her and by nobody else.
        let orders_after = my_order_ids(&stack, &ada).await;
        assert_eq!(orders_after.len(), orders_before.len() + 1);
        assert_eq!(orders_after[0], id);
        let read = "query($id: ID!) { order(id: $id) { id status totalCents } }";
        let mine = stack.gql_as("orders", &ada, read, json!({ "id": id })).await;
        assert_eq!(
            mine,
            json!({ "data": { "order": { "id": id, "status": "PLACED", "totalCents": 3 * apple + avocado } } })
        );
        let grace = stack.login("grace@example.com").await;
        let theirs = stack.gql_as("orders", &grace, read, json!({ "id": id })).await;
        assert!(theirs["data"]["order"].is_null(), "{theirs}");
        assert_eq!(error_code(&theirs), "NOT_FOUND", "{theirs}");
        let anonymous = stack.gql("orders", read, json!({ "id": id })).await;
        assert_eq!(error_code(&anonymous), "UNAUTHENTICATED", "{anonymous}");

        // There is no way to name a price: a client trying is refused before anything happens.
        let lying = stack
            .gql_as(
                "orders",
                &ada,
                CHECKOUT,
                json!({ "lines": [{ "productId": "1", "quantity": 1, "unitPriceCents": 1 }], "key": "lying-client-01" }),
            )
            .await;
        assert!(lying["errors"].is_array(), "{lying}");
        assert_eq!(my_order_ids(&stack, &ada).await, orders_after);
        stack
    })
    .await;
}

#[tokio::test]
async fn checkout_needs_a_signed_in_user() {
    each_backend(|stack| async move {
        let response = stack
            .gql(
                "orders",
                CHECKOUT,
                json!({ "lines": lines(&[(1, 1)]), "key": "anonymous-01" }),
            )
            .await;
        assert_eq!(error_code(&response), "UNAUTHENTICATED", "{response}");
        assert_eq!(response["data"], json!(null));
        let mine = stack.gql("orders", MY_ORDER_IDS, json!({})).await;
        assert_eq!(error_code(&mine), "UNAUTHENTICATED", "{mine}");
        assert_eq!(stock(&stack, 1).await, 47);
        stack
    })
    .await;
}

#[tokio::test]
async fn bad_checkout_input_is_refused_and_changes_nothing() {
    each_backend(|stack| async move {
        let ada = stack.login("ada@example.com").await;
        let orders_before = my_order_ids(&stack, &ada).await;
        let many: Vec<(i64, i64)> = (1..=51).map(|i| (i % 36 + 1, 1)).collect();
        let cases: Vec<(&str, Value, String)> = vec![
            ("no lines", json!([]), "bad-input-0001".into()),
            ("zero units", lines(&[(1, 0)]), "bad-input-0002".into()),
            ("negative units", lines(&[(1, -1)]), "bad-input-0003".into()),
            (
                "too many units",
                lines(&[(1, 101)]),
                "bad-input-0004".into(),
            ),
            (
                "huge units",
                lines(&[(1, i64::from(i32::MAX))]),
                "bad-input-0005".into(),
            ),
            (
                "merged over the cap",
                lines(&[(1, 60), (1, 60)]),
                "bad-input-0006".into(),
            ),
            ("51 lines", lines(&many), "bad-input-0007".into()),
            (
                "a word for an id",
                json!([{ "productId": "apple", "quantity": 1 }]),
                "bad-input-0008".into(),
            ),
            (
                "id zero",
                json!([{ "productId": "0", "quantity": 1 }]),
                "bad-input-0009".into(),
            ),
            (
                "negative id",
                json!([{ "productId": "-3", "quantity": 1 }]),
                "bad-input-0010".into(),
            ),
            ("short key", lines(&[(1, 1)]), "short".into()),
            ("long key", lines(&[(1, 1)]), "k".repeat(129)),
            (
                "key with spaces",
                lines(&[(1, 1)]),
                "has some spaces".into(),
            ),
        ];
        for (case, bad_lines, key) in cases {
            let response = stack
                .gql_as(
                    "orders",
                    &ada,
                    CHECKOUT,
                    json!({ "lines": bad_lines, "key": key }),
                )
                .await;
            assert_eq!(
                error_code(&response),
                "BAD_USER_INPUT",
                "{case}: {response}"
            );
            assert_eq!(response["data"], json!(null), "{case}");
        }
        assert_eq!(my_order_ids(&stack, &ada).await, orders_before);
        assert_eq!(stock(&stack, 1).await, 47);
        stack
    })
    .await;
}

#[tokio::test]
async fn unknown_or_sold_out_products_leave_no_order_behind() {
    each_backend(|stack| async move {
        let ada = stack.login("ada@example.com").await;
        let orders_before = my_order_ids(&stack, &ada).await;

        let unknown = checkout(&stack, &ada, &[(1, 1), (999, 1)], "unknown-product-1").await;
        assert_eq!(error_code(&unknown), "NOT_FOUND", "{unknown}");

        // Product 9 is sold out; the same key fails the same way on a retry, as nothing remained.
        for _ in 0..2 {
            let sold_out = checkout(&stack, &ada, &[(1, 1), (9, 1)], "sold-out-product-1").await;
            assert_eq!(error_code(&sold_out), "INSUFFICIENT_STOCK", "{sold_out}");
        }
        assert_eq!(my_order_ids(&stack, &ada).await, orders_before);
        assert_eq!(stock(&stack, 1).await, 47);

        // The key of a failed checkout is free for the lines that can be had.
        let placed = checkout(&stack, &ada, &[(1, 1)], "sold-out-product-1").await;
        assert_eq!(placed["data"]["checkout"]["status"], "PLACED", "{placed}");
        assert_eq!(stock(&stack, 1).await, 46);
        stack
    })
    .await;
}

#[tokio::test]
async fn concurrent_retries_with_one_key_place_one_order() {
    each_backend(|stack| async move {
        let ada = stack.login("ada@example.com").await;
        let orders_before = my_order_ids(&stack, &ada).await;
        let stock_before = stock(&stack, 3).await;

        let retries = (0..20).map(|_| checkout(&stack, &ada, &[(3, 2)], "retry-storm-0001"));
        let responses = futures::future::join_all(retries).await;
        let ids: Vec<&Value> = responses
            .iter()
            .map(|r| &r["data"]["checkout"]["id"])
            .collect();
        assert!(ids[0].is_string(), "{responses:#?}");
        assert!(ids.iter().all(|id| *id == ids[0]), "{responses:#?}");
        assert!(
            responses
                .iter()
                .all(|r| r["data"]["checkout"]["status"] == "PLACED")
        );

        let orders_after = my_order_ids(&stack, &ada).await;
        assert_eq!(orders_after.len(), orders_before.len() + 1);
        assert_eq!(&json!(orders_after[0]), ids[0]);
        assert_eq!(stock(&stack, 3).await, stock_before - 2);

        // A later retry still gets the same order; the key with other lines is a conflict.
        let later = checkout(&stack, &ada, &[(3, 2)], "retry-storm-0001").await;
        assert_eq!(&later["data"]["checkout"]["id"], ids[0]);
        let reused = checkout(&stack, &ada, &[(3, 1)], "retry-storm-0001").await;
        assert_eq!(error_code(&reused), "CONFLICT", "{reused}");
        // Keys are per customer: grace may use the same one.
        let grace = stack.login("grace@example.com").await;
        let hers = checkout(&stack, &grace, &[(3, 1)], "retry-storm-0001").await;
        assert_eq!(
            hers["data"]["checkout"]["customer"],
            json!({ "id": "2" }),
            "{hers}"
        );
        assert_ne!(&hers["data"]["checkout"]["id"], ids[0]);
        assert_eq!(stock(&stack, 3).await, stock_before - 3);
        stack
    })
    .await;
}

#[tokio::test]
async fn the_last_units_are_never_oversold() {
    each_backend(|stack| async move {
        let emails = [
            "ada@example.com",
            "grace@example.com",
            "alan@example.com",
            "edsger@example.com",
            "barbara@example.com",
            "ken@example.com",
        ];
        let mut tokens = Vec::new();
        for email in emails {
            tokens.push(stack.login(email).await);
        }
        assert_eq!(stock(&stack, 14).await, 3);

        let attempts = tokens
            .iter()
            .map(|token| checkout(&stack, token, &[(14, 1)], "last-units-0001"));
        let responses = futures::future::join_all(attempts).await;
        let placed = responses
            .iter()
            .filter(|r| r["data"]["checkout"]["status"] == "PLACED")
            .count();
        let short = responses
            .iter()
            .filter(|r| error_code(r) == "INSUFFICIENT_STOCK")
            .count();
        assert_eq!((placed, short), (3, 3), "{responses:#?}");
        assert_eq!(stock(&stack, 14).await, 0);

        // Exactly the three buyers have an order of product 14 (no seeded order holds it).
        let mut new_orders = 0;
        for token in &tokens {
            let mine = stack
                .gql_as(
                    "orders",
                    token,
                    "{ myOrders(first: 100) { lines { product { id } } } }",
                    json!({}),
                )
                .await;
            new_orders += mine["data"]["myOrders"]
                .as_array()
                .unwrap_or_else(|| panic!("no orders: {mine}"))
                .iter()
                .filter(|order| order["lines"][0]["product"]["id"] == "14")
                .count();
        }
        assert_eq!(new_orders, 3);
        stack
    })
    .await;
}

#[tokio::test]
async fn cancelling_returns_the_stock_once() {
    each_backend(|stack| async move {
        let ada = stack.login("ada@example.com").await;
        let grace = stack.login("grace@example.com").await;
        let before = stock(&stack, 3).await;
        let placed = checkout(&stack, &ada, &[(3, 2)], "cancel-me-00001").await;
        let id = placed["data"]["checkout"]["id"]
            .as_str()
            .expect("an order")
            .to_owned();
        assert_eq!(stock(&stack, 3).await, before - 2);

        let anonymous = stack.gql("orders", CANCEL, json!({ "id": id })).await;
        assert_eq!(error_code(&anonymous), "UNAUTHENTICATED", "{anonymous}");
        let not_hers = stack
            .gql_as("orders", &grace, CANCEL, json!({ "id": id }))
            .await;
        assert_eq!(error_code(&not_hers), "FORBIDDEN", "{not_hers}");
        let unknown = stack
            .gql_as("orders", &ada, CANCEL, json!({ "id": "999999" }))
            .await;
        assert_eq!(error_code(&unknown), "NOT_FOUND", "{unknown}");
        let malformed = stack
            .gql_as("orders", &ada, CANCEL, json!({ "id": "first" }))
            .await;
        assert_eq!(error_code(&malformed), "BAD_USER_INPUT", "{malformed}");
        assert_eq!(stock(&stack, 3).await, before - 2);

        let cancelled = stack
            .gql_as("orders", &ada, CANCEL, json!({ "id": id }))
            .await;
        assert_eq!(
            cancelled,
            json!({
                "data": { "cancelOrder": { "id": id, "status": "CANCELLED" } },
                "extensions": { "invalidate": [{ "__typename": "Product", "id": "3" }] },
            })
        );
        assert_eq!(stock(&stack, 3).await, before);

        let again = stack
            .gql_as("orders", &ada, CANCEL, json!({ "id": id }))
            .await;
        assert_eq!(error_code(&again), "INVALID_STATE", "{again}");
        assert_eq!(stock(&stack, 3).await, before);

        // A retry of the original checkout returns the cancelled order, not a new one.
        let retry = checkout(&stack, &ada, &[(3, 2)], "cancel-me-00001").await;
        assert_eq!(retry["data"]["checkout"]["id"], json!(id));
        assert_eq!(retry["data"]["checkout"]["status"], "CANCELLED");
        assert_eq!(stock(&stack, 3).await, before);
        stack
    })
    .await;
}

#[tokio::test]
async fn orders_resolve_as_entities_with_their_lines() {
    each_backend(|stack| async move {
        let ada = stack.login("ada@example.com").await;
        let representations: Vec<Value> = ["1", "2", "6", "3", "999"]
            .iter()
            .map(|id| json!({ "__typename": "Order", "id": id }))
            .collect();
        let query = "query($r: [_Any!]!) { _entities(representations: $r) { ... on Order {
            id status totalCents currency customer { id }
            lines { product { id } quantity unitPriceCents lineTotalCents } } } }";
        let mut response = stack.gql_as("orders", &ada, query, json!({ "r": representations })).await;
        // Grace's order 2 and the unknown 999 are null for ada, each with a NOT_FOUND beside
        // the answer (pathed at `_entities`: the engine places it on the null entity).
        let errors = response
            .as_object_mut()
            .and_then(|answer| answer.remove("errors"))
            .unwrap();
        assert_eq!(errors.as_array().unwrap().len(), 2, "{errors}");
        for error in errors.as_array().unwrap() {
            assert_eq!(error["extensions"]["code"], "NOT_FOUND", "{error}");
            assert_eq!(error["path"], json!(["_entities"]), "{error}");
        }
        assert_eq!(
            response,
            json!({ "data": { "_entities": [
                { "id": "1", "status": "PLACED", "totalCents": 1746, "currency": "USD", "customer": { "id": "1" }, "lines": [
                    { "product": { "id": "1" }, "quantity": 2, "unitPriceCents": 499, "lineTotalCents": 998 },
                    { "product": { "id": "5" }, "quantity": 1, "unitPriceCents": 449, "lineTotalCents": 449 },
                    { "product": { "id": "13" }, "quantity": 1, "unitPriceCents": 299, "lineTotalCents": 299 },
                ] },
                null,
                { "id": "6", "status": "PLACED", "totalCents": 1299, "currency": "USD", "customer": { "id": "1" }, "lines": [
                    { "product": { "id": "19" }, "quantity": 1, "unitPriceCents": 1299, "lineTotalCents": 1299 },
                ] },
                { "id": "3", "status": "CANCELLED", "totalCents": 5999, "currency": "USD", "customer": { "id": "1" }, "lines": [
                    { "product": { "id": "31" }, "quantity": 1, "unitPriceCents": 5999, "lineTotalCents": 5999 },
                ] },
                null,
            ] } })
        );

        // `User.orders` through the entity, newest first, only for the user themselves.
        let user_orders = "query($r: [_Any!]!) { _entities(representations: $r) { ... on User { id orders(first: 2) { id status } } } }";
        let users = json!({ "r": [{ "__typename": "User", "id": "1" }] });
        let own = stack.gql_as("orders", &ada, user_orders, users.clone()).await;
        assert_eq!(
            own,
            json!({ "data": { "_entities": [{ "id": "1", "orders": [
                { "id": "6", "status": "PLACED" }, { "id": "3", "status": "CANCELLED" },
            ] }] } })
        );
        let grace = stack.login("grace@example.com").await;
        let others = stack.gql_as("orders", &grace, user_orders, users.clone()).await;
        assert_eq!(error_code(&others), "FORBIDDEN", "{others}");
        let anonymous = stack.gql("orders", user_orders, users).await;
        assert_eq!(error_code(&anonymous), "UNAUTHENTICATED", "{anonymous}");

        // Newest first, and `first` bounds the page.
        let mine = stack.gql_as("orders", &ada, "{ myOrders(first: 2) { id } }", json!({})).await;
        assert_eq!(mine, json!({ "data": { "myOrders": [{ "id": "6" }, { "id": "3" }] } }));
        let bad_page = stack.gql_as("orders", &ada, "{ myOrders(first: 0) { id } }", json!({})).await;
        assert_eq!(error_code(&bad_page), "BAD_USER_INPUT", "{bad_page}");
        stack
    })
    .await;
}

#[tokio::test]
async fn a_customer_checks_out_through_the_gateway() {
    each_backend(|stack| async move {
        let ada = stack.login("ada@example.com").await;
        let (price, currency) = price(&stack, 7).await;
        let placed = stack
            .gql_as(
                "gateway",
                &ada,
                CHECKOUT,
                json!({ "lines": lines(&[(7, 2)]), "key": "via-gateway-01" }),
            )
            .await;
        let id = placed["data"]["checkout"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no order: {placed}"))
            .to_owned();

        // One client query spans accounts, orders, catalog and inventory.
        let history =
            "{ me { username orders(first: 1) { id status totalCents currency customer { name }
            lines { quantity unitPriceCents product { id name inStock quantity } } } } }";
        let response = stack.gql_as("gateway", &ada, history, json!({})).await;
        let name = stack
            .gql("catalog", r#"{ product(id: "7") { name } }"#, json!({}))
            .await["data"]["product"]["name"]
            .clone();
        assert_eq!(
            response,
            json!({ "data": { "me": { "username": "ada", "orders": [{
                "id": id, "status": "PLACED", "totalCents": 2 * price, "currency": currency,
                "customer": { "name": "Ada Lovelace" },
                "lines": [{ "quantity": 2, "unitPriceCents": price, "product": {
                    "id": "7", "name": name, "inStock": true, "quantity": 1,
                } }],
            }] } } })
        );
        stack
    })
    .await;
}

#[tokio::test]
async fn checkouts_a_crash_left_pending_are_released_once_and_live_ones_are_left_alone() {
    use subgraph_kit::sea_orm::ConnectionTrait;
    each_backend(|stack| async move {
        let token = stack.login("grace@example.com").await;
        let before = stock(&stack, 1).await;
        let crashed = checkout(&stack, &token, &[(1, 2)], "crash-left-pending-1").await;
        let live = checkout(&stack, &token, &[(1, 1)], "still-checking-out-1").await;
        let crashed_id = crashed["data"]["checkout"]["id"].as_str().expect("an order").to_owned();
        let live_id = live["data"]["checkout"]["id"].as_str().expect("an order").to_owned();
        assert_eq!(stock(&stack, 1).await, before - 3);

        // A crash between reserving the stock and placing the order leaves it PENDING with a
        // lease that runs out; a checkout still in progress holds a lease in the future.
        let deps = stack.deps("orders").await;
        let far = i64::MAX / 2;
        for (id, lease) in [(&crashed_id, 0), (&live_id, far)] {
            deps.db
                .execute_unprepared(&format!(
                    "UPDATE orders SET status = 'PENDING', lease_expires_ms = {lease} WHERE id = {id}"
                ))
                .await
                .expect("stage the crash");
        }

        // The orders subgraph's own upkeep may get there first (it runs every 15 s).
        let released = subgraph_orders::reconcile(&deps).await.expect("reconciled");
        assert!(released <= 1, "{released}");
        // The crashed checkout's two units are back; the live one keeps its unit.
        assert_eq!(stock(&stack, 1).await, before - 1);
        // Again: nothing left to do, nothing released twice.
        assert_eq!(subgraph_orders::reconcile(&deps).await.expect("reconciled"), 0);
        assert_eq!(stock(&stack, 1).await, before - 1);

        // The abandoned order is gone; a retry with its key checks out anew.
        assert!(!my_order_ids(&stack, &token).await.contains(&crashed_id));
        let retried = checkout(&stack, &token, &[(1, 2)], "crash-left-pending-1").await;
        assert_eq!(retried["data"]["checkout"]["status"], "PLACED", "{retried}");
        assert_eq!(stock(&stack, 1).await, before - 3);
        stack
    })
    .await;
}
