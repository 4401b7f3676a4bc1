//! The payment lookup: every trace of one payment as one timeline, read through
//! `payment_index` with no date given.
//!
//! 1. `payment_index` holds one small part per sealed day, sorted by payment id; the
//!    lookup reads them for the payment's trace ids and days.
//! 2. Each trace id names its day (`dt` comes from the id), so the spans of every trace
//!    are read from that day's `spans` parts only.
//!
//! Works over any archive store: a local directory or S3.

use std::collections::{BTreeMap, BTreeSet};

use arrow::array::{Array, RecordBatch};
use exporter::ArchiveStore;
use exporter::parquet_io::decode;
use schema::v1::{SpansReader, Table, day_prefix, partition};
use serde::Serialize;

use crate::error::{Error, Result};

/// One span of a trace, in time order.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SpanView {
    /// Span id.
    pub id: String,
    /// Caller span id.
    pub parent_id: Option<String>,
    /// Service or operation name.
    pub name: String,
    /// Nesting depth in the timeline (0 for the trace's root).
    pub level: usize,
    /// Start, microseconds since the epoch.
    pub start_us: i64,
    /// Duration in microseconds; `None` while in progress.
    pub duration_us: Option<i64>,
    /// HTTP status.
    pub http_status: Option<i32>,
    /// Client error.
    pub error: bool,
    /// Server error.
    pub fault: bool,
    /// AWS operation (PutItem, SendMessage).
    pub aws_operation: Option<String>,
    /// First exception's message.
    pub exception: Option<String>,
}

/// One trace of the payment.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TraceView {
    /// Trace id.
    pub trace_id: String,
    /// Partition.
    pub dt: String,
    /// What part of the payment's story it is: `creation`, `webhook`, `prism delivery`,
    /// `dlq replay`, or the root service's name.
    pub stage: String,
    /// Start, microseconds since the epoch.
    pub start_us: i64,
    /// Duration in microseconds.
    pub duration_us: Option<i64>,
    /// Any span failed with a client error.
    pub error: bool,
    /// Any span failed with a server error.
    pub fault: bool,
    /// Spans in time order, each with its nesting level.
    pub spans: Vec<SpanView>,
    /// The objects the spans were read from, so the page can be checked against the
    /// archive years later.
    pub sources: Vec<Citation>,
}

/// One archive object a trace was read from: exactly which bytes, and the manifest that
/// commits them.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Citation {
    /// Its key.
    pub key: String,
    /// The store's version id (S3 on a versioned bucket).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// SHA-256 of the bytes read, hex.
    pub sha256: String,
    /// The manifest that lists the object (filled by [`cite_manifests`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest: Option<exporter::ManifestLink>,
}

/// Where the story first went wrong.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FailurePoint {
    /// The trace.
    pub trace_id: String,
    /// The span.
    pub span_id: String,
    /// Its name.
    pub name: String,
    /// `fault` or `error`.
    pub kind: String,
    /// When, microseconds since the epoch.
    pub start_us: i64,
    /// The exception message, if any.
    pub exception: Option<String>,
}

/// What a lookup read.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct ReadStats {
    /// Objects read.
    pub files: u64,
    /// Bytes read.
    pub bytes: u64,
}

/// The whole story of one payment.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PaymentStory {
    /// The payment id.
    pub payment_id: String,
    /// Its traces in time order.
    pub traces: Vec<TraceView>,
    /// Stages the story has no trace for, such as a webhook that never arrived.
    pub missing: Vec<String>,
    /// The earliest failing span, highlighted in every view.
    pub first_failure: Option<FailurePoint>,
    /// What was read.
    pub read: ReadStats,
}

/// Names, for every object a story cites, the manifest that commits it: reads the manifest
/// chain (every manifest once), so an evidence page names exactly what `verify` checks.
pub async fn cite_manifests(store: &impl ArchiveStore, story: &mut PaymentStory) -> Result<()> {
    let chain = exporter::read_chain(store).await?;
    let mut listing: BTreeMap<&str, exporter::ManifestLink> = BTreeMap::new();
    for (key, m, sha) in &chain.manifests {
        for o in &m.objects {
            listing.insert(
                o.key.as_str(),
                exporter::ManifestLink {
                    key: key.clone(),
                    sha256: sha.clone(),
                },
            );
        }
    }
    for t in &mut story.traces {
        for c in &mut t.sources {
            c.manifest = listing.get(c.key.as_str()).cloned();
        }
    }
    Ok(())
}

