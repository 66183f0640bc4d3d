//! Tests of the accounts subgraph over HTTP: sign-up, login, tokens, sessions and their refresh
//! tokens, entities and bad input.

use serde_json::{Value, json};
use subgraph_kit::sea_orm::ConnectionTrait;
use tributary_tests::{DEMO_PASSWORD, TestStack, each_backend, error_code};

const LOGIN: &str = "mutation($email: String!, $password: String!) {
    login(email: $email, password: $password) { token expiresAt refreshToken refreshExpiresAt user { username } } }";

const REFRESH: &str = "mutation($refreshToken: String!) {
    refreshSession(refreshToken: $refreshToken) { token expiresAt refreshToken refreshExpiresAt user { username } } }";

const SIGN_OUT: &str = "mutation($refreshToken: String!) { signOut(refreshToken: $refreshToken) }";

/// Signs `email` in and returns the `login` payload.
async fn sign_in(stack: &TestStack, email: &str) -> Value {
    let response = stack
        .gql(
            "accounts",
            LOGIN,
            json!({ "email": email, "password": DEMO_PASSWORD }),
        )
        .await;
    assert!(response["errors"].is_null(), "{response}");
    response["data"]["login"].clone()
}

/// Presents `refresh_token` to `refreshSession`; the whole response.
async fn refresh(stack: &TestStack, refresh_token: &Value) -> Value {
    stack
        .gql(
            "accounts",
            REFRESH,
            json!({ "refreshToken": refresh_token }),
        )
        .await
}

/// The username `me` answers for an access token.
async fn me(stack: &TestStack, token: &Value) -> Value {
    let token = token.as_str().expect("an access token");
    stack
        .gql_as("accounts", token, "{ me { username } }", json!({}))
        .await["data"]["me"]["username"]
        .clone()
}

/// Asserts `response` is the refusal `UNAUTHENTICATED` with `message`, and no data.
fn assert_refused(response: &Value, message: &str) {
    assert_eq!(
        response,
        &json!({
            "data": null,
            "errors": [{
                "message": message,
                "locations": [{ "line": 2, "column": 5 }],
                "path": ["refreshSession"],
                "extensions": { "code": "UNAUTHENTICATED" },
            }],
        })
    );
}

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

