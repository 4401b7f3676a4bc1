//! Trace sources: where segment documents come from.
//!
//! A [`TraceSource`] answers by trace-id time: which traces started in a range, and their
//! documents. The sealing logic ([`crate::seal`]) depends on that alone, so it is tested
//! with the in-memory [`MemorySource`] as well as against X-Ray in the emulator.

pub mod files;
pub mod staging;
pub mod xray;

pub use files::{FileSource, read_input};
pub use staging::{MergedSource, StagingSource};

use std::future::Future;

use chrono::{DateTime, Utc};
use schema::input::InputItem;

use crate::error::Result;

/// Where a day's traces are fetched from while it is sealed.
pub trait TraceSource: Send + Sync {
    /// A short name recorded in manifests (`xray`).
    fn name(&self) -> &'static str;

    /// The ids of traces whose id time is in `[start, end)`, sorted and distinct.
    fn list(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<String>>> + Send;

    /// Every document of `ids`, in any order, and the ids it returned nothing for.
    fn fetch(&self, ids: &[String]) -> impl Future<Output = Result<Fetched>> + Send;
}

/// What a source answered for a list of trace ids.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fetched {
    /// Every document of the ids, in any order.
    pub items: Vec<SourceItem>,
    /// Ids the source listed but returned no document for (deleted between the listing and
    /// the fetch, or held back): a gap the day's manifest records and `verify` names.
    pub unreturned: Vec<String>,
}

impl Fetched {
    /// The answer `items` gives for `ids`: every id that no item names in `returned` is
    /// unreturned.
    pub fn of<'a>(
        ids: &[String],
        items: Vec<SourceItem>,
        returned: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        let returned: std::collections::HashSet<&str> = returned.into_iter().collect();
        let unreturned = ids
            .iter()
            .filter(|id| !returned.contains(id.as_str()))
            .cloned()
            .collect();
        Self { items, unreturned }
    }
}

/// Documents held in memory, answering like X-Ray by trace-id time: for tests of sealing.
#[derive(Debug, Clone, Default)]
pub struct MemorySource {
    /// `(trace id, document text)`; the trace id decides the time.
    pub documents: Vec<(String, String)>,
    /// Only traces whose id time is at or after this are still held (X-Ray's 30 days).
    pub holds_since: Option<DateTime<Utc>>,
}

impl MemorySource {
    /// A source of these documents; each one's trace id is read from its text (documents
    /// without one are kept under an empty id and never listed).
    pub fn of(texts: impl IntoIterator<Item = String>) -> Self {
        let documents = texts
            .into_iter()
            .map(|t| {
                let id = serde_json::from_str::<serde_json::Value>(&t)
                    .ok()
                    .and_then(|v| v.get("trace_id")?.as_str().map(str::to_owned))
                    .unwrap_or_default();
                (id, t)
            })
            .collect();
        Self {
            documents,
            holds_since: None,
        }
    }
}

impl TraceSource for MemorySource {
    fn name(&self) -> &'static str {
        "memory"
    }

    async fn list(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> Result<Vec<String>> {
        let from = start.max(self.holds_since.unwrap_or(start)).timestamp();
        let mut ids: Vec<String> = self
            .documents
            .iter()
            .filter(|(id, _)| {
                schema::trace_epoch(id).is_some_and(|t| t >= from && t < end.timestamp())
            })
            .map(|(id, _)| id.clone())
            .collect();
        ids.sort();
        ids.dedup();
        Ok(ids)
    }

    async fn fetch(&self, ids: &[String]) -> Result<Fetched> {
        let held: Vec<&(String, String)> = self
            .documents
            .iter()
            .filter(|(id, _)| ids.contains(id))
            .collect();
        let items = held
            .iter()
            .map(|(id, text)| SourceItem {
                item: SourceContent::Document {
                    text: text.clone(),
                    limit_exceeded: None,
                },
                source: "memory".into(),
                location: id.clone(),
            })
            .collect();
        Ok(Fetched::of(
            ids,
            items,
            held.iter().map(|(id, _)| id.as_str()),
        ))
    }
}

/// One item a source produced, with where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceItem {
    /// What was found.
    pub item: SourceContent,
    /// The input it came from (a file path, or a name for in-memory input).
    pub source: String,
    /// Where in that input: `line 3`, `Traces[0].Segments[2].Document`, or empty.
    pub location: String,
}

/// What a source found.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceContent {
    /// A candidate segment document.
    Document {
        /// Its exact text.
        text: String,
        /// X-Ray's LimitExceeded for its trace, when the input said.
        limit_exceeded: Option<bool>,
    },
    /// An OpenTelemetry span record (an `aws/spans` record or a span of an OTLP export), its
    /// exact text and the span read from it.
    Span(Box<schema::otel::SpanRecord>),
    /// A CloudWatch Logs `CONTROL_MESSAGE`: no data, skipped and counted.
    Control,
    /// Input that is not trace data; quarantined with the reason.
    Rejected {
        /// The exact bytes.
        bytes: Vec<u8>,
        /// Why.
        reason: String,
    },
}

impl SourceItem {
    pub(crate) fn from_input(item: InputItem, source: &str, prefix: &str) -> Option<Self> {
        let join = |path: String| match (prefix.is_empty(), path.is_empty()) {
            (true, _) => path,
            (false, true) => prefix.to_owned(),
            (false, false) => format!("{prefix} {path}"),
        };
        let (item, location) = match item {
            InputItem::DaemonHeader => return None,
            InputItem::Document {
                text,
                limit_exceeded,
                path,
            } => (
                SourceContent::Document {
                    text,
                    limit_exceeded,
                },
                join(path),
            ),
            InputItem::Rejected { text, reason, path } => (
                SourceContent::Rejected {
                    bytes: text.into_bytes(),
                    reason,
                },
                join(path),
            ),
        };
        Some(Self {
            item,
            source: source.to_owned(),
            location,
        })
    }
}
