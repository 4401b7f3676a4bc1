//! The readers and the mapping against the real samples in `tests/fixtures/otel/` (copies of
//! `../shared/testdata/otel/`, with their `SOURCES.md`), and payloads built from them.

use std::collections::BTreeSet;
use std::io::Write;

use super::*;
use crate::{SegmentDocument, validate_document};

const STEP_FUNCTIONS: &str = "coralogix-aws-shipper__tests-fixtures-aws_spans.json__stepfunctions-42-records-with-inprogress.json";
const OTLP_ENDPOINT: &str = "serverless-otlp-forwarder__otlp-sigv4-client-sigv4_auth-README.md-L31-63__otlp-endpoint-span.json";
const RUST_MACRO: &str = "serverless-otlp-forwarder__processors-forwarder-src-otlp.rs-L265-296__adot-python-lambda-span-rust-macro.txt";
const AGENTCORE_MODEL: &str = "observability-best-practices__genai-observability-on-aws.md-L219-241__agentcore-model-span-abridged.json";
const AGENTCORE_TOOL: &str = "observability-best-practices__genai-observability-on-aws.md-L247-258__agentcore-tool-span-abridged.json";
const CLOUDTRAIL_PAYLOAD: &str = "amazon-cloudwatch-logs-user-guide__SubscriptionFilters.md-L166-191__decoded-kinesis-payload.json";
const EXAMPLE_IDS_PAYLOAD: &str = "amazon-cloudwatch-logs-user-guide__ValidateLogEventFlow.md-L34-59__decoded-payload-EXAMPLE-ids.json";

/// A sample's bytes; a missing sample fails the test.
fn sample(name: &str) -> Vec<u8> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/otel/").to_owned() + name;
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// A `DATA_MESSAGE` from `group` whose log events hold `messages`.
fn data_message(group: &str, messages: &[&str]) -> String {
    let events: Vec<Value> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| json!({"id": i.to_string(), "timestamp": 1_785_830_304_000u64, "message": m}))
        .collect();
    json!({
        "owner": "123456789012", "logGroup": group, "logStream": "default",
        "subscriptionFilters": ["archive"], "messageType": "DATA_MESSAGE", "logEvents": events,
    })
    .to_string()
}

#[test]
fn every_transaction_search_record_is_read_exactly_and_snapshots_are_told_apart() {
    let bytes = sample(STEP_FUNCTIONS);
    let input = read_spans(&bytes);
    assert!(input.rejected.is_empty(), "{:?}", input.rejected);
    assert_eq!(input.records.len(), 42);
    // Each record's text is the array element as written, byte for byte.
    let text = String::from_utf8(bytes).unwrap();
    let elements: Vec<&RawValue> = serde_json::from_str(&text).unwrap();
    for (record, element) in input.records.iter().zip(&elements) {
        assert_eq!(record.text, element.get());
        assert_eq!(record.format, SpanFormat::AwsSpans);
        assert!(text.contains(&record.text));
    }
    let snapshots = input
        .records
        .iter()
        .filter(|r| r.span.in_progress())
        .count();
    assert_eq!(snapshots, 18);
    let completed: BTreeSet<&str> = input
        .records
        .iter()
        .filter(|r| !r.span.in_progress())
        .map(|r| r.span.span_id.as_str())
        .collect();
    assert_eq!(
        completed.len(),
        24,
        "24 distinct spans, each completed once"
    );
    let traces: BTreeSet<&str> = input
        .records
        .iter()
        .map(|r| r.span.trace_id.as_str())
        .collect();
    assert_eq!(traces.len(), 6);
    // Nanoseconds above 2^53 come back exactly, as in the text.
    for r in &input.records {
        assert!(
            text.contains(&r.span.start_ns.to_string()),
            "{}",
            r.span.start_ns
        );
        if let Some(end) = r.span.end_ns {
            assert!(text.contains(&end.to_string()), "{end}");
        }
    }
    // `cause.message` is one key with a dot in it.
    assert!(
        input
            .records
            .iter()
            .any(|r| r.span.xray.contains_key("cause.message"))
    );
}

