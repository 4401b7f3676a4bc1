//! Human-readable summaries.

use std::path::PathBuf;

use exporter::ExportSummary;

/// Formats a byte count with binary units.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// Prints an export summary for a person.
pub fn print_summary(s: &ExportSummary, archive: &str, skipped: &[PathBuf]) {
    println!(
        "Archived {} traces: {} segment documents, {} spans -> {archive}",
        s.traces, s.segments, s.spans
    );
    let parts: Vec<&str> = s.partitions.iter().map(String::as_str).collect();
    let shown = match parts.as_slice() {
        [] => "none".to_string(),
        [one] => one.to_string(),
        [first, .., last] => format!("{first} .. {last}"),
    };
    println!("  partitions   {} ({shown})", parts.len());
    println!(
        "  input        {} files, {}",
        s.files,
        human_bytes(s.input_bytes)
    );
    println!(
        "  archive      {} objects written, {}",
        s.objects_written,
        human_bytes(s.archive_bytes)
    );
    if s.unchanged > 0 {
        println!(
            "  unchanged    {} documents were already archived byte for byte (not duplicated)",
            s.unchanged
        );
    }
    if !skipped.is_empty() {
        println!("  skipped      {} files (*.md, hidden)", skipped.len());
    }
    if !s.redactions.is_empty() {
        let kinds: Vec<String> = s
            .redactions
            .iter()
            .map(|(kind, n)| format!("{n} {kind}"))
            .collect();
        let places: Vec<String> = s
            .redaction_places
            .iter()
            .map(|(place, counts)| format!("{place} {}", counts.values().sum::<u64>()))
            .collect();
        println!(
            "  redacted     {} (before anything was written; by place: {})",
            kinds.join(", "),
            places.join(", ")
        );
    }
    if s.quarantined.is_empty() {
        println!("  quarantined  0");
    } else {
        println!(
            "  quarantined  {} inputs, kept with their reasons in {archive}/_quarantine/:",
            s.quarantined.len()
        );
        for q in &s.quarantined {
            let name = q.source.rsplit('/').next().unwrap_or(&q.source);
            let at = if q.location.is_empty() {
                String::new()
            } else {
                format!(" ({})", q.location)
            };
            println!("    - {name}{at}: {}", q.reason);
        }
    }
}
