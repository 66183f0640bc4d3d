//! GraphQL over HTTP: exact status codes, media types and bodies, as the GraphQL-over-HTTP
//! specification gives them for `application/graphql-response+json` and `application/json`.

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, ALLOW, CONTENT_TYPE};
use serde_json::{Value, json};

use crate::support::Stack;

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";
const JSON: &str = "application/json";

/// What the router answered: status, `Content-Type`, and the body as JSON.
struct Answer {
    status: StatusCode,
    content_type: String,
    allow: Option<String>,
    body: Value,
}

async fn read(response: reqwest::Response) -> Answer {
    let status = response.status();
    let header = |name| {
        response
            .headers()
            .get(name)
            .map(|v: &reqwest::header::HeaderValue| v.to_str().unwrap().to_owned())
    };
    let content_type = header(CONTENT_TYPE).unwrap_or_default();
    let allow = header(ALLOW);
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text:?}"));
    Answer {
        status,
        content_type,
        allow,
        body,
    }
}

/// POSTs `body` (raw bytes) with the given `Content-Type` and `Accept`.
async fn post_raw(stack: &Stack, content_type: &str, accept: &str, body: Vec<u8>) -> Answer {
    let response = stack
        .client
        .post(stack.endpoint())
        .header(CONTENT_TYPE, content_type)
        .header(ACCEPT, accept)
        .body(body)
        .send()
        .await
        .unwrap();
    read(response).await
}

async fn post(stack: &Stack, accept: &str, body: Value) -> Answer {
    post_raw(stack, JSON, accept, serde_json::to_vec(&body).unwrap()).await
}

/// Percent-encodes `text` for a query string (everything but unreserved characters).
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn get(stack: &Stack, accept: &str, params: &[(&str, &str)]) -> Answer {
    let query: Vec<String> = params
        .iter()
        .map(|(name, value)| format!("{name}={}", encode(value)))
        .collect();
    let response = stack
        .client
        .get(format!("{}?{}", stack.endpoint(), query.join("&")))
        .header(ACCEPT, accept)
        .send()
        .await
        .unwrap();
    read(response).await
}

fn error(code: &str, message: &str) -> Value {
    json!({ "errors": [{ "message": message, "extensions": { "code": code } }] })
}