#[test]
fn completed_spans_map_to_valid_x_ray_documents() {
    let input = read_spans(&sample(STEP_FUNCTIONS));
    let keys = PromotedKeys::default();
    for record in input.records.iter().filter(|r| !r.span.in_progress()) {
        let doc = to_xray_document(&record.span, &keys).to_string();
        let parsed = SegmentDocument::parse(&doc).unwrap_or_else(|e| panic!("{e}: {doc}"));
        validate_document(&parsed).unwrap_or_else(|e| panic!("{e}: {doc}"));
        let trace = parsed.trace_id.as_deref().unwrap();
        assert_eq!(trace.replace('-', "")[1..], record.span.trace_id);
        assert_eq!(
            crate::v1::seconds_to_us(parsed.start_time.unwrap()),
            (record.span.start_ns / 1000) as i64
        );
        assert_eq!(
            crate::v1::seconds_to_us(parsed.end_time.unwrap()),
            (record.span.end_ns.unwrap() / 1000) as i64
        );
    }
    // The failing S3 call: an error (403), not a fault, with its AWS operation and the
    // exception as the cause.
    let call = input
        .records
        .iter()
        .find(|r| r.span.span_id == "7df80a2dabf4fdf3")
        .expect("the S3.ListBuckets span");
    let doc = to_xray_document(&call.span, &keys);
    assert_eq!(doc["name"], "S3");
    assert_eq!(doc["namespace"], "aws");
    assert_eq!(doc["type"], "subsegment");
    assert_eq!(doc["parent_id"], "c42898e97ecc6997");
    assert_eq!(doc["http"]["response"]["status"], 403);
    assert_eq!(doc["error"], true);
    assert!(doc.get("fault").is_none());
    assert_eq!(doc["aws"]["operation"], "ListBuckets");
    assert_eq!(doc["aws"]["request_id"], "PNSX85Y8BDJNM70D");
    let exception = &doc["cause"]["exceptions"][0];
    assert_eq!(
        exception["type"],
        "software.amazon.awssdk.services.s3.model.AccessDeniedException"
    );
    assert!(
        exception["message"]
            .as_str()
            .unwrap()
            .contains("s3:ListAllMyBuckets")
    );
    assert_eq!(doc["annotations"]["rpc.service"], "S3");
    // A root segment is named for its service.
    let root = input
        .records
        .iter()
        .find(|r| !r.span.in_progress() && r.span.parent_span_id.is_none())
        .unwrap();
    let doc = to_xray_document(&root.span, &keys);
    assert!(doc.get("type").is_none());
    assert_eq!(doc["name"], root.span.xray["name"]);
}

#[test]
fn a_random_w3c_trace_id_stays_w3c_and_an_otlp_endpoint_span_reads() {
    let input = read_spans(&sample(OTLP_ENDPOINT));
    assert!(input.rejected.is_empty(), "{:?}", input.rejected);
    let [record] = &input.records[..] else {
        panic!("{:?}", input.records)
    };
    assert_eq!(record.span.kind, "INTERNAL");
    assert_eq!(record.span.scope, Some(("example".into(), String::new())));
    let doc = to_xray_document(&record.span, &PromotedKeys::default());
    assert_eq!(doc["trace_id"], "48df1f88137fd27cdaaa2d688d942a6e");
    assert_eq!(doc["metadata"]["otel"]["events"][0]["name"], "child event");
    assert_eq!(
        doc["metadata"]["otel"]["resource"]["service.name"],
        "example-service"
    );
}

