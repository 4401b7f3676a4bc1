//! `xray-archive demo`: archive the bundled samples and explain what happened.

use std::path::Path;
use std::process::ExitCode;

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
    println!();
    println!("Run the demo again: every document is reported unchanged and no row is duplicated.");
    println!("Archive your own X-Ray data:");
    println!("  xray-archive export --source <BatchGetTraces JSON file or dir> --archive <dir>");
    Ok(ExitCode::SUCCESS)
}
