//! Pure conversion of validated segment documents to the v1 record batches.
//!
//! One small function per entity: a document to a `segments` row, a span to a `spans` row,
//! a trace to a `traces` row and its `payment_index` rows.

use std::collections::BTreeSet;

use arrow::array::ArrayRef;
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use chrono::NaiveDate;
use std::sync::Arc;

use super::tables::{
    PaymentIndexBuilder, PaymentIndexReader, SegmentsBuilder, SpansBuilder, TracesBuilder,
};
use crate::document::{AnnotationValue, SegmentDocument};
use crate::ids::TracePlacement;
use crate::validate::{ValidationError, validate_document};

/// Annotation promoted to `payment_id`.
pub const PAYMENT_ID: &str = "PaymentId";
/// Annotation promoted to `correlation_id`.
pub const CORRELATION_ID: &str = "CorrelationId";
/// Annotation promoted to `customer_id` (always a keyed hash).
pub const CUSTOMER_ID: &str = "CustomerId";
/// Annotation promoted to `payment_provider`.
pub const PAYMENT_PROVIDER: &str = "PaymentProvider";

/// Annotations stored in their own `spans` columns rather than in the `annotations` map.
pub const PROMOTED: [&str; 4] = [PAYMENT_ID, CORRELATION_ID, CUSTOMER_ID, PAYMENT_PROVIDER];

/// Converts X-Ray epoch seconds to whole microseconds, rounding half away from zero.
///
/// Whole seconds and the fraction are scaled apart: `t * 1e6` in one step loses the last
/// digit for present-day epochs (`1596648396.6399446` would give ...944 instead of ...945).
///
/// ```
/// assert_eq!(schema::v1::seconds_to_us(1596648396.6399446), 1_596_648_396_639_945);
/// assert_eq!(schema::v1::seconds_to_us(1.478293361449E9), 1_478_293_361_449_000);
/// ```
pub fn seconds_to_us(seconds: f64) -> i64 {
    let whole = seconds.floor();
    (whole as i64) * 1_000_000 + ((seconds - whole) * 1e6).round() as i64
}

/// A validated segment document with its original text, ready to archive.
#[derive(Debug, Clone, PartialEq)]
pub struct ArchivedSegment {
    text: String,
    /// Boxed: the model is over a kilobyte, and documents are sorted and moved by the
    /// hundred thousand.
    doc: Box<SegmentDocument>,
    limit_exceeded: Option<bool>,
    start_us: i64,
    /// The document's spans: itself and its nested subsegments.
    spans: usize,
    format: &'static str,
    /// The day of a trace whose id carries no epoch (a W3C id): its earliest span's.
    dt: Option<NaiveDate>,
    /// An OTLP span's resource and scope, which its own text lacks
    /// ([`crate::otel::context_of`]).
    context: Option<String>,
}

/// The `format` of an X-Ray segment document.
pub const XRAY_FORMAT: &str = "xray";

/// Why a document could not be archived: the reason a quarantined document is kept with,
/// its text the one the quarantine records.
#[derive(Debug, thiserror::Error)]
pub enum Rejection {
    /// The text is not a JSON segment document (syntax, or a field of the wrong type).
    #[error("{what}: {0}", what = if .0.is_syntax() || .0.is_eof() { "not valid JSON" } else { "not a segment document" })]
    Json(serde_json::Error),
    /// The document broke one of X-Ray's rules.
    #[error("{0}")]
    Invalid(ValidationError),
    /// A span record could not be read.
    #[error("{0}")]
    Span(String),
}

/// A document that could not be archived, handed back with its text so it can be
/// quarantined byte for byte.
#[derive(Debug)]
pub struct RejectedDocument {
    /// The document's text, unchanged.
    pub text: String,
    /// Why it was rejected.
    pub rejection: Rejection,
}

