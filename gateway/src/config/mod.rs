//! The engine's configuration: one document in sections, every field defaulted so an empty
//! file runs, loaded by [`load`] from a TOML file with `TRIBUTARY_<SECTION>__<KEY>`
//! environment overrides. The reference in `docs/config.md` is generated from these types.
//!
//! A binary's own settings (where to listen, which supergraph file, whether to watch it) are
//! not here: they belong to the binary that serves the engine.

mod load;
mod reference;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use load::{ConfigError, load, load_over};
pub use reference::{json_schema, markdown};

/// Configuration of an engine and its front ends.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// How requests are received: naming, body and batch sizes, compression.
    pub server: ServerConfig,
    /// How subgraphs are called.
    pub subgraphs: SubgraphsConfig,
    /// Limits on operation shape and size.
    pub limits: Limits,
    /// Persisted operations: manifest, safelist, automatic persisted queries.
    pub persisted: PersistedConfig,
    /// Cross-origin requests from browsers.
    pub cors: CorsConfig,
    /// The GraphiQL page for developers.
    pub graphiql: GraphiqlConfig,
    /// Logs and metrics.
    pub telemetry: TelemetryConfig,
    /// Cache hints that decide how query responses may be cached.
    pub cache: CacheConfig,
    /// Verifying callers' tokens at the engine.
    pub auth: AuthConfig,
    /// Cookie sessions for browser apps: the engine signs users in and keeps their tokens.
    pub session: SessionConfig,
    /// Enforcing the supergraph's `@authenticated`, `@requiresScopes` and `@policy`.
    pub authorization: AuthorizationConfig,
    /// Request budgets per client and per user.
    pub rate_limit: RateLimitConfig,
    /// Operation cost estimated before execution, and limited.
    pub demand_control: DemandControlConfig,
}

/// `[demand_control]`: each operation's cost estimated from the schema (`@cost`, `@listSize`,
/// and the weights and sizes here) before any subgraph request, refused over `max_cost`, and
/// measured on the answer; both are exported as metrics.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct DemandControlConfig {
    /// Estimate (and measure) every operation's cost.
    pub enabled: bool,
    /// The highest estimated cost served; above it the operation is refused with
    /// `COST_ESTIMATED_TOO_EXPENSIVE` (unless `measure_only`). None: no limit.
    pub max_cost: Option<u64>,
    /// Only estimate, measure and export: never refuse (to choose a `max_cost` from traffic).
    pub measure_only: bool,
    /// The size assumed for a list without a slicing argument or `@listSize(assumedSize:)`.
    pub list_size: u64,
    /// What each root field of a mutation adds.
    pub mutation_weight: u64,
    /// Weights per `Type.field` (or per type name, for every field returning it), where the
    /// supergraph has no `@cost`.
    pub field_costs: HashMap<String, u64>,
    /// Assumed list sizes per `Type.field`, where the supergraph has no `@listSize`.
    pub list_sizes: HashMap<String, u64>,
}

impl Default for DemandControlConfig {
    fn default() -> Self {
        DemandControlConfig {
            enabled: false,
            max_cost: None,
            measure_only: false,
            list_size: 10,
            mutation_weight: 10,
            field_costs: HashMap::new(),
            list_sizes: HashMap::new(),
        }
    }
}

/// `[rate_limit]`: token buckets counted before a request's document is parsed. Without
/// `redis_url` each replica keeps its own buckets in memory; with it every replica of the
/// same `[server] name` spends one shared budget.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    /// The budget of each client: its `apollographql-client-name` when that is one of
    /// `[telemetry] client_names` (any name when that list is empty), else its IP address.
    pub per_client: Option<Bucket>,
    /// The budget of each verified user (token issuer and subject), on top of its client's.
    pub per_user: Option<Bucket>,
    /// Redis holding the buckets every replica shares; when unset, `REDIS_URL` is used if set.
    pub redis_url: Option<String>,
    /// The prefix of the bucket keys in Redis (the engine's name follows it).
    pub redis_prefix: String,
    /// How long a Redis call may take before the request is let through uncounted.
    pub redis_timeout_ms: u64,
    /// A header naming the client's address, set by a proxy in front (`x-forwarded-for`:
    /// its last address is used). Unset, the connection's peer address is.
    pub client_ip_header: Option<String>,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            per_client: None,
            per_user: None,
            redis_url: None,
            redis_prefix: "tributary:rate".to_owned(),
            redis_timeout_ms: 250,
            client_ip_header: None,
        }
    }
}

/// A token bucket: `requests` per `per_seconds` on average, up to `burst` at once.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Bucket {
    /// Requests allowed per `per_seconds`, refilled evenly.
    pub requests: u32,
    /// The period `requests` are spread over, in seconds.
    #[serde(default = "one")]
    pub per_seconds: u32,
    /// The most requests allowed at once after a quiet spell (defaults to `requests`).
    #[serde(default)]
    pub burst: Option<u32>,
}

