//! Tests of the catalog subgraph over HTTP.

use serde_json::json;
use tributary_tests::{each_backend, error_code};

#[tokio::test]
async fn service_sdl_declares_the_product_and_category_entities() {
    each_backend(|stack| async move {
        let response = stack
            .gql("catalog", "{ _service { sdl } }", json!({}))
            .await;
        let sdl = response["data"]["_service"]["sdl"]
            .as_str()
            .unwrap_or_default();
        assert!(sdl.contains(r#"type Product @key(fields: "id")"#), "{sdl}");
        assert!(sdl.contains(r#"type Category @key(fields: "id")"#), "{sdl}");
        assert!(sdl.contains("specs.apollo.dev/federation/v2"), "{sdl}");
        stack
    })
    .await;
}

#[tokio::test]
async fn entities_resolve_a_mixed_batch_in_order_with_null_for_unknown_ids() {
    each_backend(|stack| async move {
        let response = stack
            .gql(
                "catalog",
                "query($r: [_Any!]!) { _entities(representations: $r) {
                    ... on Product { id name priceCents category { slug } }
                    ... on Category { id slug productCount }
                } }",
                json!({ "r": [
                    { "__typename": "Product", "id": "25" },
                    { "__typename": "Category", "id": "2" },
                    { "__typename": "Product", "id": "999" },
                    { "__typename": "Product", "id": "3" },
                    { "__typename": "Category", "id": "77" },
                    { "__typename": "Product", "id": "not-a-number" },
                    { "__typename": "Product", "id": "25" },
                ] }),
            )
            .await;
        let coffee = json!({ "id": "25", "name": "Dark Roast Coffee Beans", "priceCents": 1899, "category": { "slug": "beverages" } });
        assert_eq!(
            response,
            json!({ "data": { "_entities": [
                coffee,
                { "id": "2", "slug": "bakery", "productCount": 6 },
                null,
                { "id": "3", "name": "Bananas", "priceCents": 199, "category": { "slug": "produce" } },
                null,
                null,
                coffee,
            ] } })
        );
        stack
    })
    .await;
}

#[tokio::test]
async fn a_product_is_found_by_id_with_all_its_fields() {
    each_backend(|stack| async move {
        let query = "query($id: ID!) { product(id: $id) {
            id sku name description priceCents currency weightGrams imageUrl category { id slug name }
        } }";
        let found = stack.gql("catalog", query, json!({ "id": "7" })).await;
        assert_eq!(
            found,
            json!({ "data": { "product": {
                "id": "7",
                "sku": "BAK-007",
                "name": "Sourdough Loaf",
                "description": "Naturally leavened country loaf with a crackling crust.",
                "priceCents": 649,
                "currency": "USD",
                "weightGrams": 800,
                "imageUrl": "https://img.tributary.dev/products/BAK-007.jpg",
                "category": { "id": "2", "slug": "bakery", "name": "Bakery" },
            } } })
        );
        for missing in ["999", "0", "-3", "seven"] {
            let response = stack.gql("catalog", query, json!({ "id": missing })).await;
            assert_eq!(response, json!({ "data": { "product": null } }), "{missing}");
        }
        stack
    })
    .await;
}

