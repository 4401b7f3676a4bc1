//! The file source: a file or a directory of X-Ray data, read as a stream.
//!
//! Each file is read one of two ways, decided by its first non-empty line:
//! - **line mode**, when that line is a whole JSON value: JSON Lines, or the X-Ray daemon's
//!   UDP framing (a header line, then a document). A bad line is quarantined on its own and
//!   the rest of the file is still read; memory holds one line at a time.
//! - **whole mode** otherwise (pretty-printed JSON, one or more values): the file is parsed
//!   as a whole and, if it is not valid JSON, quarantined as a whole.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde_json::value::RawValue;
use tracing::instrument;

use super::{SourceContent, SourceItem};
use crate::error::{Error, Result};

/// Names skipped inside a directory source: documentation beside the data, and hidden files.
fn is_skipped(path: &Path) -> bool {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    name.starts_with('.') || name.ends_with(".md")
}

/// A file or a directory tree of X-Ray data files, visited in sorted order.
#[derive(Debug, Clone)]
pub struct FileSource {
    files: Vec<(PathBuf, u64)>,
    skipped: Vec<PathBuf>,
}

impl FileSource {
    /// Lists the files under `path` (or `path` itself when it is a file).
    pub fn open(path: &Path) -> Result<Self> {
        let err = |source| Error::SourceRead {
            path: path.to_owned(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(err)?;
        let mut files = Vec::new();
        let mut skipped = Vec::new();
        if meta.is_file() {
            files.push((path.to_owned(), meta.len()));
        } else {
            let mut stack = vec![path.to_owned()];
            while let Some(dir) = stack.pop() {
                for entry in std::fs::read_dir(&dir).map_err(err)? {
                    let entry = entry.map_err(err)?;
                    let p = entry.path();
                    let m = entry.metadata().map_err(err)?;
                    if m.is_dir() {
                        stack.push(p);
                    } else if is_skipped(&p) {
                        skipped.push(p);
                    } else {
                        files.push((p, m.len()));
                    }
                }
            }
            files.sort();
            skipped.sort();
        }
        Ok(Self { files, skipped })
    }

    /// The files to read, with their sizes.
    pub fn files(&self) -> &[(PathBuf, u64)] {
        &self.files
    }

    /// Files left out (documentation and hidden files in a directory source).
    pub fn skipped(&self) -> &[PathBuf] {
        &self.skipped
    }

    /// Total input bytes.
    pub fn total_bytes(&self) -> u64 {
        self.files.iter().map(|(_, n)| n).sum()
    }

    /// Opens one file as a stream of items.
    #[instrument]
    pub fn read_file(path: &Path) -> Result<InputReader<BufReader<std::fs::File>>> {
        let f = std::fs::File::open(path).map_err(|source| Error::SourceRead {
            path: path.to_owned(),
            source,
        })?;
        Ok(InputReader::new(
            &path.display().to_string(),
            BufReader::new(f),
        ))
    }
}

/// Reads one input (a file's content) named `name`, calling `emit` for every item.
///
/// ```
/// let mut items = Vec::new();
/// let input = "{\"format\": \"json\", \"version\": 1}\n{\"id\": \"x\"}\n";
/// exporter::source::read_input("daemon.txt", input.as_bytes(), &mut |i| items.push(i)).unwrap();
/// assert_eq!(items.len(), 1);
/// assert_eq!(items[0].location, "line 2");
/// ```
pub fn read_input(
    name: &str,
    reader: impl BufRead,
    emit: &mut dyn FnMut(SourceItem),
) -> std::io::Result<()> {
    for item in InputReader::new(name, reader) {
        emit(item?);
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Undecided,
    Lines,
    Done,
}

/// A stream of the items in one input. In line mode it holds one line at a time.
pub struct InputReader<R> {
    name: String,
    reader: R,
    mode: Mode,
    line: Vec<u8>,
    line_no: usize,
    /// Blank lines read before the first non-empty one, kept so a file quarantined whole
    /// keeps its exact bytes.
    leading_blank: Vec<u8>,
    queue: std::collections::VecDeque<SourceItem>,
}

impl<R: BufRead> InputReader<R> {
    /// Reads `reader`, naming its items' source `name`.
    pub fn new(name: &str, reader: R) -> Self {
        Self {
            name: name.to_owned(),
            reader,
            mode: Mode::Undecided,
            line: Vec::new(),
            line_no: 0,
            leading_blank: Vec::new(),
            queue: Default::default(),
        }
    }

    /// Reads the next non-empty line into `self.line`; false at the end.
    fn next_line(&mut self) -> std::io::Result<bool> {
        loop {
            self.line.clear();
            if self.reader.read_until(b'\n', &mut self.line)? == 0 {
                return Ok(false);
            }
            self.line_no += 1;
            if !self.line.trim_ascii().is_empty() {
                return Ok(true);
            }
            if self.mode == Mode::Undecided {
                self.leading_blank.extend_from_slice(&self.line);
            }
        }
    }

    /// Fills the queue with the next items; false when the input is exhausted.
    fn fill(&mut self) -> std::io::Result<bool> {
        match self.mode {
            Mode::Done => Ok(false),
            Mode::Lines => {
                if !self.next_line()? {
                    self.mode = Mode::Done;
                    return Ok(false);
                }
                emit_line(&self.name, self.line_no, &self.line, &mut |i| {
                    self.queue.push_back(i)
                });
                Ok(true)
            }
            Mode::Undecided => {
                if !self.next_line()? {
                    self.mode = Mode::Done;
                    return Ok(false); // empty input: nothing to archive, nothing lost
                }
                // A first line that is a whole JSON value means line mode; it is classified
                // from this one parse.
                let first = std::str::from_utf8(&self.line)
                    .ok()
                    .and_then(|s| serde_json::from_str::<&RawValue>(s.trim()).ok());
                if let Some(value) = first {
                    self.mode = Mode::Lines;
                    let location = format!("line {}", self.line_no);
                    classify(&self.name, value, &location, &mut |i| {
                        self.queue.push_back(i)
                    });
                } else {
                    self.mode = Mode::Done;
                    let mut all = std::mem::take(&mut self.leading_blank);
                    all.append(&mut self.line);
                    std::io::Read::read_to_end(&mut self.reader, &mut all)?;
                    emit_whole(&self.name, all, &mut |i| self.queue.push_back(i));
                }
                Ok(true)
            }
        }
    }
}

impl<R: BufRead> InputReader<R> {
    /// The next items, about `max_bytes` of input at a time, in input order, each passed
    /// through `f` on the thread that classified it (one parallel pass per batch); empty at
    /// the end. Lines are classified on `pool`'s threads.
    pub fn next_batch<T: Send>(
        &mut self,
        max_bytes: usize,
        pool: &rayon::ThreadPool,
        f: &(dyn Fn(SourceItem) -> T + Sync),
    ) -> std::io::Result<Vec<T>> {
        let mut whole: Vec<SourceItem> = self.queue.drain(..).collect();
        if self.mode == Mode::Undecided {
            match self.next() {
                Some(item) => whole.push(item?),
                None => return Ok(Vec::new()),
            }
            whole.extend(self.queue.drain(..));
        }
        let mut lines = Vec::new();
        let mut bytes = 0;
        while self.mode == Mode::Lines && bytes < max_bytes {
            if !self.next_line()? {
                self.mode = Mode::Done;
                break;
            }
            bytes += self.line.len();
            lines.push((self.line_no, std::mem::take(&mut self.line)));
        }
        let name = &self.name;
        Ok(pool.install(|| {
            let mut out: Vec<T> = whole.into_par_iter().map(f).collect();
            let lines: Vec<Vec<T>> = lines
                .par_iter()
                .map(|(line_no, line)| {
                    let mut items = Vec::new();
                    emit_line(name, *line_no, line, &mut |i| items.push(f(i)));
                    items
                })
                .collect();
            out.extend(lines.into_iter().flatten());
            out
        }))
    }
}

impl<R: BufRead> Iterator for InputReader<R> {
    type Item = std::io::Result<SourceItem>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.queue.pop_front() {
                return Some(Ok(item));
            }
            match self.fill() {
                Ok(true) => continue,
                Ok(false) => return None,
                Err(e) => {
                    self.mode = Mode::Done;
                    return Some(Err(e));
                }
            }
        }
    }
}

fn reject(name: &str, location: String, bytes: Vec<u8>, reason: String) -> SourceItem {
    SourceItem {
        item: SourceContent::Rejected { bytes, reason },
        source: name.to_owned(),
        location,
    }
}

fn emit_line(name: &str, line_no: usize, line: &[u8], emit: &mut dyn FnMut(SourceItem)) {
    let location = format!("line {line_no}");
    let text = match std::str::from_utf8(line) {
        Ok(t) => t.trim(),
        Err(e) => {
            let reason = format!("not UTF-8 text: {e}");
            return emit(reject(name, location, line.to_vec(), reason));
        }
    };
    // One pass over the usual line, an API response or a document: the object is read
    // for its shape straight away, and only a line that is not one is parsed again for
    // the precise answer.
    if !schema::otel::looks_like_spans(text.as_bytes()) {
        let mut items = Vec::new();
        if schema::input::classify_object(text, &mut items) {
            return emit_items(name, &location, items, emit);
        }
    }
    match serde_json::from_str::<&RawValue>(text) {
        Ok(value) => classify(name, value, &location, emit),
        Err(e) => emit(reject(
            name,
            location,
            line.to_vec(),
            format!("not valid JSON: {e}"),
        )),
    }
}

fn emit_whole(name: &str, bytes: Vec<u8>, emit: &mut dyn FnMut(SourceItem)) {
    if schema::otel::looks_like_spans(&bytes) {
        return emit_spans(name, "", schema::otel::read_spans(&bytes), emit);
    }
    let text = match std::str::from_utf8(&bytes) {
        Ok(t) => t,
        Err(e) => {
            let reason = format!("not UTF-8 text: {e}");
            return emit(reject(name, String::new(), bytes, reason));
        }
    };
    let values: std::result::Result<Vec<&RawValue>, _> = serde_json::Deserializer::from_str(text)
        .into_iter()
        .collect();
    match values {
        Ok(values) => {
            let many = values.len() > 1;
            for (i, v) in values.into_iter().enumerate() {
                let location = if many {
                    format!("value {}", i + 1)
                } else {
                    String::new()
                };
                classify(name, v, &location, emit);
            }
        }
        Err(e) => {
            let reason = format!("not valid JSON: {e}");
            emit(reject(name, String::new(), bytes, reason));
        }
    }
}

/// Span records as source items, at `prefix` in the input.
fn emit_spans(
    name: &str,
    prefix: &str,
    input: schema::otel::SpanInput,
    emit: &mut dyn FnMut(SourceItem),
) {
    let at = |l: String| match (prefix.is_empty(), l.is_empty()) {
        (true, _) => l,
        (false, true) => prefix.to_owned(),
        (false, false) => format!("{prefix} {l}"),
    };
    for record in input.records {
        emit(SourceItem {
            location: at(format!("span {}", record.span.span_id)),
            item: SourceContent::Span(Box::new(record)),
            source: name.to_owned(),
        });
    }
    for (location, bytes, reason) in input.rejected {
        emit(reject(name, at(location), bytes, reason));
    }
    for _ in 0..input.control_messages {
        emit(SourceItem {
            item: SourceContent::Control,
            source: name.to_owned(),
            location: prefix.to_owned(),
        });
    }
}

fn classify(name: &str, value: &RawValue, location: &str, emit: &mut dyn FnMut(SourceItem)) {
    if schema::otel::looks_like_spans(value.get().as_bytes()) {
        return emit_spans(
            name,
            location,
            schema::otel::read_spans(value.get().as_bytes()),
            emit,
        );
    }
    let mut items = Vec::new();
    schema::input::classify(value, &mut items);
    emit_items(name, location, items, emit);
}

fn emit_items(
    name: &str,
    location: &str,
    items: Vec<schema::input::InputItem>,
    emit: &mut dyn FnMut(SourceItem),
) {
    for item in items {
        if let Some(i) = SourceItem::from_input(item, name, location) {
            emit(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Vec<SourceItem> {
        let mut out = Vec::new();
        read_input("t", text.as_bytes(), &mut |i| out.push(i)).unwrap();
        out
    }

    #[test]
    fn json_lines_quarantine_only_the_bad_line() {
        let out = read("{\"id\":\"a\"}\n\n{\"id\": oops}\n{\"id\":\"c\"}\n");
        assert_eq!(out.len(), 3);
        assert!(
            matches!(&out[1].item, SourceContent::Rejected { reason, .. } if reason.starts_with("not valid JSON"))
        );
        assert_eq!(out[1].location, "line 3");
        assert_eq!(out[2].location, "line 4");
    }

    #[test]
    fn pretty_json_is_read_whole() {
        let out = read("{\n  \"id\": \"a\",\n  \"name\": \"b\"\n}\n");
        assert!(
            matches!(&out[..], [SourceItem { item: SourceContent::Document { text, .. }, .. }] if text.starts_with("{\n  \"id\""))
        );
    }

    #[test]
    fn broken_pretty_json_is_quarantined_whole() {
        let text = "{\n  \"id\": \"a\"\n  \"name\": \"b\"\n}\n";
        let out = read(text);
        assert_eq!(out.len(), 1);
        match &out[0].item {
            SourceContent::Rejected { bytes, reason } => {
                assert_eq!(bytes, text.as_bytes());
                assert!(reason.contains("line 3"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn quarantined_whole_files_keep_leading_blank_lines() {
        let text = "\n\n```\n\"a\": [\n";
        let out = read(text);
        assert!(
            matches!(&out[0].item, SourceContent::Rejected { bytes, .. } if bytes == text.as_bytes())
        );
    }

    #[test]
    fn invalid_utf8_is_quarantined_with_its_bytes() {
        let bytes = b"{\"id\": \"\xff\"}\n";
        let mut out = Vec::new();
        read_input("t", &bytes[..], &mut |i| out.push(i)).unwrap();
        assert!(
            matches!(&out[0].item, SourceContent::Rejected { bytes: b, reason } if b == bytes && reason.contains("UTF-8"))
        );
    }
}
