//! Tests of the mobile BFF: the app's own fields, persisted operations over GET with `ETag`,
//! the safelist, automatic persisted queries, page-size caps and the contract schema.

use reqwest::{StatusCode, header};
use serde_json::{Value, json};
use tributary_gateway::sha256_hex;
use tributary_tests::{Bff, Environment, TestStack, each_backend, error_code};

/// The persisted id of one of the app's operations, by name.
fn operation_id(name: &str) -> String {
    let manifest = bff_mobile::manifest().expect("the embedded manifest parses");
    manifest
        .operations
        .iter()
        .find(|op| op.name == name)
        .unwrap_or_else(|| panic!("no operation {name} in the manifest"))
        .id
        .clone()
}

/// POSTs a raw GraphQL-over-HTTP body to `url`.
async fn post(stack: &TestStack, url: &str, body: Value) -> Value {
    stack
        .http()
        .post(url)
        .json(&body)
        .send()
        .await
        .expect("the BFF answers")
        .json()
        .await
        .expect("JSON")
}

fn card(id: &str, name: &str, price: &str, sku: &str) -> Value {
    json!({
        "id": id,
        "name": name,
        "priceDisplay": price,
        "thumbnailUrl": format!("https://img.tributary.dev/products/{sku}.jpg?w=320"),
        "inStock": true,
    })
}

#[tokio::test]
async fn the_home_feed_by_persisted_id_over_get_then_not_modified_with_its_etag() {
    each_backend(|stack| async move {
        let url = stack.url("mobile");
        let query = [
            ("documentId", operation_id("HomeFeed")),
            (
                "variables",
                json!({ "first": 2, "thumbnailWidth": 320 }).to_string(),
            ),
        ];
        let response = stack
            .http()
            .get(&url)
            .query(&query)
            .header(header::ACCEPT, "application/graphql-response+json")
            .send()
            .await
            .expect("an answer");
        assert_eq!(response.status(), StatusCode::OK);
        let cache_control = response.headers().get(header::CACHE_CONTROL).cloned();
        assert_eq!(
            cache_control.as_ref().and_then(|v| v.to_str().ok()),
            Some("public, max-age=30")
        );
        let etag = response
            .headers()
            .get(header::ETAG)
            .cloned()
            .expect("an ETag");
        let body: Value = response.json().await.expect("JSON");
        assert_eq!(
            body,
            json!({ "data": { "homeFeed": {
                "cards": [
                    card("3", "Bananas", "$1.99", "PRD-003"),
                    card("8", "Butter Croissants", "$7.99", "BAK-008"),
                ],
                "nextCursor": "c2",
                "hasMore": true,
            } } })
        );

        let again = stack
            .http()
            .get(&url)
            .query(&query)
            .header(header::ACCEPT, "application/graphql-response+json")
            .header(header::IF_NONE_MATCH, etag.clone())
            .send()
            .await
            .expect("an answer");
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(again.headers().get(header::ETAG), Some(&etag));
        assert!(again.bytes().await.expect("a body").is_empty());
        stack
    })
    .await;
}

