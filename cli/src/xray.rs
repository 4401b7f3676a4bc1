//! `xray-archive export --source xray`, `backfill`, `reconcile` and `status`.

use std::process::ExitCode;

use chrono::{DateTime, Utc};
use exporter::seal::{Outcome, RunReport, SealOptions, Status, seal_days, status as read_status};
use exporter::source::staging::ExportSource;
use exporter::{AnyStore, ArchiveStore, WriterConfig, XRaySource};

use crate::RangeArgs;
use crate::export::{ProgressReporter, STEPS_TEMPLATE};
use crate::output::human_bytes;

pub async fn export(store: &AnyStore, range: &RangeArgs, json: bool) -> anyhow::Result<ExitCode> {
    let xray = XRaySource::from_env(range.concurrency).await;
    let staging = exporter::config::staging_source(range.staging.as_deref()).await?;
    let (source, destination) = ExportSource::choose(xray, staging).await?;
    let options = SealOptions {
        seal_after_days: range.seal_after,
        from: range.from,
        to: range.to,
        writer: WriterConfig {
            new_redaction_policy: range.new_redaction_policy,
            ..WriterConfig::default()
        },
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
    if json {
        let mut out = serde_json::to_value(&report)?;
        out["api_calls"] = serde_json::to_value(source.xray().api_calls())?;
        out["xray"] = serde_json::to_value(source.xray().pace_stats())?;
        out["staging"] = serde_json::to_value(source.staging().map(|s| s.stats()))?;
        out["destination"] = format!("{destination:?}").into();
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print_report(&report, &source);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_report(r: &RunReport, source: &ExportSource<AnyStore>) {
    let bytes: u64 = r.days.iter().map(|d| d.bytes).sum();
    println!(
        "Sealed {} of {} due days: {} traces ({} segment documents), {} -> {}",
        r.days.len(),
        r.days_planned,
        r.traces,
        r.segments,
        human_bytes(bytes),
        r.status.archive
    );
    for d in &r.days {
        let status = serde_json::to_value(d.status).unwrap_or_default();
        println!(
            "  {} {:<8} {} traces, {} objects, manifest {} ({})",
            d.day,
            status.as_str().unwrap_or_default(),
            d.traces,
            d.objects,
            d.manifest.key,
            &d.manifest.sha256[..16]
        );
    }
    if r.quarantined > 0 {
        println!("  quarantined: {} (see _quarantine/)", r.quarantined);
    }
    let calls = source.xray().api_calls();
    let pace = source.xray().pace_stats();
    println!(
        "  X-Ray calls: {} GetTraceSummaries, {} BatchGetTraces; {} throttled, {} retried after errors",
        calls.get_trace_summaries, calls.batch_get_traces, pace.throttles, pace.transient
    );
    if let Some(staging) = source.staging() {
        let st = staging.stats();
        println!(
            "  staged spans: {} objects ({}) read from {}; {} arrived too late and are quarantined",
            st.objects,
            human_bytes(st.bytes),
            staging.location(),
            st.late_spans
        );
    }
    if r.outcome == Outcome::Deadline {
        println!(
            "  stopped before the deadline after {} hours fetched; the next run resumes at the first unfinished hour",
            r.hours_fetched
        );
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
    Ok(if s.is_alarming() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

fn print_status(s: &Status) {
    match (s.first_sealed, s.last_sealed) {
        (Some(first), Some(last)) => println!(
            "  sealed: {} days, {first} to {last} ({} manifests; chain head {})",
            s.sealed_days,
            s.manifests,
            s.head.as_ref().map_or("none".into(), |h| h.sha256.clone())
        ),
        _ => println!(
            "  no day sealed yet ({} manifests): run `xray-archive export --source xray --archive ...`",
            s.manifests
        ),
    }
    if let (Some(day), Some(days)) = (s.oldest_unsealed, s.days_until_expiry) {
        let hours = if s.hours_staged > 0 {
            format!(" ({} of 24 hours fetched)", s.hours_staged)
        } else {
            String::new()
        };
        let verdict = if days < 0.0 {
            format!(
                "X-Ray began deleting it {:.1} days ago: traces are being LOST",
                -days
            )
        } else if days < exporter::seal::EXPIRY_WARNING_DAYS {
            format!("{days:.1} days before X-Ray deletes it: URGENT")
        } else {
            format!("{days:.1} days before X-Ray deletes it")
        };
        println!("  oldest unsealed day: {day}{hours}, {verdict}");
    }
    for d in &s.expired_days {
        println!("  expired: {d} was sealed after X-Ray had begun deleting it; traces are lost");
    }
    for d in &s.missing_days {
        println!("  missing: {d} is not sealed although later days are");
    }
    for (d, n) in &s.unreturned_traces {
        println!(
            "  lost: {d}: {n} traces X-Ray listed were never returned, so never archived \
             (`verify` names the first of them)"
        );
    }
    if let Some(run) = &s.last_run {
        println!(
            "  last run: {} at {} ({} days sealed, {} traces){}",
            run.outcome,
            run.finished_at.to_rfc3339(),
            run.days,
            run.traces,
            run.error
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        );
    }
}

/// `reconcile`: the archive against X-Ray for `[from, to)`, optionally archiving what is
/// missing.
pub async fn reconcile(
    store: &AnyStore,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    reexport: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let source = XRaySource::from_env(4).await;
    let mut report = exporter::reconcile::reconcile(&source, store, from, to, Utc::now()).await?;
    let mut reimported = None;
    if reexport && !report.is_clean() {
        let summary =
            exporter::reconcile::reimport(&source, store, &report, WriterConfig::default()).await?;
        reimported = Some((report.clone(), summary));
        report = exporter::reconcile::reconcile(&source, store, from, to, Utc::now()).await?;
    }
    if json {
        let before = reimported.as_ref().map(|(r, _)| r);
        let run = reimported.as_ref().map(|(_, run)| run);
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "report": report, "before_reexport": before, "reexport": run
            }))?
        );
    } else {
        if let Some((before, run)) = &reimported {
            println!(
                "Before re-export: {} missing, {} incomplete. Archived {} documents of {} traces as new parts.",
                before.missing.len(),
                before.incomplete.len(),
                run.segments,
                run.traces
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
