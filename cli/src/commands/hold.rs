//! `xray-archive hold`: a legal hold on the objects of a disputed payment, or its release.

use std::io::Write;
use std::process::ExitCode;

use clap::Args;
use exporter::ArchiveStore;

use crate::args::ArchiveArgs;
use crate::output::stdout;

/// Put (or release) a legal hold on every object that holds a disputed payment's traces.
///
/// Finds the payment's traces through payment_index, then sets an S3 legal hold on the
/// one version of each segments, spans and traces part of their days and of the
/// payment_index parts naming the payment, so the evidence cannot expire while the
/// dispute runs, even after Object Lock retention ends. Every hold and release is
/// recorded, with who, when, why and the exact versions, in the archive's append-only
/// log under _holds/; --release releases exactly what the last hold held.
///
/// Examples:
///   xray-archive hold --archive s3://audit-archive/prod --payment-id pay_abc123 --reason "chargeback du_1Nx, Visa 10.4"
///   xray-archive hold --archive s3://audit-archive/prod --payment-id pay_abc123 --release --reason "dispute won"
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct HoldArgs {
    #[command(flatten)]
    archive: ArchiveArgs,
    /// The disputed payment (its PaymentId annotation).
    #[arg(long, value_name = "ID")]
    payment_id: String,
    /// Release the hold instead of placing it.
    #[arg(long)]
    release: bool,
    /// Why: the dispute, case or order (recorded in the log).
    #[arg(long, value_name = "TEXT")]
    reason: String,
    /// Who asks (recorded in the log). Default: $USER.
    #[arg(long, value_name = "NAME", env = "USER", default_value = "unknown")]
    by: String,
    /// Print the log record as JSON.
    #[arg(long)]
    json: bool,
}

pub async fn run(args: HoldArgs) -> anyhow::Result<ExitCode> {
    let HoldArgs {
        archive,
        payment_id,
        release,
        reason,
        by,
        json,
    } = args;
    if reason.trim().is_empty() {
        anyhow::bail!("--reason must say why (the dispute or case): it goes into the holds log");
    }
    let store = archive.open().await?;
    let (record, key) = exporter::holds::hold(&store, &payment_id, release, &by, &reason).await?;
    let mut out = stdout();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&record)?)?;
    } else {
        writeln!(
            out,
            "{} {} objects of payment {payment_id} in {}; recorded in {key}",
            if release {
                "Released the legal hold on"
            } else {
                "Placed a legal hold on"
            },
            record.objects.len(),
            store.location()
        )?;
        for o in &record.objects {
            match &o.version_id {
                Some(v) => writeln!(out, "  {} (version {v})", o.key)?,
                None => writeln!(out, "  {}", o.key)?,
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
