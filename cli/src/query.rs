//! `xray-archive query`: saved or ad-hoc SQL over a local archive.

use std::collections::BTreeMap;
use std::path::Path;
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

pub async fn run(
    archive: &Path,
    saved: Option<&str>,
    params: &[String],
    sql: Option<&str>,
    out: Format,
) -> anyhow::Result<ExitCode> {
    let statement = match (saved, sql) {
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
    };
    let engine = LocalEngine::open(archive).await?;
    let rows = engine.sql(&statement).await?;
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