impl ArchivedSegment {
    /// Parses and validates one document.
    ///
    /// `limit_exceeded` is X-Ray's `LimitExceeded` for the trace, when the source said.
    ///
    /// ```
    /// let text = r#"{"name":"a","id":"70de5b6f19ff9a0a","start_time":1.5,"end_time":2,
    ///                "trace_id":"1-581cf771-a006649127e371903a2de979"}"#;
    /// let seg = schema::v1::ArchivedSegment::new(text.to_string(), None).unwrap();
    /// assert_eq!(seg.text(), text);
    /// assert_eq!(seg.start_us(), 1_500_000);
    /// ```
    pub fn new(text: String, limit_exceeded: Option<bool>) -> Result<Self, RejectedDocument> {
        let doc = match SegmentDocument::parse(&text) {
            Ok(doc) => doc,
            Err(e) => {
                return Err(RejectedDocument {
                    text,
                    rejection: Rejection::Json(e),
                });
            }
        };
        if let Err(e) = validate_document(&doc) {
            return Err(RejectedDocument {
                text,
                rejection: Rejection::Invalid(e),
            });
        }
        Ok(Self::from_valid(text, doc, limit_exceeded))
    }

    fn from_valid(text: String, doc: SegmentDocument, limit_exceeded: Option<bool>) -> Self {
        let start_us = seconds_to_us(doc.start_time.unwrap_or_default());
        Self {
            text,
            spans: doc.span_count(),
            doc: Box::new(doc),
            limit_exceeded,
            start_us,
            format: XRAY_FORMAT,
            dt: None,
            context: None,
        }
    }

    /// A document or span record as it was staged: by its `format` (`None` or `xray` for an
    /// X-Ray document) and, for an OTLP span, its [`Self::span_context`].
    pub fn restore(
        text: String,
        limit_exceeded: Option<bool>,
        format: Option<&str>,
        context: Option<&str>,
        keys: &crate::otel::PromotedKeys,
    ) -> Result<Self, RejectedDocument> {
        let format = match format {
            None | Some(XRAY_FORMAT) => return Self::new(text, limit_exceeded),
            Some(name) => crate::otel::SpanFormat::from_name(name),
        };
        let record = format
            .ok_or_else(|| "an unknown format".to_string())
            .and_then(|f| crate::otel::reread(&text, f, context));
        match record {
            Ok(record) => Self::from_span(record, keys),
            Err(reason) => Err(RejectedDocument {
                text,
                rejection: Rejection::Span(reason),
            }),
        }
    }

    /// An OpenTelemetry span record, mapped onto X-Ray's model
    /// ([`crate::otel::to_xray_document`]) and validated as X-Ray validates a document; the
    /// record's text is what is archived. A trace id in W3C form is validated in its X-Ray
    /// spelling, and the trace is placed on the day of the span's start (see
    /// [`Self::place_on`] for the trace's earliest).
    pub fn from_span(
        record: crate::otel::SpanRecord,
        keys: &crate::otel::PromotedKeys,
    ) -> Result<Self, RejectedDocument> {
        let mapped = crate::otel::to_xray_document(&record.span, keys).to_string();
        let context = crate::otel::context_of(&record);
        let doc = SegmentDocument::parse(&mapped).map_err(|e| RejectedDocument {
            text: record.text.clone(),
            rejection: Rejection::Json(e),
        })?;
        let trace_id = doc.trace_id.clone().unwrap_or_default();
        let w3c = crate::otel::is_w3c_trace_id(&trace_id);
        let checked = if w3c {
            let mut d = doc.clone();
            d.trace_id = Some(format!("1-{}-{}", &trace_id[..8], &trace_id[8..]));
            validate_document(&d)
        } else {
            validate_document(&doc)
        };
        if let Err(e) = checked {
            return Err(RejectedDocument {
                text: record.text,
                rejection: Rejection::Invalid(e),
            });
        }
        let mut seg = Self::from_valid(record.text, doc, None);
        seg.format = record.format.name();
        seg.context = context;
        if w3c {
            seg.dt = chrono::DateTime::from_timestamp_micros(seg.start_us).map(|t| t.date_naive());
        }
        Ok(seg)
    }

