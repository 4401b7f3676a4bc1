//! `xray-archive reconcile`: the archive against what X-Ray still holds.

use std::io::Write;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::Args;
use exporter::{WriterConfig, XRaySource};

use crate::args::ArchiveArgs;
use crate::output::stdout;

/// Compare the archive with X-Ray for a range X-Ray still holds (the last 30 days).
///
/// Lists every trace X-Ray has in the range and fetches its segments, then reads the
/// same days of the archive. Reports traces missing from the archive, and traces the
/// archive holds with fewer segments than X-Ray has now (late segments). With
/// --reexport, archives those traces as new write-once parts (a sealed day is never
/// rewritten, nothing is duplicated), then compares once more. Exits 0 when the archive
/// is complete, 1 otherwise.
///
/// Example:
///   xray-archive reconcile --source xray --archive s3://audit-archive/prod --from 2026-11-20T00:00:00Z --to 2026-11-21T00:00:00Z
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct ReconcileArgs {
    /// Where to compare with: only `xray` (the X-Ray API).
    #[arg(long, default_value = "xray", value_parser = ["xray"])]
    source: String,
    #[command(flatten)]
    archive: ArchiveArgs,
    /// Start of the range (RFC 3339), within the last 30 days.
    #[arg(long, value_name = "TIME")]
    from: DateTime<Utc>,
    /// End of the range (RFC 3339, exclusive).
    #[arg(long, value_name = "TIME")]
    to: DateTime<Utc>,
    /// Export the range again when something is missing, then compare again.
    #[arg(long)]
    reexport: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// The archive against X-Ray for `[from, to)`, optionally archiving what is missing.
pub async fn run(args: ReconcileArgs) -> anyhow::Result<ExitCode> {
    let ReconcileArgs {
        source: _,
        archive,
        from,
        to,
        reexport,
        json,
    } = args;
    let store = archive.open().await?;
    let source = XRaySource::from_env(4).await;
    let mut report = exporter::reconcile::reconcile(&source, &store, from, to, Utc::now()).await?;
    let mut reimported = None;
    if reexport && !report.is_clean() {
        let summary =
            exporter::reconcile::reimport(&source, &store, &report, WriterConfig::default())
                .await?;
        reimported = Some((report.clone(), summary));
        report = exporter::reconcile::reconcile(&source, &store, from, to, Utc::now()).await?;
    }
    let mut out = stdout();
    if json {
        let before = reimported.as_ref().map(|(r, _)| r);
        let run = reimported.as_ref().map(|(_, run)| run);
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "report": report, "before_reexport": before, "reexport": run
            }))?
        )?;
    } else {
        if let Some((before, run)) = &reimported {
            writeln!(
                out,
                "Before re-export: {} missing, {} incomplete. Archived {} documents of {} traces as new parts.",
                before.missing.len(),
                before.incomplete.len(),
                run.segments,
                run.traces
            )?;
        }
        writeln!(
            out,
            "X-Ray holds {} traces in {} to {}; the archive holds {} of them.",
            report.xray_traces,
            from.to_rfc3339(),
            to.to_rfc3339(),
            report.archived_traces
        )?;
        for t in &report.missing {
            writeln!(out, "  missing     {t}")?;
        }
        for t in &report.incomplete {
            writeln!(
                out,
                "  incomplete  {} ({} of {} segments archived)",
                t.trace_id, t.archived_segments, t.xray_segments
            )?;
        }
        if report.is_clean() {
            writeln!(out, "OK: nothing X-Ray holds is missing from the archive.")?;
        } else if !reexport {
            writeln!(out, "Run again with --reexport to archive what is missing.")?;
        }
    }
    Ok(if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
