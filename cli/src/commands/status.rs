//! `xray-archive status`: what is sealed, what is at risk, what is lost.

use std::io::{self, Write};
use std::process::ExitCode;

use chrono::Utc;
use clap::Args;
use exporter::ArchiveStore;
use exporter::seal::{Status, status as read_status};

use crate::args::ArchiveArgs;
use crate::output::stdout;

/// Show the sealed days, the oldest unsealed day and the days left before X-Ray deletes
/// it, and every day lost.
///
/// Exits 0 when healthy, 2 when fewer than 7 days are left, or a day was sealed as
/// `expired` (X-Ray had begun deleting it), or a day is missing between sealed days, so
/// it can gate a cron job or a pager.
///
/// Example:
///   xray-archive status --archive s3://audit-archive/prod
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct StatusArgs {
    #[command(flatten)]
    archive: ArchiveArgs,
    /// Print the status as JSON.
    #[arg(long)]
    json: bool,
}

pub async fn run(args: StatusArgs) -> anyhow::Result<ExitCode> {
    let store = args.archive.open().await?;
    let s = read_status(&store, Utc::now()).await?;
    let mut out = stdout();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&s)?)?;
    } else {
        writeln!(out, "Archive {}", store.location())?;
        print_status(&mut out, &s)?;
    }
    Ok(if s.is_alarming() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// The status lines, also printed after an export.
pub fn print_status(out: &mut impl Write, s: &Status) -> io::Result<()> {
    match (s.first_sealed, s.last_sealed) {
        (Some(first), Some(last)) => writeln!(
            out,
            "  sealed: {} days, {first} to {last} ({} manifests; chain head {})",
            s.sealed_days,
            s.manifests,
            s.head.as_ref().map_or("none".into(), |h| h.sha256.clone())
        )?,
        _ => writeln!(
            out,
            "  no day sealed yet ({} manifests): run `xray-archive export --source xray --archive ...`",
            s.manifests
        )?,
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
        writeln!(out, "  oldest unsealed day: {day}{hours}, {verdict}")?;
    }
    for d in &s.expired_days {
        writeln!(
            out,
            "  expired: {d} was sealed after X-Ray had begun deleting it; traces are lost"
        )?;
    }
    for d in &s.missing_days {
        writeln!(out, "  missing: {d} is not sealed although later days are")?;
    }
    for (d, n) in &s.unreturned_traces {
        writeln!(
            out,
            "  lost: {d}: {n} traces X-Ray listed were never returned, so never archived \
             (`verify` names the first of them)"
        )?;
    }
    if let Some(run) = &s.last_run {
        writeln!(
            out,
            "  last run: {} at {} ({} days sealed, {} traces){}",
            run.outcome,
            run.finished_at.to_rfc3339(),
            run.days,
            run.traces,
            run.error
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        )?;
    }
    Ok(())
}
