//! Payment lookup with no date against a full scan, on a seven-year-shaped archive.
//!
//! ```sh
//! cargo bench -p athena --bench lookup                 # 2,555 days x 100 payments a day
//! cargo bench -p athena --bench lookup -- 365 2000     # days, payments a day
//! ```
//!
//! The days end a month before today, so every month and year but the current ones is over
//! and rolled up, as a sealed archive would be; the lookup must read at most 50 objects and
//! at most 0.5% of the archive's bytes.
//!
//! Builds the archive once under `$XRAY_ARCHIVE_BENCH_DIR` (default
//! `$CARGO_TARGET_DIR/bench-archive-<days>x<per_day>`, else the workspace `target/`) through the real export path, then prints, as
//! medians over several payments: bytes and files a lookup reads, as a fraction of the
//! archive, and its wall time; and the same for a full-scan SQL query over `spans` for the
//! same payment, in the same run.

use std::path::{Path, PathBuf};
use std::time::Instant;

use athena::{LocalEngine, lookup};
use exporter::synth::PaymentTraces;
use exporter::{LocalDirStore, WriterConfig, export_inputs};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn dir_size(dir: &Path) -> (u64, u64) {
    let mut bytes = 0;
    let mut files = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "parquet") {
                bytes += e.metadata().map(|m| m.len()).unwrap_or(0);
                files += 1;
            }
        }
    }
    (bytes, files)
}

async fn build(dir: &Path, days: u64, per_day: u64) {
    let store = LocalDirStore::open(dir).unwrap();
    let total = days * per_day;
    let gap = 86_400.0 / per_day as f64;
    let now = chrono::Utc::now();
    let start = (now - chrono::Duration::days(days as i64 + 31)).timestamp() as f64;
    let mut generator = PaymentTraces::new(2026, start);
    let chunk = 25_000;
    let t0 = Instant::now();
    let mut done = 0;
    while done < total {
        let n = chunk.min(total - done);
        let lines: Vec<String> = (0..n.div_ceil(5))
            .map(|_| generator.batch_get_traces(5, gap).0)
            .collect();
        let input = lines.join("\n");
        export_inputs(
            &[("bench.jsonl", input.as_bytes())],
            &store,
            WriterConfig::default(),
        )
        .await
        .unwrap();
        done += n;
        eprintln!(
            "  built {done}/{total} traces ({:.0} s)",
            t0.elapsed().as_secs_f64()
        );
    }
    let mut chain = exporter::read_chain(&store).await.unwrap();
    exporter::rollup::roll_up(
        &store,
        &mut chain,
        &WriterConfig::default(),
        now,
        exporter::seal::DEFAULT_SEAL_AFTER_DAYS,
    )
    .await
    .unwrap();
    eprintln!("  rolled up ({:.0} s)", t0.elapsed().as_secs_f64());
    std::fs::write(dir.join("_bench_complete"), b"").unwrap();
}

#[tokio::main]
async fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let days = args.first().copied().unwrap_or(7 * 365);
    let per_day = args.get(1).copied().unwrap_or(100);
    let dir = std::env::var_os("XRAY_ARCHIVE_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            // Beside the build output, never inside the source tree.
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
            target.join(format!("bench-archive-{days}x{per_day}"))
        });
    if !dir.join("_bench_complete").exists() {
        let _ = std::fs::remove_dir_all(&dir);
        eprintln!(
            "building {days} days x {per_day} payments into {}",
            dir.display()
        );
        build(&dir, days, per_day).await;
    }
    let (archive_bytes, archive_files) = dir_size(&dir.join("v1"));
    let (spans_bytes, spans_files) = dir_size(&dir.join("v1/spans"));
    println!(
        "archive: {days} days x {per_day} payments a day, {archive_files} files, {:.1} MiB",
        archive_bytes as f64 / 1048576.0
    );
    let store = LocalDirStore::open(&dir).unwrap();
    let total = days * per_day;
    let ids: Vec<String> = (1..=9)
        .map(|i| format!("pay_{:012}", i * total / 10))
        .collect();
    let (mut times, mut bytes, mut files): (Vec<f64>, Vec<f64>, Vec<f64>) =
        (Vec::new(), Vec::new(), Vec::new());
    for id in &ids {
        let t = Instant::now();
        let story = lookup(&store, id).await.unwrap();
        times.push(t.elapsed().as_secs_f64());
        bytes.push(story.read.bytes as f64);
        files.push(story.read.files as f64);
        assert!(!story.traces.is_empty());
    }
    let lookup_ms = median(times) * 1000.0;
    let lookup_bytes = median(bytes.clone());
    let max_files = files.iter().copied().fold(0.0, f64::max);
    let max_bytes = bytes.iter().copied().fold(0.0, f64::max);
    println!(
        "lookup, no date (median of {}): {lookup_ms:.1} ms, {:.0} objects, {:.0} KiB read = {:.4}% of the archive",
        ids.len(),
        median(files.clone()),
        lookup_bytes / 1024.0,
        100.0 * lookup_bytes / archive_bytes as f64
    );
    println!(
        "lookup, worst of {}: {max_files:.0} objects (target: at most 50), {:.4}% of the archive's bytes (target: at most 0.5%)",
        ids.len(),
        100.0 * max_bytes / archive_bytes as f64
    );
    let engine = LocalEngine::open(&dir).await.unwrap();
    let mut scan_times = Vec::new();
    for id in ids.iter().take(3) {
        let sql = format!(
            "SELECT trace_id, id FROM spans WHERE trace_id IN \
             (SELECT trace_id FROM spans WHERE payment_id = '{id}')"
        );
        let t = Instant::now();
        let rows = engine.sql(&sql).await.unwrap();
        scan_times.push(t.elapsed().as_secs_f64());
        assert!(rows.iter().map(|b| b.num_rows()).sum::<usize>() > 0);
    }
    let scan_ms = median(scan_times) * 1000.0;
    println!(
        "full-scan SQL for the same payment (median of 3): {scan_ms:.1} ms over {spans_files} spans files, \
         {:.1} MiB = {:.1}% of the archive",
        spans_bytes as f64 / 1048576.0,
        100.0 * spans_bytes as f64 / archive_bytes as f64
    );
    println!(
        "lookup vs full scan: {:.0}x less time, {:.0}x fewer bytes",
        scan_ms / lookup_ms,
        spans_bytes as f64 / lookup_bytes
    );
}
