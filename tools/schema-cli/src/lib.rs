//! The `tributary-schema` command line. `compose` writes every file derived from the code (see
//! [`workspace`]); `check` fails when those files no longer match the code or when the mobile
//! API breaks its last release; `diff OLD NEW` lists the changes between two API schemas and
//! fails on a breaking one; `release` records the current mobile API as released.
//!
//! This crate is the only one in the workspace that names every domain subgraph and both BFFs,
//! and the only user of the `tributary-schema` library that also calls the engine (to derive
//! API schemas and load every supergraph it writes). It reads the subgraphs' SDL from their
//! libraries, without starting a server or opening a database. The library stays free of all
//! of them: composition, contracts, diffs and drift checks know no domain and no client.
//!
//! # Layout
//! - [`main`]: parses the command line and runs one command.
//! - [`any`]: `compose --config` and `check --config` for anyone's subgraphs.
//! - [`workspace`]: which subgraphs and clients there are, where each derived file goes, the
//!   mobile operation manifest and the mobile gate.
//! - [`manifest`]: `manifest`, the persisted-operation manifest of any folder of operations.

pub mod any;
pub mod manifest;
pub mod workspace;

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use tributary_schema::compat::{ALLOWED_HEADER, Verdict};
use tributary_schema::diff::{Severity, diff};
use tributary_schema::files::{self, Drift};
use workspace::{ALLOWED_FILE, GATED_CLIENT, RELEASED_FILE, client_file};
pub use workspace::{domain_sources, source};

/// Tributary's schemas before run time.
#[derive(Debug, Parser)]
#[command(name = "tributary-schema", version)]
struct Cli {
    /// The workspace root, holding `schema/` and the BFF crates.
    #[arg(long, global = true, default_value_os_t = workspace::default_root())]
    root: PathBuf,
    #[command(subcommand)]
    command: Command,
}

/// What to do.
#[derive(Debug, Subcommand)]
enum Command {
    /// Writes the subgraph SDLs, the supergraphs, the client API schemas and the mobile
    /// operation manifest; with `--config`, composes any subgraphs a supergraph config lists.
    Compose {
        /// A supergraph config (rover's YAML) to compose instead of this workspace.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Where to write the supergraph (standard output when not given).
        #[arg(long, requires = "config")]
        output: Option<PathBuf>,
        /// Cut a contract showing only elements with these tags (repeatable).
        #[arg(long = "include-tag", requires = "config")]
        include_tags: Vec<String>,
        /// Cut a contract hiding elements with these tags (repeatable).
        #[arg(long = "exclude-tag", requires = "config")]
        exclude_tags: Vec<String>,
        /// Where to write the contract supergraph.
        #[arg(long, requires = "config")]
        contract_output: Option<PathBuf>,
        /// Where to write the API schema clients see (of the contract, when tags are given).
        #[arg(long, requires = "config")]
        api_output: Option<PathBuf>,
    },
    /// Exits 1, listing the files that differ from what the code writes, or the breaking
    /// changes of the mobile API since its last release that nobody accepted; with `--config`
    /// and `--supergraph`, whether that supergraph is still what the config composes.
    Check {
        /// A supergraph config (rover's YAML) to compose instead of this workspace.
        #[arg(long, requires = "supergraph")]
        config: Option<PathBuf>,
        /// The supergraph file to check against the config.
        #[arg(long, requires = "config")]
        supergraph: Option<PathBuf>,
    },
    /// Lists the changes from one API schema to another; exits 1 when one is breaking, 2 when
    /// a file cannot be read.
    Diff {
        /// The old version's SDL file.
        old: PathBuf,
        /// The new version's SDL file.
        new: PathBuf,
    },
    /// Records the current mobile API as released (`schema/mobile/released.graphql`) and
    /// empties its list of accepted breaking changes: run it when a new app version ships.
    Release,
    /// Writes the persisted-operation manifest of every `.graphql` file under a folder (each
    /// file one or more named operations), ids the SHA-256 of each document.
    Manifest {
        /// The folder of `.graphql` files (its folders are read too).
        #[arg(long)]
        operations: PathBuf,
        /// The manifest file to write.
        #[arg(long)]
        output: PathBuf,
        /// `apollo` (also `tributary`): Apollo's persisted query manifest, the engine's own;
        /// `documents`: an object of ids to documents, as Relay and graphql-codegen write it.
        #[arg(long, value_enum, default_value_t)]
        format: manifest::Format,
    },
}

/// Runs the command line; the exit code says whether it succeeded.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let root = fs::canonicalize(&cli.root).unwrap_or(cli.root);
    match cli.command {
        Command::Diff { old, new } => diff_files(&old, &new),
        Command::Compose {
            config: Some(config),
            output,
            include_tags,
            exclude_tags,
            contract_output,
            api_output,
        } => any::compose(
            &config,
            &any::Outputs {
                supergraph: output,
                include_tags,
                exclude_tags,
                contract: contract_output,
                api: api_output,
            },
        ),
        Command::Compose { config: None, .. } => run(&root, compose),
        Command::Check {
            config: Some(config),
            supergraph: Some(supergraph),
        } => any::check(&config, &supergraph),
        Command::Check { .. } => run(&root, check),
        Command::Release => run(&root, release),
        Command::Manifest {
            operations,
            output,
            format,
        } => manifest::run(&operations, &output, format),
    }
}

