//! Starting and stopping the whole stack together: every domain subgraph, the web and mobile
//! BFFs in front of them, and the plain federation router.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use subgraph_kit::{Auth, Peers, Running, StartOptions, Subgraph};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tributary_gateway::{Config as GatewayConfig, Engine, Supergraph, config};
use tributary_schema::SubgraphSource;

pub use tributary_gateway::Environment;

/// The domain subgraphs the stack runs, in start order (orders calls catalog and inventory,
/// reviews calls catalog). Adding a service to the stack is one line here.
pub const SERVICES: &[Service] = &[
    Service::of::<subgraph_accounts::Accounts>(),
    Service::of::<subgraph_catalog::Catalog>(),
    Service::of::<subgraph_reviews::Reviews>(),
    Service::of::<subgraph_inventory::Inventory>(),
    Service::of::<subgraph_orders::Orders>(),
];

/// The domain subgraphs' names, in [`SERVICES`] (start) order.
pub const SUBGRAPHS: [&str; SERVICES.len()] = names();

/// A subgraph server starting: the future [`subgraph_kit::start`] returns, boxed.
type Starting = Pin<Box<dyn Future<Output = anyhow::Result<Running>> + Send>>;

/// One domain subgraph of the stack: its name, how to start it and its SDL.
#[derive(Clone, Copy)]
pub struct Service {
    /// The subgraph's name in the supergraph.
    pub name: &'static str,
    start: fn(StartOptions, CancellationToken) -> Starting,
    sdl: fn() -> String,
}

impl Service {
    /// The entry of the [`Subgraph`] `S`.
    pub const fn of<S: Subgraph>() -> Service {
        Service {
            name: S::NAME,
            start: start_boxed::<S>,
            sdl: S::sdl,
        }
    }

    /// Connects, migrates, seeds and serves the subgraph with `options` until `shutdown`.
    pub async fn start(
        &self,
        options: StartOptions,
        shutdown: CancellationToken,
    ) -> anyhow::Result<Running> {
        (self.start)(options, shutdown).await
    }

    /// The subgraph's Federation v2 SDL, from its library.
    pub fn sdl(&self) -> String {
        (self.sdl)()
    }
}

/// [`subgraph_kit::start`] for `S`, as a function pointer [`Service`] can hold.
fn start_boxed<S: Subgraph>(options: StartOptions, shutdown: CancellationToken) -> Starting {
    Box::pin(subgraph_kit::start::<S>(options, shutdown))
}

/// The names of [`SERVICES`], in order.
const fn names() -> [&'static str; SERVICES.len()] {
    let mut names = [""; SERVICES.len()];
    let mut i = 0;
    while i < SERVICES.len() {
        names[i] = SERVICES[i].name;
        i += 1;
    }
    names
}

/// Where the subgraphs keep their data.
#[derive(Debug, Clone)]
pub enum Backend {
    /// One SQLite file per subgraph in this folder.
    Sqlite(PathBuf),
    /// One shared PostgreSQL database; each subgraph gets the schema `<prefix><name>`.
    Postgres {
        /// `postgres://...`
        url: String,
        /// Prefix of the per-subgraph schema names (empty in production, unique per test).
        schema_prefix: String,
    },
}

/// How to start the stack.
#[derive(Debug, Clone)]
pub struct StackConfig {
    /// The address every server binds to.
    pub host: IpAddr,
    /// The first subgraph's port, the others following in [`SUBGRAPHS`] order; `None` picks
    /// free ports (for tests).
    pub base_port: Option<u16>,
    /// The web BFF's port; `None` picks a free port.
    pub web_port: Option<u16>,
    /// The mobile BFF's port; `None` picks a free port.
    pub mobile_port: Option<u16>,
    /// The plain federation router's port (the full supergraph, no BFF fields); `None` picks
    /// a free port.
    pub gateway_port: Option<u16>,
    /// Development (GraphiQL, APQ, free-form mobile documents) or production.
    pub environment: Environment,
    /// Where data lives.
    pub backend: Backend,
    /// Drop all data and reseed.
    pub reset: bool,
    /// The HS256 secret shared by accounts (which signs) and every subgraph (which verifies);
    /// unused when `jwt_keys` is set.
    pub jwt_secret: String,
    /// A folder of ES256 keys (`<kid>.pem`, PKCS#8): when set, tokens are signed with the kid
    /// that sorts last, verified with any key of the folder, and the BFFs and the router fetch
    /// the public keys from accounts' JWKS instead of knowing a secret.
    pub jwt_keys: Option<PathBuf>,
    /// How long a user's access token lives.
    pub token_ttl: Duration,
    /// How often the key folder is read again, how long a key added is published before it
    /// signs, and how old the engines' copy of the JWKS may grow; whole seconds, at least one
    /// ([`subgraph_kit::auth::KEYS_RELOAD`] in production, short in tests).
    pub keys_reload: Duration,
}

