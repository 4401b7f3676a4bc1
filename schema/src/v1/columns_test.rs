//! Every column of every v1 table comes back, by its name, with the value its row was built
//! from: the documents below give each column values no other column of its type has, so a
//! value appended to the wrong column, or a column finished in the wrong place, fails here.

use std::collections::{BTreeMap, BTreeSet};

use arrow::array::{Array, TimestampMillisecondArray};
use arrow::datatypes::DataType;
use arrow::error::ArrowError;
use arrow::util::display::array_value_to_string;

use super::{
    ArchivedSegment, PaymentIndexBuilder, PaymentIndexReader, SegmentsBuilder, SegmentsReader,
    SpansBuilder, SpansReader, Table, TracesBuilder, TracesReader, convert, payment_index_batch,
    sort_for_archive,
};

const A: &str = "1-69a4fca2-c21447503966ac80172cba76";
const B: &str = "1-69a4fcb1-25baedd8616b2f798296c3e8";
const C: &str = "1-69a4fcc0-0123456789abcdef01234567";

/// A trace root with two subsegments (a failed DynamoDB call and an unfinished HTTP call).
const A1: &str = r#"{"trace_id":"1-69a4fca2-c21447503966ac80172cba76","id":"a000000000000001","name":"checkout","origin":"AWS::Lambda::Function","start_time":1772420258.1,"end_time":1772420258.35,"fault":true,"user":"alice","resource_arn":"arn:aws:lambda:eu-west-1:123456789012:function:checkout","http":{"request":{"method":"POST","url":"https://shop.example/pay","client_ip":"203.0.113.7","user_agent":"curl/8.5"},"response":{"status":502,"content_length":120}},"cause":{"exceptions":[{"type":"Timeout","message":"took too long"}]},"sql":{"url":"postgres://db/pay"},"metadata":{"default":{"cart":3}},"annotations":{"PaymentId":"pay_1","CorrelationId":"corr_1","CustomerId":"cust_1","PaymentProvider":"Stripe","Tier":"gold","Retry":2},"subsegments":[{"id":"a000000000000002","name":"DynamoDB","namespace":"aws","start_time":1772420258.15,"end_time":1772420258.2,"error":true,"http":{"response":{"status":400}},"aws":{"operation":"PutItem","region":"eu-west-1","request_id":"req-1","table_name":"payments","queue_url":"https://sqs.example/q","account_id":"123456789012","retries":3}},{"id":"a000000000000003","name":"stripe","namespace":"remote","start_time":1772420258.21,"in_progress":true,"http":{"request":{"method":"GET","url":"https://api.stripe.example/charges"}}}]}"#;
/// A segment X-Ray inferred from the DynamoDB call.
const A2: &str = r#"{"trace_id":"1-69a4fca2-c21447503966ac80172cba76","id":"a000000000000004","parent_id":"a000000000000002","name":"payments-table","origin":"AWS::DynamoDB::Table","inferred":true,"start_time":1772420258.16,"end_time":1772420258.19}"#;
/// An independently sent subsegment, still in progress.
const B1: &str = r#"{"trace_id":"1-69a4fcb1-25baedd8616b2f798296c3e8","id":"b000000000000001","type":"subsegment","parent_id":"b000000000000009","name":"worker","start_time":1772420273.5,"in_progress":true,"annotations":{"PaymentId":"pay_2"}}"#;
/// A client error at the root of the second trace.
const B2: &str = r#"{"trace_id":"1-69a4fcb1-25baedd8616b2f798296c3e8","id":"b000000000000002","name":"api","origin":"AWS::EC2::Instance","start_time":1772420273.4,"end_time":1772420273.9,"error":true,"http":{"response":{"status":200}},"annotations":{"PaymentId":"pay_3"}}"#;
/// A throttled trace of one segment, with no payment.
const C1: &str = r#"{"trace_id":"1-69a4fcc0-0123456789abcdef01234567","id":"c000000000000001","name":"refunds","start_time":1772420288.0,"end_time":1772420288.25,"throttle":true,"http":{"response":{"status":429}}}"#;

const N: &str = "null";

