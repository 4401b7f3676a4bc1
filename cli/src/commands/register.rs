//! `xray-archive register`: the Athena tables and named queries for an archive in S3.

use std::io::Write;
use std::process::ExitCode;

use clap::Args;

use crate::args::{TablesArgs, WorkgroupArgs};
use crate::output::{note, stdout};

/// Create the Athena tables and the saved queries for an archive in S3.
///
/// Runs the DDL (the same as `ddl` prints) in the workgroup, then creates every saved
/// query as an Athena named query, so compliance officers find them in the console.
///
/// Example:
///   xray-archive register --archive s3://audit-archive/prod --workgroup xray-archive
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct RegisterArgs {
    #[command(flatten)]
    tables: TablesArgs,
    #[command(flatten)]
    workgroup: WorkgroupArgs,
}

pub async fn run(args: RegisterArgs) -> anyhow::Result<ExitCode> {
    let wg = args.workgroup.workgroup();
    let ddl = args.tables.ddl(wg.database.clone())?;
    let client = athena::Athena::from_env().await;
    let done = client.register(&wg, &ddl).await?;
    writeln!(
        stdout(),
        "Registered in workgroup {}: {} DDL statements (database {} and its tables), {} saved queries as named queries: {}",
        wg.name,
        done.statements,
        wg.database,
        done.named_queries.len(),
        done.named_queries.join(", ")
    )?;
    note!("{}", super::query::athena_calls(client.stats()));
    Ok(ExitCode::SUCCESS)
}