fn one() -> u32 {
    1
}

/// `[authorization]`: the supergraph's access directives, checked against the verified caller
/// before planning. `@authenticated` and `@requiresScopes` need nothing configured; each
/// `@policy` name is defined here.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct AuthorizationConfig {
    /// Named policies for `@policy(policies: ...)`; a policy the supergraph names but this
    /// table does not define is never satisfied.
    pub policies: HashMap<String, PolicyRule>,
}

/// One `@policy` name: satisfied when the token's claim `claim` is, or contains (when it is
/// a list), one of `values`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyRule {
    /// The claim read from the verified token (`role`, `org`, ...).
    pub claim: String,
    /// The accepted values; a string claim must equal one, a list claim must contain one.
    pub values: Vec<String>,
}

/// `[auth]`: callers' bearer tokens verified once at the engine, before planning.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Verify tokens at the engine: a request with a token that does not verify is refused
    /// (401, `UNAUTHENTICATED`); one without a token is anonymous. Off, tokens pass to the
    /// subgraphs unverified.
    pub enabled: bool,
    /// The HS256 secret (local development); without it HS256 tokens are refused.
    pub hs256_secret: Option<String>,
    /// Where the public keys (RS256, ES256, ...) are published as a JWKS.
    pub jwks_url: Option<String>,
    /// A JWKS file with the public keys, when they are not fetched from a URL.
    pub jwks_file: Option<PathBuf>,
    /// Accepted `iss` values; empty accepts any issuer.
    pub issuers: Vec<String>,
    /// Accepted `aud` values; empty does not check the audience.
    pub audiences: Vec<String>,
    /// Clock skew allowed on `exp` and `nbf`, in seconds.
    pub leeway_seconds: u64,
    /// Fewest seconds between two fetches of the key set when tokens name unknown keys.
    pub jwks_min_refresh_seconds: u64,
    /// Seconds after which the key set is fetched again before use.
    pub jwks_max_age_seconds: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            enabled: false,
            hs256_secret: None,
            jwks_url: None,
            jwks_file: None,
            issuers: Vec::new(),
            audiences: Vec::new(),
            leeway_seconds: 5,
            jwks_min_refresh_seconds: 10,
            jwks_max_age_seconds: 300,
        }
    }
}

/// `[session]`: cookie sessions for single-page apps, so tokens never reach browser
/// JavaScript. `POST /auth/login` runs the supergraph's `login` mutation, keeps the access and
/// refresh tokens in the session store and answers with an `HttpOnly` cookie naming the
/// session; a GraphQL request with that cookie and no `Authorization` header runs with the
/// session's token; `POST /auth/logout` ends the session everywhere and signs it out.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SessionConfig {
    /// Serve `/auth/login` and `/auth/logout` and accept the session cookie.
    pub enabled: bool,
    /// The session cookie's name.
    pub cookie_name: String,
    /// How long a session lasts after sign-in, in seconds (not sliding); never longer than the
    /// access token it holds.
    pub ttl_seconds: u64,
    /// Redis holding the sessions, so every replica knows them and a sign-out is seen by all
    /// (`redis://127.0.0.1:6379`); when unset, `REDIS_URL` is used if set, else each replica
    /// keeps its own sessions in memory.
    pub redis_url: Option<String>,
    /// The prefix of the session keys in Redis (the engine's name follows it).
    pub redis_prefix: String,
    /// The most a Redis call may take, in milliseconds; past it the request is refused (500)
    /// rather than run as if the caller were signed out.
    pub redis_timeout_ms: u64,
    /// The header (any non-empty value) that `/auth/login`, `/auth/logout` and every mutation
    /// over the session cookie need: another site's page cannot send it.
    pub csrf_header: String,
    /// Mark the cookie `Secure`: browsers send it over HTTPS only (and to `http://localhost`).
    pub secure: bool,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            enabled: false,
            cookie_name: "tributary_session".to_owned(),
            ttl_seconds: 8 * 3600,
            redis_url: None,
            redis_prefix: "tributary:session".to_owned(),
            redis_timeout_ms: 250,
            csrf_header: "x-tributary-csrf".to_owned(),
            secure: true,
        }
    }
}