/// An engine served over HTTP: the plain router or a BFF.
struct Front {
    name: &'static str,
    addr: SocketAddr,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// The running stack.
pub struct Stack {
    subgraphs: Vec<Running>,
    /// The token authority every subgraph shares.
    auth: Auth,
    fronts: Vec<Front>,
    /// Stops the subgraphs; cancelled only once the fronts have drained.
    shutdown: CancellationToken,
    /// Stops the BFFs and the router, first.
    fronts_shutdown: CancellationToken,
    backend: Backend,
    /// How the stack's engines verify tokens, once they are started.
    engine_auth: Option<config::AuthConfig>,
}

/// How long a server may take to finish the requests in flight when the stack stops; past it,
/// its remaining requests are cut off.
pub const DRAIN: Duration = Duration::from_secs(10);

impl Stack {
    /// Starts every subgraph; fails, stopping what had started, if any of them cannot start.
    pub async fn start(config: StackConfig) -> anyhow::Result<Stack> {
        let mut listeners = Vec::with_capacity(SERVICES.len());
        for (i, service) in SERVICES.iter().enumerate() {
            let name = service.name;
            let port = config
                .base_port
                .map(|base| {
                    u16::try_from(i)
                        .ok()
                        .and_then(|i| base.checked_add(i))
                        .with_context(|| {
                            format!("{name}: port {base} + {i} is beyond 65535; lower the first subgraph port")
                        })
                })
                .transpose()?;
            listeners.push(bind(name, config.host, port).await?);
        }
        let mut urls = HashMap::new();
        for (service, listener) in SERVICES.iter().zip(&listeners) {
            urls.insert(
                service.name.to_owned(),
                format!("http://{}/graphql", listener.local_addr()?),
            );
        }
        let peers = Peers::try_new(urls)?;
        let auth = Auth::configured(
            &config.jwt_secret,
            config.jwt_keys.as_deref(),
            keys_period(&config),
            config.token_ttl,
        )?;
        let shutdown = CancellationToken::new();
        // One watcher for the one authority all the subgraphs share.
        auth.watch_keys(shutdown.clone());
        let mut stack = Stack {
            subgraphs: Vec::new(),
            auth: auth.clone(),
            fronts: Vec::new(),
            shutdown: shutdown.clone(),
            fronts_shutdown: CancellationToken::new(),
            backend: config.backend.clone(),
            engine_auth: None,
        };
        for (service, listener) in SERVICES.iter().zip(listeners) {
            let name = service.name;
            let (database_url, pg_schema) = match &config.backend {
                Backend::Sqlite(dir) => (format!("sqlite://{}/{name}.sqlite", dir.display()), None),
                Backend::Postgres { url, schema_prefix } => {
                    (url.clone(), Some(format!("{schema_prefix}{name}")))
                }
            };
            let options = StartOptions {
                listener,
                database_url,
                pg_schema,
                reset: config.reset,
                auth: auth.clone(),
                peers: peers.clone(),
            };
            match service.start(options, shutdown.clone()).await {
                Ok(running) => stack.subgraphs.push(running),
                Err(err) => {
                    stack.stop().await;
                    return Err(err);
                }
            }
        }
        match stack.start_fronts(&config).await {
            Ok(()) => Ok(stack),
            Err(err) => {
                stack.stop().await;
                Err(err)
            }
        }
    }

