//! Progress of a long run on stderr: a bar on a terminal, a plain line every few seconds
//! otherwise (a log file, CI).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::output::note;

/// A progress bar on a terminal; a plain line every few seconds otherwise.
pub struct ProgressReporter {
    bar: Option<ProgressBar>,
    last_line: Instant,
}

/// Bar layout for byte counts.
pub const BYTES_TEMPLATE: &str =
    "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({eta}) {msg}";
/// Bar layout for counted steps, such as windows.
pub const STEPS_TEMPLATE: &str =
    "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} ({eta}) {msg}";

impl ProgressReporter {
    pub fn new(total: u64, template: &str) -> Self {
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
    pub fn set(&mut self, position: u64, message: String, last: bool) {
        match &self.bar {
            Some(bar) => {
                bar.set_position(position);
                bar.set_message(message);
            }
            None if last || self.last_line.elapsed() >= Duration::from_secs(5) => {
                self.last_line = Instant::now();
                note!("progress: {message}");
            }
            None => {}
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
