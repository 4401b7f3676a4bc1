//! `xray-archive export`: seal days from the X-Ray API, or import files of X-Ray JSON.

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use chrono::Utc;
use clap::Args;
use exporter::seal::{Outcome, RunReport, SealOptions, seal_days};
use exporter::source::staging::ExportSource;
use exporter::{
    AnyStore, ArchiveStore, FileSource, Progress, WriterConfig, XRaySource, export_files,
};

use crate::args::{ArchiveArgs, RangeArgs};
use crate::commands::status::print_status;
use crate::output::{human_bytes, print_summary, stdout};
use crate::progress::{BYTES_TEMPLATE, ProgressReporter, STEPS_TEMPLATE};

/// Archive X-Ray traces, from the X-Ray API or from files.
///
/// --source xray: seals each UTC day once, when X-Ray can no longer change it (by
/// default 8 days after it ends: X-Ray accepts segments for 7 days and deletes traces
/// after 30). A day is fetched hour by hour (GetTraceSummaries, then BatchGetTraces);
/// each finished hour is recorded under _state/, so an interrupted run resumes at the
/// first unfinished hour and never fetches a finished one again. When all 24 hours are
/// in, the day's parts are written once (one per table while under 128 MB) and a
/// manifest under _manifests/ commits them. A day X-Ray has already begun deleting
/// (older than 30 days) is sealed as `expired`, and status and verify report it as a
/// loss. With --staging (CloudWatch Transaction Search), the staged aws/spans records
/// are sealed into the same tables beside what X-Ray holds. Uses the standard AWS
/// configuration (AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL
/// for emulators).
///
/// --source FILE_OR_DIR: imports a file or a directory tree (sorted, skipping *.md and
/// hidden files). Each file may be a BatchGetTraces response (Document as an escaped
/// string or an object), a single segment document, JSON Lines of either, or X-Ray
/// daemon UDP framing. An import never rewrites a sealed day: it adds parts with the
/// day's next free numbers, and a document already archived is not written again.
///
/// Every object is written once (If-None-Match on S3, create-new files locally); a
/// re-run after a crash writes the same bytes under the same keys. Invalid documents go
/// to <archive>/_quarantine/ with the reason, and the run goes on.
///
/// Examples:
///   xray-archive export --source xray --archive s3://audit-archive/prod
///   xray-archive export --source xray --archive ./archive --from 2026-11-20 --to 2026-11-21
///   xray-archive export --source xray --archive s3://audit-archive/prod --staging s3://audit-spans/aws-spans/
///   xray-archive export --source ./batch-get-traces/ --archive ./archive
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct ExportArgs {
    /// `xray` for the X-Ray API, or a file or directory of X-Ray JSON.
    #[arg(long, value_name = "xray|FILE_OR_DIR")]
    source: String,
    #[command(flatten)]
    into: ExportInto,
}

/// What `export` and `backfill` share: the archive, the days and their pacing, and the
/// summary's form.
#[derive(Debug, Args)]
pub struct ExportInto {
    #[command(flatten)]
    archive: ArchiveArgs,
    #[command(flatten)]
    pub range: RangeArgs,
    /// Print the summary as JSON on stdout (for scripts).
    #[arg(long)]
    json: bool,
    /// Threads that parse, convert and encode [default: one per core]. The archive is the
    /// same, byte for byte, whatever the count.
    #[arg(long, env = "XRAY_ARCHIVE_THREADS", value_name = "N",
          value_parser = clap::value_parser!(u16).range(1..))]
    threads: Option<u16>,
}

impl ExportInto {
    /// The writer settings these arguments choose.
    fn writer(&self) -> WriterConfig {
        WriterConfig {
            new_redaction_policy: self.range.new_redaction_policy,
            threads: self.threads.map_or(0, usize::from),
            ..WriterConfig::default()
        }
    }
}

pub async fn run(args: ExportArgs) -> anyhow::Result<ExitCode> {
    if args.source == "xray" {
        return seal(&args.into).await;
    }
    let ExportInto {
        archive,
        range,
        json,
        ..
    } = &args.into;
    if range.from.is_some() || range.to.is_some() {
        anyhow::bail!(
            "--from and --to choose days to seal from --source xray; a file import takes every document in its files"
        );
    }
    let store = archive.open().await?;
    import(Path::new(&args.source), &store, args.into.writer(), *json).await
}