    /// True for an in-progress snapshot whose completed document is in `trace` too: it
    /// keeps its `segments` row (it was received) but adds no spans, so no span counts
    /// twice.
    pub fn superseded_in(&self, trace: &[ArchivedSegment]) -> bool {
        self.in_progress()
            && trace
                .iter()
                .any(|o| !o.in_progress() && o.id() == self.id())
    }

    /// What the document is: `xray`, `aws-spans` or `otlp` (the `format` column).
    pub fn format(&self) -> &'static str {
        self.format
    }

    /// Places a trace whose id carries no epoch on `dt`: the day of its earliest span, so
    /// all its spans share one partition. Trace ids with an epoch keep theirs.
    pub fn place_on(&mut self, dt: NaiveDate) {
        if self.dt.is_some() {
            self.dt = Some(dt);
        }
    }

    /// An OTLP span's resource and scope, as [`Self::restore`] needs them.
    pub fn span_context(&self) -> Option<&str> {
        self.context.as_deref()
    }

    /// The original JSON text, byte for byte.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The original JSON text, giving the parsed model up.
    pub fn into_text(self) -> String {
        self.text
    }

    /// The parsed document.
    pub fn document(&self) -> &SegmentDocument {
        &self.doc
    }

    /// The trace id (validated).
    pub fn trace_id(&self) -> &str {
        self.doc.trace_id.as_deref().unwrap_or_default()
    }

    /// The document id (validated).
    pub fn id(&self) -> &str {
        self.doc.id.as_deref().unwrap_or_default()
    }

    /// The document's spans: itself and its nested subsegments.
    pub fn span_count(&self) -> usize {
        self.spans
    }

    /// Start in microseconds.
    pub fn start_us(&self) -> i64 {
        self.start_us
    }

    /// X-Ray's LimitExceeded for the trace, when the source said.
    pub fn limit_exceeded(&self) -> Option<bool> {
        self.limit_exceeded
    }

    /// True while the document is in progress.
    pub fn in_progress(&self) -> bool {
        self.doc.in_progress == Some(true) && self.doc.end_time.is_none()
    }

    /// Where the document's trace lives in the archive: by the trace id's epoch, or for a
    /// W3C trace id by the day it was placed on.
    pub fn placement(&self) -> TracePlacement {
        match self.dt {
            Some(dt) => TracePlacement { dt, hour: 0 },
            None => TracePlacement::of(self.trace_id()).expect("validated trace id"),
        }
    }

    /// True when the trace id is W3C's 32 hex, with no epoch in it.
    pub fn has_w3c_trace_id(&self) -> bool {
        self.dt.is_some()
    }

    /// The archive order: by trace id, then start, then id.
    pub fn sort_key(&self) -> (&str, i64, &str) {
        (self.trace_id(), self.start_us, self.id())
    }
}

/// Sorts documents into archive order (by trace id, start, id), the order [`convert`] needs.
pub fn sort_for_archive(segments: &mut [ArchivedSegment]) {
    segments.sort_unstable_by(|a, b| a.sort_key().cmp(&b.sort_key()));
}

/// One row of `payment_index`, before it is grouped into its bucket part.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PaymentIndexRow {
    /// The PaymentId annotation.
    pub payment_id: String,
    /// A trace that carries it.
    pub trace_id: String,
    /// The trace's partition.
    pub dt: NaiveDate,
    /// Trace start in microseconds.
    pub start_us: i64,
    /// Root service of the trace.
    pub root_name: String,
    /// The trace has a client error.
    pub error: bool,
    /// The trace has a server error.
    pub fault: bool,
}

