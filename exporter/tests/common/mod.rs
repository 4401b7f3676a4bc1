//! What the archive tests read back: a table's rows from an in-memory archive.

use arrow::array::{Array, AsArray, RecordBatch};
use exporter::ArchiveStore;
use exporter::store::MemoryStore;

/// Every row of `table`, as batches.
pub async fn rows(store: &MemoryStore, table: &str) -> Vec<RecordBatch> {
    let mut out = Vec::new();
    for meta in store.list(&format!("v1/{table}/")).await.unwrap() {
        let bytes = exporter::store::get(store, &meta.key)
            .await
            .unwrap()
            .unwrap();
        out.extend(exporter::parquet_io::decode(&meta.key, bytes).unwrap());
    }
    out
}

/// A column's values as text (cast from whatever type it has; nulls as empty).
pub fn strings(batches: &[RecordBatch], column: &str) -> Vec<String> {
    batches
        .iter()
        .flat_map(|b| {
            let c = arrow::compute::cast(
                b.column_by_name(column).unwrap(),
                &arrow::datatypes::DataType::Utf8,
            )
            .unwrap();
            let c = c.as_string::<i32>();
            (0..c.len())
                .map(|i| {
                    if c.is_null(i) {
                        String::new()
                    } else {
                        c.value(i).to_owned()
                    }
                })
                .collect::<Vec<_>>()
        })
        .collect()
}