#[tokio::test]
async fn the_home_feed_pages_through_the_curated_list_with_capped_pages() {
    each_backend(|stack| async move {
        let page = "query($after: String) { homeFeed(first: 8, after: $after) { cards { id } nextCursor hasMore } }";
        let mut ids = Vec::new();
        let mut after = Value::Null;
        for _ in 0..3 {
            let response = stack.gql("mobile", page, json!({ "after": after })).await;
            let feed = &response["data"]["homeFeed"];
            ids.extend(feed["cards"].as_array().expect("cards").iter().map(|c| c["id"].clone()));
            after = feed["nextCursor"].clone();
            assert_eq!(feed["hasMore"], json!(!after.is_null()), "{response}");
        }
        assert!(after.is_null());
        assert_eq!(
            ids,
            [3, 8, 14, 20, 26, 32, 1, 9, 15, 21, 27, 33, 5, 11, 17, 23, 29, 35]
                .map(|id| json!(id.to_string()))
        );
        for (query, what) in [
            ("{ homeFeed(first: 21) { hasMore } }", "past the mobile page cap"),
            (r#"{ products(first: 50) { nodes { id } } }"#, "a domain list past the cap"),
            (r#"{ homeFeed(after: "nope") { hasMore } }"#, "a bad cursor"),
            ("{ homeFeed { cards { thumbnailUrl(width: 4096) } } }", "a huge thumbnail"),
        ] {
            let response = stack.gql("mobile", query, json!({})).await;
            assert_eq!(error_code(&response), "BAD_USER_INPUT", "{what}: {response}");
        }
        stack
    })
    .await;
}

#[tokio::test]
async fn a_fan_out_far_beyond_the_apps_needs_is_refused_by_its_estimated_cost() {
    let stack = TestStack::sqlite().await;
    let query = "{ homeFeed(first: 20) { cards { id reviews { author { reviews { product { reviews { id } } } } } } } }";
    let answer = stack.gql("mobile", query, json!({})).await;
    assert_eq!(
        answer["errors"][0]["extensions"]["code"], "COST_ESTIMATED_TOO_EXPENSIVE",
        "{answer}"
    );
    assert_eq!(
        answer["errors"][0]["extensions"]["maxCost"], 2000,
        "{answer}"
    );
    assert!(answer.get("data").is_none(), "{answer}");
    stack.stop().await;
}

#[tokio::test]
async fn order_status_cards_show_the_callers_own_orders_only() {
    each_backend(|stack| async move {
        let ada = stack.login("ada@example.com").await;
        let query = "query($id: ID!) { orderStatusCard(id: $id) { id statusLabel itemCount totalDisplay } }";
        let mine = stack.gql_as("mobile", &ada, query, json!({ "id": "1" })).await;
        assert_eq!(
            mine,
            json!({ "data": { "orderStatusCard": {
                "id": "1", "statusLabel": "Placed", "itemCount": 4, "totalDisplay": "$17.46"
            } } })
        );
        let grace = stack.login("grace@example.com").await;
        let theirs = stack.gql_as("mobile", &grace, query, json!({ "id": "1" })).await;
        assert_eq!(theirs["data"], json!({ "orderStatusCard": null }), "{theirs}");
        // Someone else's order is a coded NOT_FOUND at the card, and nothing else.
        let codes = |answer: &Value| -> Vec<Value> {
            answer["errors"]
                .as_array()
                .map(|errors| {
                    errors
                        .iter()
                        .map(|e| json!([e["extensions"]["code"], e["path"]]))
                        .collect()
                })
                .unwrap_or_default()
        };
        assert_eq!(
            codes(&theirs),
            vec![json!(["NOT_FOUND", ["orderStatusCard"]])],
            "{theirs}"
        );
        let nobody = stack.gql("mobile", query, json!({ "id": "1" })).await;
        assert_eq!(nobody["data"], json!({ "orderStatusCard": null }), "{nobody}");
        assert_eq!(
            codes(&nobody),
            vec![json!(["UNAUTHORIZED_FIELD_OR_TYPE", ["orderStatusCard"]])],
            "{nobody}"
        );
        stack
    })
    .await;
}

#[tokio::test]
async fn the_app_signs_in_refreshes_and_signs_out_with_persisted_operations_in_production() {
    let stack = TestStack::sqlite().await;
    let mobile = stack
        .counted_bff(Bff::Mobile, Environment::Production)
        .await;
    let login = post(
        &stack,
        mobile.url(),
        json!({
            "documentId": operation_id("Login"),
            "variables": { "email": "ada@example.com", "password": tributary_tests::DEMO_PASSWORD },
        }),
    )
    .await;
    let first = login["data"]["login"]["refreshToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{login}"))
        .to_owned();
    let refresh = |token: String| {
        post(
            &stack,
            mobile.url(),
            json!({
                "documentId": operation_id("RefreshSession"),
                "variables": { "refreshToken": token },
            }),
        )
    };
    let refreshed = refresh(first.clone()).await;
    let second = refreshed["data"]["refreshSession"]["refreshToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{refreshed}"))
        .to_owned();
    assert_ne!(first, second);
    assert!(refreshed["data"]["refreshSession"]["token"].is_string());
    let signed_out = post(
        &stack,
        mobile.url(),
        json!({
            "documentId": operation_id("SignOut"),
            "variables": { "refreshToken": second.clone() },
        }),
    )
    .await;
    assert_eq!(signed_out["data"]["signOut"], json!(true), "{signed_out}");
    let after = refresh(second).await;
    assert_eq!(error_code(&after), "UNAUTHENTICATED", "{after}");
    stack.stop().await;
}

#[tokio::test]
async fn production_serves_the_apps_operations_and_refuses_any_other_document() {
    each_backend(|stack| async move {
        let mobile = stack
            .counted_bff(Bff::Mobile, Environment::Production)
            .await;
        let known = post(
            &stack,
            mobile.url(),
            json!({ "documentId": operation_id("Categories") }),
        )
        .await;
        assert_eq!(
            known["data"]["categories"].as_array().map(Vec::len),
            Some(6),
            "{known}"
        );

        let unknown = post(
            &stack,
            mobile.url(),
            json!({ "query": "{ categories { id } }" }),
        )
        .await;
        assert_eq!(
            error_code(&unknown),
            "PERSISTED_QUERY_NOT_FOUND",
            "{unknown}"
        );
        assert!(unknown.get("data").is_none(), "{unknown}");

        let unknown_id = post(
            &stack,
            mobile.url(),
            json!({ "documentId": "0".repeat(64) }),
        )
        .await;
        assert_eq!(
            error_code(&unknown_id),
            "PERSISTED_QUERY_NOT_FOUND",
            "{unknown_id}"
        );

        // The app's own document text, sent in full, is on the list.
        let manifest = bff_mobile::manifest().expect("the manifest");
        let categories = manifest
            .operations
            .iter()
            .find(|op| op.name == "Categories")
            .expect("Categories");
        let by_text = post(&stack, mobile.url(), json!({ "query": categories.body })).await;
        assert_eq!(by_text, known);

        // Nothing reached a subgraph for the refused documents; the document sent in full is
        // the same operation as the persisted id, so it is answered from the response cache.
        let requests = mobile.take_subgraph_requests();
        assert_eq!(requests.get("catalog"), Some(&1), "{requests:?}");
        assert_eq!(requests.len(), 1, "{requests:?}");
        stack
    })
    .await;
}

