//! `xray-archive backfill`: seal a past range of days from the X-Ray API.

use std::process::ExitCode;

use clap::Args;

use super::export::{ExportInto, seal};

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
// The range of `export`, with no default days: a backfill names both ends.
#[command(mut_arg("from", |a| a.required(true).help("First day (YYYY-MM-DD)")))]
#[command(mut_arg("to", |a| a.required(true).help("Last day (YYYY-MM-DD, inclusive)")))]
pub struct BackfillArgs {
    #[command(flatten)]
    into: ExportInto,
}

pub async fn run(args: BackfillArgs) -> anyhow::Result<ExitCode> {
    if let (Some(from), Some(to)) = (args.into.range.from, args.into.range.to)
        && from > to
    {
        anyhow::bail!("--from {from} must not be after --to {to}");
    }
    seal(&args.into).await
}
