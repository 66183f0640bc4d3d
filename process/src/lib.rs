//! What every Tributary binary shares about being a process: where it runs
//! ([`Environment`]), how it logs ([`init_tracing`]), when it stops ([`signal`]) and how its
//! `main` turns an async run into an exit code ([`run`]).
//!
//! The crate knows nothing of GraphQL, databases, subgraphs or the engine; it is the bottom of
//! every binary's dependency tree and links nothing a binary would not link anyway. Start-up is
//! the one place where it may give up: a runtime that cannot be built ends the process with a
//! message, never a panic.
//!
//! # Layout
//! - [`Environment`]: development or production, as a command-line value and in config files.
//! - [`init_tracing`]: the `tracing` subscriber, filtered by `RUST_LOG`.
//! - [`signal`]: Ctrl-C or SIGTERM.
//! - [`run`]: the body of every `main`.
//! - [`parse_named_urls`]: `NAME=URL` command-line values.
//! - [`supervise`]: a server restarted with backoff when it ends early.

mod supervise;

use std::collections::HashMap;
use std::future::Future;
use std::process::ExitCode;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

pub use supervise::supervise;

/// Where a process runs, which decides the conveniences it offers and what it refuses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// A developer's machine or a test: conveniences on, the public development secret is fine.
    #[default]
    Development,
    /// Serving real clients: conveniences off, a weak or public signing secret is refused.
    Production,
}

impl Environment {
    /// Whether this is production.
    pub fn is_production(self) -> bool {
        self == Environment::Production
    }
}

/// Installs the `tracing` subscriber, filtered by `RUST_LOG` (default `info`); a second call
/// leaves the first subscriber in place.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).try_init();
}

/// Resolves on Ctrl-C or, on Unix, SIGTERM (what container runtimes and service managers send).
pub async fn signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}

/// The body of a binary's `main`: sets up tracing, builds the tokio runtime, runs the future
/// `f` makes on it and turns the outcome into an exit code, printing `name: error` (with its
/// causes) on failure.
pub fn run<F>(name: &str, f: impl FnOnce() -> F) -> ExitCode
where
    F: Future<Output = anyhow::Result<()>>,
{
    init_tracing();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("{name}: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(async move { f().await }) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{name}: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Parses `NAME=URL` command-line values (subgraph or peer URLs) into a map by name.
pub fn parse_named_urls(args: &[String]) -> anyhow::Result<HashMap<String, String>> {
    args.iter()
        .map(|arg| {
            arg.split_once('=')
                .map(|(name, url)| (name.trim().to_owned(), url.trim().to_owned()))
                .with_context(|| format!("peer `{arg}` is not NAME=URL"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environments_read_as_lowercase_words() {
        let production: Environment =
            serde_json::from_str("\"production\"").expect("a known environment");
        assert!(production.is_production());
        assert_eq!(Environment::default(), Environment::Development);
        assert!(serde_json::from_str::<Environment>("\"Production\"").is_err());
    }

    #[test]
    fn named_urls_split_at_the_first_equals_sign() {
        let urls = parse_named_urls(&["a = http://x/?q=1".to_owned()]).expect("NAME=URL");
        assert_eq!(urls.get("a").map(String::as_str), Some("http://x/?q=1"));
        assert!(parse_named_urls(&["no-equals".to_owned()]).is_err());
    }
}