#[tokio::test]
async fn automatic_persisted_queries_miss_then_register_then_hit() {
    each_backend(|stack| async move {
        let url = stack.url("mobile");
        let query = "{ homeFeed(first: 1) { cards { id name } } }";
        let hash = sha256_hex(query);
        let extensions = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });

        let miss = post(&stack, &url, json!({ "extensions": extensions })).await;
        assert_eq!(error_code(&miss), "PERSISTED_QUERY_NOT_FOUND", "{miss}");

        let expected =
            json!({ "data": { "homeFeed": { "cards": [{ "id": "3", "name": "Bananas" }] } } });
        let register = post(
            &stack,
            &url,
            json!({ "query": query, "extensions": extensions }),
        )
        .await;
        assert_eq!(register, expected);

        let hit = stack
            .http()
            .get(&url)
            .query(&[("extensions", extensions.to_string())])
            .send()
            .await
            .expect("an answer")
            .json::<Value>()
            .await
            .expect("JSON");
        assert_eq!(hit, expected);

        let mismatch = post(
            &stack,
            &url,
            json!({ "query": "{ homeFeed { hasMore } }", "extensions": extensions }),
        )
        .await;
        assert_eq!(
            error_code(&mismatch),
            "PERSISTED_QUERY_HASH_MISMATCH",
            "{mismatch}"
        );
        stack
    })
    .await;
}

#[tokio::test]
async fn every_app_operation_validates_against_the_mobile_contract() {
    each_backend(|stack| async move {
        let manifest = bff_mobile::manifest().expect("the manifest");
        assert!(manifest.operations.len() >= 10, "{}", manifest.operations.len());
        // Enough variables for each operation to pass validation and variable coercion; the
        // mutations run anonymously, so they stop at authentication or input checks.
        let variables = json!({
            "id": "1", "slug": "bakery", "text": "tea", "email": "ada@example.com",
            "password": "wrong-password", "productId": "1", "rating": 5, "body": "Nice.",
            "lines": [{ "productId": "1", "quantity": 1 }], "idempotencyKey": "contract-check",
            "input": { "email": "new@example.com", "name": "New", "username": "x", "password": "short" },
        });
        for op in &manifest.operations {
            let wanted: serde_json::Map<String, Value> = variables
                .as_object()
                .expect("an object")
                .iter()
                .filter(|(name, _)| op.body.contains(&format!("${name}:")))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let response = post(
                &stack,
                &stack.url("mobile"),
                json!({ "documentId": op.id, "variables": wanted }),
            )
            .await;
            let code = error_code(&response);
            assert!(
                !matches!(code, "GRAPHQL_VALIDATION_FAILED" | "GRAPHQL_PARSE_FAILED" | "BAD_REQUEST"),
                "{}: {response}",
                op.name
            );
            if op.kind == "query" {
                assert!(response.get("data").is_some(), "{}: {response}", op.name);
            }
        }
        stack
    })
    .await;
}

#[tokio::test]
async fn a_deprecated_field_old_app_versions_use_is_served_and_counted_by_version() {
    each_backend(|stack| async move {
        let url = stack.url("mobile");
        let old_app: Value = stack
            .http()
            .post(&url)
            .header("apollographql-client-name", "tributary-ios")
            .header("apollographql-client-version", "1.4.0")
            .json(&json!({ "query": "query OldCard { product(id: \"3\") { name thumbnail } }" }))
            .send()
            .await
            .expect("the mobile BFF answers")
            .json()
            .await
            .expect("JSON");
        assert_eq!(
            old_app,
            json!({ "data": { "product": {
                "name": "Bananas",
                "thumbnail": "https://img.tributary.dev/products/PRD-003.jpg?w=200"
            } } })
        );
        let metrics = stack
            .http()
            .get(url.replace("/graphql", "/metrics"))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text");
        let line = metrics
            .lines()
            .find(|l| {
                l.starts_with("tributary_deprecated_field_uses_total")
                    && l.contains("field=\"Product.thumbnail\"")
                    && l.contains("client_version=\"1.4.0\"")
            })
            .unwrap_or_else(|| panic!("no deprecated-use line in:\n{metrics}"));
        assert!(line.contains("client_name=\"tributary-ios\""), "{line}");
        let schema: Value = stack
            .http()
            .post(&url)
            .json(&json!({ "query": "{ __type(name: \"Product\") { fields(includeDeprecated: true) { name isDeprecated } } }" }))
            .send()
            .await
            .expect("introspection")
            .json()
            .await
            .expect("JSON");
        let fields = schema["data"]["__type"]["fields"].as_array().cloned().unwrap_or_default();
        assert!(fields.contains(&json!({ "name": "thumbnail", "isDeprecated": true })), "{schema}");
        stack
    })
    .await;
}
