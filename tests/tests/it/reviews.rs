//! Tests of the reviews subgraph over HTTP.

use serde_json::{Value, json};
use tributary_tests::{TestStack, each_backend, error_code};

const ADD_REVIEW: &str = "mutation($productId: ID!, $rating: Int!, $body: String!) {
    addReview(productId: $productId, rating: $rating, body: $body) {
        id rating body author { id username } product { id }
    }
}";

/// `reviewCount` of product `id`, read through `_entities` as the gateway would.
async fn review_count(stack: &TestStack, id: &str) -> Value {
    let response = stack
        .gql(
            "reviews",
            "query($r: [_Any!]!) { _entities(representations: $r) { ... on Product { reviewCount } } }",
            json!({ "r": [{ "__typename": "Product", "id": id }] }),
        )
        .await;
    response["data"]["_entities"][0]["reviewCount"].clone()
}

#[tokio::test]
async fn service_sdl_extends_product_and_user_and_provides_the_username() {
    each_backend(|stack| async move {
        let response = stack
            .gql("reviews", "{ _service { sdl } }", json!({}))
            .await;
        let sdl = response["data"]["_service"]["sdl"]
            .as_str()
            .unwrap_or_default();
        for expected in [
            r#"type Review @key(fields: "id")"#,
            r#"type Product @key(fields: "id")"#,
            r#"type User @key(fields: "id")"#,
            "username: String! @external",
            r#"author: User! @provides(fields: "username")"#,
        ] {
            assert!(sdl.contains(expected), "{expected} missing from {sdl}");
        }
        stack
    })
    .await;
}

#[tokio::test]
async fn entities_give_a_batch_of_products_their_reviews_and_ratings() {
    each_backend(|stack| async move {
        let response = stack
            .gql(
                "reviews",
                "query($r: [_Any!]!) { _entities(representations: $r) { ... on Product {
                    id averageRating reviewCount reviews(first: 2) { id rating author { id username } product { id } }
                } } }",
                json!({ "r": [
                    { "__typename": "Product", "id": "7" },
                    { "__typename": "Product", "id": "11" },
                    { "__typename": "Product", "id": "4" },
                    { "__typename": "Product", "id": "not-a-number" },
                    { "__typename": "Product", "id": "7" },
                ] }),
            )
            .await;
        let sourdough = json!({
            "id": "7", "averageRating": 14.0 / 3.0, "reviewCount": 3,
            "reviews": [
                { "id": "16", "rating": 4, "author": { "id": "5", "username": "barbara" }, "product": { "id": "7" } },
                { "id": "15", "rating": 5, "author": { "id": "3", "username": "alan" }, "product": { "id": "7" } },
            ],
        });
        assert_eq!(
            response,
            json!({ "data": { "_entities": [
                sourdough,
                { "id": "11", "averageRating": null, "reviewCount": 0, "reviews": [] },
                { "id": "4", "averageRating": 4.5, "reviewCount": 2, "reviews": [
                    { "id": "58", "rating": 5, "author": { "id": "1", "username": "ada" }, "product": { "id": "4" } },
                    { "id": "9", "rating": 4, "author": { "id": "4", "username": "edsger" }, "product": { "id": "4" } },
                ] },
                null,
                sourdough,
            ] } })
        );
        stack
    })
    .await;
}

#[tokio::test]
async fn entities_give_users_their_reviews_and_reviews_resolve_by_id() {
    each_backend(|stack| async move {
        let response = stack
            .gql(
                "reviews",
                "query($r: [_Any!]!) { _entities(representations: $r) {
                    ... on User { id reviews(first: 3) { id product { id } } }
                    ... on Review { id rating body createdAt author { username } }
                } }",
                json!({ "r": [
                    { "__typename": "User", "id": "3" },
                    { "__typename": "Review", "id": "1" },
                    { "__typename": "User", "id": "42" },
                    { "__typename": "Review", "id": "999" },
                ] }),
            )
            .await;
        assert_eq!(
            response,
            json!({ "data": { "_entities": [
                { "id": "3", "reviews": [
                    { "id": "60", "product": { "id": "13" } },
                    { "id": "57", "product": { "id": "36" } },
                    { "id": "51", "product": { "id": "29" } },
                ] },
                { "id": "1", "rating": 5, "body": "Crisp and sweet, every apple in the bag was perfect.",
                  "createdAt": "2026-02-01T09:30:00+00:00", "author": { "username": "ada" } },
                { "id": "42", "reviews": [] },
                null,
            ] } })
        );
        let by_id = stack.gql("reviews", r#"{ review(id: "2") { id author { id } } nope: review(id: "x") { id } }"#, json!({})).await;
        assert_eq!(by_id, json!({ "data": { "review": { "id": "2", "author": { "id": "4" } }, "nope": null } }));
        stack
    })
    .await;
}

