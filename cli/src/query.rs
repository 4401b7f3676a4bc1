//! `xray-archive query`: saved or ad-hoc SQL over a local archive.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::Context;
use athena::{Format, LocalEngine, format, saved_queries, saved_query};

pub fn list() {
    for q in saved_queries() {
        println!("{}: {}", q.name, q.title);
        println!("    {}", q.description);
        for p in &q.params {
            println!("    --param {}=...  {}", p.name, p.doc);
        }
        println!();
    }
}

/// The statement to run: a saved query with its parameters, or the given SQL.
pub fn statement(
    saved: Option<&str>,
    params: &[String],
    sql: Option<&str>,
) -> anyhow::Result<String> {
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
pub async fn run(archive: &str, statement: &str, out: Format) -> anyhow::Result<ExitCode> {
    let engine = LocalEngine::open_archive(archive).await?;
    let rows = engine.sql(statement).await?;
    let n: usize = rows.iter().map(|b| b.num_rows()).sum();
    if n == 0 && out == Format::Table {
        println!("(no rows)");
    } else {
        println!("{}", format(&rows, out)?);
    }
    if out == Format::Table {
        eprintln!("{n} rows");
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs on Athena and reports the bytes scanned (what Athena bills).
pub async fn run_athena(
    wg: &athena::Workgroup,
    statement: &str,
    out: Format,
) -> anyhow::Result<ExitCode> {
    let client = athena::Athena::from_env().await;
    let r = client.run(wg, statement).await?;
    match out {
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
            println!("{}", serde_json::to_string_pretty(&rows)?);
        }
        Format::Csv | Format::Table => {
            let (sep, cell): (&str, fn(&str) -> String) = if out == Format::Csv {
                (",", csv_field)
            } else {
                (" | ", str::to_owned)
            };
            let header: Vec<String> = r.columns.iter().map(|c| cell(c)).collect();
            println!("{}", header.join(sep));
            for row in &r.rows {
                let cells: Vec<String> = row
                    .iter()
                    .map(|v| cell(v.as_deref().unwrap_or("")))
                    .collect();
                println!("{}", cells.join(sep));
            }
        }
    }
    eprintln!(
        "{} rows in {} result page{}; Athena scanned {} (query {}); {}",
        r.rows.len(),
        r.pages,
        if r.pages == 1 { "" } else { "s" },
        crate::output::human_bytes(r.data_scanned_bytes.max(0) as u64),
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