/// Imports a file or directory of X-Ray JSON.
async fn import(
    source: &Path,
    store: &AnyStore,
    config: WriterConfig,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let files = FileSource::open(source).with_context(|| {
        format!(
            "--source {} must be a file or directory of X-Ray JSON",
            source.display()
        )
    })?;
    let mut reporter = ProgressReporter::new(files.total_bytes(), BYTES_TEMPLATE);
    let summary = export_files(&files, store, config, &mut |p: Progress| {
        let message = format!(
            "{}/{} files, {}/{} bytes, {} documents, {} quarantined",
            p.files_done, p.files_total, p.bytes_done, p.bytes_total, p.segments, p.quarantined
        );
        reporter.set(p.bytes_done, message, false)
    })
    .await?;
    reporter.finish();
    let mut out = stdout();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&summary)?)?;
    } else {
        print_summary(&mut out, &summary, &store.location(), files.skipped())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Seals the days of the range from the X-Ray API (and the staging prefix, when one is
/// set): `export --source xray` and `backfill`.
pub async fn seal(args: &ExportInto) -> anyhow::Result<ExitCode> {
    let ExportInto {
        archive,
        range,
        json,
        ..
    } = args;
    let store = &archive.open().await?;
    let xray = XRaySource::from_env(range.concurrency).await;
    let staging = exporter::config::staging_source(range.staging.as_deref()).await?;
    let (source, destination) = ExportSource::choose(xray, staging).await?;
    let options = SealOptions {
        seal_after_days: range.seal_after,
        from: range.from,
        to: range.to,
        writer: args.writer(),
        ..SealOptions::default()
    };
    let mut reporter = ProgressReporter::new(0, STEPS_TEMPLATE);
    let mut steps = 0;
    let report = seal_days(&source, store, &options, Utc::now(), &mut |message| {
        steps += 1;
        reporter.set(steps, message.to_owned(), false);
    })
    .await?;
    reporter.finish();
    let mut out = stdout();
    if *json {
        let mut value = serde_json::to_value(&report)?;
        value["api_calls"] = serde_json::to_value(source.xray().api_calls())?;
        value["xray"] = serde_json::to_value(source.xray().pace_stats())?;
        value["staging"] = serde_json::to_value(source.staging().map(|s| s.stats()))?;
        value["destination"] = format!("{destination:?}").into();
        writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
    } else {
        print_report(&mut out, &report, &source)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn print_report(
    out: &mut impl Write,
    r: &RunReport,
    source: &ExportSource<AnyStore>,
) -> io::Result<()> {
    let bytes: u64 = r.days.iter().map(|d| d.bytes).sum();
    writeln!(
        out,
        "Sealed {} of {} due days: {} traces ({} segment documents), {} -> {}",
        r.days.len(),
        r.days_planned,
        r.traces,
        r.segments,
        human_bytes(bytes),
        r.status.archive
    )?;
    for d in &r.days {
        let status = serde_json::to_value(d.status).unwrap_or_default();
        writeln!(
            out,
            "  {} {:<8} {} traces, {} objects, manifest {} ({})",
            d.day,
            status.as_str().unwrap_or_default(),
            d.traces,
            d.objects,
            d.manifest.key,
            &d.manifest.sha256[..16]
        )?;
    }
    if r.quarantined > 0 {
        writeln!(out, "  quarantined: {} (see _quarantine/)", r.quarantined)?;
    }
    let calls = source.xray().api_calls();
    let pace = source.xray().pace_stats();
    writeln!(
        out,
        "  X-Ray calls: {} GetTraceSummaries, {} BatchGetTraces; {} throttled, {} retried after errors",
        calls.get_trace_summaries, calls.batch_get_traces, pace.throttles, pace.transient
    )?;
    if let Some(staging) = source.staging() {
        let st = staging.stats();
        writeln!(
            out,
            "  staged spans: {} objects ({}) read from {}; {} arrived too late and are quarantined",
            st.objects,
            human_bytes(st.bytes),
            staging.location(),
            st.late_spans
        )?;
    }
    if r.outcome == Outcome::Deadline {
        writeln!(
            out,
            "  stopped before the deadline after {} hours fetched; the next run resumes at the first unfinished hour",
            r.hours_fetched
        )?;
    }
    print_status(out, &r.status)
}