#[test]
fn what_is_not_a_span_is_handed_back_with_its_reason() {
    let macro_text = read_spans(&sample(RUST_MACRO));
    assert!(macro_text.records.is_empty());
    assert!(
        macro_text.rejected[0].2.starts_with("not valid JSON"),
        "{:?}",
        macro_text.rejected
    );
    for name in [AGENTCORE_MODEL, AGENTCORE_TOOL] {
        let input = read_spans(&sample(name));
        assert!(input.records.is_empty(), "{name}");
        assert_eq!(input.rejected.len(), 1);
        assert_eq!(
            input.rejected[0].2, "a span without startTimeUnixNano",
            "{name}"
        );
    }
    for name in [CLOUDTRAIL_PAYLOAD, EXAMPLE_IDS_PAYLOAD] {
        let bytes = sample(name);
        let input = read_spans(&bytes);
        assert!(input.records.is_empty());
        let [(_, kept, reason)] = &input.rejected[..] else {
            panic!("{:?}", input.rejected)
        };
        assert!(reason.contains("not aws/spans"), "{reason}");
        let kept: Value = serde_json::from_slice(kept).unwrap();
        assert_eq!(
            kept,
            serde_json::from_slice::<Value>(&bytes).unwrap(),
            "kept whole"
        );
    }
    let broken = read_spans(&[0x1f, 0x8b, 8, 0, 1, 2, 3]);
    assert!(
        broken.rejected[0].2.contains("does not decompress"),
        "{:?}",
        broken.rejected
    );
    let no_trace = read_spans(br#"{"spanId":"b03258e2e1abc353","name":"x"}"#);
    assert_eq!(
        no_trace.rejected[0].2,
        "a span without a traceId of 32 hex digits"
    );
}

#[test]
fn subscription_payloads_compressed_and_concatenated_as_firehose_writes_them() {
    let records: Vec<Value> = serde_json::from_slice(&sample(STEP_FUNCTIONS)).unwrap();
    let messages: Vec<String> = records.iter().map(Value::to_string).collect();
    let messages: Vec<&str> = messages.iter().map(String::as_str).collect();
    let (first, second) = messages.split_at(20);
    let control = json!({"messageType": "CONTROL_MESSAGE", "logGroup": "", "logEvents": []});
    let mut firehose = gzip(data_message("aws/spans", first).as_bytes());
    firehose.extend(gzip(control.to_string().as_bytes()));
    firehose.extend(gzip(data_message("aws/spans", second).as_bytes()));
    let input = read_spans(&firehose);
    assert!(input.rejected.is_empty(), "{:?}", input.rejected);
    assert_eq!(input.control_messages, 1);
    assert_eq!(input.records.len(), 42);
    for (record, message) in input.records.iter().zip(&messages) {
        assert_eq!(
            &record.text, message,
            "the log event's message, byte for byte"
        );
    }
    // zlib, and uncompressed payloads one after another.
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    z.write_all(data_message("aws/spans", first).as_bytes())
        .unwrap();
    assert_eq!(read_spans(&z.finish().unwrap()).records.len(), 20);
    let plain = data_message("aws/spans", first) + &data_message("aws/spans", second);
    assert_eq!(read_spans(plain.as_bytes()).records.len(), 42);
    // A log event that is not a span is rejected alone; the rest are read.
    let mixed = data_message("aws/spans", &[messages[0], "not json", r#"{"hello":1}"#]);
    let input = read_spans(mixed.as_bytes());
    assert_eq!(input.records.len(), 1);
    assert_eq!(input.rejected.len(), 2, "{:?}", input.rejected);
    assert!(input.rejected[0].0.ends_with("logEvents[1]"));
}

#[test]
fn otlp_exports_read_keyvalue_attributes_numeric_kinds_and_either_case_ids() {
    let export = json!({"resourceSpans": [{
        "resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "vaultlink-api"}}
        ]},
        "scopeSpans": [{
            "scope": {"name": "vaultlink", "version": "1.0"},
            "spans": [{
                "traceId": "69A4FCB125BAEDD8616B2F798296C3E8",
                "spanId": "5D3C0A8E2B1F4A60",
                "name": "POST /payments",
                "kind": 2,
                "startTimeUnixNano": "1772420273798000000",
                "endTimeUnixNano": "1772420273819800000",
                "attributes": [
                    {"key": "http.request.method", "value": {"stringValue": "POST"}},
                    {"key": "http.response.status_code", "value": {"intValue": "502"}},
                    {"key": "payment.id", "value": {"stringValue": "pay_53bfce9f3e09bbd64abeb62f"}},
                    {"key": "retry", "value": {"boolValue": false}},
                    {"key": "tags", "value": {"arrayValue": {"values": [{"stringValue": "a"}]}}}
                ],
                "status": {"code": 2, "message": "Stripe unavailable"}
            }]
        }]
    }]})
    .to_string();
    let input = read_spans(export.as_bytes());
    assert!(input.rejected.is_empty(), "{:?}", input.rejected);
    let [record] = &input.records[..] else {
        panic!("{:?}", input.records)
    };
    assert_eq!(record.format, SpanFormat::Otlp);
    assert!(export.contains(&record.text), "the span's own text");
    let span = &record.span;
    assert_eq!(span.trace_id, "69a4fcb125baedd8616b2f798296c3e8");
    assert_eq!(span.kind, "SERVER");
    assert_eq!(span.status, "ERROR");
    assert_eq!(span.end_ns, Some(1_772_420_273_819_800_000));
    assert_eq!(span.attributes["retry"], json!(false));
    let doc = to_xray_document(span, &PromotedKeys::default());
    assert_eq!(doc["trace_id"], "1-69a4fcb1-25baedd8616b2f798296c3e8");
    assert_eq!(doc["name"], "vaultlink-api");
    assert_eq!(doc["fault"], true);
    assert_eq!(doc["http"]["request"]["method"], "POST");
    assert_eq!(
        doc["annotations"]["PaymentId"],
        "pay_53bfce9f3e09bbd64abeb62f"
    );
    assert!(doc["annotations"].get("payment.id").is_none());
    assert_eq!(doc["annotations"]["tags"], "[\"a\"]");
    assert_eq!(
        doc["cause"]["exceptions"][0]["message"],
        "Stripe unavailable"
    );
    let parsed = SegmentDocument::parse(&doc.to_string()).unwrap();
    validate_document(&parsed).unwrap();
}

#[test]
fn span_input_is_told_from_x_ray_input() {
    assert!(looks_like_spans(&sample(STEP_FUNCTIONS)));
    assert!(looks_like_spans(&sample(CLOUDTRAIL_PAYLOAD)));
    assert!(looks_like_spans(&gzip(b"{}")));
    assert!(!looks_like_spans(
        br#"{"Traces":[{"Id":"1-581cf771-a006649127e371903a2de979","Segments":[]}]}"#
    ));
    assert!(!looks_like_spans(
        br#"{"name":"a","id":"70de5b6f19ff9a0a","trace_id":"1-581cf771-a006649127e371903a2de979"}"#
    ));
    // An X-Ray document whose metadata names an OpenTelemetry trace id is still X-Ray's.
    assert!(!looks_like_spans(
        br#"{"name":"a","id":"70de5b6f19ff9a0a","trace_id":"1-581cf771-a006649127e371903a2de979","metadata":{"default":{"traceId":"581cf771a006649127e371903a2de979"}}}"#
    ));
    assert!(looks_like_spans(
        br#"[{"traceId":"581cf771a006649127e371903a2de979","spanId":"70de5b6f19ff9a0a"}]"#
    ));
}
