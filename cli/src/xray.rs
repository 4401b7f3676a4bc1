//! `xray-archive export --source xray`, `backfill`, `reconcile` and `status`.

use std::process::ExitCode;

use chrono::{DateTime, Duration, Utc};
use exporter::xray_export::{
    Outcome, RunReport, Status, XRayExportOptions, export_xray, status as read_status,
};
use exporter::{AnyStore, ArchiveStore, XRaySource};

use crate::RangeArgs;
use crate::export::{ProgressReporter, STEPS_TEMPLATE};
use crate::output::human_bytes;

/// Days before X-Ray's deletion below which `status` exits 2.
const EXPIRY_WARNING_DAYS: f64 = 7.0;

pub async fn export(
    store: &AnyStore,
    range: &RangeArgs,
    resweep: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let source = XRaySource::from_env(range.concurrency).await;
    let options = XRayExportOptions {
        settle: Duration::minutes(i64::from(range.settle_minutes)),
        from: range.from,
        to: range.to,
        resweep,
        expiry_warning_days: EXPIRY_WARNING_DAYS,
        ..XRayExportOptions::default()
    };
    let mut reporter = ProgressReporter::new(0, STEPS_TEMPLATE);
    let mut traces = 0;
    let report = export_xray(
        &source,
        store,
        &options,
        Utc::now(),
        &mut |w, done, total| {
            traces += w.traces;
            let message = format!(
                "{done}/{total} windows, {traces} traces, last {}",
                w.window.start.format("%Y-%m-%d %H:%M")
            );
            reporter.set(done, message, done == total);
        },
    )
    .await?;
    reporter.finish();
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_report(r: &RunReport) {
    let bytes: u64 = r.windows.iter().map(|w| w.bytes).sum();
    println!(
        "{}: {} of {} windows committed, {} traces ({} segment documents) -> {}",
        if r.mode == "re-sweep" {
            "Re-sweep"
        } else {
            "Export"
        },
        r.windows.len(),
        r.windows_planned,
        r.traces,
        r.segments,
        r.status.archive
    );
    println!("  written: {}", human_bytes(bytes));
    if r.superseded > 0 {
        println!(
            "  superseded by a newer state of the segment: {}",
            r.superseded
        );
    }
    if r.quarantined > 0 {
        println!("  quarantined: {} (see _quarantine/)", r.quarantined);
    }
    let calls = r.api_calls;
    println!(
        "  X-Ray calls: {} GetTraceSummaries, {} BatchGetTraces{}; {} throttled, {} retried after errors",
        calls.get_trace_summaries,
        calls.batch_get_traces,
        r.calls_per_trace
            .map(|c| format!(" ({c:.2} per trace)"))
            .unwrap_or_default(),
        r.xray.throttles,
        r.xray.transient
    );
    if !r.destination.starts_with("xray") {
        println!("  trace destination: {}", r.destination);
    }
    if r.outcome == Outcome::Deadline {
        println!("  stopped before the deadline; the next run continues from the checkpoint");
    }
    print_status(&r.status);
}

pub async fn status(store: &AnyStore, json: bool) -> anyhow::Result<ExitCode> {
    let s = read_status(store, Utc::now()).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&s)?);
    } else {
        println!("Archive {}", store.location());
        print_status(&s);
    }
    let urgent = s.days_until_expiry.is_some_and(|d| d < EXPIRY_WARNING_DAYS);
    Ok(if urgent {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

fn print_status(s: &Status) {
    let (Some(watermark), Some(lag), Some(days)) = (s.watermark, s.lag_hours, s.days_until_expiry)
    else {
        println!("  no export yet: run `xray-archive export --source xray --archive ...`");
        return;
    };
    println!(
        "  checkpoint: every trace before {} is archived ({} manifests, last {})",
        watermark.to_rfc3339(),
        s.manifests,
        s.last_manifest.as_deref().unwrap_or("none")
    );
    println!("  lag: {lag:.1} hours");
    if days < 0.0 {
        println!(
            "  X-Ray deadline: PASSED {:.1} days ago: traces after the checkpoint may already be lost",
            -days
        );
    } else if days < EXPIRY_WARNING_DAYS {
        println!("  X-Ray deadline: {days:.1} days left for the oldest unexported window: URGENT");
    } else {
        println!("  X-Ray deadline: {days:.1} days left for the oldest unexported window");
    }
    if let Some(run) = &s.last_run {
        println!(
            "  last run: {} at {} ({} windows, {} traces){}",
            run.outcome,
            run.finished_at.to_rfc3339(),
            run.windows,
            run.traces,
            run.error
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        );
    }
}

/// `reconcile`: the archive against X-Ray for `[from, to)`, optionally exporting again.
pub async fn reconcile(
    store: &AnyStore,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    reexport: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let source = XRaySource::from_env(4).await;
    let mut report = exporter::reconcile::reconcile(&source, store, from, to, Utc::now()).await?;
    let mut reexported = None;
    if reexport && !report.is_clean() {
        let options = XRayExportOptions {
            settle: Duration::zero(),
            from: Some(from),
            to: Some(to),
            expiry_warning_days: EXPIRY_WARNING_DAYS,
            ..XRayExportOptions::default()
        };
        let run = export_xray(&source, store, &options, Utc::now(), &mut |_, _, _| {}).await?;
        reexported = Some((report.clone(), run));
        report = exporter::reconcile::reconcile(&source, store, from, to, Utc::now()).await?;
    }
    if json {
        let before = reexported.as_ref().map(|(r, _)| r);
        let run = reexported.as_ref().map(|(_, run)| run);
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "report": report, "before_reexport": before, "reexport": run
            }))?
        );
    } else {
        if let Some((before, run)) = &reexported {
            println!(
                "Before re-export: {} missing, {} incomplete. Re-exported {} traces in {} windows.",
                before.missing.len(),
                before.incomplete.len(),
                run.traces,
                run.windows.len()
            );
        }
        println!(
            "X-Ray holds {} traces in {} to {}; the archive holds {} of them.",
            report.xray_traces,
            from.to_rfc3339(),
            to.to_rfc3339(),
            report.archived_traces
        );
        for t in &report.missing {
            println!("  missing     {t}");
        }
        for t in &report.incomplete {
            println!(
                "  incomplete  {} ({} of {} segments archived)",
                t.trace_id, t.archived_segments, t.xray_segments
            );
        }
        if report.is_clean() {
            println!("OK: nothing X-Ray holds is missing from the archive.");
        } else if !reexport {
            println!("Run again with --reexport to archive what is missing.");
        }
    }
    Ok(if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