/// `[server]`: receiving requests.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// The name this engine reports in logs and metrics (`web`, `mobile`, `router`).
    pub name: String,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Most operations in one batched POST (a JSON array); 0 refuses batches.
    pub max_batch: usize,
    /// Compress responses (gzip, br, zstd) when the client accepts it.
    pub compression: bool,
    /// The most one request may take, in milliseconds, from admission to the last fetch;
    /// past it the client gets what has arrived and a `REQUEST_DEADLINE_EXCEEDED` error for
    /// the rest. 0 sets no deadline.
    pub deadline_ms: u64,
    /// Identical queries in flight at the same time (same operation, variables, forwarded
    /// headers and caller) share one execution and its response. Mutations never do.
    pub dedupe_requests: bool,
    /// Answer `__schema` and `__type`; off, an operation asking for them is refused with
    /// `INTROSPECTION_DISABLED` (`__typename` always answers). The BFFs and the stack's router
    /// turn it off in production.
    pub introspection: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            name: "router".to_owned(),
            max_body_bytes: 2 * 1024 * 1024,
            max_batch: 0,
            compression: true,
            deadline_ms: 10_000,
            dedupe_requests: true,
            introspection: true,
        }
    }
}

/// `[subgraphs]`: calling subgraphs.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SubgraphsConfig {
    /// Per-subgraph request timeout, in milliseconds.
    pub timeout_ms: u64,
    /// Talk to subgraphs with HTTP/2 without TLS (h2c) instead of HTTP/1.1.
    pub h2c: bool,
    /// Share identical query requests to a subgraph that are in flight at the same time.
    pub dedupe: bool,
    /// Largest subgraph response body accepted, in bytes.
    pub max_response_bytes: usize,
    /// Most requests in flight at once to one origin (scheme, host and port); more wait for a
    /// slot, within the subgraph timeout, and identical queries waiting share one request.
    /// Protects subgraphs from bursts. 0: no limit.
    pub max_concurrent_per_origin: usize,
    /// Client request headers copied onto every subgraph request (case-insensitive names).
    pub forward_headers: Vec<String>,
    /// Subgraph URLs replacing the ones the supergraph declares, by subgraph name.
    pub urls: HashMap<String, String>,
    /// Failed requests in a row (no answer, timeout, HTTP 5xx) that open a subgraph's circuit:
    /// its fields then fail at once with `SUBREQUEST_CIRCUIT_OPEN` instead of waiting. 0: no
    /// circuit breaker.
    pub breaker_failures: u32,
    /// How long an open circuit rests before one request probes the subgraph, in milliseconds.
    pub breaker_cooldown_ms: u64,
}

impl Default for SubgraphsConfig {
    fn default() -> Self {
        SubgraphsConfig {
            timeout_ms: 5_000,
            h2c: false,
            dedupe: true,
            max_response_bytes: 64 * 1024 * 1024,
            max_concurrent_per_origin: 100,
            forward_headers: vec!["authorization".to_owned(), "x-request-id".to_owned()],
            urls: HashMap::new(),
            breaker_failures: 0,
            breaker_cooldown_ms: 5_000,
        }
    }
}

impl ServerConfig {
    /// The per-request deadline, if one is set.
    pub fn deadline(&self) -> Option<Duration> {
        (self.deadline_ms > 0).then(|| Duration::from_millis(self.deadline_ms))
    }
}

impl SubgraphsConfig {
    /// How long an open circuit rests.
    pub fn breaker_cooldown(&self) -> Duration {
        Duration::from_millis(self.breaker_cooldown_ms)
    }

    /// The per-subgraph timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}

/// `[limits]`: operation shape and size.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest number of lexical tokens in a document.
    pub max_tokens: usize,
    /// Deepest nesting of brackets (`{`, `[`, `(`) in the document text, checked before
    /// parsing so the recursive parser never sees a document that could exhaust its stack.
    pub max_nesting: usize,
    /// Deepest nesting of selection sets.
    pub max_depth: u32,
    /// Most fields the operation selects once fragments are expanded.
    pub max_fields: u64,
    /// Most aliased fields once fragments are expanded.
    pub max_aliases: u64,
    /// Most fields directly on the root type.
    pub max_root_fields: u64,
    /// How many prepared operations (parsed, validated, planned) to keep.
    pub plan_cache_size: u64,
    /// Largest value a page-size argument may take; unset leaves them uncapped.
    pub max_page_size: Option<i64>,
    /// The argument names treated as page sizes.
    pub page_size_arguments: Vec<String>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_tokens: 15_000,
            max_nesting: 256,
            max_depth: 32,
            max_fields: 10_000,
            max_aliases: 500,
            max_root_fields: 64,
            plan_cache_size: 1_000,
            max_page_size: None,
            page_size_arguments: vec!["first".to_owned(), "last".to_owned()],
        }
    }
}

/// `[persisted]`: how documents that are not sent in full are found, and which are allowed.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct PersistedConfig {
    /// A manifest file of the operations clients send: Apollo's persisted query manifest, or
    /// the id-to-document map Relay and graphql-codegen write.
    pub manifest: Option<PathBuf>,
    /// Refuse every document that is not in the manifest (production mobile clients).
    pub safelist: bool,
    /// Accept automatic persisted queries (register a hash, then send only the hash).
    pub apq: bool,
    /// Bytes of registered APQ documents to keep (least recently used go first).
    pub apq_cache_bytes: u64,
}

