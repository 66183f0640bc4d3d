//! Tests of the web BFF: its own fields answered with the domains' data in one request, the
//! full API schema, compression and GraphiQL.

use reqwest::header;
use serde_json::{Value, json};
use tributary_tests::{Bff, Environment, each_backend, error_code};

const PRODUCT_PAGE: &str = "query ProductPage($id: ID!) {
  productPage(id: $id) {
    product {
      id name priceCents currency
      breadcrumbs { label path }
      inStock shippingEstimateCents
      reviewCount
      reviews(first: 2) { rating author { name username } }
    }
    recommended(first: 2) { id name }
  }
}";

#[tokio::test]
async fn a_product_page_is_one_request_and_one_request_per_subgraph() {
    each_backend(|stack| async move {
        let web = stack.counted_bff(Bff::Web, Environment::Development).await;
        let response: Value = stack
            .http()
            .post(web.url())
            .json(&json!({ "query": PRODUCT_PAGE, "variables": { "id": "25" } }))
            .send()
            .await
            .expect("the web BFF answers")
            .json()
            .await
            .expect("JSON");
        assert_eq!(
            response,
            json!({ "data": { "productPage": {
                "product": {
                    "id": "25",
                    "name": "Dark Roast Coffee Beans",
                    "priceCents": 1899,
                    "currency": "USD",
                    "breadcrumbs": [
                        { "label": "Home", "path": "/" },
                        { "label": "Beverages", "path": "/c/beverages" },
                        { "label": "Dark Roast Coffee Beans", "path": "/p/25" },
                    ],
                    "inStock": true,
                    "shippingEstimateCents": 599,
                    "reviewCount": 3,
                    "reviews": [
                        { "rating": 5, "author": { "name": "Ken Thompson", "username": "ken" } },
                        { "rating": 4, "author": { "name": "Alan Turing", "username": "alan" } },
                    ],
                },
                "recommended": [
                    { "id": "2", "name": "Hass Avocados" },
                    { "id": "8", "name": "Butter Croissants" },
                ],
            } } })
        );
        // The page itself and the breadcrumbs come from the in-process `web` subgraph; every
        // domain subgraph is asked once: catalog for the products, then inventory and reviews
        // side by side, then accounts for the authors' names (reviews provides usernames).
        let requests = web.take_subgraph_requests();
        let expected = [
            ("accounts", 1),
            ("catalog", 1),
            ("inventory", 1),
            ("reviews", 1),
        ];
        assert_eq!(
            requests,
            expected
                .iter()
                .map(|(n, c)| ((*n).to_owned(), *c))
                .collect(),
        );
        stack
    })
    .await;
}

#[tokio::test]
async fn the_product_page_comes_first_and_its_slow_reviews_after() {
    each_backend(|stack| async move {
        let web = stack.counted_bff(Bff::Web, Environment::Development).await;
        web.fault(
            "reviews",
            tributary_tests::Fault::Delay(std::time::Duration::from_millis(800)),
        );
        let started = std::time::Instant::now();
        let mut response = stack
            .http()
            .post(web.url())
            .header(
                "accept",
                "multipart/mixed;deferSpec=20220824,application/json",
            )
            .json(&json!({
                "query": bff_web::PRODUCT_PAGE_DEFERRED,
                "variables": { "id": "25" },
            }))
            .send()
            .await
            .expect("the web BFF answers");
        let content_type = response.headers()[header::CONTENT_TYPE]
            .to_str()
            .expect("a content type")
            .to_owned();
        assert!(
            content_type.starts_with("multipart/mixed"),
            "{content_type}: {:?}",
            response.text().await
        );
        let mut text = String::new();
        let mut parts: Vec<(std::time::Duration, Value)> = Vec::new();
        while let Some(chunk) = response.chunk().await.expect("the body reads") {
            text.push_str(&String::from_utf8_lossy(&chunk));
            for part in text.split("\r\n--graphql").skip(1 + parts.len()) {
                let Some(body) = part.split("\r\n\r\n").nth(1) else {
                    continue;
                };
                if let Ok(value) = serde_json::from_str::<Value>(body) {
                    parts.push((started.elapsed(), value));
                }
            }
        }
        assert_eq!(parts.len(), 3, "{text}");
        let (first_at, initial) = &parts[0];
        assert!(
            *first_at < std::time::Duration::from_millis(700),
            "the page waited for reviews: {first_at:?}"
        );
        let product = &initial["data"]["productPage"]["product"];
        assert_eq!(product["name"], json!("Dark Roast Coffee Beans"));
        assert_eq!(product["inStock"], json!(true));
        assert!(product.get("reviews").is_none(), "{initial}");
        assert_eq!(initial["hasNext"], json!(true));
        let labels: Vec<&Value> = parts[1..]
            .iter()
            .map(|(_, part)| &part["incremental"][0]["label"])
            .collect();
        assert_eq!(labels, [&json!("recommended"), &json!("reviews")]);
        let (reviews_at, reviews) = &parts[2];
        assert!(*reviews_at >= std::time::Duration::from_millis(800));
        let item = &reviews["incremental"][0];
        assert_eq!(item["path"], json!(["productPage", "product"]));
        assert_eq!(item["data"]["reviewCount"], json!(3));
        assert_eq!(
            item["data"]["reviews"][0]["author"]["username"],
            json!("ken")
        );
        assert_eq!(reviews["hasNext"], json!(false));
        stack
    })
    .await;
}

