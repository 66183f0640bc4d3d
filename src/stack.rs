//! Starting and stopping every subgraph of the stack together.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use subgraph_kit::{Auth, Peers, Running, StartOptions, Subgraph};
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
        Ok(stack)
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
        for running in self.subgraphs {
            match running.task.await {
                Ok(Ok(())) => {}
                Ok(Err(err)) => tracing::warn!(subgraph = running.name, error = %err, "server ended with an error"),
                Err(err) => tracing::warn!(subgraph = running.name, error = %err, "server task failed"),
            }
        }
    }
}

async fn start<S: Subgraph>(
    options: StartOptions,
    shutdown: &CancellationToken,
) -> anyhow::Result<Running> {
    subgraph_kit::start::<S>(options, shutdown.clone()).await
}
