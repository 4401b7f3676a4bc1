//! The archive tables, version 1: Arrow schemas documented column by column.
//!
//! Each column's doc string is stored in the Arrow field metadata under `comment`, so the
//! Athena DDL and the docs are generated from this one place.
//!
//! Times: Athena reads Parquet timestamps only at millisecond precision, so SQL-facing times
//! (`start_time`, `end_time`) are INT64 milliseconds, UTC, and the exact microseconds are
//! kept in integer columns (`start_us`, `end_us`, `duration_us`). The raw `document` keeps
//! X-Ray's exact float.
//!
//! Changes within v1 are additive only; a breaking change is a new `v2` module and prefix.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};

/// The archive format version: the `v1/` prefix of every table.
pub const SCHEMA_VERSION: &str = "v1";

/// Parquet key-value metadata key holding [`SCHEMA_VERSION`].
pub const SCHEMA_VERSION_KEY: &str = "xray_archive.schema_version";

/// Parquet key-value metadata key holding the writer's name and version.
pub const WRITER_VERSION_KEY: &str = "xray_archive.writer";

/// Parquet key-value metadata key holding the table name.
pub const TABLE_KEY: &str = "xray_archive.table";

/// Field-metadata key that holds a column's documentation.
pub const COMMENT_KEY: &str = "comment";

/// The four tables of the v1 archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    /// One row per segment document, exactly as X-Ray returned it: the evidence copy.
    Segments,
    /// One row per segment and per nested subsegment, flattened.
    Spans,
    /// One row per trace.
    Traces,
    /// Payment id to trace ids and days, one part per sealed day.
    PaymentIndex,
}

impl Table {
    /// Every table, in the order they are written.
    pub const ALL: [Table; 4] = [
        Table::Segments,
        Table::Spans,
        Table::Traces,
        Table::PaymentIndex,
    ];

    /// The table's name: its directory under `v1/` and its SQL name.
    pub fn name(self) -> &'static str {
        match self {
            Table::Segments => "segments",
            Table::Spans => "spans",
            Table::Traces => "traces",
            Table::PaymentIndex => "payment_index",
        }
    }

    /// What one row is, for docs and DDL comments.
    pub fn description(self) -> &'static str {
        match self {
            Table::Segments => {
                "One row per received document, exactly as received (the evidence copy): an X-Ray segment document, or an OpenTelemetry span record."
            }
            Table::Spans => {
                "One row per segment and per nested subsegment, flattened, with promoted annotations."
            }
            Table::Traces => {
                "One row per trace: root service, times, status flags, services, payment ids."
            }
            Table::PaymentIndex => {
                "Payment id to trace ids and days; one part per sealed day, partitioned by day."
            }
        }
    }

    /// The table's Arrow schema.
    pub fn schema(self) -> SchemaRef {
        match self {
            Table::Segments => SEGMENTS.clone(),
            Table::Spans => SPANS.clone(),
            Table::Traces => TRACES.clone(),
            Table::PaymentIndex => PAYMENT_INDEX.clone(),
        }
    }
}

fn col(name: &str, data_type: DataType, nullable: bool, doc: &str) -> Field {
    Field::new(name, data_type, nullable)
        .with_metadata(HashMap::from([(COMMENT_KEY.to_owned(), doc.to_owned())]))
}

/// Timestamp type of SQL-facing times: milliseconds, UTC (what Athena reads).
pub fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
}

/// The `annotations` map type, with Parquet's standard `key_value`/`key`/`value` names.
pub fn annotations_type() -> DataType {
    DataType::Map(
        Arc::new(Field::new(
            "key_value",
            DataType::Struct(Fields::from(vec![
                Field::new("key", DataType::Utf8, false),
                Field::new("value", DataType::Utf8, true),
            ])),
            false,
        )),
        false,
    )
}

/// A list of strings, with Arrow's standard `item` element name.
pub fn string_list_type() -> DataType {
    DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)))
}

