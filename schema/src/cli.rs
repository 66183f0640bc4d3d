//! The `tributary-schema` command line: `compose` writes the domain subgraphs' SDL and the
//! supergraph under `schema/`, `check` fails when those files no longer match the code. The one
//! module of the crate that names the domain subgraphs; it reads their SDL from their libraries,
//! without starting a server.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use subgraph_kit::Subgraph;

use crate::{SubgraphSource, files};

/// Tributary's schemas before run time.
#[derive(Debug, Parser)]
#[command(name = "tributary-schema", version)]
struct Cli {
    /// The schema directory holding `subgraphs/` and `supergraph.graphql`.
    #[arg(long, global = true, default_value = env!("CARGO_MANIFEST_DIR"))]
    dir: PathBuf,
    #[command(subcommand)]
    command: Command,
}

/// What to do.
#[derive(Debug, Subcommand)]
enum Command {
    /// Writes each domain subgraph's SDL and the composed supergraph.
    Compose,
    /// Exits non-zero, listing the files that differ from what the code composes.
    Check,
}

/// Runs the command line; the exit code says whether it succeeded.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let artifacts = match files::artifacts(&domain_sources()) {
        Ok(artifacts) => artifacts,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    match cli.command {
        Command::Compose => match files::write(&cli.dir, &artifacts) {
            Ok(written) if written.is_empty() => {
                println!("{}: up to date", cli.dir.display());
                ExitCode::SUCCESS
            }
            Ok(resolved) => {
                for item in resolved {
                    let (verb, path) = match &item {
                        files::Drift::Missing(path) => ("created", path),
                        files::Drift::Differs(path) => ("updated", path),
                        files::Drift::Unexpected(path) => ("removed", path),
                    };
                    println!("{verb} {}", cli.dir.join(path).display());
                }
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::FAILURE
            }
        },
        Command::Check => match files::check(&cli.dir, &artifacts) {
            Ok(drift) if drift.is_empty() => {
                println!("{}: up to date", cli.dir.display());
                ExitCode::SUCCESS
            }
            Ok(drift) => {
                for item in drift {
                    eprintln!("{}/{item}", cli.dir.display());
                }
                eprintln!("run `cargo run -p tributary-schema -- compose` and commit the result");
                ExitCode::FAILURE
            }
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::FAILURE
            }
        },
    }
}

/// The five domain subgraphs, each at its default loopback address.
pub fn domain_sources() -> Vec<SubgraphSource> {
    vec![
        source::<subgraph_accounts::Accounts>(),
        source::<subgraph_catalog::Catalog>(),
        source::<subgraph_reviews::Reviews>(),
        source::<subgraph_inventory::Inventory>(),
        source::<subgraph_orders::Orders>(),
    ]
}

/// One subgraph's SDL from its library, at `http://127.0.0.1:<default port>/graphql`.
pub fn source<S: Subgraph>() -> SubgraphSource {
    SubgraphSource::new(
        S::NAME,
        format!("http://127.0.0.1:{}/graphql", S::DEFAULT_PORT),
        S::sdl(),
    )
}
