//! `xray-archive export`: files into an archive directory.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use exporter::{ArchiveStore, FileSource, LocalDirStore, Progress, WriterConfig, export_files};
use indicatif::{ProgressBar, ProgressStyle};

use crate::output::print_summary;

pub async fn run(source: &Path, archive: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let files = FileSource::open(source).with_context(|| {
        format!(
            "--source {} must be a file or directory of X-Ray JSON",
            source.display()
        )
    })?;
    let store = LocalDirStore::open(archive)?;
    let mut reporter = ProgressReporter::new(files.total_bytes());
    let summary = export_files(&files, &store, WriterConfig::default(), &mut |p| {
        reporter.update(p)
    })
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
struct ProgressReporter {
    bar: Option<ProgressBar>,
    last_line: Instant,
}

impl ProgressReporter {
    fn new(total_bytes: u64) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total_bytes);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({eta}) {msg}",
                )
                .expect("valid template"),
            );
            bar
        });
        Self {
            bar,
            last_line: Instant::now(),
        }
    }

    fn update(&mut self, p: Progress) {
        match &self.bar {
            Some(bar) => {
                bar.set_position(p.bytes_done);
                bar.set_message(format!(
                    "{} documents, {} quarantined",
                    p.segments, p.quarantined
                ));
            }
            None if self.last_line.elapsed() >= Duration::from_secs(5) => {
                self.last_line = Instant::now();
                eprintln!(
                    "progress: {}/{} files, {}/{} bytes, {} documents, {} quarantined",
                    p.files_done,
                    p.files_total,
                    p.bytes_done,
                    p.bytes_total,
                    p.segments,
                    p.quarantined
                );
            }
            None => {}
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
