//! The web BFF's cookie sessions, as a single-page app uses them: sign in at `/auth/login` and
//! get an `HttpOnly` cookie (never a token), read personal data with the cookie, send
//! mutations with the CSRF header too, sign out at `/auth/logout`; and two replicas sharing
//! the sessions through the real Redis.

use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap};
use serde_json::{Value, json};
use tributary_gateway::Config;
use tributary_tests::{Bff, CountedBff, DEMO_PASSWORD, Environment, TestStack, error_code};

const CSRF: &str = "x-tributary-csrf";

const ME: &str = "{ me { id name email } }";

const ADD_REVIEW: &str = "mutation($productId: ID!) {
  addReview(productId: $productId, rating: 5, body: \"Crisp crust, soft crumb.\") { rating author { username } }
}";

/// Redis for the replica test: `TEST_REDIS_URL`, or the local one. The test fails, never
/// skips, when it cannot be reached.
fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A key prefix of its own, so tests running at once never share sessions.
fn prefix(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("tributary-test:{test}:{}:{nanos}", std::process::id())
}

/// One answer: status, headers and body.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|err| panic!("not JSON ({err}): {}", self.body))
    }

    /// The `Set-Cookie` header, or `""`.
    fn set_cookie(&self) -> &str {
        self.headers
            .get(header::SET_COOKIE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The `name=value` part of `Set-Cookie`, to send back as `Cookie`.
    fn cookie(&self) -> String {
        self.set_cookie().split(';').next().unwrap_or("").to_owned()
    }
}

/// What a browser page adds to a request.
#[derive(Default, Clone, Copy)]
struct Page<'a> {
    cookie: Option<&'a str>,
    csrf: bool,
    origin: Option<&'a str>,
}

const SPA: Page<'static> = Page {
    cookie: None,
    csrf: true,
    origin: Some("http://localhost:5173"),
};

async fn send(stack: &TestStack, url: &str, body: Option<Value>, page: Page<'_>) -> Answer {
    let mut request = stack
        .http()
        .post(url)
        .header(header::ACCEPT, "application/graphql-response+json");
    if let Some(body) = body {
        request = request
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.to_string());
    }
    if let Some(cookie) = page.cookie {
        request = request.header(header::COOKIE, cookie);
    }
    if page.csrf {
        request = request.header(CSRF, "1");
    }
    if let Some(origin) = page.origin {
        request = request.header(header::ORIGIN, origin);
    }
    let response = request.send().await.expect("the BFF answers");
    Answer {
        status: response.status(),
        headers: response.headers().clone(),
        body: response.text().await.expect("a body"),
    }
}

/// The BFF's `/auth/...` URL.
fn auth(bff: &CountedBff, action: &str) -> String {
    bff.url().replace("/graphql", &format!("/auth/{action}"))
}

async fn login(stack: &TestStack, bff: &CountedBff, email: &str, page: Page<'_>) -> Answer {
    let body = json!({ "email": email, "password": DEMO_PASSWORD });
    send(stack, &auth(bff, "login"), Some(body), page).await
}

async fn graphql(
    stack: &TestStack,
    bff: &CountedBff,
    query: &str,
    variables: Value,
    page: Page<'_>,
) -> Answer {
    let body = json!({ "query": query, "variables": variables });
    send(stack, bff.url(), Some(body), page).await
}

async fn web_with(stack: &TestStack, tweak: impl FnOnce(&mut Config)) -> CountedBff {
    stack
        .counted_bff_with(Bff::Web, Environment::Development, tweak)
        .await
}