/// The one error's code.
fn code(body: &Value) -> &str {
    assert_eq!(body["errors"].as_array().map(Vec::len), Some(1), "{body}");
    assert!(body.get("data").is_none(), "{body}");
    body["errors"][0]["extensions"]["code"].as_str().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_json_answers_in_the_media_type_asked_for() {
    let stack = Stack::start().await;
    let request = json!({
        "query": "query Title($id: ID!) { book(id: $id) { title } }",
        "operationName": "Title",
        "variables": { "id": "b3" },
    });
    let expected = json!({ "data": { "book": { "title": "Solaris" } } });

    let answer = post(&stack, GRAPHQL_RESPONSE, request.clone()).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.content_type, GRAPHQL_RESPONSE);
    assert_eq!(answer.body, expected);

    let answer = post(&stack, JSON, request.clone()).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.content_type, JSON);
    assert_eq!(answer.body, expected);

    // Preference order in `Accept`, parameters on media types, a charset on the request.
    let accept = "application/json;q=0.9, application/graphql-response+json";
    let body = serde_json::to_vec(&request).unwrap();
    let answer = post_raw(&stack, "application/json; charset=utf-8", accept, body).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.content_type, GRAPHQL_RESPONSE);
    assert_eq!(answer.body, expected);

    // No `Accept` at all is treated as `application/json`.
    let response = stack
        .client
        .post(stack.endpoint())
        .json(&request)
        .send()
        .await
        .unwrap();
    let plain = read(response).await;
    assert_eq!(
        (plain.status, plain.content_type.as_str()),
        (StatusCode::OK, JSON)
    );
    assert_eq!(plain.body, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_runs_queries_with_json_encoded_variables() {
    let stack = Stack::start().await;

    let answer = get(
        &stack,
        GRAPHQL_RESPONSE,
        &[
            (
                "query",
                "query ($id: ID!) { author(id: $id) { name born } }",
            ),
            ("variables", r#"{"id":"a4"}"#),
        ],
    )
    .await;

    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.content_type, GRAPHQL_RESPONSE);
    assert_eq!(
        answer.body,
        json!({ "data": { "author": { "name": "Italo Calvino", "born": 1923 } } })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_refuses_mutations_with_405_and_allow_post() {
    let stack = Stack::start().await;

    for accept in [GRAPHQL_RESPONSE, JSON] {
        let answer = get(&stack, accept, &[("query", "mutation { double }")]).await;
        assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(answer.allow.as_deref(), Some("POST"));
        assert_eq!(
            answer.body,
            error(
                "METHOD_NOT_ALLOWED",
                "only queries may be sent with GET; use POST"
            )
        );
    }
    assert_eq!(stack.requests()["books"], json!(0), "nothing was executed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parse_errors_are_400_for_graphql_response_json_and_200_for_json() {
    let stack = Stack::start().await;
    let request = json!({ "query": "{ books { title }" });

    let answer = post(&stack, GRAPHQL_RESPONSE, request.clone()).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.content_type, GRAPHQL_RESPONSE);
    assert_eq!(code(&answer.body), "GRAPHQL_PARSE_FAILED");
    let parse_failure = answer.body;

    let answer = post(&stack, JSON, request).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.content_type, JSON);
    assert_eq!(answer.body, parse_failure);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validation_errors_name_each_broken_rule_with_its_location() {
    let stack = Stack::start().await;

    let answer = post(
        &stack,
        GRAPHQL_RESPONSE,
        json!({ "query": "{ books { title pages } nope }" }),
    )
    .await;

    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        answer.body,
        json!({ "errors": [
            {
                "message": "Cannot query field \"pages\" on type \"Book\".",
                "locations": [{ "line": 1, "column": 17 }],
                "extensions": { "code": "GRAPHQL_VALIDATION_FAILED" },
            },
            {
                "message": "Cannot query field \"nope\" on type \"Query\".",
                "locations": [{ "line": 1, "column": 25 }],
                "extensions": { "code": "GRAPHQL_VALIDATION_FAILED" },
            },
        ] })
    );
    assert_eq!(stack.requests()["books"], json!(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_operation_name_is_refused() {
    let stack = Stack::start().await;
    let document = "query A { ping } query B { books { id } }";

    let answer = post(
        &stack,
        GRAPHQL_RESPONSE,
        json!({ "query": document, "operationName": "C" }),
    )
    .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        answer.body,
        error(
            "GRAPHQL_UNKNOWN_OPERATION_NAME",
            "unknown operation named \"C\""
        )
    );

    // Several operations and no name to choose one.
    let answer = post(&stack, GRAPHQL_RESPONSE, json!({ "query": document })).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(code(&answer.body), "GRAPHQL_VALIDATION_FAILED");

    // The named one runs.
    let answer = post(
        &stack,
        GRAPHQL_RESPONSE,
        json!({ "query": document, "operationName": "A" }),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body, json!({ "data": { "ping": "pong" } }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn variables_of_the_wrong_type_or_missing_are_bad_user_input() {
    let stack = Stack::start().await;
    let query = "query ($id: ID!, $express: Boolean!) { book(id: $id) { shippingEstimate(express: $express) } }";
    let cases = [
        (
            json!({ "id": "b1", "express": "yes" }),
            "Variable \"$express\" got invalid value \"yes\"; Boolean cannot represent a non boolean value: \"yes\"",
        ),
        (
            json!({ "express": true }),
            "Variable \"$id\" of required type \"ID!\" was not provided.",
        ),
        (
            json!({ "id": "b1" }),
            "Variable \"$express\" of required type \"Boolean!\" was not provided.",
        ),
        (
            json!({ "id": null }),
            "Variable \"$id\" got invalid value null; Expected non-nullable type \"ID!\" not to be null.",
        ),
        (
            json!({ "id": 1.5 }),
            "Variable \"$id\" got invalid value 1.5; ID cannot represent value: 1.5",
        ),
    ];

    for (variables, message) in cases {
        let request = json!({ "query": query, "variables": variables });
        let answer = post(&stack, GRAPHQL_RESPONSE, request.clone()).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{variables}");
        assert_eq!(answer.body, error("BAD_USER_INPUT", message));
        let answer = post(&stack, JSON, request).await;
        assert_eq!(answer.status, StatusCode::OK, "{variables}");
        assert_eq!(answer.body, error("BAD_USER_INPUT", message));
    }
    assert_eq!(stack.requests()["books"], json!(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_are_400_bad_request_whatever_the_media_type() {
    let stack = Stack::start().await;
    let bodies: [&[u8]; 7] = [
        b"{ not json",
        b"",
        b"42",
        br#"{"query": 42}"#,
        br#"{"query": "{ ping }", "variables": [1]}"#,
        br#"{"query": "{ ping }", "operationName": {}}"#,
        b"\xff\xfe{\"query\": \"{ ping }\"}",
    ];

    for body in bodies {
        for accept in [GRAPHQL_RESPONSE, JSON] {
            let answer = post_raw(&stack, JSON, accept, body.to_vec()).await;
            let shown = String::from_utf8_lossy(body);
            assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{shown} / {accept}");
            assert_eq!(code(&answer.body), "BAD_REQUEST", "{shown}");
        }
    }

    // A JSON array is a batch, which this configuration does not accept.
    let answer = post_raw(&stack, JSON, JSON, b"[1, 2]".to_vec()).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(code(&answer.body), "BATCHING_NOT_ENABLED");

    // A request without `query` is not a well-formed GraphQL-over-HTTP request either.
    for accept in [GRAPHQL_RESPONSE, JSON] {
        let answer = post(&stack, accept, json!({ "variables": {} })).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{accept}");
        assert_eq!(
            answer.body,
            error("BAD_REQUEST", "the request has no `query`")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_is_not_json_is_415() {
    let stack = Stack::start().await;

    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/graphql",
    ] {
        let answer = post_raw(&stack, content_type, GRAPHQL_RESPONSE, b"{ ping }".to_vec()).await;
        assert_eq!(
            answer.status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type}"
        );
        assert_eq!(
            answer.body,
            error(
                "UNSUPPORTED_MEDIA_TYPE",
                "POST bodies must be application/json"
            )
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_body_is_413_with_a_graphql_error() {
    let mut config = crate::support::config();
    config.server.max_body_bytes = 4096;
    let stack = Stack::start_with(config, crate::support::ALL).await;
    let padding = " ".repeat(8192);
    let request = json!({ "query": format!("{{ ping }}{padding}") });

    let answer = post(&stack, GRAPHQL_RESPONSE, request).await;

    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(answer.content_type, GRAPHQL_RESPONSE);
    assert_eq!(
        answer.body,
        error(
            "PAYLOAD_TOO_LARGE",
            "the request body is larger than the 4096 bytes accepted"
        )
    );
    assert_eq!(stack.requests()["authors"], json!(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accept_header_allowing_neither_json_type_is_406() {
    let stack = Stack::start().await;

    for accept in ["text/html", "application/xml", "image/png, text/plain"] {
        let answer = post(&stack, accept, json!({ "query": "{ ping }" })).await;
        assert_eq!(answer.status, StatusCode::NOT_ACCEPTABLE, "{accept}");
        assert_eq!(
            answer.body,
            error(
                "NOT_ACCEPTABLE",
                "the Accept header allows neither application/graphql-response+json nor application/json"
            )
        );
    }
    assert_eq!(stack.requests()["authors"], json!(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_string_that_is_not_graphql_or_json_is_400_with_a_graphql_error() {
    let stack = Stack::start().await;

    // `%FF` decodes to a byte that is not UTF-8: it reads as U+FFFD, which is not GraphQL.
    let response = stack
        .client
        .get(format!("{}?query=%FF%FE", stack.endpoint()))
        .header(ACCEPT, GRAPHQL_RESPONSE)
        .send()
        .await
        .unwrap();
    let answer = read(response).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(code(&answer.body), "GRAPHQL_PARSE_FAILED");

    // Variables that are not JSON.
    let answer = get(
        &stack,
        GRAPHQL_RESPONSE,
        &[("query", "{ ping }"), ("variables", "{oops")],
    )
    .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(code(&answer.body), "BAD_REQUEST");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_answers_ok_with_the_supergraph_version() {
    let stack = Stack::start().await;

    let response = stack
        .client
        .get(format!("{}/health", stack.base))
        .send()
        .await
        .unwrap();
    let answer = read(response).await;

    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.content_type, JSON);
    let version = format!("{:016x}", stack.engine.supergraph().version());
    assert_eq!(
        answer.body,
        json!({ "status": "ok", "supergraph": version })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browsers_get_graphiql_without_a_query() {
    let stack = Stack::start().await;
    let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

    let response = stack
        .client
        .get(stack.endpoint())
        .header(ACCEPT, browser)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    // Not to be framed elsewhere, nor sniffed as another type.
    for (name, value) in [
        ("x-frame-options", "DENY"),
        ("content-security-policy", "frame-ancestors 'none'"),
        ("referrer-policy", "no-referrer"),
        ("x-content-type-options", "nosniff"),
    ] {
        assert_eq!(response.headers()[name], value, "{name}");
    }
    let page = response.text().await.unwrap();
    assert!(page.contains("GraphiQL"), "{page}");
    assert!(page.contains(r#"url: "/graphql""#), "{page}");

    // GraphiQL works offline: the page names no other host, and every script and style sheet
    // it references is served here with its content type.
    assert!(
        !page.contains("http://") && !page.contains("https://") && !page.contains("//unpkg"),
        "{page}"
    );
    let mut assets = Vec::new();
    for (attribute, end) in [("src=\"", '"'), ("href=\"", '"')] {
        for (at, _) in page.match_indices(attribute) {
            let rest = &page[at + attribute.len()..];
            let asset = &rest[..rest.find(end).unwrap()];
            // The empty icon is inline, so browsers do not ask for `/favicon.ico`.
            if asset != "data:," {
                assets.push(asset.to_owned());
            }
        }
    }
    assert_eq!(assets.len(), 4, "{assets:?}");
    for asset in assets {
        let response = stack
            .client
            .get(format!("{}{asset}", stack.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{asset}");
        let content_type = response.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_owned();
        let expected = if asset.ends_with(".css") {
            "text/css"
        } else {
            "text/javascript"
        };
        assert!(
            content_type.starts_with(expected),
            "{asset}: {content_type}"
        );
        assert!(response.bytes().await.unwrap().len() > 1000, "{asset}");
    }

    // With a query, the same browser gets the result (`*/*` allows JSON).
    let answer = get(&stack, browser, &[("query", "{ ping }")]).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.content_type, JSON);
    assert_eq!(answer.body, json!({ "data": { "ping": "pong" } }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_is_refused_and_defer_is_answered_whole_without_multipart() {
    let stack = Stack::start().await;
    // A supergraph without a subscription root has no subscription to validate against.
    let answer = post(
        &stack,
        GRAPHQL_RESPONSE,
        json!({ "query": "subscription { ping }" }),
    )
    .await;
    assert_eq!(code(&answer.body), "GRAPHQL_VALIDATION_FAILED");
    let answer = post(
        &stack,
        GRAPHQL_RESPONSE,
        json!({ "query": "query Q { books @stream(initialCount: 1) { title } }" }),
    )
    .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(code(&answer.body), "OPERATION_NOT_SUPPORTED");
    // A client that reads no parts gets deferred fields in the one response.
    for document in [
        "{ books { title ... @defer { author { name } } } }",
        "{ ...F } fragment F on Query { books { ... @defer { title } } }",
    ] {
        let answer = post(&stack, GRAPHQL_RESPONSE, json!({ "query": document })).await;
        assert_eq!(answer.status, StatusCode::OK, "{document}");
        assert!(
            answer.body["data"]["books"][0]["title"].is_string(),
            "{document}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphiql_opens_the_first_examples_and_offers_every_one_by_name() {
    let mut config = crate::support::config();
    config.graphiql.examples = (1..=9)
        .map(|i| tributary_gateway::config::GraphiqlExample {
            name: format!("Example <{i}>"),
            query: format!("query Example{i} {{ ping }}"),
            variables: None,
        })
        .collect();
    let stack = Stack::start_with(config, crate::support::ALL).await;
    let page = stack
        .client
        .get(stack.endpoint())
        .header(ACCEPT, "text/html")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for i in 1..=9 {
        // Every example is in the picker under its (escaped) name, and in the page's list.
        assert!(
            page.contains(&format!(
                "<option value=\"{}\">Example &lt;{i}&gt;</option>",
                i - 1
            )),
            "{page}"
        );
        assert!(page.contains(&format!("query Example{i}")), "{page}");
    }
    assert!(page.contains("examples.slice(0, 4)"), "{page}");
    // Subscriptions run from the page over WebSocket on the same path.
    assert!(page.contains("subscriptionUrl: socketUrl.href"), "{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_field_named_like_a_meta_field_is_a_validation_error() {
    let stack = Stack::start().await;
    for document in [
        "{ __schem { types { name } } }",
        "{ books { __type { name } } }",
        "{ books { ... on Book { __foo } } }",
    ] {
        let answer = post(&stack, GRAPHQL_RESPONSE, json!({ "query": document })).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{document}");
        assert_eq!(
            code(&answer.body),
            "GRAPHQL_VALIDATION_FAILED",
            "{document}"
        );
    }
    // The real meta-fields still answer.
    let answer = post(
        &stack,
        GRAPHQL_RESPONSE,
        json!({ "query": "{ __typename __type(name: \"Book\") { name } books { __typename } }" }),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_client_sending_5_mb_receives_the_413() {
    let stack = Stack::start().await;
    let padding = " ".repeat(5 * 1024 * 1024);
    let body = format!(r#"{{"query":"{{ ping }}{padding}"}}"#);
    // A second request on the same client reuses the connection when it survived.
    for _ in 0..2 {
        let response = stack
            .client
            .post(stack.endpoint())
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .expect("the 413 arrives instead of a broken connection");
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let answer: Value = response.json().await.expect("a GraphQL error body");
        assert_eq!(
            answer["errors"][0]["extensions"]["code"],
            "PAYLOAD_TOO_LARGE"
        );
    }
    let answer = post(&stack, GRAPHQL_RESPONSE, json!({ "query": "{ ping }" })).await;
    assert_eq!(answer.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn introspection_turned_off_is_refused_and_typename_still_answers() {
    let mut config = crate::support::config();
    config.server.introspection = false;
    let stack = Stack::start_with(config, crate::support::ALL).await;
    let refused = error(
        "INTROSPECTION_DISABLED",
        "introspection is turned off on this endpoint",
    );
    for query in [
        "{ __schema { queryType { name } } }",
        r#"{ __type(name: "Author") { name } }"#,
        "{ ... on Query { __schema { types { name } } } }",
        "query { ...Q } fragment Q on Query { __type(name: \"Book\") { name } }",
    ] {
        let answer = post(&stack, GRAPHQL_RESPONSE, json!({ "query": query })).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(answer.body, refused, "{query}");
    }
    let answer = post(
        &stack,
        GRAPHQL_RESPONSE,
        json!({ "query": "{ __typename ping }" }),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.body,
        json!({ "data": { "__typename": "Query", "ping": "pong" } })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_on_their_own_address_with_bounded_client_names() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut config = crate::support::config();
    config.telemetry.metrics = false;
    config.telemetry.metrics_listen = Some(format!("127.0.0.1:{port}"));
    config.telemetry.client_names = vec!["shop-web".to_owned()];
    let stack = Stack::start_with(config, crate::support::ALL).await;
    assert_eq!(stack.get("/metrics").await.status(), StatusCode::NOT_FOUND);

    // 300 invented client names and the one configured.
    for i in 0..300 {
        let name = if i % 100 == 0 {
            "shop-web".to_owned()
        } else {
            format!("bot-{i}")
        };
        let response = stack
            .client
            .post(stack.endpoint())
            .header("apollographql-client-name", name)
            .json(&json!({ "query": "{ ping }" }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    // A refusal is counted by its code.
    let refused = post(&stack, GRAPHQL_RESPONSE, json!({ "query": "{ nope" })).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    let scraped = stack.get(&format!("http://127.0.0.1:{port}/metrics")).await;
    let text = scraped.text().await.unwrap();
    let names: std::collections::BTreeSet<&str> = text
        .lines()
        .filter(|line| line.starts_with("tributary_operations_total{"))
        .filter_map(|line| line.split("client_name=\"").nth(1)?.split('"').next())
        .collect();
    assert_eq!(names, ["other", "shop-web"].into_iter().collect(), "{text}");
    assert!(
        text.lines().any(|line| line
            .starts_with("tributary_refusals_total{error_code=\"GRAPHQL_PARSE_FAILED\"} 1")),
        "{text}"
    );
}