#[tokio::test]
async fn login_returns_a_refresh_token_that_rotates_into_a_new_session_token() {
    each_backend(|stack| async move {
        let first = sign_in(&stack, "grace@example.com").await;
        let refresh_token = first["refreshToken"].as_str().expect("a refresh token");
        assert_eq!(refresh_token.len(), 43, "256 bits, base64url");
        assert!(refresh_token.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        let expires = |field: &str, payload: &Value| {
            let at = payload[field].as_str().expect("a date-time");
            let at = chrono::DateTime::parse_from_rfc3339(at)
                .unwrap_or_else(|err| panic!("{at}: {err}"));
            at.timestamp() - chrono::Utc::now().timestamp()
        };
        let thirty_days = 30 * 24 * 3600;
        assert!((thirty_days - 60..=thirty_days).contains(&expires("refreshExpiresAt", &first)), "{first}");
        assert!((24 * 3600 - 60..=24 * 3600).contains(&expires("expiresAt", &first)), "{first}");

        let second = refresh(&stack, &first["refreshToken"]).await;
        let second = &second["data"]["refreshSession"];
        assert_eq!(second["user"], json!({ "username": "grace" }), "{second}");
        assert_ne!(second["refreshToken"], first["refreshToken"]);
        assert_eq!(me(&stack, &second["token"]).await, json!("grace"));
        assert!((thirty_days - 60..=thirty_days).contains(&expires("refreshExpiresAt", second)));

        // The successor rotates in turn, and so on.
        let third = refresh(&stack, &second["refreshToken"]).await;
        assert_eq!(third["data"]["refreshSession"]["user"], json!({ "username": "grace" }), "{third}");

        // Sign-up starts a session too.
        let created = stack
            .gql(
                "accounts",
                "mutation($input: SignUpInput!) { signUp(input: $input) { refreshToken } }",
                json!({ "input": { "email": "mary@example.com", "name": "Mary", "username": "mary", "password": "correct horse" } }),
            )
            .await;
        let renewed = refresh(&stack, &created["data"]["signUp"]["refreshToken"]).await;
        assert_eq!(renewed["data"]["refreshSession"]["user"], json!({ "username": "mary" }), "{renewed}");
        stack
    })
    .await;
}

#[tokio::test]
async fn a_reused_refresh_token_revokes_its_whole_family_and_no_other_session() {
    each_backend(|stack| async move {
        let first = sign_in(&stack, "ada@example.com").await;
        let other_device = sign_in(&stack, "ada@example.com").await;
        let second = refresh(&stack, &first["refreshToken"]).await;
        let newer = second["data"]["refreshSession"]["refreshToken"].clone();
        assert!(newer.is_string(), "{second}");

        // The used token comes back (a stolen copy, say): the family ends, the newer token too.
        let replay = refresh(&stack, &first["refreshToken"]).await;
        assert_refused(&replay, "refresh token reuse detected; sign in again");
        assert_refused(
            &refresh(&stack, &newer).await,
            "the refresh token was revoked; sign in again",
        );
        assert_refused(
            &refresh(&stack, &first["refreshToken"]).await,
            "the refresh token was revoked; sign in again",
        );

        // Another sign-in is another family.
        let elsewhere = refresh(&stack, &other_device["refreshToken"]).await;
        assert_eq!(
            elsewhere["data"]["refreshSession"]["user"],
            json!({ "username": "ada" }),
            "{elsewhere}"
        );
        stack
    })
    .await;
}

#[tokio::test]
async fn sign_out_revokes_the_session_and_says_whether_there_was_one() {
    each_backend(|stack| async move {
        let first = sign_in(&stack, "alan@example.com").await;
        let second = refresh(&stack, &first["refreshToken"]).await;
        let current = second["data"]["refreshSession"]["refreshToken"].clone();
        let signed_out = stack
            .gql("accounts", SIGN_OUT, json!({ "refreshToken": current }))
            .await;
        assert_eq!(signed_out, json!({ "data": { "signOut": true } }));
        assert_refused(
            &refresh(&stack, &current).await,
            "the refresh token was revoked; sign in again",
        );
        let again = stack
            .gql("accounts", SIGN_OUT, json!({ "refreshToken": current }))
            .await;
        assert_eq!(
            again,
            json!({ "data": { "signOut": true } }),
            "signing out twice is fine"
        );
        let unknown = stack
            .gql(
                "accounts",
                SIGN_OUT,
                json!({ "refreshToken": "never-issued" }),
            )
            .await;
        assert_eq!(unknown, json!({ "data": { "signOut": false } }));
        stack
    })
    .await;
}

#[tokio::test]
async fn unknown_and_expired_refresh_tokens_are_refused() {
    each_backend(|stack| async move {
        for unknown in [json!("never-issued"), json!("x".repeat(10_000)), json!("")] {
            assert_refused(
                &refresh(&stack, &unknown).await,
                "the refresh token is not valid; sign in again",
            );
        }
        let session = sign_in(&stack, "edsger@example.com").await;
        let db = stack.deps("accounts").await.db;
        db.execute_unprepared("UPDATE refresh_tokens SET expires_at = '2001-01-01T00:00:00+00:00'")
            .await
            .expect("every refresh token expired");
        assert_refused(
            &refresh(&stack, &session["refreshToken"]).await,
            "the refresh token has expired; sign in again",
        );
        stack
    })
    .await;
}

#[tokio::test]
async fn of_concurrent_refreshes_with_one_token_exactly_one_wins_and_the_session_ends() {
    each_backend(|stack| async move {
        for round in 0..3 {
            let session = sign_in(&stack, "barbara@example.com").await;
            let token = &session["refreshToken"];
            let answers = futures::future::join_all((0..4).map(|_| refresh(&stack, token))).await;
            let winners: Vec<&Value> = answers
                .iter()
                .filter(|answer| answer["data"]["refreshSession"].is_object())
                .collect();
            assert_eq!(winners.len(), 1, "round {round}: {answers:?}");
            // Each loser presented a used token (reuse, which revokes the family) or came after
            // another loser had revoked it.
            let losers: Vec<&str> = answers
                .iter()
                .filter(|answer| answer["data"].is_null())
                .map(|answer| {
                    assert_eq!(error_code(answer), "UNAUTHENTICATED", "{answer}");
                    answer["errors"][0]["message"].as_str().unwrap_or_default()
                })
                .collect();
            let reuse = "refresh token reuse detected; sign in again";
            let revoked = "the refresh token was revoked; sign in again";
            assert_eq!(losers.len(), 3, "{answers:?}");
            assert!(losers.contains(&reuse), "{losers:?}");
            assert!(
                losers.iter().all(|m| *m == reuse || *m == revoked),
                "{losers:?}"
            );
            // The losers were second uses, which end the session: the winner's token with it.
            let winner_token = &winners[0]["data"]["refreshSession"]["refreshToken"];
            assert_refused(
                &refresh(&stack, winner_token).await,
                "the refresh token was revoked; sign in again",
            );
        }
        stack
    })
    .await;
}
