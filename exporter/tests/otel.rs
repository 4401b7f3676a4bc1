//! OpenTelemetry input archived into the v1 tables: the real `aws/spans` samples in
//! `tests/fixtures/otel/`, as files and as a Firehose-delivered subscription payload.

mod common;
use common::{rows, strings};

use std::collections::BTreeMap;
use std::io::Write;

use exporter::store::MemoryStore;
use exporter::verify::verify;
use exporter::{ArchiveStore, WriterConfig};

fn sample(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../tests/fixtures/otel/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

const STEP_FUNCTIONS: &str = "coralogix-aws-shipper__tests-fixtures-aws_spans.json__stepfunctions-42-records-with-inprogress.json";

fn config() -> WriterConfig {
    WriterConfig {
        redaction: Default::default(),
        retention: None,
        ..WriterConfig::default()
    }
}

#[tokio::test]
async fn every_sample_is_archived_once_kept_byte_for_byte_or_quarantined_with_its_reason() {
    let names = std::fs::read_dir(format!(
        "{}/../tests/fixtures/otel",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
    .map(|e| e.unwrap().file_name().into_string().unwrap())
    .filter(|n| n != "SOURCES.md")
    .collect::<Vec<_>>();
    assert_eq!(names.len(), 7, "{names:?}");
    let inputs: Vec<(String, Vec<u8>)> = names.iter().map(|n| (n.clone(), sample(n))).collect();
    let refs: Vec<(&str, &[u8])> = inputs
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    let store = MemoryStore::default();
    let summary = exporter::export_inputs(&refs, &store, config())
        .await
        .unwrap();

    // 42 Step Functions records and the one OTLP-endpoint record: every record a
    // `segments` row with its text as received; 24 + 1 spans, the in-progress snapshots
    // not counted again; 6 + 1 traces.
    let segments = rows(&store, "segments").await;
    let documents = strings(&segments, "document");
    assert_eq!(documents.len(), 43);
    assert!(
        strings(&segments, "format")
            .iter()
            .all(|f| f == "aws-spans")
    );
    let step = String::from_utf8(sample(STEP_FUNCTIONS)).unwrap();
    let elements: Vec<&serde_json::value::RawValue> = serde_json::from_str(&step).unwrap();
    for e in &elements {
        assert!(documents.contains(&e.get().to_owned()), "{}", e.get());
    }
    let spans = rows(&store, "spans").await;
    let mut span_ids = strings(&spans, "id");
    assert_eq!(span_ids.len(), 25);
    span_ids.sort();
    span_ids.dedup();
    assert_eq!(span_ids.len(), 25, "each span once");
    assert_eq!(summary.spans, 25);
    let traces = strings(&rows(&store, "traces").await, "trace_id");
    assert_eq!(traces.len(), 7);
    assert_eq!(summary.traces, 7);
    assert!(traces.contains(&"1-6a719ba0-3dce37b129b5432cd44db566".to_owned()));
    // The W3C trace id keeps its form, on the day of its span.
    assert!(traces.contains(&"48df1f88137fd27cdaaa2d688d942a6e".to_owned()));
    assert!(store.list("v1/traces/dt=2025-03-04/").await.unwrap().len() == 1);

    // The Rust macro, the two AgentCore spans without times, and the two CloudTrail
    // payloads: quarantined, each with its reason.
    let reasons: BTreeMap<String, String> = summary
        .quarantined
        .iter()
        .map(|q| (q.source.clone(), q.reason.clone()))
        .collect();
    assert_eq!(summary.quarantined.len(), 5, "{reasons:?}");
    for (name, want) in [
        ("adot-python-lambda-span-rust-macro.txt", "not valid JSON"),
        (
            "agentcore-model-span-abridged.json",
            "without startTimeUnixNano",
        ),
        (
            "agentcore-tool-span-abridged.json",
            "without startTimeUnixNano",
        ),
        ("decoded-kinesis-payload.json", "not aws/spans"),
        ("decoded-payload-EXAMPLE-ids.json", "not aws/spans"),
    ] {
        let (_, reason) = reasons
            .iter()
            .find(|(source, _)| source.ends_with(name))
            .unwrap_or_else(|| panic!("{name} in {reasons:?}"));
        assert!(reason.contains(want), "{name}: {reason}");
    }
    assert!(verify(&store, None).await.unwrap().findings.is_empty());

    // The same records again, as Firehose delivers them from the subscription filter:
    // gzip-compressed payloads, concatenated, with a control message. Nothing is new.
    // Each log event's message is the record's text as Transaction Search stored it.
    let payload = |records: &[&serde_json::value::RawValue]| {
        let events: Vec<serde_json::Value> = records
            .iter()
            .map(|r| serde_json::json!({"id": "1", "timestamp": 0, "message": r.get()}))
            .collect();
        let message = serde_json::json!({
            "messageType": "DATA_MESSAGE", "logGroup": "aws/spans", "logStream": "s",
            "owner": "123456789012", "subscriptionFilters": ["archive"], "logEvents": events,
        });
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(message.to_string().as_bytes()).unwrap();
        gz.finish().unwrap()
    };
    let mut firehose = payload(&elements[..10]);
    let mut control = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    control
        .write_all(br#"{"messageType":"CONTROL_MESSAGE","logGroup":"","logEvents":[]}"#)
        .unwrap();
    firehose.extend(control.finish().unwrap());
    firehose.extend(payload(&elements[10..]));
    let again = exporter::export_inputs(&[("firehose.gz", &firehose)], &store, config())
        .await
        .unwrap();
    assert_eq!(again.control_messages, 1);
    assert!(again.quarantined.is_empty(), "{:?}", again.quarantined);
    assert_eq!(again.segments, 0, "every record is archived already");
    assert_eq!(again.unchanged, 42);
    assert_eq!(
        rows(&store, "spans")
            .await
            .iter()
            .map(|b| b.num_rows())
            .sum::<usize>(),
        25
    );
}