    /// Starts the web and mobile BFFs against the running subgraphs, then the plain router.
    async fn start_fronts(&mut self, config: &StackConfig) -> anyhow::Result<()> {
        let subgraph_urls: HashMap<String, String> = self
            .subgraphs
            .iter()
            .map(|s| (s.name.to_owned(), s.url()))
            .collect();
        let listener = bind("web", config.host, config.web_port).await?;
        let addr = listener.local_addr()?;
        // `TRIBUTARY_<SECTION>__<KEY>` variables apply over each profile.
        let auth = self.engine_auth(config)?;
        self.engine_auth = Some(auth.clone());
        let mut web = bff_web::profile(config.environment);
        web.auth = auth.clone();
        let mut web = config::load_over(&web, None)?;
        web.subgraphs.urls = subgraph_urls.clone();
        let task = bff_web::start(listener, web, self.fronts_shutdown.clone()).await?;
        self.fronts.push(Front {
            name: "web",
            addr,
            task,
        });

        let listener = bind("mobile", config.host, config.mobile_port).await?;
        let addr = listener.local_addr()?;
        let mut mobile = bff_mobile::profile(config.environment);
        mobile.auth = auth;
        let mut mobile = config::load_over(&mobile, None)?;
        mobile.subgraphs.urls = subgraph_urls;
        let task = bff_mobile::start(listener, mobile, self.fronts_shutdown.clone()).await?;
        self.fronts.push(Front {
            name: "mobile",
            addr,
            task,
        });

        self.start_gateway(config).await
    }

    /// Composes the running subgraphs into a supergraph and serves it with the engine.
    async fn start_gateway(&mut self, config: &StackConfig) -> anyhow::Result<()> {
        let sources: Vec<SubgraphSource> = SERVICES
            .iter()
            .zip(&self.subgraphs)
            .map(|(service, s)| SubgraphSource::new(s.name, s.url(), service.sdl()))
            .collect();
        let sdl = tributary_schema::compose(&sources).context("composing the supergraph")?;
        let supergraph = Supergraph::from_sdl(&sdl).context("loading the supergraph")?;
        let development = !config.environment.is_production();
        let router = GatewayConfig {
            graphiql: tributary_gateway::config::GraphiqlConfig {
                enabled: development,
                ..Default::default()
            },
            persisted: tributary_gateway::config::PersistedConfig {
                apq: development,
                ..Default::default()
            },
            server: tributary_gateway::config::ServerConfig {
                introspection: development,
                ..Default::default()
            },
            auth: self.engine_auth(config)?,
            telemetry: tributary_gateway::config::TelemetryConfig {
                metrics: development,
                metrics_listen: (!development).then(|| "127.0.0.1:9466".to_owned()),
                ..Default::default()
            },
            ..GatewayConfig::default()
        };
        let router = config::load_over(&router, None)?;
        let engine =
            Engine::new(supergraph, router, Default::default()).context("starting the engine")?;
        let listener = bind("gateway", config.host, config.gateway_port).await?;
        let addr = listener.local_addr()?;
        let task = tributary_gateway::http::serve(
            listener,
            Arc::new(engine),
            self.fronts_shutdown.clone(),
        );
        tracing::info!(%addr, "federation router serving");
        self.fronts.push(Front {
            name: "gateway",
            addr,
            task,
        });
        Ok(())
    }

    /// How the engines verify tokens: against accounts' JWKS when the stack signs with keys,
    /// else with the shared secret.
    fn engine_auth(&self, config: &StackConfig) -> anyhow::Result<config::AuthConfig> {
        if config.jwt_keys.is_none() {
            return Ok(engine_auth(&config.jwt_secret));
        }
        let jwks_url = self
            .jwks_url()
            .context("the stack signs with keys but runs no accounts subgraph to publish them")?;
        Ok(engine_auth_for(&jwks_url, keys_period(config)))
    }

    /// How the stack's engines verify tokens (the `[auth]` of the BFFs and the router), for
    /// another engine that should accept the stack's tokens too.
    pub fn engine_auth_config(&self) -> Option<&config::AuthConfig> {
        self.engine_auth.as_ref()
    }

    /// Where accounts publishes the token keys as a JWKS (an empty set with a secret).
    pub fn jwks_url(&self) -> Option<String> {
        self.subgraphs
            .iter()
            .find(|s| s.name == subgraph_accounts::Accounts::NAME)
            .map(|s| format!("http://{}{}", s.addr, subgraph_kit::auth::JWKS_PATH))
    }

    /// The token authority the subgraphs share: it signs (accounts, and orders' service
    /// tokens) and verifies (every subgraph).
    pub fn auth(&self) -> &Auth {
        &self.auth
    }

    /// The plain federation router's GraphQL URL.
    pub fn gateway_url(&self) -> Option<String> {
        self.url("gateway")
    }