const TRACE_ID_DOC: &str = "X-Ray trace id, 1-<8 hex epoch seconds>-<24 hex>; an OpenTelemetry trace id whose first 8 hex digits are not its epoch second keeps its W3C form, 32 hex. Rows are sorted by it, and it has a bloom filter.";
const START_TIME_DOC: &str =
    "Start, UTC, millisecond precision (Athena's precision); exact value in start_us.";
const END_TIME_DOC: &str =
    "End, UTC, millisecond precision; null while in progress. Exact value in end_us.";
const START_US_DOC: &str = "Start in microseconds since the Unix epoch (exact).";
const END_US_DOC: &str =
    "End in microseconds since the Unix epoch (exact); null while in progress.";

static SEGMENTS: LazyLock<SchemaRef> = LazyLock::new(|| {
    let ts = timestamp_type();
    Arc::new(Schema::new(vec![
        col("trace_id", DataType::Utf8, false, TRACE_ID_DOC),
        col(
            "segment_id",
            DataType::Utf8,
            false,
            "The document's id (16 hex).",
        ),
        col(
            "parent_id",
            DataType::Utf8,
            true,
            "Id of the calling segment or subsegment, if any.",
        ),
        col("name", DataType::Utf8, false, "Service or operation name."),
        col(
            "origin",
            DataType::Utf8,
            true,
            "Resource type, such as AWS::Lambda::Function.",
        ),
        col(
            "type",
            DataType::Utf8,
            false,
            "segment, or subsegment for an independently sent subsegment.",
        ),
        col(
            "inferred",
            DataType::Boolean,
            false,
            "True for segments X-Ray inferred from a downstream call.",
        ),
        col(
            "in_progress",
            DataType::Boolean,
            false,
            "True when X-Ray had not yet received the end of this work.",
        ),
        col("start_time", ts.clone(), false, START_TIME_DOC),
        col("end_time", ts, true, END_TIME_DOC),
        col("start_us", DataType::Int64, false, START_US_DOC),
        col("end_us", DataType::Int64, true, END_US_DOC),
        col(
            "error",
            DataType::Boolean,
            false,
            "Client error (4xx) on the segment itself.",
        ),
        col(
            "fault",
            DataType::Boolean,
            false,
            "Server error (5xx) on the segment itself.",
        ),
        col(
            "throttle",
            DataType::Boolean,
            false,
            "Throttled (429) on the segment itself.",
        ),
        col(
            "http_status",
            DataType::Int32,
            true,
            "HTTP response status of the segment.",
        ),
        col(
            "span_count",
            DataType::Int32,
            false,
            "Number of spans in the document: itself plus all nested subsegments.",
        ),
        col(
            "payment_id",
            DataType::Utf8,
            true,
            "First PaymentId annotation found in the document tree.",
        ),
        col(
            "limit_exceeded",
            DataType::Boolean,
            true,
            "X-Ray's LimitExceeded for the trace when fetched (trace truncated); null when the source did not say.",
        ),
        col(
            "document",
            DataType::Utf8,
            false,
            "The segment document's original JSON text, byte for byte as X-Ray returned it; for an OpenTelemetry span, the span record as received.",
        ),
        col(
            "format",
            DataType::Utf8,
            false,
            "What document holds: xray (an X-Ray segment document), aws-spans (a CloudWatch Transaction Search record) or otlp (a span of an OTLP/JSON export). Added with OpenTelemetry input; the other columns mean the same for every format.",
        ),
    ]))
});

