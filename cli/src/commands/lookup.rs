//! `xray-archive lookup`: the whole story of one payment.

use std::io::Write;
use std::process::ExitCode;

use clap::Args;

use crate::args::ArchiveArgs;
use crate::output::stdout;

/// The whole story of one payment, for a chargeback investigator: every trace that carries
/// its PaymentId, as one timeline, with the first failure marked.
///
/// No date is needed: payment_index (one small part per sealed day) names its traces
/// and days, and only the spans parts of those days are read. Exits 1 with a clear
/// message when the payment id is not in the archive.
///
/// Examples:
///   xray-archive lookup --archive ./archive --payment-id pay_000000000042
///   xray-archive lookup --archive s3://audit-archive/prod --payment-id pay_abc123 --format json
///   xray-archive lookup --archive ./archive --payment-id pay_000000000042 --format html > evidence.html
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct LookupArgs {
    #[command(flatten)]
    archive: ArchiveArgs,
    /// The PaymentId annotation to look up.
    #[arg(long, value_name = "ID")]
    payment_id: String,
    /// tree: for the terminal; json: every trace id and span, for programs; html: one
    /// self-contained evidence page with a waterfall, to attach to a dispute.
    #[arg(long, value_enum, default_value_t = LookupFormat::Tree)]
    format: LookupFormat,
}

/// Output formats of `lookup`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LookupFormat {
    /// A tree for the terminal.
    Tree,
    /// JSON with every trace id and span.
    Json,
    /// One self-contained HTML evidence page with a waterfall chart.
    Html,
}

pub async fn run(args: LookupArgs) -> anyhow::Result<ExitCode> {
    let store = args.archive.open().await?;
    let mut story = athena::lookup(&store, &args.payment_id).await?;
    if args.format != LookupFormat::Tree {
        athena::cite_manifests(&store, &mut story).await?;
    }
    let mut out = stdout();
    match args.format {
        LookupFormat::Tree => write!(out, "{}", athena::render_tree(&story))?,
        LookupFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(&story)?)?,
        LookupFormat::Html => {
            let generated = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S UTC");
            write!(
                out,
                "{}",
                athena::render_html(&story, args.archive.location()?, &generated.to_string())
            )?
        }
    }
    Ok(ExitCode::SUCCESS)
}