/// The record batches of one window (or one slice of it).
#[derive(Debug)]
pub struct WindowBatches {
    /// `segments` rows, in archive order.
    pub segments: RecordBatch,
    /// `spans` rows, in archive order (by trace, then document, then depth-first).
    pub spans: RecordBatch,
    /// `traces` rows, by trace id.
    pub traces: RecordBatch,
    /// `payment_index` rows; the caller groups them into bucket parts.
    pub payment_index: Vec<PaymentIndexRow>,
}

/// Converts documents in archive order (see [`sort_for_archive`]) to record batches.
///
/// All documents of a trace must be in the slice, next to each other.
pub fn convert(segments: &[ArchivedSegment]) -> Result<WindowBatches, ArrowError> {
    debug_assert!(
        segments
            .windows(2)
            .all(|w| w[0].sort_key() <= w[1].sort_key()),
        "segments must be in archive order"
    );
    let span_total: usize = segments.iter().map(|s| s.spans).sum();
    let mut seg = SegmentsBuilder::with_capacity(segments.len());
    let mut spans = SpansBuilder::with_capacity(span_total);
    let mut traces = TracesBuilder::default();
    let mut payment_index = Vec::new();
    for trace in segments.chunk_by(|a, b| a.trace_id() == b.trace_id()) {
        for s in trace {
            seg.append(s);
            if !s.superseded_in(trace) {
                spans.append_document(s);
            }
        }
        traces.append(trace, &mut payment_index);
    }
    Ok(WindowBatches {
        segments: seg.finish()?,
        spans: spans.finish()?,
        traces: traces.finish()?,
        payment_index,
    })
}

/// Builds the `payment_index` batch for rows of one part (sorted here by payment id).
pub fn payment_index_batch(rows: &mut [PaymentIndexRow]) -> Result<RecordBatch, ArrowError> {
    rows.sort_unstable();
    let mut columns = PaymentIndexColumns::default();
    for r in rows.iter() {
        columns.push(r);
    }
    columns.finish()
}

/// `payment_index` rows gathered column by column, with no allocation per row (about 100
/// bytes a row, against some 230 as [`PaymentIndexRow`]s), for the index of a whole day or
/// of one roll-up bucket.
#[derive(Debug, Default)]
pub struct PaymentIndexColumns {
    columns: PaymentIndexBuilder,
    rows: usize,
}

impl PaymentIndexColumns {
    /// Adds one row.
    pub fn push(&mut self, r: &PaymentIndexRow) {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
        let c = &mut self.columns;
        c.payment_id.append_value(&r.payment_id);
        c.trace_id.append_value(&r.trace_id);
        c.dt.append_value((r.dt - epoch).num_days() as i32);
        c.start_time.append_value(r.start_us.div_euclid(1000));
        c.root_name.append_value(&r.root_name);
        c.error.append_value(r.error);
        c.fault.append_value(r.fault);
        self.rows += 1;
    }

    /// Rows held.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// True when no row is held.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// The rows as a batch, in the order they were pushed.
    pub fn finish(self) -> Result<RecordBatch, ArrowError> {
        self.columns.finish()
    }

    /// The rows as a batch in [`PaymentIndexRow`]'s order (payment id, then trace id, then
    /// the other columns), as [`payment_index_batch`] sorts them.
    pub fn finish_sorted(self) -> Result<RecordBatch, ArrowError> {
        use arrow::compute::{SortColumn, lexsort_to_indices, take_record_batch};
        let batch = self.finish()?;
        let read = PaymentIndexReader::new(&batch);
        // The keys of PaymentIndexRow's ordering, field by field.
        let keys: [ArrayRef; 7] = [
            Arc::new(read.payment_id()?.clone()),
            Arc::new(read.trace_id()?.clone()),
            Arc::new(read.dt()?.clone()),
            Arc::new(read.start_time()?.clone()),
            Arc::new(read.root_name()?.clone()),
            Arc::new(read.error()?.clone()),
            Arc::new(read.fault()?.clone()),
        ];
        let columns: Vec<SortColumn> = keys
            .into_iter()
            .map(|values| SortColumn {
                values,
                options: None,
            })
            .collect();
        let order = lexsort_to_indices(&columns, None)?;
        take_record_batch(&batch, &order)
    }
}

