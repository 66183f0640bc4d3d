//! The commands for anyone's subgraphs, driven by a supergraph config (rover's format) instead
//! of this workspace's code: `compose --config` writes a supergraph (and a contract and its
//! API schema when asked), `check --config` says whether a checked-in supergraph is still what
//! the config composes and what changed for clients.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use tributary_schema::diff::{Severity, diff};
use tributary_schema::{Contract, render_api};

/// What `compose --config` writes.
#[derive(Debug, Default)]
pub struct Outputs {
    /// The supergraph file (standard output when none).
    pub supergraph: Option<PathBuf>,
    /// Tags a contract shows (empty: all).
    pub include_tags: Vec<String>,
    /// Tags a contract hides.
    pub exclude_tags: Vec<String>,
    /// The contract supergraph file, when tags are given.
    pub contract: Option<PathBuf>,
    /// The client-facing API schema of the contract (or of the supergraph).
    pub api: Option<PathBuf>,
}

/// Composes the config at `path` (fetching SDL from running subgraphs where it says so).
fn composed(path: &Path) -> Result<String, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| format!("starting the runtime: {error}"))?;
    let client = reqwest::Client::new();
    runtime
        .block_on(tributary_gateway::supergraph::compose::from_config(
            path, &client,
        ))
        .map(|composed| composed.sdl)
        .map_err(|error| error.to_string())
}

/// The API schema clients of `supergraph` see, as the engine derives it.
fn api_of(supergraph: &str) -> Result<String, String> {
    let engine = tributary_gateway::Supergraph::from_sdl(supergraph)
        .map_err(|error| format!("the engine cannot load the supergraph: {error}"))?;
    Ok(render_api(engine.api().document()))
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    fs::write(path, text).map_err(|error| format!("writing {}: {error}", path.display()))?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

/// `compose --config FILE`: the supergraph, and the contract and API schema when asked.
pub fn compose(config: &Path, outputs: &Outputs) -> ExitCode {
    finish(compose_inner(config, outputs))
}

fn compose_inner(config: &Path, outputs: &Outputs) -> Result<(), String> {
    let supergraph = composed(config)?;
    // The engine must be able to serve what is written.
    api_of(&supergraph)?;
    match &outputs.supergraph {
        Some(path) => write(path, &supergraph)?,
        None => print!("{supergraph}"),
    }
    let tagged = !outputs.include_tags.is_empty() || !outputs.exclude_tags.is_empty();
    let served = if tagged {
        let contract = Contract::excluding(&outputs.exclude_tags)
            .including(&outputs.include_tags)
            .apply(&supergraph)
            .map_err(|error| format!("the contract: {error}"))?;
        if let Some(path) = &outputs.contract {
            write(path, &contract)?;
        }
        contract
    } else {
        supergraph
    };
    if let Some(path) = &outputs.api {
        write(path, &api_of(&served)?)?;
    }
    Ok(())
}

/// `check --config FILE --supergraph FILE`: exit 1 when the file is not what the config
/// composes, listing what changed for clients (breaking changes first).
pub fn check(config: &Path, supergraph: &Path) -> ExitCode {
    let outcome = (|| -> Result<bool, String> {
        let now = composed(config)?;
        let then = fs::read_to_string(supergraph)
            .map_err(|error| format!("reading {}: {error}", supergraph.display()))?;
        if now == then {
            println!("{}: up to date", supergraph.display());
            return Ok(true);
        }
        let changes = diff(&api_of(&then)?, &api_of(&now)?).map_err(|e| e.to_string())?;
        for change in &changes {
            eprintln!("{change}");
        }
        let breaking = changes
            .iter()
            .filter(|c| c.severity == Severity::Breaking)
            .count();
        eprintln!(
            "{}: differs from what {} composes ({breaking} breaking, {} safe API change(s)); \
             run `compose --config {} --output {}`",
            supergraph.display(),
            config.display(),
            changes.len() - breaking,
            config.display(),
            supergraph.display(),
        );
        Ok(false)
    })();
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn finish(outcome: Result<(), String>) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