/// Finds every trace of `payment_id` and rebuilds its timeline.
pub async fn lookup(store: &impl ArchiveStore, payment_id: &str) -> Result<PaymentStory> {
    let hit = exporter::holds::find_payment(store, payment_id).await?;
    let mut read = ReadStats {
        files: hit.files,
        bytes: hit.bytes,
    };
    let traces = hit.trace_ids.clone();
    if traces.is_empty() {
        return Err(Error::UnknownPayment {
            payment_id: payment_id.to_owned(),
            files: read.files,
        });
    }
    // The spans parts of each trace's day.
    let mut by_day: BTreeMap<chrono::NaiveDate, Vec<String>> = BTreeMap::new();
    for t in &traces {
        if let Some(dt) = hit.day_of(t) {
            by_day.entry(dt).or_default().push(t.clone());
        }
    }
    let mut by_part: Vec<(String, String, Vec<String>)> = Vec::new();
    for (dt, ids) in by_day {
        for meta in store.list(&day_prefix(Table::Spans, dt)).await? {
            by_part.push((meta.key, partition(dt), ids.clone()));
        }
    }
    // A trace's spans can sit in more than one part of its day (a late segment added by a
    // later import): they are gathered into one trace.
    type Found = (String, Vec<SpanView>, Vec<Citation>);
    let mut spans: BTreeMap<String, Found> = BTreeMap::new();
    for (key, partition, ids) in by_part {
        let Some(stored) = store.read(&key, None).await? else {
            continue;
        };
        read.files += 1;
        read.bytes += stored.bytes.len() as u64;
        let citation = Citation {
            key: key.clone(),
            version_id: stored.version_id.clone(),
            sha256: exporter::store::sha256_hex(&stored.bytes),
            manifest: None,
        };
        let batches = decode(&key, stored.bytes)?;
        for id in ids {
            let found = spans_of(&key, &batches, &id)?;
            if !found.is_empty() {
                let dt = partition.trim_start_matches("dt=").to_owned();
                let entry = spans
                    .entry(id)
                    .or_insert_with(|| (dt, Vec::new(), Vec::new()));
                entry.1.extend(found);
                entry.2.push(citation.clone());
            }
        }
    }
    let mut views: Vec<TraceView> = spans
        .into_iter()
        .map(|(id, (dt, spans, sources))| TraceView {
            sources,
            ..trace_view(id, dt, spans)
        })
        .collect();
    views.sort_by(|a, b| (a.start_us, &a.trace_id).cmp(&(b.start_us, &b.trace_id)));
    // The first failure is where it started: among failing spans whose children did not
    // fail (the API Gateway 500 is only the echo of the DynamoDB fault under it), the
    // earliest, the deepest first.
    let first_failure = views
        .iter()
        .flat_map(|t| {
            let parent: BTreeMap<&str, &str> = t
                .spans
                .iter()
                .filter_map(|s| s.parent_id.as_deref().map(|p| (s.id.as_str(), p)))
                .collect();
            let mut above_a_failure: BTreeSet<&str> = BTreeSet::new();
            for s in t.spans.iter().filter(|s| s.fault || s.error) {
                let mut at = s.id.as_str();
                while let Some(&p) = parent.get(at) {
                    if !above_a_failure.insert(p) {
                        break;
                    }
                    at = p;
                }
            }
            t.spans
                .iter()
                .filter(move |s| (s.fault || s.error) && !above_a_failure.contains(s.id.as_str()))
                .map(move |s| (t, s))
        })
        .min_by_key(|(t, s)| (s.start_us, std::cmp::Reverse(s.level), t.trace_id.clone()))
        .map(|(t, s)| FailurePoint {
            trace_id: t.trace_id.clone(),
            span_id: s.id.clone(),
            name: s.name.clone(),
            kind: if s.fault { "fault" } else { "error" }.into(),
            start_us: s.start_us,
            exception: s.exception.clone(),
        });
    let stages: BTreeSet<&str> = views.iter().map(|t| t.stage.as_str()).collect();
    let missing = ["creation", "webhook"]
        .into_iter()
        .filter(|s| !stages.contains(s))
        .map(|s| match s {
            "webhook" => {
                "webhook: no Stripe webhook trace for this payment (scenario 1: never delivered?)"
                    .to_owned()
            }
            other => format!("{other}: no trace"),
        })
        .collect();
    Ok(PaymentStory {
        payment_id: payment_id.to_owned(),
        traces: views,
        missing,
        first_failure,
        read,
    })
}

