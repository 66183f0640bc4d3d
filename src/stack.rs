//! Starting and stopping the whole stack together: every domain subgraph, the web and mobile
//! BFFs in front of them, and the plain federation router.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use std::sync::Arc;

use anyhow::Context as _;
use subgraph_kit::{Auth, Peers, Running, StartOptions, Subgraph};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tributary_gateway::{Config as GatewayConfig, Engine, Supergraph};
use tributary_schema::SubgraphSource;

pub use bff_web::Environment;

/// The domain subgraphs, in start order (orders calls catalog and inventory, reviews calls catalog).
pub const SUBGRAPHS: [&str; 5] = ["accounts", "catalog", "reviews", "inventory", "orders"];

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
    /// The HS256 secret shared by accounts (which signs) and every subgraph (which verifies).
    pub jwt_secret: String,
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
    fronts: Vec<Front>,
    shutdown: CancellationToken,
    backend: Backend,
}

impl Stack {
    /// Starts every subgraph; fails, stopping what had started, if any of them cannot start.
    pub async fn start(config: StackConfig) -> anyhow::Result<Stack> {
        let mut listeners = Vec::with_capacity(SUBGRAPHS.len());
        for (i, name) in SUBGRAPHS.iter().enumerate() {
            let port = config.base_port.map_or(0, |base| base + i as u16);
            let addr = SocketAddr::new(config.host, port);
            let listener = TcpListener::bind(addr)
                .await
                .with_context(|| format!("{name}: binding {addr}"))?;
            listeners.push(listener);
        }
        let mut urls = HashMap::new();
        for (name, listener) in SUBGRAPHS.iter().zip(&listeners) {
            urls.insert(
                (*name).to_owned(),
                format!("http://{}/graphql", listener.local_addr()?),
            );
        }
        let peers = Peers::new(urls);
        let auth = Auth::new(config.jwt_secret.as_bytes(), Duration::from_secs(24 * 3600));
        let shutdown = CancellationToken::new();
        let mut stack = Stack {
            subgraphs: Vec::new(),
            fronts: Vec::new(),
            shutdown: shutdown.clone(),
            backend: config.backend.clone(),
        };
        for (name, listener) in SUBGRAPHS.iter().zip(listeners) {
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
            let started = match *name {
                "accounts" => start::<subgraph_accounts::Accounts>(options, &shutdown).await,
                "catalog" => start::<subgraph_catalog::Catalog>(options, &shutdown).await,
                "reviews" => start::<subgraph_reviews::Reviews>(options, &shutdown).await,
                "inventory" => start::<subgraph_inventory::Inventory>(options, &shutdown).await,
                "orders" => start::<subgraph_orders::Orders>(options, &shutdown).await,
                other => Err(anyhow::anyhow!("unknown subgraph `{other}`")),
            };
            match started {
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
        let mut web = bff_web::profile(config.environment);
        web.subgraph_urls = subgraph_urls.clone();
        let task = bff_web::start(listener, web, self.shutdown.clone()).await?;
        self.fronts.push(Front {
            name: "web",
            addr,
            task,
        });

        let listener = bind("mobile", config.host, config.mobile_port).await?;
        let addr = listener.local_addr()?;
        let mut mobile = bff_mobile::profile(mobile_environment(config.environment));
        mobile.subgraph_urls = subgraph_urls;
        let task = bff_mobile::start(listener, mobile, self.shutdown.clone()).await?;
        self.fronts.push(Front {
            name: "mobile",
            addr,
            task,
        });

        self.start_gateway(config).await
    }

    /// Composes the running subgraphs into a supergraph and serves it with the engine.
    async fn start_gateway(&mut self, config: &StackConfig) -> anyhow::Result<()> {
        let sources: Vec<SubgraphSource> = self
            .subgraphs
            .iter()
            .map(|s| SubgraphSource::new(s.name, s.url(), sdl_of(s.name)))
            .collect();
        let sdl = tributary_schema::compose(&sources).context("composing the supergraph")?;
        let supergraph = Supergraph::from_sdl(&sdl).context("loading the supergraph")?;
        let router = GatewayConfig {
            graphiql: config.environment == Environment::Development,
            persisted: tributary_gateway::http::persisted::PersistedConfig {
                apq: config.environment == Environment::Development,
                ..Default::default()
            },
            ..GatewayConfig::default()
        };
        let engine =
            Engine::new(supergraph, router, Default::default()).context("starting the engine")?;
        let listener = bind("gateway", config.host, config.gateway_port).await?;
        let addr = listener.local_addr()?;
        let app = tributary_gateway::http::router(Arc::new(engine));
        let task = tokio::spawn(
            axum::serve(listener, app)
                .with_graceful_shutdown(self.shutdown.clone().cancelled_owned())
                .into_future(),
        );
        tracing::info!(%addr, "federation router serving");
        self.fronts.push(Front {
            name: "gateway",
            addr,
            task,
        });
        Ok(())
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

    /// Stops every server, letting in-flight requests finish.
    pub async fn stop(self) {
        self.shutdown.cancel();
        for front in self.fronts {
            match front.task.await {
                Ok(Ok(())) => {}
                Ok(Err(err)) => {
                    tracing::warn!(server = front.name, error = %err, "server ended with an error")
                }
                Err(err) => tracing::warn!(server = front.name, error = %err, "server task failed"),
            }
        }
        for running in self.subgraphs {
            match running.task.await {
                Ok(Ok(())) => {}
                Ok(Err(err)) => {
                    tracing::warn!(subgraph = running.name, error = %err, "server ended with an error")
                }
                Err(err) => {
                    tracing::warn!(subgraph = running.name, error = %err, "server task failed")
                }
            }
        }
    }
}

/// The SDL of a domain subgraph, from its library.
pub fn sdl_of(name: &str) -> String {
    match name {
        "accounts" => subgraph_accounts::Accounts::sdl(),
        "catalog" => subgraph_catalog::Catalog::sdl(),
        "reviews" => subgraph_reviews::Reviews::sdl(),
        "inventory" => subgraph_inventory::Inventory::sdl(),
        "orders" => subgraph_orders::Orders::sdl(),
        _ => String::new(),
    }
}

/// Binds `name`'s listener on `host` at `port` (a free port when `None`).
async fn bind(name: &str, host: IpAddr, port: Option<u16>) -> anyhow::Result<TcpListener> {
    let addr = SocketAddr::new(host, port.unwrap_or(0));
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("{name}: binding {addr}"))
}

/// The mobile BFF's name for the launcher's environment.
fn mobile_environment(environment: Environment) -> bff_mobile::Environment {
    match environment {
        Environment::Development => bff_mobile::Environment::Development,
        Environment::Production => bff_mobile::Environment::Production,
    }
}

async fn start<S: Subgraph>(
    options: StartOptions,
    shutdown: &CancellationToken,
) -> anyhow::Result<Running> {
    subgraph_kit::start::<S>(options, shutdown.clone()).await
}
