//! The test harness: start the real stack on free loopback ports, on SQLite and (when
//! `TEST_DATABASE_URL` is set) on PostgreSQL, and talk to it over HTTP like a client would.
//!
//! It knows the stack only from the outside: URLs, GraphQL requests and JSON answers. The one
//! exception is [`TestStack::counted_bff`], which starts another BFF in a chosen environment
//! with relays in front of the subgraphs, so a test can count what one operation cost each.
//! [`TcpRelay`] sits in front of any server and counts the connections made to it, for tests of
//! what an engine holds open.

mod bff;
mod tcp;

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::{Value, json};
use subgraph_kit::sea_orm::{ConnectionTrait, Database};
use tributary::{Backend, SUBGRAPHS, Stack, StackConfig};

pub use bff::{Bff, CountedBff, Fault};
pub use tcp::TcpRelay;
pub use tributary_gateway::Environment;

/// The password of every seeded demo user.
pub const DEMO_PASSWORD: &str = "tributary-demo";

/// The secret the test stacks sign tokens with.
pub const TEST_SECRET: &str = "tributary-test-secret";

/// A running test stack and an HTTP client for it.
pub struct TestStack {
    stack: Option<Stack>,
    http: reqwest::Client,
    _dir: Option<tempfile::TempDir>,
    pg: Option<(String, String)>,
}

/// Runs `story` against a fresh stack on SQLite, then on PostgreSQL when `TEST_DATABASE_URL`
/// is set. On CI (`CI` set) a missing `TEST_DATABASE_URL` fails the test instead of skipping.
pub async fn each_backend<F, Fut>(story: F)
where
    F: Fn(TestStack) -> Fut,
    Fut: Future<Output = TestStack>,
{
    let stack = TestStack::sqlite().await;
    story(stack).await.stop().await;
    match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => {
            let stack = TestStack::postgres(&url).await;
            story(stack).await.stop().await;
        }
        _ if std::env::var_os("CI").is_some() => {
            panic!("TEST_DATABASE_URL must be set on CI: the PostgreSQL runs may not be skipped")
        }
        _ => {}
    }
}

impl TestStack {
    /// A fresh stack with its SQLite files in a temporary folder.
    pub async fn sqlite() -> TestStack {
        let dir = tempfile::tempdir().expect("temporary folder");
        let stack = start(Backend::Sqlite(dir.path().to_owned())).await;
        TestStack {
            stack: Some(stack),
            http: client(),
            _dir: Some(dir),
            pg: None,
        }
    }

    /// A fresh stack on SQLite that signs tokens with the ES256 keys in `keys` (read again
    /// every `reload`; the engines verify through accounts' JWKS).
    pub async fn with_keys(keys: &std::path::Path, reload: std::time::Duration) -> TestStack {
        let dir = tempfile::tempdir().expect("temporary folder");
        let stack = Stack::start(StackConfig {
            jwt_keys: Some(keys.to_owned()),
            keys_reload: reload,
            ..config(Backend::Sqlite(dir.path().to_owned()))
        })
        .await
        .expect("the stack starts");
        TestStack {
            stack: Some(stack),
            http: client(),
            _dir: Some(dir),
            pg: None,
        }
    }

    /// A fresh stack in schemas of its own in the PostgreSQL database at `url`.
    pub async fn postgres(url: &str) -> TestStack {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let prefix = format!(
            "t{}_{}_{}_",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let stack = start(Backend::Postgres {
            url: url.to_owned(),
            schema_prefix: prefix.clone(),
        })
        .await;
        TestStack {
            stack: Some(stack),
            http: client(),
            _dir: None,
            pg: Some((url.to_owned(), prefix)),
        }
    }

    /// How the stack's engines verify tokens, for another engine a test starts beside them.
    pub fn engine_auth(&self) -> tributary_gateway::config::AuthConfig {
        self.stack
            .as_ref()
            .and_then(|stack| stack.engine_auth_config())
            .cloned()
            .unwrap_or_default()
    }

    /// What subgraph `name`'s own code reaches (its database, the token authority, its peers),
    /// for tests that run a subgraph's upkeep by hand or stage what a crash would leave.
    pub async fn deps(&self, name: &str) -> subgraph_kit::Deps {
        let stack = self.stack.as_ref().expect("a running stack");
        let (url, schema) = match stack.backend() {
            Backend::Sqlite(dir) => (format!("sqlite://{}/{name}.sqlite", dir.display()), None),
            Backend::Postgres { url, schema_prefix } => {
                (url.clone(), Some(format!("{schema_prefix}{name}")))
            }
        };
        let db = subgraph_kit::db::connect(&url, schema.as_deref())
            .await
            .expect("the subgraph's database");
        let urls = stack
            .urls()
            .into_iter()
            .map(|(name, url)| (name.to_owned(), url))
            .collect();
        subgraph_kit::Deps {
            db,
            auth: stack.auth().clone(),
            peers: subgraph_kit::Peers::try_new(urls).expect("peer URLs"),
        }
    }

    /// The URL where accounts publishes the token keys (`/.well-known/jwks.json`).
    pub fn jwks_url(&self) -> String {
        self.stack
            .as_ref()
            .and_then(Stack::jwks_url)
            .expect("a running stack with accounts")
    }

    /// Whether this stack runs on PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.pg.is_some()
    }

