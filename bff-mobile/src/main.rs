//! Runs the mobile BFF on its own: `cargo run --release -p bff-mobile -- [--listen ADDR] [--env
//! development|production] [--subgraph NAME=URL]... [--bff-file FILE]`.

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use tokio_util::sync::CancellationToken;
use tributary_gateway::Environment;

/// mimalloc: the response tree is many small allocations, which it serves faster than the
/// system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The mobile backend-for-frontend.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on.
    #[arg(
        long,
        env = "TRIBUTARY_MOBILE_LISTEN",
        default_value = "127.0.0.1:4001"
    )]
    listen: SocketAddr,
    /// `development` (GraphiQL, APQ, any document) or `production` (the safelist).
    #[arg(long, env = "TRIBUTARY_ENV", value_enum, default_value_t = Environment::Development)]
    env: Environment,
    /// A subgraph URL replacing the supergraph's, as NAME=URL (repeatable).
    #[arg(long = "subgraph", env = "TRIBUTARY_SUBGRAPHS", value_delimiter = ',')]
    subgraphs: Vec<String>,
    /// A BFF file (TOML: `supergraph`, `manifest`) naming another supergraph, and the
    /// client's manifest, to serve in place of the embedded ones.
    #[arg(long, env = "TRIBUTARY_BFF_FILE")]
    bff_file: Option<std::path::PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    tributary_process::run("bff-mobile", || run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    // `TRIBUTARY_<SECTION>__<KEY>` variables apply over the profile.
    let mut config = tributary_gateway::config::load_over(&bff_mobile::profile(args.env), None)?;
    config.subgraphs.urls = tributary_process::parse_named_urls(&args.subgraphs)?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let shutdown = CancellationToken::new();
    let mut bff = bff_mobile::bff(config)?;
    if let Some(path) = &args.bff_file {
        bff = bff.file(tributary_bff::BffFile::load(path)?);
    }
    let task = bff.serve(listener, shutdown.clone()).await?;
    println!(
        "mobile BFF on http://{}/graphql ({:?})",
        args.listen, args.env
    );
    tributary_process::signal().await;
    shutdown.cancel();
    task.await??;
    Ok(())
}
