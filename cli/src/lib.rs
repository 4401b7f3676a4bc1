//! The `xray-archive` command line: the top-level parser and the dispatch to the commands.
//!
//! Each command lives in [`commands`] with its arguments and its output; the arguments that
//! several commands take are declared once in [`args`]. `main` only parses, calls [`run`]
//! and turns its result into the exit status with [`exit_code`].

// The export futures nest deeply (store enum, writer, SDK calls); layout needs more depth.
#![recursion_limit = "256"]

pub mod args;
pub mod commands;
mod output;
mod progress;

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use commands::*;
pub use output::exit_code;

/// Keeps AWS X-Ray traces for years: Parquet in S3 or a directory, queryable with SQL.
///
/// X-Ray deletes every trace after 30 days. xray-archive seals each day once, when X-Ray can
/// no longer change it, into a write-once Parquet archive
/// (v1/<table>/dt=YYYY-MM-DD/part-NNNN.parquet, committed by hash-chained manifests) that
/// Athena, DataFusion or any Parquet reader can query, and quarantines whatever it cannot
/// archive, with a reason. Nothing in the archive is ever overwritten or deleted.
#[derive(Debug, Parser)]
#[command(name = "xray-archive", version, propagate_version = true)]
pub struct Cli {
    /// More log output on stderr (-v: info, -vv: debug). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    command: Command,
}

/// The commands, in the order `--help` lists them; each one's help is its arguments' doc.
#[derive(Debug, Subcommand)]
enum Command {
    Export(export::ExportArgs),
    Backfill(backfill::BackfillArgs),
    Hold(hold::HoldArgs),
    Reconcile(reconcile::ReconcileArgs),
    Status(status::StatusArgs),
    Verify(verify::VerifyArgs),
    Query(query::QueryArgs),
    Lookup(lookup::LookupArgs),
    Register(register::RegisterArgs),
    Ddl(ddl::DdlArgs),
    Demo(demo::DemoArgs),
}

/// Sets up logging to stderr. `RUST_LOG` wins over `-v`.
pub fn init_logging(verbose: u8) {
    // The demo's simulated payment flow logs every simulated failure; those lines show
    // from -vv on.
    let default = match verbose {
        0 => "warn,payment_core=off",
        1 => "info,payment_core=off",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    exporter::config::check_policy_env()?;
    let code = match cli.command {
        Command::Export(args) => export::run(args).await,
        Command::Backfill(args) => backfill::run(args).await,
        Command::Hold(args) => hold::run(args).await,
        Command::Reconcile(args) => reconcile::run(args).await,
        Command::Status(args) => status::run(args).await,
        Command::Verify(args) => verify::run(args).await,
        Command::Query(args) => query::run(args).await,
        Command::Lookup(args) => lookup::run(args).await,
        Command::Register(args) => register::run(args).await,
        Command::Ddl(args) => ddl::run(args),
        Command::Demo(args) => demo::run(args).await,
    }?;
    // The last line a command printed may still be buffered: a reader that has gone is
    // noticed here too.
    output::stdout().flush()?;
    Ok(code)
}