static SPANS: LazyLock<SchemaRef> = LazyLock::new(|| {
    let ts = timestamp_type();
    let s = DataType::Utf8;
    Arc::new(Schema::new(vec![
        col("trace_id", s.clone(), false, TRACE_ID_DOC),
        col(
            "segment_id",
            s.clone(),
            false,
            "Id of the segment document this span came from (join to segments).",
        ),
        col("id", s.clone(), false, "The span's id (16 hex)."),
        col(
            "parent_id",
            s.clone(),
            true,
            "The caller: the enclosing span for subsegments, the document's parent_id for segments.",
        ),
        col(
            "depth",
            DataType::Int32,
            false,
            "0 for a document's root span, 1 for its subsegments, and so on.",
        ),
        col(
            "type",
            s.clone(),
            false,
            "segment for a document's root, subsegment otherwise.",
        ),
        col("name", s.clone(), false, "Service or operation name."),
        col(
            "namespace",
            s.clone(),
            true,
            "aws for AWS SDK calls, remote for other downstream calls.",
        ),
        col(
            "origin",
            s.clone(),
            true,
            "Resource type, such as AWS::DynamoDB::Table.",
        ),
        col(
            "inferred",
            DataType::Boolean,
            false,
            "True for segments X-Ray inferred from a downstream call.",
        ),
        col(
            "in_progress",
            DataType::Boolean,
            false,
            "True when the span had not finished when archived.",
        ),
        col("start_time", ts.clone(), false, START_TIME_DOC),
        col("end_time", ts, true, END_TIME_DOC),
        col("start_us", DataType::Int64, false, START_US_DOC),
        col("end_us", DataType::Int64, true, END_US_DOC),
        col(
            "duration_us",
            DataType::Int64,
            true,
            "end_us - start_us; null while in progress.",
        ),
        col("error", DataType::Boolean, false, "Client error (4xx)."),
        col("fault", DataType::Boolean, false, "Server error (5xx)."),
        col("throttle", DataType::Boolean, false, "Throttled (429)."),
        col("http_method", s.clone(), true, "HTTP request method."),
        col("http_url", s.clone(), true, "HTTP request URL."),
        col(
            "http_status",
            DataType::Int32,
            true,
            "HTTP response status.",
        ),
        col(
            "http_content_length",
            DataType::Int64,
            true,
            "HTTP response body length in bytes (-1 when unknown).",
        ),
        col("http_client_ip", s.clone(), true, "Caller IP address."),
        col("http_user_agent", s.clone(), true, "Caller user agent."),
        col(
            "aws_operation",
            s.clone(),
            true,
            "AWS API operation called (PutItem, SendMessage, Invoke).",
        ),
        col("aws_region", s.clone(), true, "Region of the AWS resource."),
        col("aws_request_id", s.clone(), true, "AWS request id."),
        col("aws_table_name", s.clone(), true, "DynamoDB table name."),
        col("aws_queue_url", s.clone(), true, "SQS queue URL."),
        col("aws_account_id", s.clone(), true, "AWS account id."),
        col(
            "aws_retries",
            DataType::Int32,
            true,
            "Retries the AWS SDK made.",
        ),
        col(
            "resource_arn",
            s.clone(),
            true,
            "ARN of the resource that ran the work.",
        ),
        col("user", s.clone(), true, "User recorded on the span."),
        col(
            "exception_type",
            s.clone(),
            true,
            "Type of the first exception in cause.",
        ),
        col(
            "exception_message",
            s.clone(),
            true,
            "Message of the first exception in cause.",
        ),
        col(
            "cause",
            s.clone(),
            true,
            "The cause block as JSON text (exceptions, stack, working directory), as written.",
        ),
        col(
            "sql",
            s.clone(),
            true,
            "The sql block as JSON text, as written.",
        ),
        col(
            "annotations",
            annotations_type(),
            true,
            "Annotations other than the promoted PaymentId, CorrelationId, CustomerId and PaymentProvider (see their columns); numbers and booleans as JSON text.",
        ),
        col(
            "metadata",
            s.clone(),
            true,
            "The metadata block as JSON text, as written.",
        ),
        col(
            "payment_id",
            s.clone(),
            true,
            "PaymentId annotation of this span.",
        ),
        col(
            "correlation_id",
            s.clone(),
            true,
            "CorrelationId annotation of this span.",
        ),
        col(
            "customer_id",
            s.clone(),
            true,
            "CustomerId annotation of this span (a keyed hash, never the raw id).",
        ),
        col(
            "payment_provider",
            s,
            true,
            "PaymentProvider annotation of this span (for example Stripe).",
        ),
    ]))
});