/// A column's values as text (`null` for a null); times as epoch milliseconds.
fn texts(column: &dyn Array) -> Vec<String> {
    (0..column.len())
        .map(|i| {
            if column.is_null(i) {
                N.to_owned()
            } else if let Some(t) = column.as_any().downcast_ref::<TimestampMillisecondArray>() {
                t.value(i).to_string()
            } else {
                array_value_to_string(column, i).expect("printable value")
            }
        })
        .collect()
}

/// Checks one table's columns, each read through the table's reader by name.
struct Checked {
    table: Table,
    columns: &'static [&'static str],
    seen: BTreeMap<&'static str, (DataType, Vec<String>)>,
}

impl Checked {
    fn new(table: Table, columns: &'static [&'static str]) -> Self {
        Self {
            table,
            columns,
            seen: BTreeMap::new(),
        }
    }

    fn column<A: Array>(
        &mut self,
        name: &'static str,
        read: Result<&A, ArrowError>,
        want: &[&str],
    ) {
        let table = self.table.name();
        let column = read.unwrap_or_else(|e| panic!("{table}.{name}: {e}"));
        let got = texts(column);
        assert_eq!(got, want, "{table}.{name}");
        let field = self.table.schema();
        let field = field.field_with_name(name).expect("a column of the table");
        assert_eq!(column.data_type(), field.data_type(), "{table}.{name}");
        let again = self.seen.insert(name, (field.data_type().clone(), got));
        assert!(again.is_none(), "{table}.{name} checked twice");
    }

    /// Every column was checked, and no two of one type hold the same values (so swapping
    /// any two would show).
    fn done(self) {
        let table = self.table.name();
        let schema = self.table.schema();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(
            names, self.columns,
            "{table}: the builder's columns are the schema's"
        );
        let checked: BTreeSet<&str> = self.seen.keys().copied().collect();
        let all: BTreeSet<&str> = self.columns.iter().copied().collect();
        assert_eq!(checked, all, "{table}: every column checked");
        let seen: Vec<_> = self.seen.iter().collect();
        for (i, (a, (ta, va))) in seen.iter().enumerate() {
            for (b, (tb, vb)) in &seen[i + 1..] {
                assert!(
                    ta != tb || va != vb,
                    "{table}.{a} and {table}.{b} hold the same values: a swap would not show"
                );
            }
        }
    }
}

fn batches() -> super::WindowBatches {
    let mut docs: Vec<ArchivedSegment> = [
        (A1, Some(false)),
        (A2, Some(true)),
        (B1, None),
        (B2, None),
        (C1, Some(false)),
    ]
    .into_iter()
    .map(|(text, limit)| ArchivedSegment::new(text.to_owned(), limit).expect("valid document"))
    .collect();
    sort_for_archive(&mut docs);
    convert(&docs).expect("converted")
}