    /// The GraphQL URL of subgraph `name`, of a BFF (`"web"`, `"mobile"`), or of the plain
    /// federation router (`"gateway"`).
    pub fn url(&self, name: &str) -> String {
        self.stack
            .as_ref()
            .and_then(|s| s.url(name))
            .unwrap_or_else(|| panic!("no server named {name}"))
    }

    /// The pooled HTTP client, for requests the helpers below do not cover.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// POSTs `body` as JSON to `url` (a BFF, say) and returns the JSON answer, whatever its
    /// status.
    pub async fn post_json(&self, url: &str, body: &Value) -> Value {
        self.http
            .post(url)
            .json(body)
            .send()
            .await
            .expect("the server answers")
            .json()
            .await
            .expect("JSON")
    }

    /// POSTs an operation to subgraph `name` anonymously and returns the whole JSON response.
    pub async fn gql(&self, name: &str, query: &str, variables: Value) -> Value {
        self.send(name, None, query, variables).await
    }

    /// POSTs an operation to subgraph `name` with `Authorization: Bearer <token>`.
    pub async fn gql_as(&self, name: &str, token: &str, query: &str, variables: Value) -> Value {
        self.send(name, Some(token), query, variables).await
    }

    async fn send(&self, name: &str, token: Option<&str>, query: &str, variables: Value) -> Value {
        let mut request = self
            .http
            .post(self.url(name))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("request reaches the subgraph");
        response.json().await.expect("the response is JSON")
    }

    /// Logs a seeded user in through accounts and returns the token.
    pub async fn login(&self, email: &str) -> String {
        let response = self
            .gql(
                "accounts",
                "mutation($email: String!, $password: String!) { login(email: $email, password: $password) { token } }",
                json!({ "email": email, "password": DEMO_PASSWORD }),
            )
            .await;
        response["data"]["login"]["token"]
            .as_str()
            .unwrap_or_else(|| panic!("login of {email} failed: {response}"))
            .to_owned()
    }

    /// Stops the servers and, on PostgreSQL, drops the schemas the stack made.
    pub async fn stop(mut self) {
        if let Some(stack) = self.stack.take() {
            stack.stop().await;
        }
        if let Some((url, prefix)) = self.pg.take() {
            let db = Database::connect(url).await.expect("PostgreSQL reachable");
            for name in SUBGRAPHS {
                db.execute_unprepared(&format!("DROP SCHEMA IF EXISTS \"{prefix}{name}\" CASCADE"))
                    .await
                    .expect("drop a test schema");
            }
        }
    }
}

/// The `errors[0].extensions.code` of a response, or `""` when it has none.
pub fn error_code(response: &Value) -> &str {
    response["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("")
}

async fn start(backend: Backend) -> Stack {
    Stack::start(config(backend))
        .await
        .expect("the stack starts")
}

/// A development stack on free ports signing with [`TEST_SECRET`].
fn config(backend: Backend) -> StackConfig {
    StackConfig {
        host: IpAddr::V4(Ipv4Addr::LOCALHOST),
        base_port: None,
        web_port: None,
        mobile_port: None,
        gateway_port: None,
        environment: Environment::Development,
        backend,
        reset: false,
        jwt_secret: TEST_SECRET.to_owned(),
        jwt_keys: None,
        token_ttl: subgraph_kit::auth::DEFAULT_TTL,
        keys_reload: subgraph_kit::auth::KEYS_RELOAD,
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().build().expect("an HTTP client")
}
