//! Starting a subgraph: connect, migrate, seed, open the event bus, serve until shut down.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use sea_orm_migration::MigratorTrait;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tributary_process::Environment;

use crate::auth::{self, Auth, AuthError, DEV_SECRET};
use crate::events::EventBus;
use crate::peer::Peers;
use crate::{Deps, Subgraph, db, server};

/// How to start one subgraph.
pub struct StartOptions {
    /// Where to serve; bind it first so the address is known before the subgraph runs.
    pub listener: TcpListener,
    /// `sqlite://...` or `postgres://...`.
    pub database_url: String,
    /// The PostgreSQL schema holding this subgraph's tables (ignored on SQLite).
    pub pg_schema: Option<String>,
    /// Drop every table and reseed before serving.
    pub reset: bool,
    /// The token authority shared with the other subgraphs.
    pub auth: Auth,
    /// The peers this subgraph calls.
    pub peers: Peers,
}

/// A subgraph being served.
pub struct Running {
    /// The subgraph's name.
    pub name: &'static str,
    /// The address it listens on.
    pub addr: SocketAddr,
    /// The server task; it ends once the shutdown token is cancelled and requests drained.
    pub task: JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// The subgraph's GraphQL endpoint.
    pub fn url(&self) -> String {
        format!("http://{}/graphql", self.addr)
    }
}

/// Connects, migrates and seeds `S`'s database, opens its event bus (on NATS JetStream when
/// `NATS_URL` is set and `S` has [`Subgraph::TOPICS`]; failing when NATS cannot be reached),
/// then serves it until `shutdown` is cancelled.
pub async fn start<S: Subgraph>(
    options: StartOptions,
    shutdown: CancellationToken,
) -> anyhow::Result<Running> {
    let db = db::connect(&options.database_url, options.pg_schema.as_deref())
        .await
        .with_context(|| format!("{}: connecting to the database", S::NAME))?;
    if options.reset {
        S::Migrator::fresh(&db)
            .await
            .with_context(|| format!("{}: resetting the database", S::NAME))?;
    } else {
        S::Migrator::up(&db, None)
            .await
            .with_context(|| format!("{}: migrating the database", S::NAME))?;
    }
    S::seed(&db)
        .await
        .with_context(|| format!("{}: seeding the database", S::NAME))?;
    let events = EventBus::from_env(S::TOPICS, shutdown.clone())
        .await
        .with_context(|| format!("{}: opening the event bus", S::NAME))?;
    let deps = Deps {
        db,
        auth: options.auth,
        peers: options.peers,
    };
    serve::<S>(options.listener, deps, events, shutdown).await
}

/// Serves `S` on `listener` with a database already migrated and seeded (by [`start`] of
/// another replica, say) and the given event bus, spawning its upkeep, until `shutdown`. A
/// subgraph whose schema has a subscription root also answers WebSocket upgrades at `/graphql`.
pub async fn serve<S: Subgraph>(
    listener: TcpListener,
    deps: Deps,
    events: EventBus,
    shutdown: CancellationToken,
) -> anyhow::Result<Running> {
    tokio::spawn(S::maintain(deps.clone(), events.clone(), shutdown.clone()));
    let routes = S::routes(&deps);
    let surface = server::Surface {
        name: S::NAME,
        auth: deps.auth.clone(),
        db: deps.db.clone(),
        events,
        shutdown: shutdown.clone(),
    };
    let app = server::router(surface, S::executor(deps), routes).await;
    let addr = listener.local_addr()?;
    // Restarted with backoff should it end early: in the one-process launcher one failed
    // server must not leave the stack half-dead.
    let task = tokio::spawn(tributary_process::supervise(
        S::NAME,
        listener,
        shutdown,
        move |listener, shutdown| {
            axum::serve(listener, app.clone())
                .with_graceful_shutdown(shutdown.cancelled_owned())
                .into_future()
        },
    ));
    tracing::info!(subgraph = S::NAME, %addr, "subgraph serving");
    Ok(Running {
        name: S::NAME,
        addr,
        task,
    })
}

/// The command line of a subgraph binary when it serves: what [`main`] parses, and what a
/// binary with commands of its own (orders' `webhooks`) flattens beside them and hands to
/// [`serve_main`].
#[derive(clap::Args)]
pub struct ServeArgs {
    /// Where this runs; `production` refuses the development JWT secret and short ones (keys
    /// need no secret).
    #[arg(long, env = "TRIBUTARY_ENV", value_enum, default_value_t = Environment::Development)]
    env: Environment,
    /// Address to listen on (default: 127.0.0.1 and the subgraph's own port).
    #[arg(long, env = "LISTEN")]
    listen: Option<SocketAddr>,
    #[command(flatten)]
    database: DatabaseArgs,
    /// Drop all data and reseed.
    #[arg(long)]
    reset: bool,
    #[command(flatten)]
    tokens: TokenArgs,
    /// A peer subgraph's GraphQL URL, as NAME=URL (repeatable).
    #[arg(long = "peer", env = "TRIBUTARY_PEERS", value_delimiter = ',')]
    peers: Vec<String>,
}