#[tokio::test]
async fn products_page_through_the_catalog_in_id_order() {
    each_backend(|stack| async move {
        let page = "query($first: Int!, $after: String) { products(first: $first, after: $after) {
            edges { cursor node { id } }
            pageInfo { hasPreviousPage hasNextPage startCursor endCursor }
        } }";
        let first = stack.gql("catalog", page, json!({ "first": 2 })).await;
        assert_eq!(
            first["data"]["products"],
            json!({
                "edges": [{ "cursor": "c1", "node": { "id": "1" } }, { "cursor": "c2", "node": { "id": "2" } }],
                "pageInfo": { "hasPreviousPage": false, "hasNextPage": true, "startCursor": "c1", "endCursor": "c2" },
            })
        );
        let second = stack.gql("catalog", page, json!({ "first": 2, "after": "c2" })).await;
        assert_eq!(
            second["data"]["products"],
            json!({
                "edges": [{ "cursor": "c3", "node": { "id": "3" } }, { "cursor": "c4", "node": { "id": "4" } }],
                "pageInfo": { "hasPreviousPage": true, "hasNextPage": true, "startCursor": "c3", "endCursor": "c4" },
            })
        );
        let last = stack.gql("catalog", page, json!({ "first": 100, "after": "c30" })).await;
        let ids: Vec<&str> = last["data"]["products"]["edges"]
            .as_array()
            .map(|edges| edges.iter().filter_map(|e| e["node"]["id"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(ids, ["31", "32", "33", "34", "35", "36"]);
        assert_eq!(last["data"]["products"]["pageInfo"]["hasNextPage"], json!(false));
        let beyond = stack.gql("catalog", page, json!({ "first": 5, "after": "c36" })).await;
        assert_eq!(
            beyond["data"]["products"],
            json!({
                "edges": [],
                "pageInfo": { "hasPreviousPage": true, "hasNextPage": false, "startCursor": null, "endCursor": null },
            })
        );
        stack
    })
    .await;
}

#[tokio::test]
async fn products_narrow_to_a_category_and_a_search() {
    each_backend(|stack| async move {
        let query = "query($category: String, $search: String, $after: String) {
            products(first: 4, category: $category, search: $search, after: $after) {
                nodes { id name } pageInfo { hasNextPage endCursor }
            }
        }";
        let dairy = stack.gql("catalog", query, json!({ "category": "dairy" })).await;
        assert_eq!(
            dairy["data"]["products"],
            json!({
                "nodes": [
                    { "id": "13", "name": "Whole Milk" },
                    { "id": "14", "name": "Greek Yogurt" },
                    { "id": "15", "name": "Aged Cheddar" },
                    { "id": "16", "name": "Free-Range Eggs" },
                ],
                "pageInfo": { "hasNextPage": true, "endCursor": "c4" },
            })
        );
        let more_dairy = stack.gql("catalog", query, json!({ "category": "dairy", "after": "c4" })).await;
        assert_eq!(
            more_dairy["data"]["products"],
            json!({
                "nodes": [{ "id": "17", "name": "Salted Butter" }, { "id": "18", "name": "Fresh Mozzarella" }],
                "pageInfo": { "hasNextPage": false, "endCursor": "c6" },
            })
        );
        // Case-insensitive, over name and description; wildcards in the text are literal.
        let coffee = stack.gql("catalog", query, json!({ "search": "  COFFEE " })).await;
        assert_eq!(
            coffee["data"]["products"]["nodes"],
            json!([{ "id": "25", "name": "Dark Roast Coffee Beans" }, { "id": "34", "name": "French Press" }])
        );
        let both = stack.gql("catalog", query, json!({ "search": "coffee", "category": "kitchen" })).await;
        assert_eq!(both["data"]["products"]["nodes"], json!([{ "id": "34", "name": "French Press" }]));
        for literal in ["%", "_", "100%"] {
            let none = stack.gql("catalog", query, json!({ "search": literal })).await;
            assert_eq!(none["data"]["products"]["nodes"], json!([]), "{literal}");
        }
        let unknown = stack.gql("catalog", query, json!({ "category": "toys" })).await;
        assert_eq!(
            unknown["data"]["products"],
            json!({ "nodes": [], "pageInfo": { "hasNextPage": false, "endCursor": null } })
        );
        stack
    })
    .await;
}