/// Reads `payment_index` rows back from a batch of that table, by column name. The trace
/// start comes back at the table's millisecond precision.
pub fn payment_index_rows(batch: &RecordBatch) -> Result<Vec<PaymentIndexRow>, ArrowError> {
    use arrow::array::Array;
    let read = PaymentIndexReader::new(batch);
    let (payment_id, trace_id, root_name) =
        (read.payment_id()?, read.trace_id()?, read.root_name()?);
    let (dt, start, error, fault) = (read.dt()?, read.start_time()?, read.error()?, read.fault()?);
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
    Ok((0..batch.num_rows())
        .map(|i| PaymentIndexRow {
            payment_id: payment_id.value(i).to_owned(),
            trace_id: trace_id.value(i).to_owned(),
            dt: epoch + chrono::Days::new(dt.value(i).max(0) as u64),
            start_us: start.value(i) * 1000,
            root_name: if root_name.is_null(i) {
                String::new()
            } else {
                root_name.value(i).to_owned()
            },
            error: error.value(i),
            fault: fault.value(i),
        })
        .collect())
}

fn annotation_str<'a>(doc: &'a SegmentDocument, key: &str) -> Option<&'a str> {
    doc.annotation(key).and_then(AnnotationValue::as_str)
}

/// Depth-first search for the first span carrying annotation `key`.
fn first_annotation<'a>(doc: &'a SegmentDocument, key: &str) -> Option<&'a str> {
    annotation_str(doc, key).or_else(|| {
        doc.subsegments
            .iter()
            .find_map(|s| first_annotation(s, key))
    })
}

fn http_status(doc: &SegmentDocument) -> Option<i32> {
    doc.http
        .as_ref()?
        .response
        .as_ref()?
        .status
        .and_then(|s| i32::try_from(s).ok())
}

fn end_us(doc: &SegmentDocument) -> Option<i64> {
    doc.end_time.map(seconds_to_us)
}

impl SegmentsBuilder {
    fn append(&mut self, s: &ArchivedSegment) {
        let d = &s.doc;
        let end = end_us(d);
        self.trace_id.append_value(s.trace_id());
        self.segment_id.append_value(s.id());
        self.parent_id.append_option(d.parent_id.as_deref());
        self.name
            .append_value(d.name.as_deref().unwrap_or_default());
        self.origin.append_option(d.origin.as_deref());
        self.r#type.append_value(if d.is_subsegment() {
            "subsegment"
        } else {
            "segment"
        });
        self.inferred.append_value(d.inferred == Some(true));
        self.in_progress.append_value(s.in_progress());
        self.start_time.append_value(s.start_us.div_euclid(1000));
        self.end_time.append_option(end.map(|e| e.div_euclid(1000)));
        self.start_us.append_value(s.start_us);
        self.end_us.append_option(end);
        self.error.append_value(d.error == Some(true));
        self.fault.append_value(d.fault == Some(true));
        self.throttle.append_value(d.throttle == Some(true));
        self.http_status.append_option(http_status(d));
        self.span_count
            .append_value(i32::try_from(s.spans).unwrap_or(i32::MAX));
        self.payment_id
            .append_option(first_annotation(d, PAYMENT_ID));
        self.limit_exceeded.append_option(s.limit_exceeded);
        self.document.append_value(&s.text);
        self.format.append_value(s.format);
    }
}

impl SpansBuilder {
    fn append_document(&mut self, s: &ArchivedSegment) {
        self.append_span(s, &s.doc, 0, s.doc.parent_id.as_deref());
    }