    /// The GraphQL URL of `name`: a subgraph, a BFF (`web`, `mobile`) or the plain router
    /// (`gateway`).
    pub fn url(&self, name: &str) -> Option<String> {
        self.fronts
            .iter()
            .find(|f| f.name == name)
            .map(|f| format!("http://{}/graphql", f.addr))
            .or_else(|| {
                self.subgraphs
                    .iter()
                    .find(|s| s.name == name)
                    .map(Running::url)
            })
    }

    /// The BFFs' and the plain router's names and GraphQL URLs: web, mobile, gateway.
    pub fn front_urls(&self) -> Vec<(&'static str, String)> {
        self.fronts
            .iter()
            .map(|f| (f.name, format!("http://{}/graphql", f.addr)))
            .collect()
    }

    /// Every subgraph's name and GraphQL URL, in start order.
    pub fn urls(&self) -> Vec<(&'static str, String)> {
        self.subgraphs.iter().map(|s| (s.name, s.url())).collect()
    }

    /// Where the stack keeps its data.
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// Stops every server in drain order: the BFFs and the router stop accepting and finish
    /// the requests they hold (whose fetches still reach the subgraphs), then the subgraphs do
    /// the same; each server gets at most [`DRAIN`] before its remaining requests are cut off.
    pub async fn stop(self) {
        self.fronts_shutdown.cancel();
        for front in self.fronts {
            drain(front.name, front.task).await;
        }
        self.shutdown.cancel();
        for running in self.subgraphs {
            drain(running.name, running.task).await;
        }
    }
}

/// The key folder's period in whole seconds, at least one: the engines renew their copy of the
/// keys by whole seconds, and must not keep it longer than a new key waits to sign.
fn keys_period(config: &StackConfig) -> Duration {
    Duration::from_secs(config.keys_reload.as_secs().max(1))
}

/// Waits for a server that was told to stop, at most [`DRAIN`].
async fn drain(name: &'static str, mut task: tokio::task::JoinHandle<std::io::Result<()>>) {
    match tokio::time::timeout(DRAIN, &mut task).await {
        Ok(Ok(Ok(()))) => tracing::info!(server = name, "drained"),
        Ok(Ok(Err(err))) => {
            tracing::warn!(server = name, error = %err, "server ended with an error")
        }
        Ok(Err(err)) => tracing::warn!(server = name, error = %err, "server task failed"),
        Err(_) => {
            task.abort();
            tracing::warn!(
                server = name,
                drain_s = DRAIN.as_secs(),
                "requests still in flight were cut off"
            );
        }
    }
}

/// The SDL of the domain subgraph `name`, from its library; empty for a name not in
/// [`SERVICES`].
pub fn sdl_of(name: &str) -> String {
    SERVICES
        .iter()
        .find(|s| s.name == name)
        .map(Service::sdl)
        .unwrap_or_default()
}

/// Binds `name`'s listener on `host` at `port` (a free port when `None`).
async fn bind(name: &str, host: IpAddr, port: Option<u16>) -> anyhow::Result<TcpListener> {
    let addr = SocketAddr::new(host, port.unwrap_or(0));
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("{name}: binding {addr}"))
}

/// Token verification at the BFFs and the router: the stack's user tokens (HS256, issued by
/// accounts) are checked once at the engine, so a bad token is one 401 before any subgraph
/// call instead of an error from every subgraph.
pub fn engine_auth(secret: &str) -> config::AuthConfig {
    config::AuthConfig {
        enabled: true,
        hs256_secret: Some(secret.to_owned()),
        issuers: vec![subgraph_kit::auth::ISSUER.to_owned()],
        ..config::AuthConfig::default()
    }
}

/// Token verification at the engines when the stack signs with ES256 keys: the public keys
/// come from accounts' JWKS at `jwks_url`, renewed once they are `reload` old. That is the
/// period at which accounts reads its key folder and publishes a new key before signing with
/// it, so an engine knows a key before the first token it signed arrives, and a removed key
/// stops verifying at about the same time everywhere; a token naming an unknown key still
/// renews them, at most once a second. No secret: HS256 tokens are refused.
pub fn engine_auth_for(jwks_url: &str, reload: Duration) -> config::AuthConfig {
    config::AuthConfig {
        enabled: true,
        jwks_url: Some(jwks_url.to_owned()),
        issuers: vec![subgraph_kit::auth::ISSUER.to_owned()],
        jwks_min_refresh_seconds: 1,
        jwks_max_age_seconds: reload.as_secs().max(1),
        ..config::AuthConfig::default()
    }
}
