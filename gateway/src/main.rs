//! The router binary: serves any supergraph at `/graphql` with `/health`.
//!
//! `tributary-gateway --supergraph FILE --listen 127.0.0.1:4000 [--config FILE]`; these three
//! can also come from the environment (`TRIBUTARY_SUPERGRAPH`, `TRIBUTARY_LISTEN`,
//! `TRIBUTARY_CONFIG`), and every engine setting from `TRIBUTARY_<SECTION>__<KEY>`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use tokio_util::sync::CancellationToken;
use tributary_gateway::{Engine, Supergraph};

/// mimalloc: the response tree is many small allocations, which it serves faster than the
/// system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The router's own settings; the engine's are in the configuration file.
#[derive(Parser)]
#[command(version, about = "Serve a federated supergraph over GraphQL-over-HTTP")]
struct Args {
    /// The supergraph SDL file.
    #[arg(long, env = "TRIBUTARY_SUPERGRAPH")]
    supergraph: PathBuf,
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
    let path = args.supergraph;
    let supergraph = Supergraph::from_file(&path)?;
    let engine = Arc::new(Engine::new(supergraph, config, HashMap::new())?);
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    tracing::info!(listen = %args.listen, supergraph = %path.display(), "gateway serving");
    let shutdown = CancellationToken::new();
    tokio::spawn(watch(
        engine.clone(),
        path.clone(),
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

/// Reloads the supergraph on SIGHUP and, with `poll`, when its file changes; a broken file
/// keeps the current version.
async fn watch(engine: Arc<Engine>, path: PathBuf, poll: bool, shutdown: CancellationToken) {
    let mut last = modified(&path);
    #[cfg(unix)]
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    loop {
        #[cfg(unix)]
        let signalled = async {
            match hangup.as_mut() {
                Some(signal) => {
                    signal.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let signalled = std::future::pending::<()>();
        let forced = tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(2)) => false,
            () = signalled => true,
        };
        let now = modified(&path);
        if (now == last || !poll) && !forced {
            continue;
        }
        last = now;
        match Supergraph::from_file(&path)
            .map_err(tributary_gateway::EngineError::from)
            .and_then(|s| engine.reload(s))
        {
            Ok(()) => tracing::info!(supergraph = %path.display(), "supergraph reloaded"),
            Err(err) => {
                tracing::error!(error = %err, "supergraph reload failed; keeping the current version")
            }
        }
    }
}

fn modified(path: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}
