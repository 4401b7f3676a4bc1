//! `xray-archive ddl`: the Athena DDL for an archive in S3.

use std::io::Write;
use std::process::ExitCode;

use clap::Args;

use crate::args::TablesArgs;
use crate::output::stdout;

/// Print the Athena DDL for an archive in S3: the database and one table per v1 table.
///
/// Every column carries a COMMENT, and partitions use projection (dt as a date from
/// --since to NOW; payment_index's bucket as 0-63), so no MSCK REPAIR or crawler is ever
/// needed. Pure: the archive is not read.
///
/// Example:
///   xray-archive ddl --archive s3://audit-archive/prod > tables.sql
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct DdlArgs {
    #[command(flatten)]
    tables: TablesArgs,
    /// Glue database for the tables.
    #[arg(long, default_value = athena::DEFAULT_DATABASE)]
    database: String,
}

pub fn run(args: DdlArgs) -> anyhow::Result<ExitCode> {
    write!(stdout(), "{}", args.tables.ddl(args.database)?)?;
    Ok(ExitCode::SUCCESS)
}
