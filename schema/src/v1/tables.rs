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
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Fields, SchemaRef, TimeUnit};

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

pub(crate) fn col(name: &str, data_type: DataType, nullable: bool, doc: &str) -> Field {
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

const TRACE_ID_DOC: &str = "X-Ray trace id, 1-<8 hex epoch seconds>-<24 hex>; an OpenTelemetry trace id whose first 8 hex digits are not its epoch second keeps its W3C form, 32 hex. Rows are sorted by it within each row group (throughout each part of a sealed day), and it has a bloom filter.";
const START_TIME_DOC: &str =
    "Start, UTC, millisecond precision (Athena's precision); exact value in start_us.";
const END_TIME_DOC: &str =
    "End, UTC, millisecond precision; null while in progress. Exact value in end_us.";
const START_US_DOC: &str = "Start in microseconds since the Unix epoch (exact).";
const END_US_DOC: &str =
    "End in microseconds since the Unix epoch (exact); null while in progress.";

v1_table! {
    Table::Segments, SEGMENTS,
    /// Builds `segments` batches, a builder per column.
    pub struct SegmentsBuilder,
    /// Reads the columns of a `segments` batch by name.
    pub struct SegmentsReader {
        trace_id: Utf8, not null, TRACE_ID_DOC;
        segment_id: Utf8, not null, "The document's id (16 hex).";
        parent_id: Utf8, null, "Id of the calling segment or subsegment, if any.";
        name: Utf8, not null, "Service or operation name.";
        origin: Utf8, null, "Resource type, such as AWS::Lambda::Function.";
        r#type: Utf8, not null, "segment, or subsegment for an independently sent subsegment.";
        inferred: Boolean, not null, "True for segments X-Ray inferred from a downstream call.";
        in_progress: Boolean, not null, "True when X-Ray had not yet received the end of this work.";
        start_time: Timestamp, not null, START_TIME_DOC;
        end_time: Timestamp, null, END_TIME_DOC;
        start_us: Int64, not null, START_US_DOC;
        end_us: Int64, null, END_US_DOC;
        error: Boolean, not null, "Client error (4xx) on the segment itself.";
        fault: Boolean, not null, "Server error (5xx) on the segment itself.";
        throttle: Boolean, not null, "Throttled (429) on the segment itself.";
        http_status: Int32, null, "HTTP response status of the segment.";
        span_count: Int32, not null, "Number of spans in the document: itself plus all nested subsegments.";
        payment_id: Utf8, null, "First PaymentId annotation found in the document tree.";
        limit_exceeded: Boolean, null, "X-Ray's LimitExceeded for the trace when fetched (trace truncated); null when the source did not say.";
        document: Utf8, not null, "The segment document's original JSON text, byte for byte as X-Ray returned it; for an OpenTelemetry span, the span record as received.";
        format: Utf8, not null, "What document holds: xray (an X-Ray segment document), aws-spans (a CloudWatch Transaction Search record) or otlp (a span of an OTLP/JSON export). Added with OpenTelemetry input; the other columns mean the same for every format.";
    }
}

v1_table! {
    Table::Spans, SPANS,
    /// Builds `spans` batches, a builder per column.
    pub struct SpansBuilder,
    /// Reads the columns of a `spans` batch by name.
    pub struct SpansReader {
        trace_id: Utf8(35), not null, TRACE_ID_DOC;
        segment_id: Utf8(16), not null, "Id of the segment document this span came from (join to segments).";
        id: Utf8(16), not null, "The span's id (16 hex).";
        parent_id: Utf8(16), null, "The caller: the enclosing span for subsegments, the document's parent_id for segments.";
        depth: Int32, not null, "0 for a document's root span, 1 for its subsegments, and so on.";
        r#type: Utf8, not null, "segment for a document's root, subsegment otherwise.";
        name: Utf8, not null, "Service or operation name.";
        namespace: Utf8, null, "aws for AWS SDK calls, remote for other downstream calls.";
        origin: Utf8, null, "Resource type, such as AWS::DynamoDB::Table.";
        inferred: Boolean, not null, "True for segments X-Ray inferred from a downstream call.";
        in_progress: Boolean, not null, "True when the span had not finished when archived.";
        start_time: Timestamp, not null, START_TIME_DOC;
        end_time: Timestamp, null, END_TIME_DOC;
        start_us: Int64, not null, START_US_DOC;
        end_us: Int64, null, END_US_DOC;
        duration_us: Int64, null, "end_us - start_us; null while in progress.";
        error: Boolean, not null, "Client error (4xx).";
        fault: Boolean, not null, "Server error (5xx).";
        throttle: Boolean, not null, "Throttled (429).";
        http_method: Utf8, null, "HTTP request method.";
        http_url: Utf8, null, "HTTP request URL.";
        http_status: Int32, null, "HTTP response status.";
        http_content_length: Int64, null, "HTTP response body length in bytes (-1 when unknown).";
        http_client_ip: Utf8, null, "Caller IP address.";
        http_user_agent: Utf8, null, "Caller user agent.";
        aws_operation: Utf8, null, "AWS API operation called (PutItem, SendMessage, Invoke).";
        aws_region: Utf8, null, "Region of the AWS resource.";
        aws_request_id: Utf8, null, "AWS request id.";
        aws_table_name: Utf8, null, "DynamoDB table name.";
        aws_queue_url: Utf8, null, "SQS queue URL.";
        aws_account_id: Utf8, null, "AWS account id.";
        aws_retries: Int32, null, "Retries the AWS SDK made.";
        resource_arn: Utf8, null, "ARN of the resource that ran the work.";
        user: Utf8, null, "User recorded on the span.";
        exception_type: Utf8, null, "Type of the first exception in cause.";
        exception_message: Utf8, null, "Message of the first exception in cause.";
        cause: Utf8, null, "The cause block as JSON text (exceptions, stack, working directory), as written.";
        sql: Utf8, null, "The sql block as JSON text, as written.";
        annotations: Annotations, null, "Annotations other than the promoted PaymentId, CorrelationId, CustomerId and PaymentProvider (see their columns); numbers and booleans as JSON text.";
        metadata: Utf8, null, "The metadata block as JSON text, as written.";
        payment_id: Utf8, null, "PaymentId annotation of this span.";
        correlation_id: Utf8, null, "CorrelationId annotation of this span.";
        customer_id: Utf8, null, "CustomerId annotation of this span (a keyed hash, never the raw id).";
        payment_provider: Utf8, null, "PaymentProvider annotation of this span (for example Stripe).";
    }
}

v1_table! {
    Table::Traces, TRACES,
    /// Builds `traces` batches, a builder per column.
    pub struct TracesBuilder,
    /// Reads the columns of a `traces` batch by name.
    pub struct TracesReader {
        trace_id: Utf8, not null, TRACE_ID_DOC;
        start_time: Timestamp, not null, "Earliest segment start, UTC, milliseconds.";
        end_time: Timestamp, null, "Latest segment end, UTC, milliseconds; null if no segment has ended.";
        start_us: Int64, not null, START_US_DOC;
        end_us: Int64, null, END_US_DOC;
        duration_us: Int64, null, "end_us - start_us over all segments.";
        root_segment_id: Utf8, not null, "Id of the root segment: the earliest one without a parent.";
        root_name: Utf8, not null, "Name of the root segment: the service that received the request.";
        root_origin: Utf8, null, "Origin of the root segment.";
        http_method: Utf8, null, "HTTP method of the root segment.";
        http_url: Utf8, null, "HTTP URL of the root segment.";
        http_status: Int32, null, "HTTP status of the root segment.";
        segment_count: Int32, not null, "Segment documents archived for the trace.";
        span_count: Int32, not null, "Spans archived for the trace (segments plus nested subsegments).";
        error: Boolean, not null, "Any span has a client error.";
        fault: Boolean, not null, "Any span has a server error.";
        throttle: Boolean, not null, "Any span was throttled.";
        in_progress: Boolean, not null, "A segment was still in progress when archived, with no completed copy archived.";
        limit_exceeded: Boolean, null, "X-Ray reported LimitExceeded: the trace was truncated. Null when the source did not say.";
        first_failure: Utf8, null, "Name of the earliest span with a fault or error: where the trace first went wrong.";
        services: StringList, not null, "Distinct segment names (services) in the trace, sorted.";
        payment_ids: StringList, not null, "Distinct PaymentId annotations in the trace, sorted.";
        correlation_ids: StringList, not null, "Distinct CorrelationId annotations in the trace, sorted.";
    }
}

v1_table! {
    Table::PaymentIndex, PAYMENT_INDEX,
    /// Builds `payment_index` batches, a builder per column.
    pub struct PaymentIndexBuilder,
    /// Reads the columns of a `payment_index` batch by name.
    pub struct PaymentIndexReader {
        payment_id: Utf8, not null, "PaymentId annotation. Rows are sorted by it within each row group (throughout each part of a sealed day), and it has a bloom filter.";
        trace_id: Utf8, not null, TRACE_ID_DOC;
        dt: Date32, not null, "The trace's dt partition in segments, spans and traces.";
        start_time: Timestamp, not null, "Trace start, UTC.";
        root_name: Utf8, not null, "Root service of the trace.";
        error: Boolean, not null, "The trace has a client error.";
        fault: Boolean, not null, "The trace has a server error.";
    }
}

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