    fn append_span(
        &mut self,
        seg: &ArchivedSegment,
        d: &SegmentDocument,
        depth: i32,
        parent: Option<&str>,
    ) {
        let start = seconds_to_us(d.start_time.unwrap_or_default());
        let end = end_us(d);
        self.trace_id.append_value(seg.trace_id());
        self.segment_id.append_value(seg.id());
        self.id.append_value(d.id.as_deref().unwrap_or_default());
        self.parent_id.append_option(parent);
        self.depth.append_value(depth);
        self.r#type
            .append_value(if depth == 0 && !d.is_subsegment() {
                "segment"
            } else {
                "subsegment"
            });
        self.name
            .append_value(d.name.as_deref().unwrap_or_default());
        self.namespace.append_option(d.namespace.as_deref());
        self.origin.append_option(d.origin.as_deref());
        self.inferred.append_value(d.inferred == Some(true));
        self.in_progress
            .append_value(d.in_progress == Some(true) && end.is_none());
        self.start_time.append_value(start.div_euclid(1000));
        self.end_time.append_option(end.map(|e| e.div_euclid(1000)));
        self.start_us.append_value(start);
        self.end_us.append_option(end);
        self.duration_us.append_option(end.map(|e| e - start));
        self.error.append_value(d.error == Some(true));
        self.fault.append_value(d.fault == Some(true));
        self.throttle.append_value(d.throttle == Some(true));

        let req = d.http.as_ref().and_then(|h| h.request.as_ref());
        let resp = d.http.as_ref().and_then(|h| h.response.as_ref());
        self.http_method
            .append_option(req.and_then(|r| r.method.as_deref()));
        self.http_url
            .append_option(req.and_then(|r| r.url.as_deref()));
        self.http_status.append_option(http_status(d));
        self.http_content_length
            .append_option(resp.and_then(|r| r.content_length));
        self.http_client_ip
            .append_option(req.and_then(|r| r.client_ip.as_deref()));
        self.http_user_agent
            .append_option(req.and_then(|r| r.user_agent.as_deref()));

        let aws = d.aws.as_ref().map(|a| a.value());
        self.aws_operation
            .append_option(aws.and_then(|a| a.operation.as_deref()));
        self.aws_region
            .append_option(aws.and_then(|a| a.region.as_deref()));
        self.aws_request_id
            .append_option(aws.and_then(|a| a.request_id.as_deref()));
        self.aws_table_name
            .append_option(aws.and_then(|a| a.table_name.as_deref()));
        self.aws_queue_url
            .append_option(aws.and_then(|a| a.queue_url.as_deref()));
        self.aws_account_id
            .append_option(aws.and_then(|a| a.account_id.as_deref()));
        self.aws_retries.append_option(
            aws.and_then(|a| a.retries)
                .and_then(|r| i32::try_from(r).ok()),
        );
        self.resource_arn.append_option(d.resource_arn.as_deref());
        self.user.append_option(d.user.as_deref());

        let exception = d.cause.as_ref().and_then(|c| c.value().first_exception());
        self.exception_type
            .append_option(exception.and_then(|e| e.kind.as_deref()));
        self.exception_message
            .append_option(exception.and_then(|e| e.message.as_deref()));
        self.cause.append_option(d.cause.as_ref().map(|c| c.raw()));
        self.sql.append_option(d.sql.as_ref().map(|s| s.raw()));

        if d.annotations.is_empty() {
            self.annotations.append(false).expect("map builder");
        } else {
            for (k, v) in &d.annotations {
                if PROMOTED.contains(&k.as_str()) {
                    continue;
                }
                self.annotations.keys().append_value(k);
                match v {
                    AnnotationValue::String(s) => self.annotations.values().append_value(s),
                    other => self.annotations.values().append_value(other.to_string()),
                }
            }
            self.annotations.append(true).expect("map builder");
        }
        self.metadata
            .append_option(d.metadata.as_ref().map(|m| m.get()));
        self.payment_id.append_option(annotation_str(d, PAYMENT_ID));
        self.correlation_id
            .append_option(annotation_str(d, CORRELATION_ID));
        self.customer_id
            .append_option(annotation_str(d, CUSTOMER_ID));
        self.payment_provider
            .append_option(annotation_str(d, PAYMENT_PROVIDER));

        for sub in &d.subsegments {
            self.append_span(seg, sub, depth + 1, d.id.as_deref());
        }
    }
}

