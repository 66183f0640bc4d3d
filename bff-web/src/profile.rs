//! The web profile: how the engine behaves in front of the web SPA (full API schema, GraphiQL
//! with the SPA's typical operations in development, CORS for the SPA's origins, batched POSTs,
//! cache hints, cookie sessions so the SPA never holds a token) and the merchandising the web's
//! own fields read.

use tributary_gateway::config::{
    CacheConfig, CorsConfig, DemandControlConfig, GraphiqlConfig, GraphiqlExample, Limits,
    PersistedConfig, ServerConfig, SessionConfig, SubgraphsConfig, TelemetryConfig,
};
use tributary_gateway::{Config, Environment};

/// What the shop puts forward; data the merchandisers own, not the domains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merchandising {
    /// Product ids featured on the storefront, in display order.
    pub featured: Vec<i64>,
    /// Category ids listed on the storefront, in display order.
    pub categories: Vec<i64>,
}

impl Default for Merchandising {
    fn default() -> Self {
        Merchandising {
            // One or two products of each of the six seeded categories.
            featured: vec![2, 8, 15, 20, 27, 33, 4, 11],
            categories: vec![1, 2, 3, 4, 5, 6],
        }
    }
}

/// Browser origins the SPA's development servers run on.
const DEV_ORIGINS: [&str; 4] = [
    "http://localhost:5173",
    "http://127.0.0.1:5173",
    "http://localhost:3000",
    "http://127.0.0.1:3000",
];

/// The engine configuration of the web BFF in `env`.
pub fn profile(env: Environment) -> Config {
    let development = !env.is_production();
    Config {
        server: ServerConfig {
            name: "web".to_owned(),
            // The SPA batches the queries of one screen into one POST.
            max_batch: 16,
            // A page is better late than blank, but not much later.
            deadline_ms: 8_000,
            // Production clients get the API they were built against, not a map of it.
            introspection: development,
            ..ServerConfig::default()
        },
        graphiql: GraphiqlConfig {
            enabled: development,
            title: "Tributary web".to_owned(),
            examples: examples(),
        },
        persisted: PersistedConfig {
            manifest: None,
            safelist: false,
            apq: development,
            apq_cache_bytes: 16 * 1024 * 1024,
        },
        cors: CorsConfig {
            origins: if development {
                DEV_ORIGINS.iter().map(|o| (*o).to_owned()).collect()
            } else {
                Vec::new()
            },
        },
        // Five failures in a row rest a subgraph for five seconds: pages then get their other
        // parts at once instead of waiting on it.
        subgraphs: SubgraphsConfig {
            breaker_failures: 5,
            ..SubgraphsConfig::default()
        },
        limits: Limits::default(),
        cache: cache_hints(),
        // Rich pages, but not unbounded ones: a fan-out far past any page is refused before
        // a subgraph is asked.
        demand_control: DemandControlConfig {
            enabled: true,
            max_cost: Some(10_000),
            ..DemandControlConfig::default()
        },
        // Budgets in production only (development and tests send bursts from one address);
        // shared by every replica when `REDIS_URL` is set.
        rate_limit: tributary_bff::rate_limits(env),
        // The SPA signs in at `/auth/login` and holds only an HttpOnly cookie. Sessions live in
        // Redis when `REDIS_URL` (or `TRIBUTARY_SESSION__REDIS_URL`) is set, so every replica
        // knows them, else in memory. The cookie stays `Secure` in development too: browsers
        // treat `http://localhost` as secure.
        session: SessionConfig {
            enabled: true,
            ..SessionConfig::default()
        },
        telemetry: TelemetryConfig {
            // In production scrapers read metrics on a loopback port of their own; clients
            // never reach them on the public one.
            metrics: development,
            metrics_listen: (!development).then(|| "127.0.0.1:9464".to_owned()),
            ..TelemetryConfig::default()
        },
        ..Config::default()
    }
}

/// Max-age hints: catalog data for a minute, stock for ten seconds, anything personal per caller, orders never.
fn cache_hints() -> CacheConfig {
    let types = [
        ("Storefront", 60),
        ("ProductPage", 60),
        ("Product", 60),
        ("Category", 300),
        ("Review", 60),
        ("Order", 0),
        ("User", 60),
        ("AuthPayload", 0),
    ];
    let fields = [
        ("Product.inStock", 10),
        ("Product.quantity", 10),
        ("Product.reviews", 30),
    ];
    CacheConfig {
        // Public pages are answered from the engine's response cache; anything personal is
        // cached per caller (`me` is private in accounts), orders never (no-store).
        response: true,
        entities: true,
        ..CacheConfig::from_hints(&types, &fields)
    }
}

/// The SPA's typical operations, preloaded as GraphiQL tabs.
fn examples() -> Vec<GraphiqlExample> {
    let example = |name: &str, query: &str, variables: Option<&str>| GraphiqlExample {
        name: name.to_owned(),
        query: query.trim().to_owned(),
        variables: variables.map(str::to_owned),
    };
    vec![
        example("Storefront", STOREFRONT, None),
        example("Product page", PRODUCT_PAGE, Some(r#"{ "id": "1" }"#)),
        example(
            "Product page, slow parts deferred",
            PRODUCT_PAGE_DEFERRED,
            Some(r#"{ "id": "1" }"#),
        ),
        example("Search", SEARCH, Some(r#"{ "text": "bread" }"#)),
        example(
            "Sign in",
            SIGN_IN,
            Some(r#"{ "email": "ada@example.com", "password": "tributary-demo" }"#),
        ),
        example(
            "My orders (send Authorization: Bearer <token>)",
            MY_ORDERS,
            None,
        ),
    ]
}

const STOREFRONT: &str = r#"
query Storefront {
  storefront {
    featured(first: 8) { id name priceCents currency imageUrl inStock averageRating }
    categories { id name slug productCount }
  }
}
"#;

const PRODUCT_PAGE: &str = r#"
query ProductPage($id: ID!) {
  productPage(id: $id) {
    product {
      id name description priceCents currency imageUrl
      breadcrumbs { label path }
      inStock quantity shippingEstimateCents
      averageRating reviewCount
      reviews(first: 5) { id rating body createdAt author { id username name } }
    }
    recommended(first: 4) { id name priceCents currency imageUrl }
  }
}
"#;

/// The product page with its slow parts (reviews, recommendations) delivered after the rest:
/// a client reading `multipart/mixed` or SSE gets the product first.
pub const PRODUCT_PAGE_DEFERRED: &str = r#"
query ProductPageDeferred($id: ID!) {
  productPage(id: $id) {
    product {
      id name description priceCents currency imageUrl
      breadcrumbs { label path }
      inStock quantity shippingEstimateCents
      ... @defer(label: "reviews") {
        averageRating reviewCount
        reviews(first: 5) { id rating body createdAt author { id username name } }
      }
    }
    ... @defer(label: "recommended") {
      recommended(first: 4) { id name priceCents currency imageUrl }
    }
  }
}
"#;

const SEARCH: &str = r#"
query Search($text: String!, $after: String) {
  products(search: $text, first: 12, after: $after) {
    nodes { id name priceCents currency imageUrl category { name } }
    pageInfo { hasNextPage endCursor }
  }
}
"#;

const SIGN_IN: &str = r#"
mutation SignIn($email: String!, $password: String!) {
  login(email: $email, password: $password) { token expiresAt user { id name username } }
}
"#;

const MY_ORDERS: &str = r#"
query MyOrders {
  myOrders(first: 10) {
    id status totalCents currency createdAt
    lines { quantity unitPriceCents product { id name imageUrl } }
  }
}
"#;
