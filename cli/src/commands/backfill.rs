//! `xray-archive backfill`: seal a past range of days from the X-Ray API.

use std::process::ExitCode;

use clap::Args;

use crate::args::{ArchiveArgs, RangeArgs};

/// Seal a past range of days from the X-Ray API, with progress.
///
/// The same as `export --source xray --from --to`: for a first load, or to fill a gap.
/// X-Ray holds only the last 30 days: an older day is sealed as `expired` with whatever
/// X-Ray still returns, and reported as a loss.
///
/// Example:
///   xray-archive backfill --archive s3://audit-archive/prod --from 2026-10-27 --to 2026-11-20
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct BackfillArgs {
    #[command(flatten)]
    archive: ArchiveArgs,
    /// First day (YYYY-MM-DD).
    #[arg(long, value_name = "DAY")]
    from: chrono::NaiveDate,
    /// Last day (YYYY-MM-DD, inclusive).
    #[arg(long, value_name = "DAY")]
    to: chrono::NaiveDate,
    /// Seal a day only this many days after it ends (see `export --help`).
    #[arg(long, env = "XRAY_ARCHIVE_SEAL_AFTER_DAYS", default_value_t = exporter::seal::DEFAULT_SEAL_AFTER_DAYS, value_name = "DAYS")]
    seal_after: u32,
    /// BatchGetTraces calls in flight.
    #[arg(long, default_value_t = 4, value_name = "N")]
    concurrency: usize,
    /// Seal under a redaction policy or hashing key other than the one the archive's
    /// manifests record (see `export --help`).
    #[arg(long)]
    new_redaction_policy: bool,
    /// The aws/spans staging prefix (see `export --help`).
    #[arg(long, env = "XRAY_ARCHIVE_STAGING_URL", value_name = "URL")]
    staging: Option<String>,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    json: bool,
}

pub async fn run(args: BackfillArgs) -> anyhow::Result<ExitCode> {
    let BackfillArgs {
        archive,
        from,
        to,
        seal_after,
        concurrency,
        new_redaction_policy,
        staging,
        json,
    } = args;
    if from > to {
        anyhow::bail!("--from {from} must not be after --to {to}");
    }
    let store = archive.open().await?;
    let range = RangeArgs {
        from: Some(from),
        to: Some(to),
        seal_after,
        concurrency,
        new_redaction_policy,
        staging,
    };
    super::export::seal(&store, &range, json).await
}
