//! `xray-archive verify`: prove the archive is what its manifests say.

use std::io::Write;
use std::process::ExitCode;

use clap::Args;
use exporter::ArchiveStore;

use crate::args::ArchiveArgs;
use crate::output::{human_bytes, stdout};

/// Prove an archive is what its manifests say: every object written once, nothing
/// altered, missing or added, no day skipped or lost.
///
/// Lists every object version under v1/, _manifests/, _quarantine/ and _holds/: a
/// second version of a key is `overwritten` (even with the same bytes) and a delete
/// marker `deleted`. Walks the manifest chain (every number, every link to the previous
/// manifest's SHA-256) and prints its head, checked against --expect-head when given (a
/// value kept outside the bucket, such as the exporter's log line). Recomputes the
/// SHA-256 and version of every object a manifest lists and checks Parquet row counts,
/// lists objects no manifest lists, and names every day missing between sealed days and
/// every day sealed as `expired`. Exits 0 when clean and 1 with the findings otherwise.
///
/// Examples:
///   xray-archive verify --archive s3://audit-archive/prod
///   xray-archive verify --archive ./archive --expect-head 3f2a... --json
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct VerifyArgs {
    #[command(flatten)]
    archive: ArchiveArgs,
    /// The chain head's SHA-256 as recorded earlier outside the archive.
    #[arg(long, value_name = "SHA256")]
    expect_head: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub async fn run(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let store = args.archive.open().await?;
    let report = exporter::verify::verify(&store, args.expect_head.as_deref()).await?;
    let mut out = stdout();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        writeln!(
            out,
            "Checked {} object versions, {} manifests, {} objects ({}), {} sealed days in {}",
            report.versions,
            report.manifests,
            report.objects,
            human_bytes(report.bytes),
            report.sealed_days,
            store.location()
        )?;
        match &report.head {
            Some(h) => writeln!(out, "Chain head: {} ({})", h.sha256, h.key)?,
            None => writeln!(out, "Chain head: none (no manifest yet)")?,
        }
        if report.findings.is_empty() {
            writeln!(
                out,
                "OK: every object written once and as its manifest says, the chain is whole, no day missing or expired."
            )?;
        } else {
            writeln!(out, "{} findings:", report.findings.len())?;
            for f in &report.findings {
                let kind = serde_json::to_value(f.kind)?;
                writeln!(
                    out,
                    "  {:<16} {}: {}",
                    kind.as_str().unwrap_or_default(),
                    f.key,
                    f.detail
                )?;
            }
        }
    }
    Ok(if report.findings.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