#[tokio::test]
async fn categories_list_their_products_and_top_products_rank_by_popularity() {
    each_backend(|stack| async move {
        let response = stack
            .gql(
                "catalog",
                r#"{
                    categories { slug name productCount products(first: 2, after: "c4") { nodes { id } pageInfo { hasNextPage } } }
                    bakery: category(slug: "bakery") { id products(first: 1) { nodes { name } } }
                    toys: category(slug: "toys") { id }
                    topProducts { id name }
                }"#,
                json!({}),
            )
            .await;
        let category = |slug: &str, name: &str, ids: [&str; 2]| {
            json!({ "slug": slug, "name": name, "productCount": 6, "products": {
                "nodes": [{ "id": ids[0] }, { "id": ids[1] }], "pageInfo": { "hasNextPage": false }
            } })
        };
        assert_eq!(
            response,
            json!({ "data": {
                "categories": [
                    category("produce", "Fresh Produce", ["5", "6"]),
                    category("bakery", "Bakery", ["11", "12"]),
                    category("dairy", "Dairy & Eggs", ["17", "18"]),
                    category("pantry", "Pantry", ["23", "24"]),
                    category("beverages", "Beverages", ["29", "30"]),
                    category("kitchen", "Kitchen", ["35", "36"]),
                ],
                "bakery": { "id": "2", "products": { "nodes": [{ "name": "Sourdough Loaf" }] } },
                "toys": null,
                "topProducts": [
                    { "id": "3", "name": "Bananas" },
                    { "id": "2", "name": "Hass Avocados" },
                    { "id": "7", "name": "Sourdough Loaf" },
                    { "id": "25", "name": "Dark Roast Coffee Beans" },
                    { "id": "13", "name": "Whole Milk" },
                ],
            } })
        );
        stack
    })
    .await;
}

#[tokio::test]
async fn bad_paging_and_search_input_is_refused() {
    each_backend(|stack| async move {
        let cases = [
            ("{ products(first: 0) { nodes { id } } }", json!({})),
            ("{ products(first: 1000) { nodes { id } } }", json!({})),
            ("{ products(first: -5) { nodes { id } } }", json!({})),
            (
                r#"{ products(after: "garbage") { nodes { id } } }"#,
                json!({}),
            ),
            (r#"{ products(after: "c-1") { nodes { id } } }"#, json!({})),
            (
                r#"{ products(after: "c99999999999999") { nodes { id } } }"#,
                json!({}),
            ),
            (
                "query($s: String) { products(search: $s) { nodes { id } } }",
                json!({ "s": "x".repeat(101) }),
            ),
            ("{ topProducts(first: 0) { id } }", json!({})),
            (
                "{ categories { products(first: 101) { nodes { id } } } }",
                json!({}),
            ),
            (
                r#"{ categories { products(after: "nope") { nodes { id } } } }"#,
                json!({}),
            ),
            (
                "query($s: String) { products(search: $s) { nodes { id } } }",
                json!({ "s": "ban\u{0000}ana" }),
            ),
        ];
        for (query, variables) in cases {
            let response = stack.gql("catalog", query, variables).await;
            assert_eq!(
                error_code(&response),
                "BAD_USER_INPUT",
                "{query} -> {response}"
            );
        }
        stack
    })
    .await;
}

#[tokio::test]
async fn one_batch_of_category_pages_far_apart_answers_each_page() {
    each_backend(|stack| async move {
        // Every category asks for three pages in one batch; the far one lies past the listing.
        let response = stack
            .gql(
                "catalog",
                r#"{ categories {
                    head: products(first: 2) { nodes { id } pageInfo { hasNextPage } }
                    middle: products(first: 3, after: "c2") { nodes { id } pageInfo { hasNextPage } }
                    far: products(first: 2, after: "c2000000000") { nodes { id } pageInfo { hasNextPage } }
                } }"#,
                json!({}),
            )
            .await;
        let page = |ids: &[i64], more: bool| {
            let nodes: Vec<_> = ids.iter().map(|id| json!({ "id": id.to_string() })).collect();
            json!({ "nodes": nodes, "pageInfo": { "hasNextPage": more } })
        };
        let categories: Vec<_> = (0..6)
            .map(|c| {
                let first = c * 6 + 1;
                json!({
                    "head": page(&[first, first + 1], true),
                    "middle": page(&[first + 2, first + 3, first + 4], true),
                    "far": page(&[], false),
                })
            })
            .collect();
        assert_eq!(response, json!({ "data": { "categories": categories } }));
        let edge = stack
            .gql(
                "catalog",
                r#"{ products(after: "c2147483647") { nodes { id } } }"#,
                json!({}),
            )
            .await;
        assert_eq!(edge, json!({ "data": { "products": { "nodes": [] } } }));
        let past = stack
            .gql(
                "catalog",
                r#"{ categories { products(after: "c2147483648") { nodes { id } } } }"#,
                json!({}),
            )
            .await;
        assert_eq!(error_code(&past), "BAD_USER_INPUT", "{past}");
        stack
    })
    .await;
}