/// A column the part `key` must have.
fn column<T>(key: &str, found: std::result::Result<T, arrow::error::ArrowError>) -> Result<T> {
    found.map_err(|e| {
        Error::from(exporter::Error::CorruptPart {
            key: key.to_owned(),
            reason: e.to_string(),
        })
    })
}

fn opt_string(col: &arrow::array::StringArray, i: usize) -> Option<String> {
    col.is_valid(i).then(|| col.value(i).to_owned())
}

fn flag(col: &arrow::array::BooleanArray, i: usize) -> bool {
    col.is_valid(i) && col.value(i)
}

/// The rows of `trace_id` in the spans part `key`, in time order. A part without one of the
/// columns read (not written by this archive, or tampered with) is an error naming it.
fn spans_of(key: &str, batches: &[RecordBatch], trace_id: &str) -> Result<Vec<SpanView>> {
    let mut out = Vec::new();
    for b in batches {
        let read = SpansReader::new(b);
        let trace = column(key, read.trace_id())?;
        let (id, parent_id, name) = (
            column(key, read.id())?,
            column(key, read.parent_id())?,
            column(key, read.name())?,
        );
        let (start, duration, status) = (
            column(key, read.start_us())?,
            column(key, read.duration_us())?,
            column(key, read.http_status())?,
        );
        let (error, fault) = (column(key, read.error())?, column(key, read.fault())?);
        let (aws_operation, exception) = (
            column(key, read.aws_operation())?,
            column(key, read.exception_message())?,
        );
        for i in 0..b.num_rows() {
            if trace.value(i) != trace_id {
                continue;
            }
            out.push(SpanView {
                id: id.value(i).to_owned(),
                parent_id: opt_string(parent_id, i),
                name: name.value(i).to_owned(),
                level: 0,
                start_us: start.value(i),
                duration_us: duration.is_valid(i).then(|| duration.value(i)),
                http_status: status.is_valid(i).then(|| status.value(i)),
                error: flag(error, i),
                fault: flag(fault, i),
                aws_operation: opt_string(aws_operation, i),
                exception: opt_string(exception, i),
            });
        }
    }
    Ok(out)
}

/// Orders spans as a tree (depth first, children by start time) and sets their levels.
fn trace_view(trace_id: String, dt: String, spans: Vec<SpanView>) -> TraceView {
    let ids: BTreeSet<&str> = spans.iter().map(|s| s.id.as_str()).collect();
    let mut children: BTreeMap<Option<String>, Vec<usize>> = BTreeMap::new();
    for (i, s) in spans.iter().enumerate() {
        let parent = s.parent_id.clone().filter(|p| ids.contains(p.as_str()));
        children.entry(parent).or_default().push(i);
    }
    for list in children.values_mut() {
        list.sort_by_key(|&i| (spans[i].start_us, spans[i].id.clone()));
    }
    let mut order = Vec::with_capacity(spans.len());
    let mut stack: Vec<(usize, usize)> = children
        .get(&None)
        .map(|r| r.iter().rev().map(|&i| (i, 0)).collect())
        .unwrap_or_default();
    while let Some((i, level)) = stack.pop() {
        order.push((i, level));
        if let Some(kids) = children.get(&Some(spans[i].id.clone())) {
            stack.extend(kids.iter().rev().map(|&k| (k, level + 1)));
        }
    }
    let ordered: Vec<SpanView> = order
        .into_iter()
        .map(|(i, level)| SpanView {
            level,
            ..spans[i].clone()
        })
        .collect();
    let start_us = ordered.iter().map(|s| s.start_us).min().unwrap_or(0);
    let end_us = ordered
        .iter()
        .filter_map(|s| s.duration_us.map(|d| s.start_us + d))
        .max();
    let stage = stage_of(&ordered);
    TraceView {
        trace_id,
        dt,
        stage,
        start_us,
        duration_us: end_us.map(|e| e - start_us),
        error: ordered.iter().any(|s| s.error),
        fault: ordered.iter().any(|s| s.fault),
        spans: ordered,
        sources: Vec::new(),
    }
}