#[tokio::test]
async fn login_sets_an_http_only_cookie_and_the_cookie_reads_me() {
    let stack = TestStack::sqlite().await;
    let web = web_with(&stack, |_| {}).await;

    let signed_in = login(&stack, &web, "ada@example.com", SPA).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.body);
    let set_cookie = signed_in.set_cookie();
    let cookie = signed_in.cookie();
    let id = cookie.strip_prefix("tributary_session=").unwrap_or("");
    assert_eq!(id.len(), 43, "256 random bits, base64url: {set_cookie}");
    assert_eq!(
        set_cookie,
        format!("{cookie}; HttpOnly; Secure; SameSite=Lax; Path=/; Max-Age=28800")
    );
    let body = signed_in.json();
    assert_eq!(
        body["user"],
        json!({ "id": "1", "name": "Ada Lovelace", "username": "ada" })
    );
    assert!(
        body["expiresAt"]
            .as_str()
            .is_some_and(|at| at.ends_with('Z')),
        "{body}"
    );
    assert_eq!(body.as_object().map(|o| o.len()), Some(2), "{body}");
    assert!(
        !signed_in.body.contains("token") && !signed_in.body.contains("eyJ"),
        "no token reaches the page: {}",
        signed_in.body
    );
    assert_eq!(
        signed_in
            .headers
            .get(header::CACHE_CONTROL)
            .map(|v| v.to_str().unwrap_or("")),
        Some("no-store")
    );

    // A query needs only the cookie.
    let page = Page {
        cookie: Some(&cookie),
        csrf: false,
        origin: None,
    };
    let me = graphql(&stack, &web, ME, json!({}), page).await;
    assert_eq!(
        me.json(),
        json!({ "data": { "me": { "id": "1", "name": "Ada Lovelace", "email": "ada@example.com" } } })
    );
    // An unknown session is no one.
    let stranger = Page {
        cookie: Some("tributary_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        ..page
    };
    let nobody = graphql(&stack, &web, ME, json!({}), stranger).await;
    assert_eq!(
        nobody.json()["data"],
        json!({ "me": null }),
        "{}",
        nobody.body
    );
    assert_eq!(error_code(&nobody.json()), "UNAUTHORIZED_FIELD_OR_TYPE");
    stack.stop().await;
}

#[tokio::test]
async fn login_refuses_bad_credentials_a_missing_csrf_header_and_a_foreign_origin() {
    let stack = TestStack::sqlite().await;
    let web = web_with(&stack, |_| {}).await;

    let wrong = send(
        &stack,
        &auth(&web, "login"),
        Some(json!({ "email": "ada@example.com", "password": "not-the-password" })),
        SPA,
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{}", wrong.body);
    assert_eq!(
        wrong.json(),
        json!({ "errors": [{
            "message": "invalid email or password",
            "extensions": { "code": "UNAUTHENTICATED" },
        }] })
    );
    assert_eq!(wrong.set_cookie(), "");

    let no_header = login(&stack, &web, "ada@example.com", Page { csrf: false, ..SPA }).await;
    assert_eq!(no_header.status, StatusCode::FORBIDDEN);
    assert_eq!(
        no_header.json(),
        json!({ "errors": [{
            "message": "sign-in and sign-out need the `x-tributary-csrf` header",
            "extensions": { "code": "BAD_REQUEST" },
        }] })
    );
    let foreign = Page {
        origin: Some("https://elsewhere.example"),
        ..SPA
    };
    let elsewhere = login(&stack, &web, "ada@example.com", foreign).await;
    assert_eq!(elsewhere.status, StatusCode::FORBIDDEN);
    assert_eq!(error_code(&elsewhere.json()), "BAD_REQUEST");
    assert_eq!(elsewhere.set_cookie(), "");
    // None of them reached a subgraph but the wrong password's sign-in.
    assert_eq!(
        web.take_subgraph_requests().into_iter().collect::<Vec<_>>(),
        vec![("accounts".to_owned(), 1)]
    );

    // The SPA's origin may send the header across origins, with credentials.
    let preflight = stack
        .http()
        .request(reqwest::Method::OPTIONS, auth(&web, "login"))
        .header(header::ORIGIN, "http://localhost:5173")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type, x-tributary-csrf",
        )
        .send()
        .await
        .expect("the preflight answers");
    let allowed = |name: &str| {
        preflight
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    assert_eq!(
        allowed("access-control-allow-origin"),
        "http://localhost:5173"
    );
    assert_eq!(allowed("access-control-allow-credentials"), "true");
    assert!(allowed("access-control-allow-headers").contains(CSRF));
    stack.stop().await;
}

#[tokio::test]
async fn a_mutation_over_the_cookie_needs_the_csrf_header_before_any_subgraph_request() {
    let stack = TestStack::sqlite().await;
    let web = web_with(&stack, |_| {}).await;
    let cookie = login(&stack, &web, "ada@example.com", SPA).await.cookie();
    web.take_subgraph_requests();
    let variables = json!({ "productId": "11" });

    let bare = Page {
        cookie: Some(&cookie),
        csrf: false,
        origin: None,
    };
    let refused = graphql(&stack, &web, ADD_REVIEW, variables.clone(), bare).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        refused.json(),
        json!({ "errors": [{
            "message": "mutations over a session cookie need the `x-tributary-csrf` header",
            "extensions": { "code": "BAD_REQUEST" },
        }] })
    );
    let foreign = Page {
        cookie: Some(&cookie),
        csrf: true,
        origin: Some("https://elsewhere.example"),
    };
    let elsewhere = graphql(&stack, &web, ADD_REVIEW, variables.clone(), foreign).await;
    assert_eq!(
        error_code(&elsewhere.json()),
        "BAD_REQUEST",
        "{}",
        elsewhere.body
    );
    assert!(
        web.take_subgraph_requests().is_empty(),
        "refused before any subgraph request"
    );

    let spa = Page {
        cookie: Some(&cookie),
        ..SPA
    };
    let added = graphql(&stack, &web, ADD_REVIEW, variables, spa).await;
    assert_eq!(
        added.json(),
        json!({ "data": { "addReview": { "rating": 5, "author": { "username": "ada" } } } }),
        "the session's token reached reviews"
    );
    stack.stop().await;
}

