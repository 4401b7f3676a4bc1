//! Bytes per column per table of a Parquet tree (an archive, or any Hive-partitioned
//! output), from the files' footers: where an archive's bytes go, to decide encodings,
//! dictionaries, bloom filters and sort orders column by column.
//!
//! ```sh
//! cargo run --release -p exporter --example column_sizes -- ./archive [--json]
//! ```
//!
//! A table is the first directory under the root (`v1/segments/dt=.../part-0000.parquet` is
//! `segments`). Sizes are the compressed column chunks, plus each file's footer and bloom
//! filters under `(footer, bloom filters)`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use parquet::file::reader::{FileReader, SerializedFileReader};

fn parquet_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            parquet_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "parquet") {
            out.push(path);
        }
    }
    Ok(())
}

/// The table a file belongs to: the first path component under `root` that is not `v1`.
fn table_of(root: &Path, file: &Path) -> String {
    file.strip_prefix(root)
        .unwrap_or(file)
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .find(|c| c != "v1")
        .unwrap_or_default()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = PathBuf::from(
        args.iter()
            .find(|a| !a.starts_with("--"))
            .ok_or("usage: column_sizes <dir> [--json]")?,
    );
    let json = args.iter().any(|a| a == "--json");
    let mut files = Vec::new();
    parquet_files(&root, &mut files)?;
    files.sort();
    // table -> column -> (compressed bytes, uncompressed bytes)
    let mut sizes: BTreeMap<String, BTreeMap<String, (u64, u64)>> = BTreeMap::new();
    let mut file_counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut rows: BTreeMap<String, u64> = BTreeMap::new();
    for file in &files {
        let table = table_of(&root, file);
        let len = std::fs::metadata(file)?.len();
        let reader = SerializedFileReader::new(std::fs::File::open(file)?)?;
        let meta = reader.metadata();
        let mut in_chunks = 0;
        let columns = sizes.entry(table.clone()).or_default();
        for rg in meta.row_groups() {
            *rows.entry(table.clone()).or_default() += rg.num_rows() as u64;
            for col in rg.columns() {
                let e = columns.entry(col.column_path().string()).or_default();
                let c = col.compressed_size() as u64;
                e.0 += c;
                e.1 += col.uncompressed_size() as u64;
                in_chunks += c;
            }
        }
        let rest = columns.entry("(footer, bloom filters)".into()).or_default();
        rest.0 += len.saturating_sub(in_chunks);
        *file_counts.entry(table).or_default() += 1;
    }
    let total: u64 = sizes.values().flat_map(|c| c.values()).map(|s| s.0).sum();
    if json {
        let out: BTreeMap<&String, serde_json::Value> = sizes
            .iter()
            .map(|(t, cols)| {
                (
                    t,
                    serde_json::json!({
                        "files": file_counts[t],
                        "rows": rows[t],
                        "columns": cols.iter().map(|(c, (z, u))| (c.clone(), serde_json::json!({"bytes": z, "uncompressed": u}))).collect::<BTreeMap<_, _>>(),
                    }),
                )
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!(
        "{} bytes in {} files under {}",
        total,
        files.len(),
        root.display()
    );
    for (table, cols) in &sizes {
        let t: u64 = cols.values().map(|s| s.0).sum();
        println!(
            "\n{table}: {t} bytes ({:.1}%), {} files, {} rows",
            100.0 * t as f64 / total.max(1) as f64,
            file_counts[table],
            rows[table]
        );
        let mut by_size: Vec<_> = cols.iter().collect();
        by_size.sort_by_key(|b| std::cmp::Reverse(b.1.0));
        for (col, (z, u)) in by_size {
            println!(
                "  {col:<40} {z:>12} bytes {:>5.1}% of the table  (uncompressed {u})",
                100.0 * *z as f64 / t.max(1) as f64
            );
        }
    }
    Ok(())
}
