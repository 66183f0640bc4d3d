//! Tests of the accounts subgraph over HTTP: sign-up, login, tokens, entities and bad input.

use serde_json::json;
use tributary_tests::{each_backend, error_code};

#[tokio::test]
async fn service_sdl_declares_the_user_entity() {
    each_backend(|stack| async move {
        let response = stack
            .gql("accounts", "{ _service { sdl } }", json!({}))
            .await;
        let sdl = response["data"]["_service"]["sdl"]
            .as_str()
            .unwrap_or_default();
        assert!(sdl.contains(r#"type User @key(fields: "id")"#), "{sdl}");
        assert!(sdl.contains("specs.apollo.dev/federation/v2"), "{sdl}");
        stack
    })
    .await;
}

#[tokio::test]
async fn login_returns_a_token_that_identifies_the_user() {
    each_backend(|stack| async move {
        let token = stack.login("grace@example.com").await;
        let me = stack
            .gql_as(
                "accounts",
                &token,
                "{ me { id name username email } }",
                json!({}),
            )
            .await;
        assert_eq!(
            me,
            json!({ "data": { "me": {
                "id": "2", "name": "Grace Hopper", "username": "grace", "email": "grace@example.com"
            } } })
        );
        let anonymous = stack.gql("accounts", "{ me { id } }", json!({})).await;
        assert_eq!(anonymous, json!({ "data": { "me": null } }));
        stack
    })
    .await;
}

#[tokio::test]
async fn wrong_credentials_are_refused_alike() {
    each_backend(|stack| async move {
        let login =
            "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }";
        for (email, password) in [
            ("ada@example.com", "wrong-password"),
            ("nobody@example.com", "tributary-demo"),
        ] {
            let response = stack
                .gql("accounts", login, json!({ "e": email, "p": password }))
                .await;
            assert_eq!(error_code(&response), "UNAUTHENTICATED", "{response}");
            assert_eq!(
                response["errors"][0]["message"],
                "invalid email or password"
            );
            assert_eq!(response["data"], json!(null));
        }
        stack
    })
    .await;
}

#[tokio::test]
async fn sign_up_creates_an_account_once() {
    each_backend(|stack| async move {
        let sign_up = "mutation($input: SignUpInput!) { signUp(input: $input) { token user { id username name } } }";
        let input = json!({ "input": {
            "email": "Linus@Example.com", "name": "Linus", "username": "linus", "password": "correct horse"
        } });
        let created = stack.gql("accounts", sign_up, input.clone()).await;
        assert_eq!(created["data"]["signUp"]["user"], json!({ "id": "7", "username": "linus", "name": "Linus" }), "{created}");
        let token = created["data"]["signUp"]["token"].as_str().unwrap_or_default().to_owned();
        let me = stack.gql_as("accounts", &token, "{ me { email } }", json!({})).await;
        assert_eq!(me, json!({ "data": { "me": { "email": "linus@example.com" } } }));

        let again = stack.gql("accounts", sign_up, input).await;
        assert_eq!(error_code(&again), "CONFLICT", "{again}");
        let users = stack.gql("accounts", "{ users(first: 100) { nodes { id } } }", json!({})).await;
        assert_eq!(users["data"]["users"]["nodes"].as_array().map(Vec::len), Some(7));
        stack
    })
    .await;
}

#[tokio::test]
async fn bad_sign_up_input_is_refused_and_changes_nothing() {
    each_backend(|stack| async move {
        let sign_up = "mutation($input: SignUpInput!) { signUp(input: $input) { token } }";
        let cases = [
            json!({ "email": "not-an-email", "name": "X", "username": "xavier", "password": "long enough" }),
            json!({ "email": "x@example.com", "name": "   ", "username": "xavier", "password": "long enough" }),
            json!({ "email": "x@example.com", "name": "X", "username": "No Spaces", "password": "long enough" }),
            json!({ "email": "x@example.com", "name": "X", "username": "xavier", "password": "short" }),
            json!({ "email": "x@example.com", "name": "X".repeat(101), "username": "xavier", "password": "long enough" }),
            json!({ "email": "grace@example.com", "name": "X", "username": "xavier", "password": "long enough" }),
            // Input hygiene: control and bidi characters, and malformed emails.
            json!({ "email": "x@example.com", "name": "Nul\u{0000}Byte", "username": "xavier", "password": "long enough" }),
            json!({ "email": "x@example.com", "name": "\u{202E}evil\u{202C}", "username": "xavier", "password": "long enough" }),
            json!({ "email": "x@example.com", "name": "Bell\u{0007}", "username": "xavier", "password": "long enough" }),
            json!({ "email": "x@example.com", "name": "\u{001b}[31mRed\u{001b}[0m", "username": "xavier", "password": "long enough" }),
            json!({ "email": "x@example.com", "name": "X", "username": "xavier", "password": "long\u{0000}enough" }),
            json!({ "email": "a@@b.c", "name": "X", "username": "xavier", "password": "long enough" }),
            json!({ "email": "a@b..c", "name": "X", "username": "xavier", "password": "long enough" }),
            json!({ "email": "<script>alert(1)</script>@x.io", "name": "X", "username": "xavier", "password": "long enough" }),
            json!({ "email": "a@localhost", "name": "X", "username": "xavier", "password": "long enough" }),
        ];
        let mut expected = vec!["BAD_USER_INPUT"; 5];
        expected.push("CONFLICT");
        expected.extend(["BAD_USER_INPUT"; 9]);
        for (input, code) in cases.into_iter().zip(expected) {
            let response = stack.gql("accounts", sign_up, json!({ "input": input })).await;
            assert_eq!(error_code(&response), code, "{input} -> {response}");
        }
        let users = stack.gql("accounts", "{ users(first: 100) { nodes { id } } }", json!({})).await;
        assert_eq!(users["data"]["users"]["nodes"].as_array().map(Vec::len), Some(6));
        // A literal argument is checked like a variable.
        let literal = stack
            .gql(
                "accounts",
                r#"mutation { login(email: "ada@example.com", password: "x\u0000y") { token } }"#,
                json!({}),
            )
            .await;
        assert_eq!(error_code(&literal), "BAD_USER_INPUT", "{literal}");
        stack
    })
    .await;
}

#[tokio::test]
async fn entities_resolve_a_batch_in_order_with_null_for_unknown_ids() {
    each_backend(|stack| async move {
        let response = stack
            .gql(
                "accounts",
                "query($r: [_Any!]!) { _entities(representations: $r) { ... on User { id username } } }",
                json!({ "r": [
                    { "__typename": "User", "id": "3" },
                    { "__typename": "User", "id": "999" },
                    { "__typename": "User", "id": "1" },
                    { "__typename": "User", "id": "not-a-number" },
                    { "__typename": "User", "id": "3" },
                ] }),
            )
            .await;
        assert_eq!(
            response,
            json!({ "data": { "_entities": [
                { "id": "3", "username": "alan" },
                null,
                { "id": "1", "username": "ada" },
                null,
                { "id": "3", "username": "alan" },
            ] } })
        );
        stack
    })
    .await;
}

#[tokio::test]
async fn users_page_through_with_cursors() {
    each_backend(|stack| async move {
        let page = "query($after: String) { users(first: 4, after: $after) { nodes { username } pageInfo { hasNextPage endCursor } } }";
        let first = stack.gql("accounts", page, json!({})).await;
        assert_eq!(
            first["data"]["users"],
            json!({ "nodes": [{ "username": "ada" }, { "username": "grace" }, { "username": "alan" }, { "username": "edsger" }],
                    "pageInfo": { "hasNextPage": true, "endCursor": "c4" } })
        );
        let second = stack.gql("accounts", page, json!({ "after": "c4" })).await;
        assert_eq!(
            second["data"]["users"],
            json!({ "nodes": [{ "username": "barbara" }, { "username": "ken" }],
                    "pageInfo": { "hasNextPage": false, "endCursor": "c6" } })
        );
        for bad in [
            json!({ "after": "garbage" }),
            json!({ "after": "c2147483648" }),
            json!({ "after": "c9223372036854775808" }),
        ] {
            let response = stack.gql("accounts", page, bad).await;
            assert_eq!(error_code(&response), "BAD_USER_INPUT", "{response}");
        }
        let too_many = stack.gql("accounts", "{ users(first: 1000) { nodes { id } } }", json!({})).await;
        assert_eq!(error_code(&too_many), "BAD_USER_INPUT");
        stack
    })
    .await;
}

#[tokio::test]
async fn a_forged_or_malformed_token_is_refused() {
    each_backend(|stack| async move {
        let forged = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIiwic2NvcGUiOiJ1c2VyIiwiZXhwIjo0MTAyNDQ0ODAwLCJpYXQiOjAsImlzcyI6InRyaWJ1dGFyeSJ9.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        let response = stack.gql_as("accounts", forged, "{ me { id } }", json!({})).await;
        assert_eq!(error_code(&response), "UNAUTHENTICATED", "{response}");
        let malformed = stack
            .http()
            .post(stack.url("accounts"))
            .header("authorization", "Basic abc")
            .json(&json!({ "query": "{ me { id } }" }))
            .send()
            .await
            .expect("request");
        let body: serde_json::Value = malformed.json().await.expect("json");
        assert_eq!(error_code(&body), "UNAUTHENTICATED", "{body}");
        stack
    })
    .await;
}

#[tokio::test]
async fn health_reports_the_database() {
    each_backend(|stack| async move {
        let url = stack.url("accounts").replace("/graphql", "/health");
        let body: serde_json::Value = stack
            .http()
            .get(url)
            .send()
            .await
            .expect("health")
            .json()
            .await
            .expect("json");
        assert_eq!(body, json!({ "status": "ok", "subgraph": "accounts" }));
        stack
    })
    .await;
}

#[tokio::test]
async fn a_cursor_past_what_a_database_binds_is_bad_input_and_the_subgraph_keeps_serving() {
    each_backend(|stack| async move {
        let page = r#"{ users(after: "c9223372036854775808") { nodes { id } } }"#;
        let response = stack.gql("accounts", page, json!({})).await;
        assert_eq!(error_code(&response), "BAD_USER_INPUT", "{response}");
        assert_eq!(
            response["errors"][0]["message"],
            json!("`after` is not a valid cursor")
        );
        let after = stack
            .gql(
                "accounts",
                "{ users(first: 1) { nodes { id } } }",
                json!({}),
            )
            .await;
        assert_eq!(
            after,
            json!({ "data": { "users": { "nodes": [{ "id": "1" }] } } })
        );
        stack
    })
    .await;
}

#[tokio::test]
async fn a_request_body_over_one_mebibyte_is_refused_unread() {
    each_backend(|stack| async move {
        let padding = " ".repeat(1024 * 1024);
        let body = format!(r#"{{"query": "{{ users(first: 1) {{ nodes {{ id }} }} }}{padding}"}}"#);
        let response = stack
            .http()
            .post(stack.url("accounts"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 413);
        let small = stack
            .gql(
                "accounts",
                "{ users(first: 1) { nodes { id } } }",
                json!({}),
            )
            .await;
        assert_eq!(
            small,
            json!({ "data": { "users": { "nodes": [{ "id": "1" }] } } })
        );
        stack
    })
    .await;
}