/// Runs a command over the workspace's artifacts, reporting an error as exit code 1.
fn run(
    root: &Path,
    command: fn(&Path, &files::Artifacts) -> Result<ExitCode, workspace::WorkspaceError>,
) -> ExitCode {
    let outcome = workspace::artifacts(root).and_then(|artifacts| command(root, &artifacts));
    outcome.unwrap_or_else(|error| {
        eprintln!("error: {error}");
        ExitCode::FAILURE
    })
}

fn compose(
    root: &Path,
    artifacts: &files::Artifacts,
) -> Result<ExitCode, workspace::WorkspaceError> {
    let resolved = files::write(root, artifacts)?;
    if resolved.is_empty() {
        println!("{}: up to date", root.display());
    }
    for item in resolved {
        let (verb, path) = match &item {
            Drift::Missing(path) => ("created", path),
            Drift::Differs(path) => ("updated", path),
            Drift::Unexpected(path) => ("removed", path),
        };
        println!("{verb} {}", path.display());
    }
    match gate(root, artifacts) {
        Ok(verdict) if verdict.passes() => {}
        Ok(verdict) => {
            eprintln!("warning: `check` will fail:");
            report(&verdict);
        }
        Err(error) => eprintln!("warning: the {GATED_CLIENT} gate cannot run: {error}"),
    }
    Ok(ExitCode::SUCCESS)
}

fn check(root: &Path, artifacts: &files::Artifacts) -> Result<ExitCode, workspace::WorkspaceError> {
    let drift = files::check(root, artifacts)?;
    for item in &drift {
        eprintln!("{item}");
    }
    if !drift.is_empty() {
        eprintln!("run `cargo run -p tributary-schema-cli -- compose` and commit the result");
    }
    let verdict = gate(root, artifacts)?;
    report(&verdict);
    if drift.is_empty() && verdict.passes() {
        println!("{}: up to date", root.display());
        Ok(ExitCode::SUCCESS)
    } else {
        Ok(ExitCode::FAILURE)
    }
}

fn release(
    root: &Path,
    artifacts: &files::Artifacts,
) -> Result<ExitCode, workspace::WorkspaceError> {
    let api = artifacts
        .get(client_file(GATED_CLIENT, "api.graphql"))
        .unwrap_or_default();
    let mut released = files::Artifacts::new();
    released.add(client_file(GATED_CLIENT, RELEASED_FILE), api);
    released.add(client_file(GATED_CLIENT, ALLOWED_FILE), ALLOWED_HEADER);
    for item in files::write(root, &released)? {
        if let Drift::Missing(path) | Drift::Differs(path) = item {
            println!("wrote {}", path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The mobile gate over the current mobile API the code derives.
fn gate(root: &Path, artifacts: &files::Artifacts) -> Result<Verdict, workspace::WorkspaceError> {
    let current = artifacts
        .get(client_file(GATED_CLIENT, "api.graphql"))
        .unwrap_or_default();
    workspace::gate(root, current)
}

/// Prints the gate's refusals and stale allowances.
fn report(verdict: &Verdict) {
    let allowed = client_file(GATED_CLIENT, ALLOWED_FILE);
    for change in &verdict.refused {
        eprintln!("{change}");
    }
    if !verdict.passes() {
        eprintln!(
            "the {GATED_CLIENT} API breaks installed app versions (against {}); keep the old \
             field or argument (deprecate it), or list the path in {} with the reason",
            client_file(GATED_CLIENT, RELEASED_FILE).display(),
            allowed.display()
        );
    }
    for path in &verdict.unused {
        eprintln!(
            "note: {} lists `{path}`, which breaks nothing now",
            allowed.display()
        );
    }
}

/// `diff OLD NEW`: one line per change, breaking ones first.
fn diff_files(old: &Path, new: &Path) -> ExitCode {
    let read = |path: &Path| {
        fs::read_to_string(path).map_err(|error| format!("{}: {error}", path.display()))
    };
    let changes = read(old)
        .and_then(|old| Ok((old, read(new)?)))
        .and_then(|(old, new)| diff(&old, &new).map_err(|error| error.to_string()));
    let changes = match changes {
        Ok(changes) => changes,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    // Written without `println!`, which panics when the reader goes away (`diff ... | head`).
    let mut out = io::stdout().lock();
    for change in &changes {
        if writeln!(out, "{change}").is_err() {
            break;
        }
    }
    let breaking = changes
        .iter()
        .filter(|c| c.severity == Severity::Breaking)
        .count();
    eprintln!(
        "{breaking} breaking, {} safe change(s)",
        changes.len() - breaking
    );
    if breaking > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
