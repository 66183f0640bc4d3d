//! The mobile profile: how the engine behaves in front of the mobile app (the contract API
//! schema, persisted operations over GET with cache headers, capped page sizes, GraphiQL with
//! the app's operations in development, the safelist in production) and the merchandising the
//! app's own fields read.

use tributary_gateway::config::{
    CacheConfig, DemandControlConfig, GraphiqlConfig, GraphiqlExample, Limits, PersistedConfig,
    ServerConfig, SubgraphsConfig, TelemetryConfig,
};
use tributary_gateway::{Config, Environment, Manifest};

/// What the app puts forward; data the merchandisers own, not the domains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merchandising {
    /// Product ids of the home feed, in display order.
    pub home_feed: Vec<i64>,
}

impl Default for Merchandising {
    fn default() -> Self {
        Merchandising {
            // Three products of each of the six seeded categories, interleaved.
            home_feed: vec![
                3, 8, 14, 20, 26, 32, 1, 9, 15, 21, 27, 33, 5, 11, 17, 23, 29, 35,
            ],
        }
    }
}

/// The largest page any list field may be asked for on mobile.
pub const MAX_PAGE_SIZE: i64 = 20;

/// The highest estimated operation cost the mobile API serves.
const MAX_COST: u64 = 2_000;

/// The engine configuration of the mobile BFF in `env`.
pub fn profile(env: Environment) -> Config {
    let development = !env.is_production();
    Config {
        server: ServerConfig {
            name: "mobile".to_owned(),
            // Apps do not batch; one screen, one persisted operation.
            max_batch: 0,
            // Phones on slow networks give up early; answer what is there before they do.
            deadline_ms: 5_000,
            // Production clients get the API they were built against, not a map of it.
            introspection: development,
            ..ServerConfig::default()
        },
        graphiql: GraphiqlConfig {
            enabled: development,
            title: "Tributary mobile".to_owned(),
            examples: crate::manifest().map(|m| examples(&m)).unwrap_or_default(),
        },
        persisted: PersistedConfig {
            manifest: None,
            safelist: !development,
            apq: development,
            apq_cache_bytes: 16 * 1024 * 1024,
        },
        subgraphs: SubgraphsConfig {
            timeout_ms: 4_000,
            // Five failures in a row rest a subgraph for five seconds: the app's screens then
            // get their other parts at once instead of waiting on it.
            breaker_failures: 5,
            ..SubgraphsConfig::default()
        },
        limits: Limits {
            max_page_size: Some(MAX_PAGE_SIZE),
            ..Limits::default()
        },
        cache: cache_hints(),
        // The app's operations cost under 1,000 as estimated; anything far above is not the
        // app's.
        demand_control: DemandControlConfig {
            enabled: true,
            max_cost: Some(MAX_COST),
            ..DemandControlConfig::default()
        },
        // Budgets in production only (development and tests send bursts from one address);
        // shared by every replica when `REDIS_URL` is set.
        rate_limit: tributary_bff::rate_limits(env),
        telemetry: TelemetryConfig {
            // In production scrapers read metrics on a loopback port of their own; clients
            // never reach them on the public one.
            metrics: development,
            metrics_listen: (!development).then(|| "127.0.0.1:9465".to_owned()),
            ..TelemetryConfig::default()
        },
        ..Config::default()
    }
}

/// Max-age hints: catalog data for a minute, stock for thirty seconds, anything personal per caller, orders never.
fn cache_hints() -> CacheConfig {
    let types = [
        ("HomeFeedPage", 60),
        ("Product", 60),
        ("ProductConnection", 60),
        ("Category", 300),
        ("Review", 60),
        ("Order", 0),
        ("User", 60),
        ("AuthPayload", 0),
    ];
    let fields = [
        ("Product.inStock", 30),
        ("Product.quantity", 30),
        ("Product.reviews", 60),
    ];
    CacheConfig {
        // Public pages are answered from the engine's response cache; anything personal is
        // cached per caller (`me` is private in accounts), orders never (no-store).
        response: true,
        entities: true,
        ..CacheConfig::from_hints(&types, &fields)
    }
}

/// Variables that make each of the app's operations runnable from GraphiQL.
const SAMPLE_VARIABLES: [(&str, &str); 9] = [
    ("HomeFeed", r#"{ "first": 6 }"#),
    ("ProductDetail", r#"{ "id": "1" }"#),
    ("CategoryProducts", r#"{ "slug": "bakery", "first": 6 }"#),
    ("SearchProducts", r#"{ "text": "tea", "first": 6 }"#),
    ("OrderStatusCard", r#"{ "id": "1" }"#),
    (
        "Login",
        r#"{ "email": "ada@example.com", "password": "tributary-demo" }"#,
    ),
    (
        "Checkout",
        r#"{ "lines": [{ "productId": "1", "quantity": 2 }], "idempotencyKey": "graphiql-1" }"#,
    ),
    ("CancelOrder", r#"{ "id": "1" }"#),
    (
        "AddReview",
        r#"{ "productId": "1", "rating": 5, "body": "Fresh and crisp." }"#,
    ),
];

/// The app's operations, home feed first, as GraphiQL tabs.
fn examples(manifest: &Manifest) -> Vec<GraphiqlExample> {
    let mut operations: Vec<_> = manifest.operations.iter().collect();
    operations.sort_by_key(|op| (op.name != "HomeFeed", op.kind != "query", op.name.clone()));
    operations
        .into_iter()
        .map(|op| GraphiqlExample {
            name: op.name.clone(),
            query: op.body.clone(),
            variables: SAMPLE_VARIABLES
                .iter()
                .find(|(name, _)| *name == op.name)
                .map(|(_, vars)| (*vars).to_owned()),
        })
        .collect()
}
