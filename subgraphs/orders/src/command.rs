//! The orders binary's command line: serve (the kit's options), or an operator's `webhooks`
//! command on the orders database.

use std::process::ExitCode;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};
use subgraph_kit::{DatabaseArgs, ServeArgs, Subgraph};

use crate::Orders;
use crate::webhooks::{self, DeadFilter};

/// The orders subgraph of Tributary: serves it, or operates on its webhooks.
#[derive(Parser)]
#[command(name = "subgraph-orders", args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Outbound webhooks: list and replay the dead deliveries.
    #[command(subcommand)]
    Webhooks(Webhooks),
}

#[derive(Subcommand)]
enum Webhooks {
    /// Lists the dead deliveries (every attempt failed), oldest first.
    ListDead(Selection),
    /// Sets dead deliveries pending again with no attempt made, so a running orders subgraph
    /// sends them within a second; prints how many.
    Replay(Selection),
}

/// Which dead deliveries, in which database.
#[derive(clap::Args)]
struct Selection {
    /// Only deliveries to the endpoint with this id.
    #[arg(long)]
    endpoint: Option<i64>,
    /// Only deliveries queued at or after this time (RFC 3339: 2026-02-03T04:05:06Z).
    #[arg(long, value_parser = parse_time)]
    since: Option<DateTime<Utc>>,
    #[command(flatten)]
    database: DatabaseArgs,
}

impl Selection {
    fn filter(&self) -> DeadFilter {
        DeadFilter {
            endpoint: self.endpoint,
            since: self.since,
        }
    }
}

fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|time| time.with_timezone(&Utc))
        .map_err(|err| format!("not an RFC 3339 time ({err})"))
}

/// The `main` of the orders binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        None => subgraph_kit::serve_main::<Orders>(cli.serve),
        Some(Command::Webhooks(command)) => {
            tributary_process::run(Orders::NAME, || webhooks_command(command))
        }
    }
}

async fn webhooks_command(command: Webhooks) -> anyhow::Result<()> {
    match command {
        Webhooks::ListDead(selection) => {
            let db = connect(&selection.database).await?;
            let dead = webhooks::dead(&db, &selection.filter()).await?;
            for delivery in &dead {
                println!(
                    "{}\tendpoint {} {}\tevent {}\t{} attempts\tqueued {}\t{}",
                    delivery.id,
                    delivery.endpoint_id,
                    delivery.url,
                    delivery.event_id,
                    delivery.attempts,
                    delivery.created_at.to_rfc3339(),
                    delivery.last_error.as_deref().unwrap_or("")
                );
            }
            println!("{} dead deliveries", dead.len());
        }
        Webhooks::Replay(selection) => {
            let db = connect(&selection.database).await?;
            let replayed = webhooks::replay(&db, &selection.filter()).await?;
            println!("{replayed} dead deliveries set pending again");
        }
    }
    Ok(())
}

async fn connect(database: &DatabaseArgs) -> anyhow::Result<sea_orm::DatabaseConnection> {
    database
        .connect(Orders::NAME)
        .await
        .with_context(|| format!("connecting to {}", database.url(Orders::NAME)))
}
