//! `xray-archive query`: saved or ad-hoc SQL over an archive, on the embedded engine or on
//! Athena.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use athena::{Format, format, saved_queries, saved_query};
use clap::Args;

use crate::args::{ArchiveArgs, WorkgroupArgs};
use crate::output::{human_bytes, note, stdout};

/// Run SQL over a local archive with the embedded engine (DataFusion): a saved compliance
/// query or your own statement.
///
/// Tables: segments, spans, traces (partitioned by dt, a 'YYYY-MM-DD' string) and
/// payment_index (partitioned by bucket), exactly as the Athena DDL declares them, so a
/// statement that runs here runs on Athena too. Name a dt range to read only those days.
///
/// Examples:
///   xray-archive query --list
///   xray-archive query --archive ./archive --saved failed_webhooks --param since=2026-03-01 --param until=2026-03-31
///   xray-archive query --archive ./archive --sql "SELECT dt, count(*) FROM traces GROUP BY dt" --format csv
///   xray-archive query --athena --workgroup xray-archive --saved slow_payments --param since=... --param until=... --param min_ms=3000
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
// --list needs no archive, and --athena reads the tables `register` created instead.
#[command(mut_arg("archive", |a| a
    .help("Archive: a local directory or s3://BUCKET/PREFIX (read with the embedded engine)")
    .required(false)
    .required_unless_present_any(["list", "athena"])))]
pub struct QueryArgs {
    #[command(flatten)]
    archive: ArchiveArgs,
    /// Run on Athena instead, in --workgroup and --database (after `register`).
    #[arg(long, conflicts_with = "archive")]
    athena: bool,
    #[command(flatten)]
    workgroup: WorkgroupArgs,
    /// A saved query by name (see --list).
    #[arg(long, value_name = "NAME", conflicts_with = "sql", required_unless_present_any = ["sql", "list"])]
    saved: Option<String>,
    /// A parameter of the saved query, as name=value (repeat for each).
    #[arg(long = "param", value_name = "NAME=VALUE", requires = "saved")]
    params: Vec<String>,
    /// Your own SQL statement.
    #[arg(long, value_name = "SQL")]
    sql: Option<String>,
    /// List the saved queries with what they answer and their parameters.
    #[arg(long)]
    list: bool,
    /// Output: an aligned table, CSV or JSON.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
}

/// Output formats of `query`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum OutputFormat {
    /// An aligned text table.
    Table,
    /// CSV with a header line.
    Csv,
    /// A JSON array of objects.
    Json,
}

pub async fn run(args: QueryArgs) -> anyhow::Result<ExitCode> {
    if args.list {
        list()?;
        return Ok(ExitCode::SUCCESS);
    }
    let format = match args.format {
        OutputFormat::Table => Format::Table,
        OutputFormat::Csv => Format::Csv,
        OutputFormat::Json => Format::Json,
    };
    let statement = statement(args.saved.as_deref(), &args.params, args.sql.as_deref())?;
    if args.athena {
        run_athena(&args.workgroup.workgroup(), &statement, format).await
    } else {
        run_local(&args.archive, &statement, format).await
    }
}

fn list() -> anyhow::Result<()> {
    let mut out = stdout();
    for q in saved_queries() {
        writeln!(out, "{}: {}", q.name, q.title)?;
        writeln!(out, "    {}", q.description)?;
        for p in &q.params {
            writeln!(out, "    --param {}=...  {}", p.name, p.doc)?;
        }
        writeln!(out)?;
    }
    Ok(())
}

/// The statement to run: a saved query with its parameters, or the given SQL.
fn statement(saved: Option<&str>, params: &[String], sql: Option<&str>) -> anyhow::Result<String> {
    Ok(match (saved, sql) {
        (Some(name), _) => {
            let mut args = BTreeMap::new();
            for p in params {
                let (k, v) = p
                    .split_once('=')
                    .with_context(|| format!("--param {p:?} must be name=value"))?;
                args.insert(k.trim().to_owned(), v.to_owned());
            }
            saved_query(name)?.render(&args)?
        }
        (None, Some(sql)) => sql.to_owned(),
        (None, None) => anyhow::bail!("give --saved NAME or --sql \"...\" (see --list)"),
    })
}

/// Runs on the embedded engine over a local or S3 archive.
async fn run_local(
    archive: &ArchiveArgs,
    statement: &str,
    form: Format,
) -> anyhow::Result<ExitCode> {
    let engine = archive.engine().await?;
    let rows = engine.sql(statement).await?;
    let n: usize = rows.iter().map(|b| b.num_rows()).sum();
    let mut out = stdout();
    if n == 0 && form == Format::Table {
        writeln!(out, "(no rows)")?;
    } else {
        writeln!(out, "{}", format(&rows, form)?)?;
    }
    if form == Format::Table {
        note!("{n} rows");
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs on Athena and reports the bytes scanned (what Athena bills).
async fn run_athena(
    wg: &athena::Workgroup,
    statement: &str,
    form: Format,
) -> anyhow::Result<ExitCode> {
    let client = athena::Athena::from_env().await;
    let r = client.run(wg, statement).await?;
    let mut out = stdout();
    match form {
        Format::Json => {
            let rows: Vec<serde_json::Map<String, serde_json::Value>> = r
                .rows
                .iter()
                .map(|row| {
                    r.columns
                        .iter()
                        .cloned()
                        .zip(row.iter().map(|v| serde_json::json!(v)))
                        .collect()
                })
                .collect();
            writeln!(out, "{}", serde_json::to_string_pretty(&rows)?)?;
        }
        Format::Csv | Format::Table => {
            let (sep, cell): (&str, fn(&str) -> String) = if form == Format::Csv {
                (",", csv_field)
            } else {
                (" | ", str::to_owned)
            };
            let header: Vec<String> = r.columns.iter().map(|c| cell(c)).collect();
            writeln!(out, "{}", header.join(sep))?;
            for row in &r.rows {
                let cells: Vec<String> = row
                    .iter()
                    .map(|v| cell(v.as_deref().unwrap_or("")))
                    .collect();
                writeln!(out, "{}", cells.join(sep))?;
            }
        }
    }
    note!(
        "{} rows in {} result page{}; Athena scanned {} (query {}); {}",
        r.rows.len(),
        r.pages,
        if r.pages == 1 { "" } else { "s" },
        human_bytes(r.data_scanned_bytes.max(0) as u64),
        r.id,
        athena_calls(client.stats())
    );
    Ok(ExitCode::SUCCESS)
}

/// A CSV field as RFC 4180 writes it (and the local engine's CSV does): quoted, with quotes
/// doubled, when it holds a comma, a quote or a line break. NULL is an empty field.
fn csv_field(v: &str) -> String {
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v.to_owned()
    }
}

/// What the Athena calls of one command cost, retries included.
pub fn athena_calls(stats: exporter::retry::PaceStats) -> String {
    format!(
        "{} Athena calls, {} throttled and {} failed transiently (retried)",
        stats.attempts, stats.throttles, stats.transient
    )
}
