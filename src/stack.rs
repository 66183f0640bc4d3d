//! Starting and stopping every subgraph of the stack together.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use std::sync::Arc;

use anyhow::Context as _;
use subgraph_kit::{Auth, Peers, Running, StartOptions, Subgraph};
use tributary_gateway::{Config as GatewayConfig, Engine, Supergraph};
use tributary_schema::SubgraphSource;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

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
    /// The federation router's port; `None` picks a free port.
    pub gateway_port: Option<u16>,
    /// Where data lives.
    pub backend: Backend,
    /// Drop all data and reseed.
    pub reset: bool,
    /// The HS256 secret shared by accounts (which signs) and every subgraph (which verifies).
    pub jwt_secret: String,
}

/// The running stack.
pub struct Stack {
    subgraphs: Vec<Running>,
    gateway: Option<(SocketAddr, tokio::task::JoinHandle<std::io::Result<()>>)>,
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
            urls.insert((*name).to_owned(), format!("http://{}/graphql", listener.local_addr()?));
        }
        let peers = Peers::new(urls);
        let auth = Auth::new(config.jwt_secret.as_bytes(), Duration::from_secs(24 * 3600));
        let shutdown = CancellationToken::new();
        let mut stack = Stack {
            subgraphs: Vec::new(),
            gateway: None,
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
        match stack.start_gateway(&config).await {
            Ok(()) => Ok(stack),
            Err(err) => {
                stack.stop().await;
                Err(err)
            }
        }
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
        let engine = Engine::new(supergraph, GatewayConfig::default(), Default::default())
            .context("starting the engine")?;
        let addr = SocketAddr::new(config.host, config.gateway_port.unwrap_or(0));
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("gateway: binding {addr}"))?;
        let addr = listener.local_addr()?;
        let app = tributary_gateway::http::router(Arc::new(engine));
        let task = tokio::spawn(
            axum::serve(listener, app)
                .with_graceful_shutdown(self.shutdown.clone().cancelled_owned())
                .into_future(),
        );
        tracing::info!(%addr, "federation router serving");
        self.gateway = Some((addr, task));
        Ok(())
    }

    /// The federation router's GraphQL URL.
    pub fn gateway_url(&self) -> Option<String> {
        self.gateway
            .as_ref()
            .map(|(addr, _)| format!("http://{addr}/graphql"))
    }

    /// The GraphQL URL of subgraph `name`.
    pub fn url(&self, name: &str) -> Option<String> {
        self.subgraphs
            .iter()
            .find(|s| s.name == name)
            .map(Running::url)
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
        if let Some((_, task)) = self.gateway {
            match task.await {
                Ok(Ok(())) => {}
                Ok(Err(err)) => tracing::warn!(error = %err, "gateway ended with an error"),
                Err(err) => tracing::warn!(error = %err, "gateway task failed"),
            }
        }
        for running in self.subgraphs {
            match running.task.await {
                Ok(Ok(())) => {}
                Ok(Err(err)) => tracing::warn!(subgraph = running.name, error = %err, "server ended with an error"),
                Err(err) => tracing::warn!(subgraph = running.name, error = %err, "server task failed"),
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

async fn start<S: Subgraph>(
    options: StartOptions,
    shutdown: &CancellationToken,
) -> anyhow::Result<Running> {
    subgraph_kit::start::<S>(options, shutdown.clone()).await
}
