//! A file import's buffer sets its memory, not its files: however many flushes an import
//! makes, a day gets one part per table while it is small, every row group of a part is in
//! archive order, and the documents are those of an import that flushes once.

use std::collections::BTreeMap;

use arrow::array::AsArray;
use bytes::Bytes;
use exporter::export::MAX_OPEN_DAYS;
use exporter::synth::PaymentTraces;
use exporter::{ArchiveStore, FileSource, LocalDirStore, WriterConfig, export_files};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// 2026-03-02T00:00:00Z.
const DAY1: f64 = 1_772_409_600.0;
const DAY: f64 = 86_400.0;

/// An input of `lines` BatchGetTraces responses that takes turns between generators: one
/// each morning and each evening of `days` days, so each flush holds traces from all over
/// each day it touches.
fn input(days: usize, lines: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut gens: Vec<PaymentTraces> = (0..days)
        .flat_map(|d| [0.0, 0.5].map(|half| (d, half)))
        .enumerate()
        .map(|(i, (d, half))| PaymentTraces::new(40 + i as u64, DAY1 + (d as f64 + half) * DAY))
        .collect();
    let mut text = String::new();
    for line in 0..lines {
        let n = gens.len();
        let (response, _) = gens[line % n].batch_get_traces(5, 30.0);
        text.push_str(&response);
        text.push('\n');
    }
    std::fs::write(dir.path().join("traces.jsonl"), text).unwrap();
    dir
}

/// Imports `input` with a buffer of `buffer_bytes`; returns every part under `v1/` by key.
async fn import(input: &std::path::Path, buffer_bytes: usize) -> BTreeMap<String, Bytes> {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalDirStore::open(dir.path()).unwrap();
    let config = WriterConfig {
        buffer_bytes,
        retention: None,
        ..WriterConfig::default()
    };
    let source = FileSource::open(input).unwrap();
    let summary = export_files(&source, &store, config, &mut |_| {})
        .await
        .unwrap();
    assert!(summary.quarantined.is_empty());
    let mut parts = BTreeMap::new();
    for meta in store.list("v1/").await.unwrap() {
        let bytes = exporter::store::get(&store, &meta.key)
            .await
            .unwrap()
            .unwrap();
        parts.insert(meta.key, bytes);
    }
    parts
}

/// Each row group's `column` values, one list per row group.
fn row_groups(bytes: &Bytes, column: &str) -> Vec<Vec<String>> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes.clone()).unwrap();
    let groups = builder.metadata().num_row_groups();
    (0..groups)
        .map(|g| {
            let reader = ParquetRecordBatchReaderBuilder::try_new(bytes.clone())
                .unwrap()
                .with_row_groups(vec![g])
                .build()
                .unwrap();
            let mut values = Vec::new();
            for batch in reader {
                let batch = batch.unwrap();
                let c = batch.column_by_name(column).unwrap().as_string::<i32>();
                values.extend(c.iter().map(|v| v.unwrap().to_owned()));
            }
            values
        })
        .collect()
}

/// The `column` values of every part of `table`, sorted.
fn all_values(parts: &BTreeMap<String, Bytes>, table: &str, column: &str) -> Vec<String> {
    let mut values: Vec<String> = parts
        .iter()
        .filter(|(k, _)| k.starts_with(&format!("v1/{table}/")))
        .flat_map(|(_, b)| row_groups(b, column).concat())
        .collect();
    values.sort();
    values
}

fn parts_per_day(parts: &BTreeMap<String, Bytes>, table: &str) -> BTreeMap<String, usize> {
    let mut days = BTreeMap::new();
    for key in parts
        .keys()
        .filter(|k| k.starts_with(&format!("v1/{table}/")))
    {
        let day = key.split('/').nth(2).unwrap().to_owned();
        *days.entry(day).or_default() += 1;
    }
    days
}

#[tokio::test]
async fn many_flushes_write_one_part_per_table_per_day_in_sorted_row_groups() {
    let input = input(2, 400);
    let once = import(input.path(), 1 << 30).await;
    let flushed = import(input.path(), 64 << 10).await;

    for table in ["segments", "spans", "traces", "payment_index"] {
        let days = parts_per_day(&flushed, table);
        assert_eq!(days.len(), 2, "{table}: {days:?}");
        assert!(days.values().all(|n| *n == 1), "{table}: {days:?}");
    }
    let segments = &flushed["v1/segments/dt=2026-03-02/part-0000.parquet"];
    let groups = row_groups(segments, "trace_id");
    assert!(
        groups.len() > 10,
        "one row group per flush: {}",
        groups.len()
    );
    for table in ["segments", "spans"] {
        for (key, bytes) in flushed.iter().filter(|(k, _)| k.contains(table)) {
            for (g, ids) in row_groups(bytes, "trace_id").iter().enumerate() {
                assert!(ids.is_sorted(), "{key}: row group {g} is out of order");
            }
        }
    }
    assert_eq!(
        all_values(&once, "segments", "document"),
        all_values(&flushed, "segments", "document")
    );
    assert_eq!(
        all_values(&once, "spans", "id"),
        all_values(&flushed, "spans", "id")
    );
}

#[tokio::test]
async fn an_import_across_more_days_than_it_keeps_open_loses_nothing() {
    let days = MAX_OPEN_DAYS + 2;
    let input = input(days, 300);
    let once = import(input.path(), 1 << 30).await;
    let flushed = import(input.path(), 32 << 10).await;
    let parts = parts_per_day(&flushed, "segments");
    assert_eq!(parts.len(), days);
    // Each day was closed to make room for others, and opened again as new parts.
    assert!(parts.values().all(|n| *n > 1), "{parts:?}");
    assert_eq!(
        all_values(&once, "segments", "document"),
        all_values(&flushed, "segments", "document")
    );
}

#[tokio::test]
async fn a_flush_never_splits_a_trace_and_a_part_takes_at_most_its_row_groups() {
    // A 1-byte buffer: a flush whenever the next trace begins, one trace per flush.
    let input = input(1, 120);
    let flushed = import(input.path(), 1).await;
    let ids = all_values(&flushed, "traces", "trace_id");
    let mut distinct = ids.clone();
    distinct.dedup();
    assert_eq!(distinct.len(), 600);
    assert!(
        ids.len() == distinct.len(),
        "one traces row per trace: {} rows for {} traces",
        ids.len(),
        distinct.len()
    );
    let parts = parts_per_day(&flushed, "segments");
    assert_eq!(
        parts["dt=2026-03-02"], 2,
        "600 row groups, at most 512 a part"
    );
    let first = &flushed["v1/segments/dt=2026-03-02/part-0000.parquet"];
    assert_eq!(
        row_groups(first, "trace_id").len(),
        exporter::archive::MAX_PART_ROW_GROUPS
    );
}