#[test]
fn every_segments_column_comes_back_by_name() {
    let batch = batches().segments;
    let r = SegmentsReader::new(&batch);
    let mut c = Checked::new(Table::Segments, SegmentsBuilder::COLUMNS);
    c.column("trace_id", r.trace_id(), &[A, A, B, B, C]);
    c.column(
        "segment_id",
        r.segment_id(),
        &[
            "a000000000000001",
            "a000000000000004",
            "b000000000000002",
            "b000000000000001",
            "c000000000000001",
        ],
    );
    c.column(
        "parent_id",
        r.parent_id(),
        &[N, "a000000000000002", N, "b000000000000009", N],
    );
    c.column(
        "name",
        r.name(),
        &["checkout", "payments-table", "api", "worker", "refunds"],
    );
    c.column(
        "origin",
        r.origin(),
        &[
            "AWS::Lambda::Function",
            "AWS::DynamoDB::Table",
            "AWS::EC2::Instance",
            N,
            N,
        ],
    );
    c.column(
        "type",
        r.r#type(),
        &["segment", "segment", "segment", "subsegment", "segment"],
    );
    c.column(
        "inferred",
        r.inferred(),
        &["false", "true", "false", "false", "false"],
    );
    c.column(
        "in_progress",
        r.in_progress(),
        &["false", "false", "false", "true", "false"],
    );
    c.column(
        "start_time",
        r.start_time(),
        &[
            "1772420258100",
            "1772420258160",
            "1772420273400",
            "1772420273500",
            "1772420288000",
        ],
    );
    c.column(
        "end_time",
        r.end_time(),
        &[
            "1772420258350",
            "1772420258190",
            "1772420273900",
            N,
            "1772420288250",
        ],
    );
    c.column(
        "start_us",
        r.start_us(),
        &[
            "1772420258100000",
            "1772420258160000",
            "1772420273400000",
            "1772420273500000",
            "1772420288000000",
        ],
    );
    c.column(
        "end_us",
        r.end_us(),
        &[
            "1772420258350000",
            "1772420258190000",
            "1772420273900000",
            N,
            "1772420288250000",
        ],
    );
    c.column(
        "error",
        r.error(),
        &["false", "false", "true", "false", "false"],
    );
    c.column(
        "fault",
        r.fault(),
        &["true", "false", "false", "false", "false"],
    );
    c.column(
        "throttle",
        r.throttle(),
        &["false", "false", "false", "false", "true"],
    );
    c.column("http_status", r.http_status(), &["502", N, "200", N, "429"]);
    c.column("span_count", r.span_count(), &["3", "1", "1", "1", "1"]);
    c.column(
        "payment_id",
        r.payment_id(),
        &["pay_1", N, "pay_3", "pay_2", N],
    );
    c.column(
        "limit_exceeded",
        r.limit_exceeded(),
        &["false", "true", N, N, "false"],
    );
    c.column("document", r.document(), &[A1, A2, B2, B1, C1]);
    c.column("format", r.format(), &["xray"; 5]);
    c.done();
}