/// The part of a payment's story a trace tells, from its services and routes.
fn stage_of(spans: &[SpanView]) -> String {
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
    let has = |needle: &str| {
        names
            .iter()
            .any(|n| n.to_ascii_lowercase().contains(needle))
    };
    if has("replay") {
        "dlq replay".into()
    } else if has("prismdelivery") {
        "prism delivery".into()
    } else if has("webhook") {
        "webhook".into()
    } else if has("paymentservice") || has("create-payment") {
        "creation".into()
    } else {
        names.first().copied().unwrap_or("trace").to_owned()
    }
}

/// `2026-03-02T00:07:26.083Z` for microseconds since the epoch.
pub fn time_label(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_else(|| us.to_string())
}

fn ms(us: Option<i64>) -> String {
    us.map_or_else(
        || "in progress".into(),
        |d| format!("{:.1} ms", d as f64 / 1000.0),
    )
}

/// The story as a terminal tree, the first failure marked with `<-- FIRST FAILURE`.
pub fn render_tree(story: &PaymentStory) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let first = story.first_failure.as_ref();
    let _ = writeln!(
        out,
        "Payment {}: {} trace{}",
        story.payment_id,
        story.traces.len(),
        if story.traces.len() == 1 { "" } else { "s" }
    );
    for t in &story.traces {
        let status = if t.fault {
            "FAULT"
        } else if t.error {
            "ERROR"
        } else {
            "ok"
        };
        let _ = writeln!(
            out,
            "\n{} {}  {}  {}  {}",
            t.stage,
            t.trace_id,
            time_label(t.start_us),
            ms(t.duration_us),
            status
        );
        for s in &t.spans {
            let offset = (s.start_us - t.start_us) as f64 / 1000.0;
            let mut flags = Vec::new();
            if let Some(code) = s.http_status {
                flags.push(code.to_string());
            }
            if let Some(op) = &s.aws_operation {
                flags.push(op.clone());
            }
            if s.fault {
                flags.push("fault".into());
            }
            if s.error {
                flags.push("error".into());
            }
            let marker = match first {
                Some(f) if f.trace_id == t.trace_id && f.span_id == s.id => "  <-- FIRST FAILURE",
                _ => "",
            };
            let _ = writeln!(
                out,
                "  {:indent$}{} [+{offset:.1} ms, {}] {}{marker}",
                "",
                s.name,
                ms(s.duration_us),
                flags.join(" "),
                indent = 2 * s.level
            );
            if let Some(e) = s.exception.as_ref().filter(|_| !marker.is_empty()) {
                let _ = writeln!(
                    out,
                    "  {:indent$}  exception: {e}",
                    "",
                    indent = 2 * s.level
                );
            }
        }
    }
    for m in &story.missing {
        let _ = writeln!(out, "\nmissing: {m}");
    }
    match first {
        Some(f) => {
            let _ = writeln!(
                out,
                "\nFirst failure: {} ({}) in trace {} at {}{}",
                f.name,
                f.kind,
                f.trace_id,
                time_label(f.start_us),
                f.exception
                    .as_ref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default()
            );
        }
        None => {
            let _ = writeln!(out, "\nNo span of this payment failed.");
        }
    }
    let _ = writeln!(
        out,
        "Read {} files, {} bytes (the payment index's roll-ups and uncovered day parts, then the spans parts of each trace's day).",
        story.read.files, story.read.bytes
    );
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::StringArray;
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    #[test]
    fn a_spans_part_without_a_column_is_an_error_that_names_it() {
        let schema = Arc::new(Schema::new(vec![Field::new(
            "trace_id",
            DataType::Utf8,
            false,
        )]));
        let batch = RecordBatch::try_new(
            schema,
            vec![Arc::new(StringArray::from(vec![
                "1-581cf771-a006649127e371903a2de979",
            ]))],
        )
        .unwrap();
        let key = "v1/spans/dt=2016-11-04/part-0000.parquet";
        let err = spans_of(key, &[batch], "1-581cf771-a006649127e371903a2de979")
            .unwrap_err()
            .to_string();
        assert!(err.contains(key) && err.contains("id"), "{err}");
    }
}