#[tokio::test]
async fn replicas_sharing_redis_share_sessions_and_a_logout_ends_them_everywhere() {
    let url = redis_url();
    let address = url
        .trim_start_matches("redis://")
        .trim_end_matches('/')
        .to_owned();
    tokio::net::TcpStream::connect(&address)
        .await
        .unwrap_or_else(|err| panic!("Redis must be reachable at {address} for this test: {err}"));
    let stack = TestStack::sqlite().await;
    let prefix = prefix("sessions");
    let shared = |config: &mut Config| {
        config.session.redis_url = Some(redis_url());
        config.session.redis_prefix = prefix.clone();
    };
    let a = web_with(&stack, shared).await;
    let b = web_with(&stack, shared).await;

    let cookie = login(&stack, &a, "grace@example.com", SPA).await.cookie();
    let page = Page {
        cookie: Some(&cookie),
        csrf: false,
        origin: None,
    };
    let on_b = graphql(&stack, &b, ME, json!({}), page).await;
    assert_eq!(
        on_b.json()["data"]["me"]["email"],
        "grace@example.com",
        "{}",
        on_b.body
    );

    a.take_subgraph_bodies();
    let out = send(
        &stack,
        &auth(&a, "logout"),
        None,
        Page {
            cookie: Some(&cookie),
            ..SPA
        },
    )
    .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT, "{}", out.body);
    assert_eq!(
        out.set_cookie(),
        "tributary_session=; HttpOnly; Secure; SameSite=Lax; Path=/; Max-Age=0"
    );
    let signed_out = a
        .take_subgraph_bodies()
        .into_iter()
        .any(|(subgraph, body)| subgraph == "accounts" && body.contains("signOut"));
    assert!(
        signed_out,
        "the session's refresh token was signed out at accounts"
    );

    // B sees the session gone at once: the cookie is no one there.
    let after = graphql(&stack, &b, ME, json!({}), page).await;
    assert_eq!(
        after.json()["data"],
        json!({ "me": null }),
        "{}",
        after.body
    );
    assert_eq!(error_code(&after.json()), "UNAUTHORIZED_FIELD_OR_TYPE");
    // Signing out again is harmless.
    let again = send(
        &stack,
        &auth(&b, "logout"),
        None,
        Page {
            cookie: Some(&cookie),
            ..SPA
        },
    )
    .await;
    assert_eq!(again.status, StatusCode::NO_CONTENT);
    stack.stop().await;
}