impl Default for PersistedConfig {
    fn default() -> Self {
        PersistedConfig {
            manifest: None,
            safelist: false,
            apq: true,
            apq_cache_bytes: 16 * 1024 * 1024,
        }
    }
}

/// `[cors]`: browsers on other origins.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct CorsConfig {
    /// Browser origins allowed (empty: no CORS headers).
    pub origins: Vec<String>,
}

/// `[graphiql]`: the developer page on the GraphQL path.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct GraphiqlConfig {
    /// Serve GraphiQL to browsers on the GraphQL path.
    pub enabled: bool,
    /// Title of the page.
    pub title: String,
    /// Operations preloaded as tabs.
    pub examples: Vec<GraphiqlExample>,
}

impl Default for GraphiqlConfig {
    fn default() -> Self {
        GraphiqlConfig {
            enabled: true,
            title: "Tributary".to_owned(),
            examples: Vec::new(),
        }
    }
}

/// An operation preloaded in GraphiQL.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GraphiqlExample {
    /// The tab's title.
    pub name: String,
    /// The document.
    pub query: String,
    /// Variables, as JSON text.
    #[serde(default)]
    pub variables: Option<String>,
}

/// `[telemetry]`: what the engine reports about itself.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetryConfig {
    /// Serve Prometheus metrics at `/metrics` on the public port (keep it off where clients
    /// can reach it; `metrics_listen` serves them elsewhere).
    pub metrics: bool,
    /// A separate address (`127.0.0.1:9464`) serving `/metrics` and `/health`, for scrapers
    /// and probes that clients cannot reach. The BFFs use one in production.
    pub metrics_listen: Option<String>,
    /// Client names (`apollographql-client-name`) that get their own metric series; any other
    /// is counted as `other`. Empty: every name, up to a bound on distinct series.
    pub client_names: Vec<String>,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        TelemetryConfig {
            metrics: true,
            metrics_listen: None,
            client_names: Vec::new(),
        }
    }
}

/// `[cache]`: how long query responses may be cached (max-age hints in seconds by type or by
/// `Type.field`; the strictest hint of every type and field an operation selects, and every
/// subgraph `Cache-Control`, wins) and whether the engine caches them itself.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// Max-age used when nothing selected carries a hint (0: `no-store`).
    pub default_max_age: u32,
    /// Max-age by type name.
    pub types: HashMap<String, u32>,
    /// Max-age by `Type.field`.
    pub fields: HashMap<String, u32>,
    /// Serve repeated query responses from the engine's response cache, for as long as their
    /// policy allows. Mutations invalidate the entities they touch.
    pub response: bool,
    /// Keep what `_entities` fetches answer per entity, so a batch asks a subgraph only for
    /// the entities not cached (for callers without credentials, unless
    /// `private_when_identified` is off).
    pub entities: bool,
    /// Memory for each of the response and entity caches, in bytes.
    pub max_bytes: u64,
    /// The longest any entry is kept, in seconds, whatever its hints allow.
    pub max_ttl: u32,
    /// Responses to callers with credentials are private to them (cached per caller), even
    /// when no subgraph marks them private. Turn off only when every subgraph that reads the
    /// caller says so in its `Cache-Control`.
    pub private_when_identified: bool,
    /// Redis holding entries and carrying invalidations for every replica
    /// (`redis://127.0.0.1:6379`); when unset, `REDIS_URL` is used if set.
    pub redis_url: Option<String>,
    /// Prefix of every Redis key and of the invalidation channel: replicas that share a cache
    /// share a prefix.
    pub redis_prefix: String,
    /// The most a Redis call may take, in milliseconds, before the request goes on without it.
    pub redis_timeout_ms: u64,
    /// Bearer token that authorizes `POST /cache/invalidate`; the endpoint is off when unset.
    pub admin_token: Option<String>,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            default_max_age: 0,
            types: HashMap::new(),
            fields: HashMap::new(),
            response: false,
            entities: false,
            max_bytes: 64 * 1024 * 1024,
            max_ttl: 3600,
            private_when_identified: true,
            redis_url: None,
            redis_prefix: "tributary".to_owned(),
            redis_timeout_ms: 250,
            admin_token: None,
        }
    }
}

impl CacheConfig {
    /// Hints from `(type, seconds)` and `(Type.field, seconds)` pairs; no default max-age.
    pub fn from_hints(types: &[(&str, u32)], fields: &[(&str, u32)]) -> CacheConfig {
        let map =
            |pairs: &[(&str, u32)]| pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect();
        CacheConfig {
            types: map(types),
            fields: map(fields),
            ..CacheConfig::default()
        }
    }
}