static TRACES: LazyLock<SchemaRef> = LazyLock::new(|| {
    let ts = timestamp_type();
    let s = DataType::Utf8;
    Arc::new(Schema::new(vec![
        col("trace_id", s.clone(), false, TRACE_ID_DOC),
        col(
            "start_time",
            ts.clone(),
            false,
            "Earliest segment start, UTC, milliseconds.",
        ),
        col(
            "end_time",
            ts,
            true,
            "Latest segment end, UTC, milliseconds; null if no segment has ended.",
        ),
        col("start_us", DataType::Int64, false, START_US_DOC),
        col("end_us", DataType::Int64, true, END_US_DOC),
        col(
            "duration_us",
            DataType::Int64,
            true,
            "end_us - start_us over all segments.",
        ),
        col(
            "root_segment_id",
            s.clone(),
            false,
            "Id of the root segment: the earliest one without a parent.",
        ),
        col(
            "root_name",
            s.clone(),
            false,
            "Name of the root segment: the service that received the request.",
        ),
        col(
            "root_origin",
            s.clone(),
            true,
            "Origin of the root segment.",
        ),
        col(
            "http_method",
            s.clone(),
            true,
            "HTTP method of the root segment.",
        ),
        col("http_url", s.clone(), true, "HTTP URL of the root segment."),
        col(
            "http_status",
            DataType::Int32,
            true,
            "HTTP status of the root segment.",
        ),
        col(
            "segment_count",
            DataType::Int32,
            false,
            "Segment documents archived for the trace.",
        ),
        col(
            "span_count",
            DataType::Int32,
            false,
            "Spans archived for the trace (segments plus nested subsegments).",
        ),
        col(
            "error",
            DataType::Boolean,
            false,
            "Any span has a client error.",
        ),
        col(
            "fault",
            DataType::Boolean,
            false,
            "Any span has a server error.",
        ),
        col(
            "throttle",
            DataType::Boolean,
            false,
            "Any span was throttled.",
        ),
        col(
            "in_progress",
            DataType::Boolean,
            false,
            "A segment was still in progress when archived, with no completed copy archived.",
        ),
        col(
            "limit_exceeded",
            DataType::Boolean,
            true,
            "X-Ray reported LimitExceeded: the trace was truncated. Null when the source did not say.",
        ),
        col(
            "first_failure",
            s.clone(),
            true,
            "Name of the earliest span with a fault or error: where the trace first went wrong.",
        ),
        col(
            "services",
            string_list_type(),
            false,
            "Distinct segment names (services) in the trace, sorted.",
        ),
        col(
            "payment_ids",
            string_list_type(),
            false,
            "Distinct PaymentId annotations in the trace, sorted.",
        ),
        col(
            "correlation_ids",
            string_list_type(),
            false,
            "Distinct CorrelationId annotations in the trace, sorted.",
        ),
    ]))
});

static PAYMENT_INDEX: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        col(
            "payment_id",
            DataType::Utf8,
            false,
            "PaymentId annotation. Rows are sorted by it, and it has a bloom filter.",
        ),
        col("trace_id", DataType::Utf8, false, TRACE_ID_DOC),
        col(
            "dt",
            DataType::Date32,
            false,
            "The trace's dt partition in segments, spans and traces.",
        ),
        col("start_time", timestamp_type(), false, "Trace start, UTC."),
        col(
            "root_name",
            DataType::Utf8,
            false,
            "Root service of the trace.",
        ),
        col(
            "error",
            DataType::Boolean,
            false,
            "The trace has a client error.",
        ),
        col(
            "fault",
            DataType::Boolean,
            false,
            "The trace has a server error.",
        ),
    ]))
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_column_is_documented() {
        for table in Table::ALL {
            for field in table.schema().fields() {
                let doc = field.metadata().get(COMMENT_KEY);
                assert!(
                    doc.is_some_and(|d| d.len() > 10),
                    "{}.{} has no doc",
                    table.name(),
                    field.name()
                );
            }
        }
    }
}
