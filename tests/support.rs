//! Shared helpers for end-to-end tests: where the X-Ray samples are, and a plain reader
//! for archive parts.

use std::path::{Path, PathBuf};

use arrow::record_batch::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// The real X-Ray samples: `$XRAY_TESTDATA` if set, else `../shared/testdata/xray` beside
/// the clone when it exists, else the copy bundled in `tests/fixtures/xray`.
pub fn testdata_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("XRAY_TESTDATA") {
        return PathBuf::from(dir);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let shared = root.join("../shared/testdata/xray");
    if shared.is_dir() {
        shared
    } else {
        root.join("tests/fixtures/xray")
    }
}

/// Every file under `dir` that an export reads (sorted, no `*.md`, no hidden files).
pub fn sample_files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("testdata dir")
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            !n.ends_with(".md") && !n.starts_with('.')
        })
        .collect();
    out.sort();
    out
}

/// Reads every row group of every part under `<archive>/v1/<table>/`, in key order.
pub fn read_table(archive: &Path, table: &str) -> Vec<RecordBatch> {
    let mut files = Vec::new();
    let mut stack = vec![archive.join("v1").join(table)];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(p);
            }
        }
    }
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let file = std::fs::File::open(&f).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .build()
            .unwrap();
        for b in reader {
            out.push(b.unwrap());
        }
    }
    out
}

/// The values of a string column across batches (nulls as `None`).
pub fn strings(batches: &[RecordBatch], column: &str) -> Vec<Option<String>> {
    use arrow::array::{Array, AsArray};
    let mut out = Vec::new();
    for b in batches {
        let col = b.column_by_name(column).expect("column").as_string::<i32>();
        for i in 0..col.len() {
            out.push((!col.is_null(i)).then(|| col.value(i).to_owned()));
        }
    }
    out
}

/// Counts a segment document's spans from its JSON, independently of the archive's model.
pub fn count_spans(doc: &serde_json::Value) -> usize {
    1 + doc
        .get("subsegments")
        .and_then(|s| s.as_array())
        .map_or(0, |subs| subs.iter().map(count_spans).sum())
}

/// A resource name no earlier run against the same emulator used.
pub fn unique(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{name}-{}-{}", std::process::id(), nanos % 1_000_000_000)
}
