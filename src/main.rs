//! `cargo run --release`: the whole stack on loopback, data under `./data`;
//! `tributary watch-order`: a customer's orders followed live through a running stack.

mod watch;

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use tributary::{Backend, Environment, Stack, StackConfig};

/// mimalloc: the response tree is many small allocations, which it serves faster than the
/// system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Runs every Tributary service in one process.
#[derive(Parser)]
#[command(version, about, args_conflicts_with_subcommands = true)]
struct Args {
    /// Without a command, the stack runs; the options below are the stack's.
    #[command(subcommand)]
    command: Option<Command>,
    /// Address every server binds to.
    #[arg(long, env = "TRIBUTARY_HOST", default_value = "127.0.0.1")]
    host: IpAddr,
    /// First subgraph port; the other subgraphs take the next ports, in start order (accounts,
    /// catalog, reviews, inventory, orders).
    #[arg(long, env = "TRIBUTARY_SUBGRAPH_PORT", default_value_t = 4101)]
    subgraph_port: u16,
    /// Port of the web BFF.
    #[arg(long, env = "TRIBUTARY_WEB_PORT", default_value_t = 4000)]
    web_port: u16,
    /// Port of the mobile BFF.
    #[arg(long, env = "TRIBUTARY_MOBILE_PORT", default_value_t = 4001)]
    mobile_port: u16,
    /// Port of the plain federation router (the full supergraph, without the BFFs' fields).
    #[arg(long, env = "TRIBUTARY_GATEWAY_PORT", default_value_t = 4002)]
    gateway_port: u16,
    /// `development` (GraphiQL, APQ, any mobile document) or `production` (none of these; the
    /// mobile app's persisted operations only).
    #[arg(long, env = "TRIBUTARY_ENV", value_enum, default_value_t = Environment::Development)]
    env: Environment,
    /// Folder of the SQLite files (used unless --database-url names PostgreSQL).
    #[arg(long, env = "TRIBUTARY_DATA_DIR", default_value = "data")]
    data_dir: PathBuf,
    /// `postgres://...` to keep every subgraph in its own schema of one PostgreSQL database.
    #[arg(long, env = "DATABASE_URL")]
    database_url: Option<String>,
    /// Drop all data and reseed the demo data.
    #[arg(long)]
    reset: bool,
    /// How tokens are signed: an HS256 secret or a folder of ES256 keys, and their lifetime.
    #[command(flatten)]
    tokens: subgraph_kit::TokenArgs,
}

/// What `tributary` does besides running the stack.
#[derive(clap::Subcommand)]
enum Command {
    /// Follows the signed-in customer's orders live through a running stack, one line per
    /// status change (Server-Sent Events).
    WatchOrder(watch::WatchArgs),
}

fn main() -> ExitCode {
    let mut args = Args::parse();
    match args.command.take() {
        Some(Command::WatchOrder(watch)) => {
            tributary_process::run("tributary watch-order", || watch::run(watch))
        }
        None => tributary_process::run("tributary", || run(args)),
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    args.tokens.check(args.env.is_production())?;
    let backend = match args.database_url {
        Some(url) if url.starts_with("postgres") => Backend::Postgres {
            url,
            schema_prefix: String::new(),
        },
        Some(url) => anyhow::bail!(
            "--database-url must be postgres://... (SQLite files go in --data-dir), got `{url}`"
        ),
        None => Backend::Sqlite(args.data_dir),
    };
    let stack = Stack::start(StackConfig {
        host: args.host,
        base_port: Some(args.subgraph_port),
        web_port: Some(args.web_port),
        mobile_port: Some(args.mobile_port),
        gateway_port: Some(args.gateway_port),
        environment: args.env,
        backend,
        reset: args.reset,
        token_ttl: args.tokens.ttl(),
        jwt_secret: args.tokens.jwt_secret,
        jwt_keys: args.tokens.jwt_keys,
        keys_reload: subgraph_kit::auth::KEYS_RELOAD,
    })
    .await?;
    println!("Tributary is up ({:?}).", args.env);
    let graphiql = if !args.env.is_production() {
        "  (GraphiQL in a browser)"
    } else {
        ""
    };
    for (name, url) in stack.front_urls() {
        println!("  {name:<10} {url}{graphiql}");
    }
    println!("Subgraphs:");
    for (name, url) in stack.urls() {
        println!("  {name:<10} {url}");
    }
    println!("Press Ctrl-C to stop.");
    tributary_process::signal().await;
    println!("Shutting down...");
    stack.stop().await;
    Ok(())
}