#[tokio::test]
async fn an_unknown_product_has_no_page() {
    each_backend(|stack| async move {
        for id in ["999", "not-an-id"] {
            let response = stack
                .gql(
                    "web",
                    "query($id: ID!) { productPage(id: $id) { product { id name } } }",
                    json!({ "id": id }),
                )
                .await;
            assert_eq!(
                response["data"],
                json!({ "productPage": null }),
                "{id}: {response}"
            );
        }
        stack
    })
    .await;
}

#[tokio::test]
async fn the_storefront_features_products_and_lists_every_category_with_counts() {
    each_backend(|stack| async move {
        let response = stack
            .gql(
                "web",
                "{ storefront {
                    featured(first: 3) { id name inStock }
                    categories { name slug productCount }
                } }",
                json!({}),
            )
            .await;
        let category =
            |name: &str, slug: &str| json!({ "name": name, "slug": slug, "productCount": 6 });
        assert_eq!(
            response,
            json!({ "data": { "storefront": {
                "featured": [
                    { "id": "2", "name": "Hass Avocados", "inStock": true },
                    { "id": "8", "name": "Butter Croissants", "inStock": true },
                    { "id": "15", "name": "Aged Cheddar", "inStock": true },
                ],
                "categories": [
                    category("Fresh Produce", "produce"),
                    category("Bakery", "bakery"),
                    category("Dairy & Eggs", "dairy"),
                    category("Pantry", "pantry"),
                    category("Beverages", "beverages"),
                    category("Kitchen", "kitchen"),
                ],
            } } })
        );
        let too_many = stack
            .gql(
                "web",
                "{ storefront { featured(first: 25) { id } } }",
                json!({}),
            )
            .await;
        assert_eq!(error_code(&too_many), "BAD_USER_INPUT", "{too_many}");
        stack
    })
    .await;
}