#[test]
fn every_spans_column_comes_back_by_name() {
    let batch = batches().spans;
    let r = SpansReader::new(&batch);
    let mut c = Checked::new(Table::Spans, SpansBuilder::COLUMNS);
    let (a1, a2, a3, a4) = (
        "a000000000000001",
        "a000000000000002",
        "a000000000000003",
        "a000000000000004",
    );
    let (b1, b2, c1) = ("b000000000000001", "b000000000000002", "c000000000000001");
    let first = |value: &'static str| [value, N, N, N, N, N, N];
    let second = |value: &'static str| [N, value, N, N, N, N, N];
    c.column("trace_id", r.trace_id(), &[A, A, A, A, B, B, C]);
    c.column("segment_id", r.segment_id(), &[a1, a1, a1, a4, b2, b1, c1]);
    c.column("id", r.id(), &[a1, a2, a3, a4, b2, b1, c1]);
    c.column(
        "parent_id",
        r.parent_id(),
        &[N, a1, a1, a2, N, "b000000000000009", N],
    );
    c.column("depth", r.depth(), &["0", "1", "1", "0", "0", "0", "0"]);
    c.column(
        "type",
        r.r#type(),
        &[
            "segment",
            "subsegment",
            "subsegment",
            "segment",
            "segment",
            "subsegment",
            "segment",
        ],
    );
    c.column(
        "name",
        r.name(),
        &[
            "checkout",
            "DynamoDB",
            "stripe",
            "payments-table",
            "api",
            "worker",
            "refunds",
        ],
    );
    c.column(
        "namespace",
        r.namespace(),
        &[N, "aws", "remote", N, N, N, N],
    );
    c.column(
        "origin",
        r.origin(),
        &[
            "AWS::Lambda::Function",
            N,
            N,
            "AWS::DynamoDB::Table",
            "AWS::EC2::Instance",
            N,
            N,
        ],
    );
    c.column(
        "inferred",
        r.inferred(),
        &["false", "false", "false", "true", "false", "false", "false"],
    );
    c.column(
        "in_progress",
        r.in_progress(),
        &["false", "false", "true", "false", "false", "true", "false"],
    );
    c.column(
        "start_time",
        r.start_time(),
        &[
            "1772420258100",
            "1772420258150",
            "1772420258210",
            "1772420258160",
            "1772420273400",
            "1772420273500",
            "1772420288000",
        ],
    );
    c.column(
        "end_time",
        r.end_time(),
        &[
            "1772420258350",
            "1772420258200",
            N,
            "1772420258190",
            "1772420273900",
            N,
            "1772420288250",
        ],
    );
    c.column(
        "start_us",
        r.start_us(),
        &[
            "1772420258100000",
            "1772420258150000",
            "1772420258210000",
            "1772420258160000",
            "1772420273400000",
            "1772420273500000",
            "1772420288000000",
        ],
    );
    c.column(
        "end_us",
        r.end_us(),
        &[
            "1772420258350000",
            "1772420258200000",
            N,
            "1772420258190000",
            "1772420273900000",
            N,
            "1772420288250000",
        ],
    );
    c.column(
        "duration_us",
        r.duration_us(),
        &["250000", "50000", N, "30000", "500000", N, "250000"],
    );
    c.column(
        "error",
        r.error(),
        &["false", "true", "false", "false", "true", "false", "false"],
    );
    c.column(
        "fault",
        r.fault(),
        &["true", "false", "false", "false", "false", "false", "false"],
    );
    c.column(
        "throttle",
        r.throttle(),
        &["false", "false", "false", "false", "false", "false", "true"],
    );
    c.column(
        "http_method",
        r.http_method(),
        &["POST", N, "GET", N, N, N, N],
    );
    c.column(
        "http_url",
        r.http_url(),
        &[
            "https://shop.example/pay",
            N,
            "https://api.stripe.example/charges",
            N,
            N,
            N,
            N,
        ],
    );
    c.column(
        "http_status",
        r.http_status(),
        &["502", "400", N, N, "200", N, "429"],
    );
    c.column(
        "http_content_length",
        r.http_content_length(),
        &first("120"),
    );
    c.column("http_client_ip", r.http_client_ip(), &first("203.0.113.7"));
    c.column("http_user_agent", r.http_user_agent(), &first("curl/8.5"));
    c.column("aws_operation", r.aws_operation(), &second("PutItem"));
    c.column("aws_region", r.aws_region(), &second("eu-west-1"));
    c.column("aws_request_id", r.aws_request_id(), &second("req-1"));
    c.column("aws_table_name", r.aws_table_name(), &second("payments"));
    c.column(
        "aws_queue_url",
        r.aws_queue_url(),
        &second("https://sqs.example/q"),
    );
    c.column(
        "aws_account_id",
        r.aws_account_id(),
        &second("123456789012"),
    );
    c.column("aws_retries", r.aws_retries(), &second("3"));
    c.column(
        "resource_arn",
        r.resource_arn(),
        &first("arn:aws:lambda:eu-west-1:123456789012:function:checkout"),
    );
    c.column("user", r.user(), &first("alice"));
    c.column("exception_type", r.exception_type(), &first("Timeout"));
    c.column(
        "exception_message",
        r.exception_message(),
        &first("took too long"),
    );
    c.column(
        "cause",
        r.cause(),
        &first(r#"{"exceptions":[{"type":"Timeout","message":"took too long"}]}"#),
    );
    c.column("sql", r.sql(), &first(r#"{"url":"postgres://db/pay"}"#));
    c.column(
        "annotations",
        r.annotations(),
        &["{Tier: gold, Retry: 2}", N, N, N, "{}", "{}", N],
    );
    c.column(
        "metadata",
        r.metadata(),
        &first(r#"{"default":{"cart":3}}"#),
    );
    c.column(
        "payment_id",
        r.payment_id(),
        &["pay_1", N, N, N, "pay_3", "pay_2", N],
    );
    c.column("correlation_id", r.correlation_id(), &first("corr_1"));
    c.column("customer_id", r.customer_id(), &first("cust_1"));
    c.column("payment_provider", r.payment_provider(), &first("Stripe"));
    c.done();
}

#[test]
fn every_traces_column_comes_back_by_name() {
    let batch = batches().traces;
    let r = TracesReader::new(&batch);
    let mut c = Checked::new(Table::Traces, TracesBuilder::COLUMNS);
    c.column("trace_id", r.trace_id(), &[A, B, C]);
    c.column(
        "start_time",
        r.start_time(),
        &["1772420258100", "1772420273400", "1772420288000"],
    );
    c.column(
        "end_time",
        r.end_time(),
        &["1772420258350", "1772420273900", "1772420288250"],
    );
    c.column(
        "start_us",
        r.start_us(),
        &["1772420258100000", "1772420273400000", "1772420288000000"],
    );
    c.column(
        "end_us",
        r.end_us(),
        &["1772420258350000", "1772420273900000", "1772420288250000"],
    );
    c.column(
        "duration_us",
        r.duration_us(),
        &["250000", "500000", "250000"],
    );
    c.column(
        "root_segment_id",
        r.root_segment_id(),
        &["a000000000000001", "b000000000000002", "c000000000000001"],
    );
    c.column("root_name", r.root_name(), &["checkout", "api", "refunds"]);
    c.column(
        "root_origin",
        r.root_origin(),
        &["AWS::Lambda::Function", "AWS::EC2::Instance", N],
    );
    c.column("http_method", r.http_method(), &["POST", N, N]);
    c.column(
        "http_url",
        r.http_url(),
        &["https://shop.example/pay", N, N],
    );
    c.column("http_status", r.http_status(), &["502", "200", "429"]);
    c.column("segment_count", r.segment_count(), &["2", "2", "1"]);
    c.column("span_count", r.span_count(), &["4", "2", "1"]);
    c.column("error", r.error(), &["true", "true", "false"]);
    c.column("fault", r.fault(), &["true", "false", "false"]);
    c.column("throttle", r.throttle(), &["false", "false", "true"]);
    c.column("in_progress", r.in_progress(), &["false", "true", "false"]);
    c.column("limit_exceeded", r.limit_exceeded(), &["true", N, "false"]);
    c.column("first_failure", r.first_failure(), &["checkout", "api", N]);
    c.column(
        "services",
        r.services(),
        &["[checkout, payments-table]", "[api, worker]", "[refunds]"],
    );
    c.column(
        "payment_ids",
        r.payment_ids(),
        &["[pay_1]", "[pay_2, pay_3]", "[]"],
    );
    c.column(
        "correlation_ids",
        r.correlation_ids(),
        &["[corr_1]", "[]", "[]"],
    );
    c.done();
}

#[test]
fn every_payment_index_column_comes_back_by_name() {
    let batch = payment_index_batch(&mut batches().payment_index).expect("a batch");
    let r = PaymentIndexReader::new(&batch);
    let mut c = Checked::new(Table::PaymentIndex, PaymentIndexBuilder::COLUMNS);
    c.column("payment_id", r.payment_id(), &["pay_1", "pay_2", "pay_3"]);
    c.column("trace_id", r.trace_id(), &[A, B, B]);
    c.column("dt", r.dt(), &["2026-03-02"; 3]);
    c.column(
        "start_time",
        r.start_time(),
        &["1772420258100", "1772420273400", "1772420273400"],
    );
    c.column("root_name", r.root_name(), &["checkout", "api", "api"]);
    c.column("error", r.error(), &["true"; 3]);
    c.column("fault", r.fault(), &["true", "false", "false"]);
    c.done();
}

#[test]
fn a_missing_or_mistyped_column_is_an_error_naming_it() {
    let batch = batches().segments;
    let only_ids = batch.project(&[1]).expect("a projection");
    let r = SegmentsReader::new(&only_ids);
    assert_eq!(r.segment_id().expect("kept").len(), 5);
    let missing = r.trace_id().expect_err("projected away").to_string();
    assert!(
        missing.contains("segments has no trace_id column"),
        "{missing}"
    );
    let renamed = arrow::record_batch::RecordBatch::try_new(
        std::sync::Arc::new(arrow::datatypes::Schema::new(vec![
            arrow::datatypes::Field::new("span_count", DataType::Utf8, false),
        ])),
        vec![std::sync::Arc::new(
            SegmentsReader::new(&batch).trace_id().expect("ids").clone(),
        )],
    )
    .expect("a batch");
    let mistyped = SegmentsReader::new(&renamed)
        .span_count()
        .expect_err("text, not a count")
        .to_string();
    assert!(
        mistyped.contains("segments.span_count is Utf8"),
        "{mistyped}"
    );
}