/// The command line of a subgraph binary that only serves.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    serve: ServeArgs,
}

/// Where a subgraph's database is: the options every command of a subgraph binary that opens
/// it shares.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct DatabaseArgs {
    /// Database URL (default: sqlite://data/<subgraph>.sqlite).
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// PostgreSQL schema for this subgraph's tables (default: the subgraph's name).
    #[arg(long, env = "PG_SCHEMA")]
    pub pg_schema: Option<String>,
}

impl DatabaseArgs {
    /// The database URL for subgraph `name`, the default filled in.
    pub fn url(&self, name: &str) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://data/{name}.sqlite"))
    }

    /// The PostgreSQL schema for subgraph `name`, the default filled in.
    pub fn schema(&self, name: &str) -> String {
        self.pg_schema.clone().unwrap_or_else(|| name.to_owned())
    }

    /// Opens subgraph `name`'s database as these options say, without migrating it.
    pub async fn connect(&self, name: &str) -> Result<sea_orm::DatabaseConnection, sea_orm::DbErr> {
        db::connect(&self.url(name), Some(&self.schema(name))).await
    }
}

/// How tokens are signed and verified: the options every Tributary binary shares.
#[derive(clap::Args, Debug, Clone)]
pub struct TokenArgs {
    /// HS256 secret shared by every subgraph (in production: at least 32 bytes, not the
    /// development default); unused when --jwt-keys is set.
    #[arg(long, env = "TRIBUTARY_JWT_SECRET", default_value = DEV_SECRET, hide_default_value = true, hide_env_values = true)]
    pub jwt_secret: String,
    /// Folder of ES256 signing keys, one P-256 key per `<kid>.pem` or `<kid>.der` (PKCS#8):
    /// every key verifies and accounts publishes them all at /.well-known/jwks.json; the kid
    /// that sorts last signs (a key added while running, once published for 30 s). Read again
    /// every 30 s and on SIGHUP.
    #[arg(long, env = "TRIBUTARY_JWT_KEYS")]
    pub jwt_keys: Option<PathBuf>,
    /// Lifetime of a user's access token, in seconds (refresh tokens renew it).
    #[arg(long, env = "TRIBUTARY_ACCESS_TOKEN_TTL", default_value_t = auth::DEFAULT_TTL.as_secs(), value_parser = clap::value_parser!(u64).range(60..))]
    pub access_token_ttl: u64,
}

impl TokenArgs {
    /// Refuses settings unfit for production: without a key folder, the secret must pass
    /// [`auth::check_secret`].
    pub fn check(&self, production: bool) -> Result<(), AuthError> {
        match self.jwt_keys {
            Some(_) => Ok(()),
            None => auth::check_secret(&self.jwt_secret, production),
        }
    }

    /// How long a user's access token lives.
    pub fn ttl(&self) -> Duration {
        Duration::from_secs(self.access_token_ttl)
    }

    /// The authority these settings describe (the key folder is read now).
    pub fn authority(&self) -> Result<Auth, AuthError> {
        Auth::configured(
            &self.jwt_secret,
            self.jwt_keys.as_deref(),
            auth::KEYS_RELOAD,
            self.ttl(),
        )
    }
}

/// The `main` of a subgraph binary: parse the command line, serve until Ctrl-C or SIGTERM.
pub fn main<S: Subgraph>() -> ExitCode {
    serve_main::<S>(Args::parse().serve)
}

/// The `main` of a subgraph binary whose command line was parsed already: serve `S` as `args`
/// say until Ctrl-C or SIGTERM.
pub fn serve_main<S: Subgraph>(args: ServeArgs) -> ExitCode {
    tributary_process::run(S::NAME, || serve_alone::<S>(args))
}

async fn serve_alone<S: Subgraph>(args: ServeArgs) -> anyhow::Result<()> {
    args.tokens.check(args.env.is_production())?;
    let auth = args.tokens.authority()?;
    let peers = Peers::try_new(tributary_process::parse_named_urls(&args.peers)?)?;
    let listen = args
        .listen
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], S::DEFAULT_PORT)));
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    let shutdown = CancellationToken::new();
    auth.watch_keys(shutdown.clone());
    let running = start::<S>(
        StartOptions {
            listener,
            database_url: args.database.url(S::NAME),
            pg_schema: Some(args.database.schema(S::NAME)),
            reset: args.reset,
            auth,
            peers,
        },
        shutdown.clone(),
    )
    .await?;
    println!("{} subgraph: {}", S::NAME, running.url());
    tributary_process::signal().await;
    shutdown.cancel();
    running.task.await??;
    Ok(())
}