#[tokio::test]
async fn web_only_fields_are_refused_by_mobile_validation_and_served_on_web() {
    each_backend(|stack| async move {
        let cases = [
            ("Product.description", r#"{ product(id: "1") { description } }"#),
            ("Category.products", r#"{ category(slug: "bakery") { products(first: 2) { nodes { id } } } }"#),
            ("Query.users", "{ users(first: 2) { nodes { id } } }"),
        ];
        for (field, query) in cases {
            let mobile = stack.gql("mobile", query, json!({})).await;
            assert_eq!(error_code(&mobile), "GRAPHQL_VALIDATION_FAILED", "{field} on mobile: {mobile}");
            assert!(mobile.get("data").is_none(), "{field} on mobile: {mobile}");
        }
        let web = stack.gql("web", cases[0].1, json!({})).await;
        assert_eq!(
            web,
            json!({ "data": { "product": {
                "description": "Crisp, sweet apples from Washington orchards, 1 kg bag."
            } } })
        );
        let web = stack.gql("web", cases[1].1, json!({})).await;
        assert_eq!(
            web,
            json!({ "data": { "category": { "products": { "nodes": [{ "id": "7" }, { "id": "8" }] } } } })
        );
        stack
    })
    .await;
}

#[tokio::test]
async fn compressed_responses_decode_to_the_same_json() {
    each_backend(|stack| async move {
        let body = json!({ "query": "{ storefront { featured { id name priceCents currency imageUrl inStock } categories { id name slug productCount } } }" });
        let plain = reqwest::Client::builder()
            .no_gzip()
            .no_brotli()
            .no_zstd()
            .build()
            .expect("a client");
        let identity = plain
            .post(stack.url("web"))
            .header(header::ACCEPT_ENCODING, "identity")
            .json(&body)
            .send()
            .await
            .expect("an answer");
        assert!(identity.headers().get(header::CONTENT_ENCODING).is_none());
        let expected: Value = identity.json().await.expect("JSON");
        assert!(expected["data"]["storefront"]["featured"].as_array().is_some_and(|f| f.len() == 8), "{expected}");

        let clients = [
            ("gzip", reqwest::Client::builder().no_brotli().no_zstd().build()),
            ("br", reqwest::Client::builder().no_gzip().no_zstd().build()),
            ("zstd", reqwest::Client::builder().no_gzip().no_brotli().build()),
        ];
        for (encoding, decoding) in clients {
            let raw = plain
                .post(stack.url("web"))
                .header(header::ACCEPT_ENCODING, encoding)
                .json(&body)
                .send()
                .await
                .expect("an answer");
            assert_eq!(
                raw.headers().get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()),
                Some(encoding)
            );
            let compressed = raw.bytes().await.expect("a body");
            assert!(serde_json::from_slice::<Value>(&compressed).is_err(), "{encoding} body is not plain JSON");
            let decoded: Value = decoding
                .expect("a client")
                .post(stack.url("web"))
                .json(&body)
                .send()
                .await
                .expect("an answer")
                .json()
                .await
                .expect("decoded JSON");
            assert_eq!(decoded, expected, "{encoding}");
        }
        stack
    })
    .await;
}

#[tokio::test]
async fn graphiql_with_the_web_examples_in_development_only() {
    each_backend(|stack| async move {
        let page = stack
            .http()
            .get(stack.url("web"))
            .header(header::ACCEPT, "text/html")
            .send()
            .await
            .expect("an answer");
        assert_eq!(page.status(), 200);
        let html = page.text().await.expect("HTML");
        assert!(
            html.contains("GraphiQL") && html.contains("productPage"),
            "{html}"
        );
        // The page shows the engine's `Cache-Status` of each answer.
        assert!(
            html.contains("id=\"cache-status\"") && html.contains("headers.get('cache-status')"),
            "{html}"
        );

        let production = stack.counted_bff(Bff::Web, Environment::Production).await;
        let page = stack
            .http()
            .get(production.url())
            .header(header::ACCEPT, "text/html")
            .send()
            .await
            .expect("an answer");
        let text = page.text().await.expect("a body");
        assert!(!text.contains("GraphiQL"), "{text}");
        stack
    })
    .await;
}

#[tokio::test]
async fn the_spa_origin_passes_cors_and_batches_one_screen_in_one_post() {
    each_backend(|stack| async move {
        let url = stack.url("web");
        let preflight = stack
            .http()
            .request(reqwest::Method::OPTIONS, &url)
            .header(header::ORIGIN, "http://localhost:5173")
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "content-type,authorization,x-request-id",
            )
            .send()
            .await
            .expect("preflight");
        assert!(preflight.status().is_success(), "{}", preflight.status());
        let allowed = |name: &str| {
            preflight
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        assert_eq!(allowed("access-control-allow-origin"), "http://localhost:5173");
        assert_eq!(allowed("access-control-allow-credentials"), "true");
        assert!(allowed("access-control-allow-headers").contains("x-request-id"));

        // A browser may read the request id (and the cache validators) of an answer.
        let answered = stack
            .http()
            .post(&url)
            .header(header::ORIGIN, "http://localhost:5173")
            .json(&json!({ "query": "{ __typename }" }))
            .send()
            .await
            .expect("a cross-origin POST");
        let exposed = answered
            .headers()
            .get("access-control-expose-headers")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        assert!(exposed.contains("x-request-id") && exposed.contains("etag"), "{exposed}");
        assert!(answered.headers().contains_key("x-request-id"));

        let stranger = stack
            .http()
            .request(reqwest::Method::OPTIONS, &url)
            .header(header::ORIGIN, "https://evil.example")
            .header("access-control-request-method", "POST")
            .send()
            .await
            .expect("preflight");
        assert!(stranger.headers().get("access-control-allow-origin").is_none());

        let batch = json!([
            { "query": "{ storefront { featured(first: 1) { id name } } }" },
            { "query": "query($id: ID!) { product(id: $id) { name inStock } }", "variables": { "id": "3" } },
            { "query": "{ nope }" },
        ]);
        let answer: Value = stack
            .http()
            .post(&url)
            .json(&batch)
            .send()
            .await
            .expect("batch")
            .json()
            .await
            .expect("JSON");
        assert_eq!(answer[0]["data"]["storefront"]["featured"].as_array().map(Vec::len), Some(1));
        assert_eq!(answer[1], json!({ "data": { "product": { "name": "Bananas", "inStock": true } } }));
        assert_eq!(error_code(&answer[2]), "GRAPHQL_VALIDATION_FAILED");

        let too_many: Vec<Value> = (0..17).map(|_| json!({ "query": "{ __typename }" })).collect();
        let refused: Value = stack
            .http()
            .post(&url)
            .json(&too_many)
            .send()
            .await
            .expect("batch")
            .json()
            .await
            .expect("JSON");
        assert_eq!(error_code(&refused), "BATCH_LIMIT_EXCEEDED", "{refused}");
        stack
    })
    .await;
}

#[tokio::test]
async fn a_bad_token_is_one_401_before_any_subgraph_call_and_no_token_is_anonymous() {
    each_backend(|stack| async move {
        let web = stack
            .counted_bff_with(Bff::Web, Environment::Development, |config| {
                config.auth = tributary::engine_auth(tributary_tests::TEST_SECRET);
            })
            .await;
        let storefront = json!({ "query": "{ storefront { categories { name } } }" });
        // Signed with another secret.
        let forged = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIiwic2NvcGUiOiJ1c2VyIiwiZXhwIjo0MTAyNDQ0ODAwLCJpYXQiOjAsImlzcyI6InRyaWJ1dGFyeSJ9.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        let response = stack
            .http()
            .post(web.url())
            .bearer_auth(forged)
            .json(&storefront)
            .send()
            .await
            .expect("the web BFF answers");
        assert_eq!(response.status(), reqwest::StatusCode::UNAUTHORIZED);
        let body: Value = response.json().await.expect("JSON");
        assert_eq!(
            body,
            json!({ "errors": [{
                "message": "the token's signature is not valid",
                "extensions": { "code": "UNAUTHENTICATED" }
            }] })
        );
        assert!(web.take_subgraph_requests().is_empty());

        let response = stack
            .http()
            .post(web.url())
            .json(&storefront)
            .send()
            .await
            .expect("the web BFF answers");
        assert_eq!(response.status(), reqwest::StatusCode::OK);
        let body: Value = response.json().await.expect("JSON");
        assert!(body["data"]["storefront"]["categories"].as_array().is_some_and(|c| !c.is_empty()), "{body}");
        stack
    })
    .await;
}

#[tokio::test]
async fn introspection_answers_in_development_and_is_refused_in_production() {
    each_backend(|stack| async move {
        let introspect = json!({ "query": "{ __schema { queryType { name } } }" });
        for (environment, refused) in [
            (Environment::Development, false),
            (Environment::Production, true),
        ] {
            let web = stack.counted_bff(Bff::Web, environment).await;
            let body = stack.post_json(web.url(), &introspect).await;
            if refused {
                assert_eq!(error_code(&body), "INTROSPECTION_DISABLED", "{body}");
            } else {
                assert_eq!(
                    body["data"]["__schema"]["queryType"]["name"], "Query",
                    "{body}"
                );
            }
        }
        stack
    })
    .await;
}

#[tokio::test]
async fn another_users_order_is_not_found_through_the_web_bff() {
    each_backend(|stack| async move {
        let query = "query($id: ID!) { order(id: $id) { id status } }";
        let ada = stack.login("ada@example.com").await;
        let mine = stack.gql_as("web", &ada, query, json!({ "id": "1" })).await;
        assert_eq!(mine["data"]["order"]["id"], "1", "{mine}");
        let grace = stack.login("grace@example.com").await;
        let theirs = stack
            .gql_as("web", &grace, query, json!({ "id": "1" }))
            .await;
        assert_eq!(theirs["data"], json!({ "order": null }), "{theirs}");
        assert_eq!(error_code(&theirs), "NOT_FOUND", "{theirs}");
        assert_eq!(theirs["errors"][0]["path"], json!(["order"]), "{theirs}");
        stack
    })
    .await;
}
