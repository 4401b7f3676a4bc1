//! `xray-archive export`: files into an archive directory.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use exporter::{AnyStore, ArchiveStore, FileSource, Progress, WriterConfig, export_files};
use indicatif::{ProgressBar, ProgressStyle};

use crate::output::print_summary;

pub async fn run(
    source: &Path,
    store: &AnyStore,
    new_redaction_policy: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let files = FileSource::open(source).with_context(|| {
        format!(
            "--source {} must be a file or directory of X-Ray JSON",
            source.display()
        )
    })?;
    let mut reporter = ProgressReporter::new(files.total_bytes(), BYTES_TEMPLATE);
    let summary = export_files(
        &files,
        store,
        WriterConfig {
            new_redaction_policy,
            ..WriterConfig::default()
        },
        &mut |p: Progress| {
            let message = format!(
                "{}/{} files, {}/{} bytes, {} documents, {} quarantined",
                p.files_done, p.files_total, p.bytes_done, p.bytes_total, p.segments, p.quarantined
            );
            reporter.set(p.bytes_done, message, false)
        },
    )
    .await?;
    reporter.finish();
    if json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print_summary(&summary, &store.location(), files.skipped());
    }
    Ok(ExitCode::SUCCESS)
}

/// A progress bar on a terminal; a plain line every few seconds otherwise.
pub(crate) struct ProgressReporter {
    bar: Option<ProgressBar>,
    last_line: Instant,
}

/// Bar layout for byte counts.
const BYTES_TEMPLATE: &str =
    "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({eta}) {msg}";
/// Bar layout for counted steps, such as windows.
pub(crate) const STEPS_TEMPLATE: &str =
    "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} ({eta}) {msg}";

impl ProgressReporter {
    pub(crate) fn new(total: u64, template: &str) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total);
            bar.set_style(ProgressStyle::with_template(template).expect("valid template"));
            bar
        });
        Self {
            bar,
            last_line: Instant::now(),
        }
    }

    /// Moves to `position`; `message` is shown beside the bar, or printed as a plain line at
    /// most every 5 seconds (and always when `last`).
    pub(crate) fn set(&mut self, position: u64, message: String, last: bool) {
        match &self.bar {
            Some(bar) => {
                bar.set_position(position);
                bar.set_message(message);
            }
            None if last || self.last_line.elapsed() >= Duration::from_secs(5) => {
                self.last_line = Instant::now();
                eprintln!("progress: {message}");
            }
            None => {}
        }
    }

    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
