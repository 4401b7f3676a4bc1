//! `xray-archive demo`: archive the bundled samples and explain what happened.

use std::path::Path;
use std::process::ExitCode;

use std::collections::BTreeMap;

use athena::{Format, LocalEngine, format, lookup, render_tree, saved_query};
use exporter::synth::PaymentTraces;
use exporter::{ArchiveStore, LocalDirStore, WriterConfig, export_inputs};

use crate::output::print_summary;

include!(concat!(env!("OUT_DIR"), "/samples.rs"));

pub async fn run(archive: &Path) -> anyhow::Result<ExitCode> {
    let store = LocalDirStore::open(archive)?;
    println!(
        "xray-archive demo: archiving {} bundled X-Ray samples (real documents and API \
         responses, some invalid on purpose) into {}\n",
        SAMPLES.len(),
        archive.display()
    );
    let summary = export_inputs(SAMPLES, &store, WriterConfig::default()).await?;
    print_summary(&summary, &store.location(), &[]);
    let root = archive.display();
    println!();
    println!("What is where:");
    println!("  {root}/v1/segments/dt=*/part-HH.parquet   every document, byte for byte");
    println!("  {root}/v1/spans/dt=*/part-HH.parquet      segments and subsegments, flattened");
    println!("  {root}/v1/traces/dt=*/part-HH.parquet     one row per trace");
    println!("  {root}/v1/payment_index/bucket=NN/        payment id -> trace ids and days");
    println!(
        "  {root}/_quarantine/                       rejected inputs (.raw) and reasons (.json)"
    );
    payments(archive, &store).await?;
    println!();
    println!("Run the demo again: every document is reported unchanged and no row is duplicated.");
    println!("Archive your own X-Ray data:");
    println!("  xray-archive export --source <BatchGetTraces JSON file or dir> --archive <dir>");
    Ok(ExitCode::SUCCESS)
}

/// A synthetic payment history, 2,000 payment requests over two days in March 2026 with the
/// failures VaultLink sees (DynamoDB faults in the webhook, card declines): archived through
/// the same path, then asked two saved compliance questions and one chargeback lookup.
async fn payments(archive: &Path, store: &LocalDirStore) -> anyhow::Result<()> {
    let mut generator = PaymentTraces::new(7, 1_772_409_600.0);
    let lines: Vec<String> = (0..400)
        .map(|_| generator.batch_get_traces(5, 60.0).0)
        .collect();
    let input = lines.join("\n");
    let summary = export_inputs(
        &[("payments.jsonl", input.as_bytes())],
        store,
        WriterConfig::default(),
    )
    .await?;
    println!();
    println!(
        "Archived a synthetic payment history as well: {} traces, {} documents (2026-03-02 and -03).",
        summary.traces, summary.segments
    );
    let engine = LocalEngine::open(archive).await?;
    let days = BTreeMap::from([
        ("since".to_owned(), "2026-03-02".to_owned()),
        ("until".to_owned(), "2026-03-03".to_owned()),
    ]);
    println!();
    println!("Saved query error_rate_per_service_per_day (compliance: availability per service):");
    let q = saved_query("error_rate_per_service_per_day")?;
    println!(
        "{}",
        format(&engine.sql(&q.render(&days)?).await?, Format::Table)?
    );
    println!();
    println!("Saved query failed_webhooks (Stripe webhooks VaultLink failed to process), first 5:");
    let q = saved_query("failed_webhooks")?;
    let rows = engine.sql(&q.render(&days)?).await?;
    let mut failed = Vec::new();
    let mut left = 5;
    for b in rows {
        if left == 0 {
            break;
        }
        let take = left.min(b.num_rows());
        failed.push(b.project(&[5, 1, 2, 3])?.slice(0, take));
        left -= take;
    }
    println!("{}", format(&failed, Format::Table)?);
    let csv = format(&failed, Format::Csv)?;
    if let Some(payment) = csv.lines().nth(1).and_then(|l| l.split(',').next()) {
        println!();
        println!(
            "Chargeback lookup of the first failed payment (xray-archive lookup --archive {} --payment-id {payment}):",
            archive.display()
        );
        println!();
        print!("{}", render_tree(&lookup(store, payment).await?));
        println!();
        println!("The same story as an evidence page to attach to a dispute:");
        println!(
            "  xray-archive lookup --archive {} --payment-id {payment} --format html > {payment}.html",
            archive.display()
        );
    }
    println!();
    println!("Ask your own questions:");
    println!("  xray-archive query --list");
    println!(
        "  xray-archive query --archive {} --sql \"SELECT dt, count(*) FROM traces GROUP BY dt\"",
        archive.display()
    );
    Ok(())
}
