//! The archive's bytes do not depend on the thread count: a file import and a sealed day,
//! each run with 1, 2 and 3 threads, write the same objects byte for byte.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use exporter::seal::{SealOptions, seal_days};
use exporter::source::MemorySource;
use exporter::store::MemoryStore;
use exporter::synth::PaymentTraces;
use exporter::{ArchiveStore, FileSource, LocalDirStore, WriterConfig, export_files};

/// 2026-03-02T00:00:00Z.
const DAY1: f64 = 1_772_409_600.0;

/// Small buffers and batches, so a run makes many flushes, chunks, row groups and parts, and
/// every parallel step has several pieces to share out.
fn config(threads: usize) -> WriterConfig {
    WriterConfig {
        threads,
        buffer_bytes: 200 << 10,
        batch_documents: 150,
        part_bytes: 24 << 10,
        retention: None,
        ..WriterConfig::default()
    }
}

/// Every object under the archive's data prefixes, by key.
async fn data_objects(store: &impl ArchiveStore) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for prefix in ["v1/", "_quarantine/"] {
        for meta in store.list(prefix).await.unwrap() {
            let bytes = exporter::store::get(store, &meta.key)
                .await
                .unwrap()
                .unwrap();
            out.insert(meta.key, bytes.to_vec());
        }
    }
    out
}

#[tokio::test]
async fn a_file_import_writes_the_same_bytes_with_any_thread_count() {
    let input = tempfile::tempdir().unwrap();
    let mut g = PaymentTraces::new(11, DAY1);
    for file in 0..3 {
        let mut lines = String::new();
        for _ in 0..80 {
            let (response, _) = g.batch_get_traces(5, 90.0);
            lines.push_str(&response);
            lines.push('\n');
        }
        // A bad line among good ones: quarantined in its place.
        lines.push_str("{\"Traces\": [oops\n");
        std::fs::write(input.path().join(format!("part-{file}.jsonl")), lines).unwrap();
    }
    let source = FileSource::open(input.path()).unwrap();
    let mut archives = Vec::new();
    for threads in [1, 2, 3] {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDirStore::open(dir.path()).unwrap();
        let summary = export_files(&source, &store, config(threads), &mut |_| {})
            .await
            .unwrap();
        assert_eq!(summary.traces, 1200, "threads={threads}");
        assert_eq!(summary.quarantined.len(), 3, "threads={threads}");
        archives.push((threads, data_objects(&store).await));
    }
    let (_, one) = &archives[0];
    let parts = one.keys().filter(|k| k.starts_with("v1/spans/")).count();
    assert!(parts > 3, "the import should make many parts: {parts}");
    for (threads, other) in &archives[1..] {
        assert_eq!(
            one.keys().collect::<Vec<_>>(),
            other.keys().collect::<Vec<_>>(),
            "threads={threads}"
        );
        for (key, bytes) in one {
            assert!(other[key] == *bytes, "{key} differs with {threads} threads");
        }
    }
}

#[tokio::test]
async fn a_sealed_day_has_the_same_bytes_with_any_thread_count() {
    let mut g = PaymentTraces::new(12, DAY1);
    let mut docs = Vec::new();
    for _ in 0..600 {
        docs.extend(g.next_trace(120.0));
    }
    let source = MemorySource::of(docs);
    let now: DateTime<Utc> = "2026-03-05T00:00:00Z".parse().unwrap();
    let mut archives = Vec::new();
    for threads in [1, 2, 3] {
        let store = MemoryStore::default();
        let options = SealOptions {
            seal_after_days: 0,
            from: Some("2026-03-02".parse().unwrap()),
            writer: config(threads),
            ..SealOptions::default()
        };
        let report = seal_days(&source, &store, &options, now, &mut |_| {})
            .await
            .unwrap();
        assert_eq!(report.traces, 600, "threads={threads}");
        archives.push(data_objects(&store).await);
    }
    assert!(archives[0].keys().any(|k| k.starts_with("v1/segments/")));
    assert!(archives[0] == archives[1], "1 and 2 threads differ");
    assert!(archives[0] == archives[2], "1 and 3 threads differ");
}
