//! Where commands print: standard output through [`Stdout`], notes on stderr with
//! [`note!`], and the summaries more than one command prints.
//!
//! Rust ignores SIGPIPE, so once the reader of a pipe has gone (`xray-archive query ... |
//! head -1`) every write to it fails with EPIPE, and `println!` turns that failure into a
//! panic and exit status 101. Commands therefore write through [`stdout`] with
//! `writeln!(out, ...)?`: a closed pipe comes back as an error marked [`ClosedStdout`] that
//! ends the command, and [`exit_code`] turns it into a quiet exit with status 0, which is
//! what a reader that stopped on purpose (and `set -o pipefail`) expects. Restoring the
//! default SIGPIPE action instead would end the program with status 141 (killed by the
//! signal), and would also kill an export in the middle of its work when the reader of its
//! progress lines on stderr goes away; notes on stderr ignore a closed stderr.

use std::error::Error;
use std::fmt;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use exporter::ExportSummary;

/// Writes a line on stderr, for the person watching (progress, row counts, errors). A closed
/// stderr does not stop the command: the line is dropped.
macro_rules! note {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}
pub(crate) use note;

/// Standard output for a command's results; see the module documentation.
pub fn stdout() -> Stdout {
    Stdout(io::stdout())
}

/// Standard output whose writes report a reader that has gone as [`ClosedStdout`].
pub struct Stdout(io::Stdout);

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf).map_err(mark_closed)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush().map_err(mark_closed)
    }
}

/// Standard output's reader has closed the pipe: nobody reads what is left to print.
#[derive(Debug)]
pub struct ClosedStdout;

impl fmt::Display for ClosedStdout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("standard output was closed")
    }
}

impl Error for ClosedStdout {}

/// Marks a broken pipe on standard output, so that it is told apart from a broken
/// connection elsewhere (an S3 upload), which is an error like any other.
fn mark_closed(e: io::Error) -> io::Error {
    if e.kind() == io::ErrorKind::BrokenPipe {
        io::Error::new(io::ErrorKind::BrokenPipe, ClosedStdout)
    } else {
        e
    }
}

/// The exit status of a finished command: its own on success; 0, quietly, when its reader
/// closed standard output; otherwise 1, with the error and its causes on stderr.
pub fn exit_code(result: anyhow::Result<ExitCode>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(e) if e.chain().any(is_closed_stdout) => ExitCode::SUCCESS,
        Err(e) => {
            note!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn is_closed_stdout(e: &(dyn Error + 'static)) -> bool {
    e.downcast_ref::<io::Error>()
        .and_then(io::Error::get_ref)
        .is_some_and(|inner| inner.is::<ClosedStdout>())
}

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
pub fn print_summary(
    out: &mut impl Write,
    s: &ExportSummary,
    archive: &str,
    skipped: &[PathBuf],
) -> io::Result<()> {
    writeln!(
        out,
        "Archived {} traces: {} segment documents, {} spans -> {archive}",
        s.traces, s.segments, s.spans
    )?;
    let parts: Vec<&str> = s.partitions.iter().map(String::as_str).collect();
    let shown = match parts.as_slice() {
        [] => "none".to_string(),
        [one] => one.to_string(),
        [first, .., last] => format!("{first} .. {last}"),
    };
    writeln!(out, "  partitions   {} ({shown})", parts.len())?;
    writeln!(
        out,
        "  input        {} files, {}",
        s.files,
        human_bytes(s.input_bytes)
    )?;
    writeln!(
        out,
        "  archive      {} objects written, {}",
        s.objects_written,
        human_bytes(s.archive_bytes)
    )?;
    if s.unchanged > 0 {
        writeln!(
            out,
            "  unchanged    {} documents were already archived byte for byte (not duplicated)",
            s.unchanged
        )?;
    }
    if !skipped.is_empty() {
        writeln!(out, "  skipped      {} files (*.md, hidden)", skipped.len())?;
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
        writeln!(
            out,
            "  redacted     {} (before anything was written; by place: {})",
            kinds.join(", "),
            places.join(", ")
        )?;
    }
    if s.quarantined.is_empty() {
        writeln!(out, "  quarantined  0")?;
    } else {
        writeln!(
            out,
            "  quarantined  {} inputs, kept with their reasons in {archive}/_quarantine/:",
            s.quarantined.len()
        )?;
        for q in &s.quarantined {
            let name = q.source.rsplit('/').next().unwrap_or(&q.source);
            let at = if q.location.is_empty() {
                String::new()
            } else {
                format!(" ({})", q.location)
            };
            writeln!(out, "    - {name}{at}: {}", q.reason)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_closed_standard_output_is_a_quiet_success() {
        let closed = anyhow::Error::from(mark_closed(io::ErrorKind::BrokenPipe.into()))
            .context("printing the rows");
        assert_eq!(exit_code(Err(closed)), ExitCode::SUCCESS);
        // A broken connection to S3 is a failure, even though its kind is the same.
        let elsewhere = anyhow::Error::from(io::Error::from(io::ErrorKind::BrokenPipe))
            .context("uploading part-0000.parquet");
        assert_eq!(exit_code(Err(elsewhere)), ExitCode::FAILURE);
        assert_eq!(exit_code(Ok(ExitCode::from(2))), ExitCode::from(2));
    }
}