/// Whole-trace facts gathered over every span of a trace.
#[derive(Default)]
struct TraceFacts<'a> {
    error: bool,
    fault: bool,
    throttle: bool,
    span_count: usize,
    first_failure: Option<(i64, &'a str)>,
    payment_ids: BTreeSet<&'a str>,
    correlation_ids: BTreeSet<&'a str>,
}

impl<'a> TraceFacts<'a> {
    fn visit(&mut self, d: &'a SegmentDocument) {
        let error = d.error == Some(true);
        let fault = d.fault == Some(true);
        self.error |= error;
        self.fault |= fault;
        self.throttle |= d.throttle == Some(true);
        self.span_count += 1;
        if error || fault {
            let start = seconds_to_us(d.start_time.unwrap_or_default());
            let name = d.name.as_deref().unwrap_or_default();
            if self.first_failure.is_none_or(|(s, _)| start < s) {
                self.first_failure = Some((start, name));
            }
        }
        if let Some(p) = annotation_str(d, PAYMENT_ID) {
            self.payment_ids.insert(p);
        }
        if let Some(c) = annotation_str(d, CORRELATION_ID) {
            self.correlation_ids.insert(c);
        }
        for sub in &d.subsegments {
            self.visit(sub);
        }
    }
}

/// The trace's root: the earliest segment that has no parent and was not inferred, else the
/// earliest document.
fn trace_root(trace: &[ArchivedSegment]) -> &ArchivedSegment {
    trace
        .iter()
        .filter(|s| {
            s.doc.parent_id.is_none() && s.doc.inferred != Some(true) && !s.doc.is_subsegment()
        })
        .min_by_key(|s| s.start_us)
        .unwrap_or(&trace[0])
}

