//! The router binary: serves any supergraph at `/graphql` with `/health`.
//!
//! `tributary-gateway --supergraph FILE --listen 127.0.0.1:4000 [--config FILE]`, or
//! `--supergraph-config supergraph.yaml` (rover's format) to compose at start and again when
//! a listed file changes; these can also come from the environment (`TRIBUTARY_SUPERGRAPH`,
//! `TRIBUTARY_SUPERGRAPH_CONFIG`, `TRIBUTARY_LISTEN`, `TRIBUTARY_CONFIG`), and every engine
//! setting from `TRIBUTARY_<SECTION>__<KEY>`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Parser;
use tokio_util::sync::CancellationToken;
use tributary_gateway::Engine;
use tributary_gateway::supergraph::source::SupergraphSource;

/// mimalloc: the response tree is many small allocations, which it serves faster than the
/// system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The router's own settings; the engine's are in the configuration file.
#[derive(Parser)]
#[command(version, about = "Serve a federated supergraph over GraphQL-over-HTTP")]
struct Args {
    /// The supergraph SDL file.
    #[arg(
        long,
        env = "TRIBUTARY_SUPERGRAPH",
        required_unless_present = "supergraph_config",
        conflicts_with = "supergraph_config"
    )]
    supergraph: Option<PathBuf>,
    /// A supergraph config (rover's YAML: subgraphs with `routing_url` and a schema `file` or
    /// `subgraph_url`), composed at start and again when the config or a schema file changes.
    #[arg(long, env = "TRIBUTARY_SUPERGRAPH_CONFIG")]
    supergraph_config: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, env = "TRIBUTARY_LISTEN", default_value = "127.0.0.1:4000")]
    listen: String,
    /// The engine's TOML configuration file (reference: docs/config.md).
    #[arg(long, env = "TRIBUTARY_CONFIG")]
    config: Option<PathBuf>,
    /// Keep serving the loaded supergraph even when its file changes (SIGHUP still reloads).
    #[arg(long, env = "TRIBUTARY_NO_WATCH")]
    no_watch: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    tributary_process::run("tributary-gateway", || run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let config = tributary_gateway::config::load(args.config.as_deref())?;
    let source = match (args.supergraph, args.supergraph_config) {
        (_, Some(config)) => SupergraphSource::Config(config),
        (Some(file), None) => SupergraphSource::File(file),
        (None, None) => anyhow::bail!("give --supergraph or --supergraph-config"),
    };
    let (supergraph, watched) = source
        .load(&reqwest::Client::new())
        .await
        .with_context(|| format!("loading {source}"))?;
    let engine = Arc::new(Engine::new(supergraph, config, HashMap::new())?);
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    tracing::info!(listen = %args.listen, supergraph = %source, "gateway serving");
    let shutdown = CancellationToken::new();
    tokio::spawn(tributary_gateway::engine::follow(
        engine.clone(),
        source,
        watched,
        !args.no_watch,
        shutdown.clone(),
    ));
    let app = tributary_gateway::http::router(engine);
    let stop = shutdown.clone();
    tokio::spawn(async move {
        tributary_process::signal().await;
        stop.cancel();
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await?;
    Ok(())
}