#[tokio::test]
async fn adding_a_review_needs_a_signed_in_user_and_writes_nothing_without_one() {
    each_backend(|stack| async move {
        let variables = json!({ "productId": "11", "rating": 4, "body": "Lovely rye." });
        let response = stack.gql("reviews", ADD_REVIEW, variables).await;
        assert_eq!(error_code(&response), "UNAUTHENTICATED", "{response}");
        assert_eq!(response["data"], json!(null));
        assert_eq!(review_count(&stack, "11").await, json!(0));
        stack
    })
    .await;
}

#[tokio::test]
async fn a_signed_in_user_adds_a_review_once_and_it_shows_up() {
    each_backend(|stack| async move {
        let token = stack.login("ada@example.com").await;
        let variables = json!({ "productId": "11", "rating": 4, "body": "  Dense and nutty, great toasted.  " });
        let added = stack.gql_as("reviews", &token, ADD_REVIEW, variables.clone()).await;
        assert_eq!(
            added,
            json!({ "data": { "addReview": {
                "id": "61", "rating": 4, "body": "Dense and nutty, great toasted.",
                "author": { "id": "1", "username": "ada" }, "product": { "id": "11" },
            } },
            "extensions": { "invalidate": [{ "__typename": "Product", "id": "11" }] } })
        );
        let shown = stack
            .gql(
                "reviews",
                "query($r: [_Any!]!) { _entities(representations: $r) {
                    ... on Product { averageRating reviewCount reviews { id } }
                    ... on User { reviews(first: 1) { id product { id } } }
                } }",
                json!({ "r": [{ "__typename": "Product", "id": "11" }, { "__typename": "User", "id": "1" }] }),
            )
            .await;
        assert_eq!(
            shown,
            json!({ "data": { "_entities": [
                { "averageRating": 4.0, "reviewCount": 1, "reviews": [{ "id": "61" }] },
                { "reviews": [{ "id": "61", "product": { "id": "11" } }] },
            ] } })
        );

        let again = stack.gql_as("reviews", &token, ADD_REVIEW, variables).await;
        assert_eq!(error_code(&again), "CONFLICT", "{again}");
        let seeded = json!({ "productId": "1", "rating": 1, "body": "Changed my mind." });
        let over_seed = stack.gql_as("reviews", &token, ADD_REVIEW, seeded).await;
        assert_eq!(error_code(&over_seed), "CONFLICT", "{over_seed}");
        assert_eq!(review_count(&stack, "11").await, json!(1));
        assert_eq!(review_count(&stack, "1").await, json!(2));
        stack
    })
    .await;
}

#[tokio::test]
async fn bad_review_input_is_refused_and_changes_nothing() {
    each_backend(|stack| async move {
        let token = stack.login("grace@example.com").await;
        let cases = [
            (json!({ "productId": "12", "rating": 0, "body": "Too harsh." }), "BAD_USER_INPUT"),
            (json!({ "productId": "12", "rating": 6, "body": "Too kind." }), "BAD_USER_INPUT"),
            (json!({ "productId": "12", "rating": 4, "body": "" }), "BAD_USER_INPUT"),
            (json!({ "productId": "12", "rating": 4, "body": "   " }), "BAD_USER_INPUT"),
            (json!({ "productId": "12", "rating": 4, "body": "a".repeat(2001) }), "BAD_USER_INPUT"),
            (json!({ "productId": "cookies", "rating": 4, "body": "Yum." }), "BAD_USER_INPUT"),
            (json!({ "productId": "-12", "rating": 4, "body": "Yum." }), "BAD_USER_INPUT"),
            (json!({ "productId": "999", "rating": 4, "body": "Where is it?" }), "NOT_FOUND"),
            (json!({ "productId": "12", "rating": 4, "body": "Nul\u{0000}byte" }), "BAD_USER_INPUT"),
            (json!({ "productId": "12", "rating": 4, "body": "\u{202E}desrever" }), "BAD_USER_INPUT"),
            (json!({ "productId": "12", "rating": 4, "body": "\u{001b}[2Jcleared" }), "BAD_USER_INPUT"),
        ];
        for (variables, code) in cases {
            let response = stack.gql_as("reviews", &token, ADD_REVIEW, variables.clone()).await;
            assert_eq!(error_code(&response), code, "{variables} -> {response}");
            assert_eq!(response["data"], json!(null));
        }
        assert_eq!(review_count(&stack, "12").await, json!(2));
        assert_eq!(review_count(&stack, "999").await, json!(0));
        let list_too_long = stack
            .gql(
                "reviews",
                "query($r: [_Any!]!) { _entities(representations: $r) { ... on Product { reviews(first: 51) { id } } } }",
                json!({ "r": [{ "__typename": "Product", "id": "7" }] }),
            )
            .await;
        assert_eq!(error_code(&list_too_long), "BAD_USER_INPUT", "{list_too_long}");
        stack
    })
    .await;
}