impl TracesBuilder {
    fn append(&mut self, trace: &[ArchivedSegment], index: &mut Vec<PaymentIndexRow>) {
        let root = trace_root(trace);
        let mut facts = TraceFacts::default();
        let mut services = BTreeSet::new();
        let mut in_progress = false;
        let mut limit_exceeded: Option<bool> = None;
        let start = trace.iter().map(|s| s.start_us).min().unwrap_or_default();
        let end = trace.iter().filter_map(|s| end_us(&s.doc)).max();
        // A document sent in progress and again when complete is finished.
        let completed: BTreeSet<&str> = trace
            .iter()
            .filter(|s| !s.in_progress())
            .map(|s| s.id())
            .collect();
        for s in trace {
            facts.visit(&s.doc);
            services.insert(s.doc.name.as_deref().unwrap_or_default());
            in_progress |= s.in_progress() && !completed.contains(s.id());
            if let Some(l) = s.limit_exceeded {
                limit_exceeded = Some(limit_exceeded.unwrap_or(false) | l);
            }
        }
        let trace_id = root.trace_id();
        let root_name = root.doc.name.as_deref().unwrap_or_default();
        let req = root.doc.http.as_ref().and_then(|h| h.request.as_ref());

        self.trace_id.append_value(trace_id);
        self.start_time.append_value(start.div_euclid(1000));
        self.end_time.append_option(end.map(|e| e.div_euclid(1000)));
        self.start_us.append_value(start);
        self.end_us.append_option(end);
        self.duration_us.append_option(end.map(|e| e - start));
        self.root_segment_id.append_value(root.id());
        self.root_name.append_value(root_name);
        self.root_origin.append_option(root.doc.origin.as_deref());
        self.http_method
            .append_option(req.and_then(|r| r.method.as_deref()));
        self.http_url
            .append_option(req.and_then(|r| r.url.as_deref()));
        self.http_status.append_option(http_status(&root.doc));
        self.segment_count
            .append_value(i32::try_from(trace.len()).unwrap_or(i32::MAX));
        self.span_count
            .append_value(i32::try_from(facts.span_count).unwrap_or(i32::MAX));
        self.error.append_value(facts.error);
        self.fault.append_value(facts.fault);
        self.throttle.append_value(facts.throttle);
        self.in_progress.append_value(in_progress);
        self.limit_exceeded.append_option(limit_exceeded);
        self.first_failure
            .append_option(facts.first_failure.map(|(_, n)| n));
        for (list, values) in [
            (&mut self.services, &services),
            (&mut self.payment_ids, &facts.payment_ids),
            (&mut self.correlation_ids, &facts.correlation_ids),
        ] {
            for v in values {
                list.values().append_value(v);
            }
            list.append(true);
        }

        let dt = root.placement().dt;
        for p in &facts.payment_ids {
            index.push(PaymentIndexRow {
                payment_id: (*p).to_owned(),
                trace_id: trace_id.to_owned(),
                dt,
                start_us: start,
                root_name: root_name.to_owned(),
                error: facts.error,
                fault: facts.fault,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejections_say_why() {
        let why = |text: &str| {
            ArchivedSegment::new(text.to_owned(), None)
                .unwrap_err()
                .rejection
                .to_string()
        };
        assert!(
            why(r#"{"name":"a""#).starts_with("not valid JSON: "),
            "{}",
            why(r#"{"name":"a""#)
        );
        let wrong_type = why(r#"{"name":"a","id":"70de5b6f19ff9a0a","start_time":"soon"}"#);
        assert!(
            wrong_type.starts_with("not a segment document: "),
            "{wrong_type}"
        );
        assert_eq!(
            why(r#"{"name":"a","id":"70de5b6f19ff9a0a","start_time":1,"end_time":2}"#),
            "trace_id is missing; it must be 1-<8 hex>-<24 hex>"
        );
    }

    #[test]
    fn payment_index_columns_sort_as_the_rows_do() {
        let mut rows: Vec<PaymentIndexRow> = (0..200u32)
            .map(|i| PaymentIndexRow {
                // Few payment ids, so ties fall to the trace id and then the start.
                payment_id: format!("pay_{}", i % 7),
                trace_id: format!("1-69a4fca2-{:024x}", (i * 37) % 11),
                dt: NaiveDate::from_ymd_opt(2026, 3, 2).unwrap(),
                start_us: i64::from(i % 5) * 1000,
                root_name: format!("root-{}", i % 3),
                error: i % 2 == 0,
                fault: i % 3 == 0,
            })
            .collect();
        let mut columns = PaymentIndexColumns::default();
        for r in &rows {
            columns.push(r);
        }
        assert_eq!(columns.len(), 200);
        let sorted = columns.finish_sorted().unwrap();
        assert_eq!(sorted, payment_index_batch(&mut rows).unwrap());
        assert_eq!(payment_index_rows(&sorted).unwrap(), rows);
    }

    #[test]
    fn payment_index_rows_round_trip_through_a_batch() {
        let row = |p: &str, t: &str, day: u32, ms: i64, e: bool, f: bool| PaymentIndexRow {
            payment_id: p.into(),
            trace_id: t.into(),
            dt: NaiveDate::from_ymd_opt(2026, 3, day).unwrap(),
            start_us: ms * 1000,
            root_name: format!("root-{p}"),
            error: e,
            fault: f,
        };
        let mut rows = vec![
            row(
                "pay_b",
                "1-69a4fca2-c21447503966ac80172cba76",
                2,
                1_772_420_258_173,
                false,
                true,
            ),
            row(
                "pay_a",
                "1-69a4fcb1-25baedd8616b2f798296c3e8",
                3,
                1_772_420_273_798,
                true,
                false,
            ),
        ];
        let batch = payment_index_batch(&mut rows).unwrap();
        assert_eq!(
            payment_index_rows(&batch).unwrap(),
            rows,
            "sorted, every column back"
        );
    }
}
