//! The `xray-archive` command line: argument definitions and the commands behind them.
//!
//! `main` only parses and calls [`run`]; everything here is testable as a library.

mod demo;
mod export;
mod output;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Keeps AWS X-Ray traces for years: Parquet in S3 or a directory, queryable with SQL.
///
/// X-Ray deletes every trace after 30 days. xray-archive copies traces into a partitioned
/// Parquet archive (v1/<table>/dt=YYYY-MM-DD/part-HH.parquet) that Athena, DataFusion or
/// any Parquet reader can query, and quarantines whatever it cannot archive, with a reason.
#[derive(Debug, Parser)]
#[command(name = "xray-archive", version, propagate_version = true)]
pub struct Cli {
    /// More log output on stderr (-v: info, -vv: debug). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Archive X-Ray data from files into an archive directory.
    ///
    /// Reads a file or a directory tree (sorted, skipping *.md and hidden files). Each file
    /// may be a BatchGetTraces response (Document as an escaped string or an object), a
    /// single segment document, JSON Lines of either, or X-Ray daemon UDP framing.
    ///
    /// Re-running with the same input rewrites the same objects: nothing is duplicated.
    /// Invalid documents go to <archive>/_quarantine/ with the reason, and the run goes on.
    ///
    /// Example:
    ///   xray-archive export --source ./batch-get-traces/ --archive ./archive
    #[command(verbatim_doc_comment)]
    Export {
        /// File or directory of X-Ray data.
        #[arg(long, value_name = "FILE_OR_DIR")]
        source: PathBuf,
        /// Archive directory (created if missing).
        #[arg(long, value_name = "DIR")]
        archive: PathBuf,
        /// Print the summary as JSON on stdout (for scripts).
        #[arg(long)]
        json: bool,
    },
    /// Print the Athena DDL for an archive in S3: the database and one table per v1 table.
    ///
    /// Every column carries a COMMENT, and partitions use projection (dt as a date from
    /// --since to NOW; payment_index's bucket as 0-63), so no MSCK REPAIR or crawler is ever
    /// needed. Pure: the archive is not read.
    ///
    /// Example:
    ///   xray-archive ddl --archive s3://audit-archive/prod > tables.sql
    #[command(verbatim_doc_comment)]
    Ddl {
        /// Archive root in S3.
        #[arg(long, value_name = "s3://BUCKET/PREFIX")]
        archive: String,
        /// Glue database for the tables.
        #[arg(long, default_value = athena::DEFAULT_DATABASE)]
        database: String,
        /// First day the dt projection covers (YYYY-MM-DD); X-Ray has no older traces.
        #[arg(long, value_name = "DATE", default_value = athena::DEFAULT_SINCE)]
        since: chrono::NaiveDate,
    },
    /// Archive the bundled sample traces into a local directory and explain the result.
    ///
    /// Needs no AWS account and no servers. Shows what was archived, where it went, and
    /// what was quarantined and why.
    Demo {
        /// Archive directory (created if missing).
        #[arg(long, value_name = "DIR", default_value = "xray-archive-demo")]
        archive: PathBuf,
    },
}

/// Sets up logging to stderr. `RUST_LOG` wins over `-v`.
pub fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Export {
            source,
            archive,
            json,
        } => export::run(&source, &archive, json).await,
        Command::Ddl {
            archive,
            database,
            since,
        } => {
            let opts = athena::DdlOptions {
                database,
                location: archive,
                since,
            };
            print!("{}", athena::ddl(&opts)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo { archive } => demo::run(&archive).await,
    }
}
