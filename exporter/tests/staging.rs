//! Days sealed from the span staging prefix: the real `aws/spans` samples, delivered as
//! Firehose writes a CloudWatch Logs subscription (gzip payloads, concatenated, under
//! `YYYY/MM/DD/HH/`), into a store; and a day that switches from X-Ray to Transaction Search.

mod common;
use common::{rows, strings};

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use chrono::{DateTime, NaiveDate, Utc};
use exporter::seal::{SealOptions, seal_days};
use exporter::source::{MemorySource, MergedSource, StagingSource};
use exporter::store::MemoryStore;
use exporter::verify::verify;
use exporter::{ArchiveStore, WriterConfig, read_chain};
use serde_json::value::RawValue;

const STEP_FUNCTIONS: &str = "coralogix-aws-shipper__tests-fixtures-aws_spans.json__stepfunctions-42-records-with-inprogress.json";

/// The sample's day: its traces start from 07:58 to 08:07 UTC.
const DAY: &str = "2026-08-04";

fn sample() -> String {
    let path = format!(
        "{}/../tests/fixtures/otel/{STEP_FUNCTIONS}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Each record's exact text, as Transaction Search stored it.
fn records(text: &str) -> Vec<String> {
    serde_json::from_str::<Vec<&RawValue>>(text)
        .unwrap()
        .iter()
        .map(|r| r.get().to_owned())
        .collect()
}

/// One `DATA_MESSAGE` of `group`, gzip-compressed as CloudWatch Logs sends it.
fn payload(group: &str, messages: &[String]) -> Vec<u8> {
    let events: Vec<serde_json::Value> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| serde_json::json!({"id": i.to_string(), "timestamp": 0, "message": m}))
        .collect();
    let message = serde_json::json!({
        "messageType": "DATA_MESSAGE", "logGroup": group, "logStream": "s",
        "owner": "123456789012", "subscriptionFilters": ["xray-archive"], "logEvents": events,
    });
    gzip(message.to_string().as_bytes())
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

fn control() -> Vec<u8> {
    gzip(br#"{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"","subscriptionFilters":[],"logEvents":[{"id":"","timestamp":1,"message":"CWL CONTROL MESSAGE: Checking health of destination Firehose."}]}"#)
}

/// Stores `bytes` where Firehose puts what it delivers in `hour` (`YYYY-MM-DDTHH`).
async fn deliver(staging: &MemoryStore, hour: &str, n: usize, bytes: Vec<u8>) {
    let (day, h) = hour.split_once('T').unwrap();
    let key = format!(
        "{}/{h}/xray-archive-spans-1-{day}-{h}-05-00-{n:08}",
        day.replace('-', "/")
    );
    staging.create(&key, bytes.into(), None).await.unwrap();
}

fn options(day: &str) -> SealOptions {
    let day: NaiveDate = day.parse().unwrap();
    SealOptions {
        seal_after_days: 0,
        from: Some(day),
        to: Some(day),
        writer: WriterConfig {
            redaction: Default::default(),
            retention: None,
            ..WriterConfig::default()
        },
        ..SealOptions::default()
    }
}

fn now() -> DateTime<Utc> {
    "2026-08-14T00:00:00Z".parse().unwrap()
}

/// The reasons of everything quarantined, from the `_quarantine/*.json` records.
async fn quarantine_reasons(store: &MemoryStore) -> Vec<String> {
    let mut out = Vec::new();
    for meta in store.list("_quarantine/").await.unwrap() {
        if meta.key.ends_with(".json") {
            let bytes = exporter::store::get(store, &meta.key)
                .await
                .unwrap()
                .unwrap();
            let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            out.push(v["reason"].as_str().unwrap().to_owned());
        }
    }
    out.sort();
    out
}

/// The completed spans of `records`, by span id, as Python's `json` or any reader sees them.
fn completed_span_ids(records: &[String]) -> BTreeSet<String> {
    records
        .iter()
        .map(|r| serde_json::from_str::<serde_json::Value>(r).unwrap())
        .filter(|v| !v["endTimeUnixNano"].is_null())
        .map(|v| v["spanId"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_day_is_sealed_from_staged_firehose_objects_with_each_span_once() {
    let records = records(&sample());
    // A span of a sample trace that reached staging five hours after its trace began: past
    // the two hours in which it is archived with its trace.
    let late = records[41].replacen(
        &format!(
            "\"spanId\": \"{}\"",
            serde_json::from_str::<serde_json::Value>(&records[41]).unwrap()["spanId"]
                .as_str()
                .unwrap()
        ),
        "\"spanId\": \"00000000000000aa\"",
        1,
    );
    assert_ne!(late, records[41], "the late span has an id of its own");

    let staging = MemoryStore::default();
    deliver(
        &staging,
        "2026-08-04T07",
        0,
        payload("aws/spans", &records[..20]),
    )
    .await;
    // Firehose concatenates the payloads it buffered, control messages included.
    let mut concatenated = control();
    concatenated.extend(payload("aws/spans", &records[20..]));
    deliver(&staging, "2026-08-04T08", 1, concatenated).await;
    deliver(
        &staging,
        "2026-08-04T08",
        2,
        payload("/aws/lambda/payments", &records[..1]),
    )
    .await;
    deliver(
        &staging,
        "2026-08-04T09",
        3,
        b"\x1f\x8b\x08 not gzip".to_vec(),
    )
    .await;
    deliver(&staging, "2026-08-04T12", 4, payload("aws/spans", &[late])).await;

    let archive = MemoryStore::default();
    let source = StagingSource::new(staging, 2);
    let report = seal_days(&source, &archive, &options(DAY), now(), &mut |_| {})
        .await
        .unwrap();
    assert_eq!(report.source, "aws-spans");
    let day = &report.days[0];
    assert_eq!(day.day.to_string(), DAY);
    assert_eq!(day.traces, 6, "the sample's six traces");
    assert_eq!(day.unreturned_traces, 0);

    // Every record kept byte for byte, once; each completed span once in `spans`.
    let segments = rows(&archive, "segments").await;
    let mut documents = strings(&segments, "document");
    documents.sort();
    let mut want = records.clone();
    want.sort();
    assert_eq!(documents, want);
    assert!(
        strings(&segments, "format")
            .iter()
            .all(|f| f == "aws-spans")
    );
    let spans = rows(&archive, "spans").await;
    let ids: Vec<String> = strings(&spans, "id");
    let distinct: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(ids.len(), distinct.len(), "no span twice");
    assert_eq!(distinct, completed_span_ids(&records));
    assert!(
        archive
            .list("v1/spans/")
            .await
            .unwrap()
            .iter()
            .all(|m| m.key.contains(&format!("/dt={DAY}/"))),
        "every span in the day's partition"
    );

    // The late span, the other log group and the broken payload: kept, with reasons.
    let reasons = quarantine_reasons(&archive).await;
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(
        reasons.iter().any(|r| r.contains("span 00000000000000aa")
            && r.contains("reached staging in hour 2026-08-04T12:00Z")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("\"/aws/lambda/payments\"")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("does not decompress")),
        "{reasons:?}"
    );
    assert_eq!(source.stats().late_spans, 1);
    assert_eq!(source.stats().objects, 5, "each staged object read once");

    let chain = read_chain(&archive).await.unwrap();
    let (_, manifest, _) = chain.manifests.last().unwrap();
    assert_eq!(manifest.source, "aws-spans");
    assert!(verify(&archive, None).await.unwrap().findings.is_empty());

    // A second run finds the day sealed and writes nothing.
    let before = archive.list("").await.unwrap().len();
    let again = seal_days(&source, &archive, &options(DAY), now(), &mut |_| {})
        .await
        .unwrap();
    assert!(again.days.is_empty());
    assert_eq!(archive.list("").await.unwrap().len(), before);
}

#[tokio::test]
async fn a_w3c_trace_is_sealed_on_the_day_of_its_spans_and_never_twice() {
    let text = sample();
    // One sample trace given a W3C id, with no time in it.
    let w3c = "0af7651916cd43dd8448eb211c80319c";
    let text = text.replace("6a719d9e695f3a2b284a1dbc17fcb015", w3c);
    let records = records(&text);
    let of_w3c: Vec<String> = records
        .iter()
        .filter(|r| r.contains(w3c))
        .cloned()
        .collect();
    assert!(!of_w3c.is_empty());

    let staging = MemoryStore::default();
    deliver(&staging, "2026-08-04T08", 0, payload("aws/spans", &records)).await;
    let archive = MemoryStore::default();
    let source = StagingSource::new(staging, 2);
    // The day before and the day after see the same objects and archive none of it.
    for day in ["2026-08-03", DAY, "2026-08-05"] {
        seal_days(&source, &archive, &options(day), now(), &mut |_| {})
            .await
            .unwrap();
    }
    let mut by_trace: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for meta in archive.list("v1/traces/").await.unwrap() {
        let dt = meta.key.split("/dt=").nth(1).unwrap()[..10].to_owned();
        let bytes = exporter::store::get(&archive, &meta.key)
            .await
            .unwrap()
            .unwrap();
        let batches = exporter::parquet_io::decode(&meta.key, bytes).unwrap();
        for t in strings(&batches, "trace_id") {
            by_trace.entry(t).or_default().push(dt.clone());
        }
    }
    assert_eq!(by_trace.len(), 6, "{by_trace:?}");
    assert_eq!(
        by_trace[w3c],
        [DAY],
        "one trace row, on the day of its spans"
    );
    assert!(by_trace.values().all(|days| days.len() == 1));
    let spans = rows(&archive, "spans").await;
    let ids = strings(&spans, "id");
    let distinct: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(ids.len(), distinct.len(), "no span twice");
    assert_eq!(distinct, completed_span_ids(&records));
    assert!(quarantine_reasons(&archive).await.is_empty());
}

#[tokio::test]
async fn a_day_that_switches_to_transaction_search_takes_each_trace_from_the_source_holding_it() {
    let records = records(&sample());
    let staging = MemoryStore::default();
    deliver(&staging, "2026-08-04T08", 0, payload("aws/spans", &records)).await;

    // X-Ray holds the morning, before the switch, and one trace Transaction Search also
    // indexed in X-Ray.
    let morning = "2026-08-04T02:15:00Z"
        .parse::<DateTime<Utc>>()
        .unwrap()
        .timestamp();
    let xray_doc = |trace: &str, id: &str, start: i64| {
        format!(
            r#"{{"name":"vaultlink-api","id":"{id}","start_time":{start}.5,"end_time":{start}.9,"trace_id":"{trace}","annotations":{{"PaymentId":"pay_morning"}}}}"#
        )
    };
    let morning_trace = format!("1-{morning:08x}-a006649127e371903a2de979");
    let shared_trace = "1-6a719ba0-3dce37b129b5432cd44db566";
    let xray = MemorySource::of([
        xray_doc(&morning_trace, "70de5b6f19ff9a0a", morning),
        xray_doc(shared_trace, "70de5b6f19ff9a0b", 0x6a71_9ba0),
    ]);

    let archive = MemoryStore::default();
    let source = MergedSource::new("aws-spans+xray", StagingSource::new(staging, 2), xray);
    let report = seal_days(&source, &archive, &options(DAY), now(), &mut |_| {})
        .await
        .unwrap();
    assert_eq!(report.days[0].traces, 7, "six from staging, one from X-Ray");
    let segments = rows(&archive, "segments").await;
    let pairs: Vec<(String, String)> = strings(&segments, "trace_id")
        .into_iter()
        .zip(strings(&segments, "format"))
        .collect();
    let formats = |trace: &str| -> BTreeSet<String> {
        pairs
            .iter()
            .filter(|(t, _)| t == trace)
            .map(|(_, f)| f.clone())
            .collect()
    };
    assert_eq!(formats(&morning_trace), BTreeSet::from(["xray".to_owned()]));
    assert_eq!(
        formats(shared_trace),
        BTreeSet::from(["aws-spans".to_owned()]),
        "a trace both hold is taken from staging alone"
    );
    assert_eq!(pairs.len(), records.len() + 1);
    let chain = read_chain(&archive).await.unwrap();
    assert_eq!(chain.manifests.last().unwrap().1.source, "aws-spans+xray");
}

#[tokio::test]
async fn an_otlp_span_keeps_its_resource_through_the_staged_hour() {
    // The root span's segment is named after its resource's service.name, which the span's
    // own text lacks: the staged hour must carry it to the seal.
    let start_ns: u64 = 0x6a71_9ba0 * 1_000_000_000 + 5_000_000;
    let export = serde_json::json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "vaultlink-api"}}]},
        "scopeSpans": [{"scope": {"name": "vaultlink", "version": "1"}, "spans": [{
            "traceId": "6A719BA03DCE37B129B5432CD44DB599", "spanId": "B03258E2E1ABC399",
            "name": "POST /payments", "kind": 2,
            "startTimeUnixNano": start_ns.to_string(),
            "endTimeUnixNano": (start_ns + 40_000_000).to_string(),
            "attributes": [{"key": "payment.id", "value": {"stringValue": "pay_otlp_1"}}],
            "status": {}
        }]}]
    }]});
    let staging = MemoryStore::default();
    deliver(
        &staging,
        "2026-08-04T08",
        0,
        export.to_string().into_bytes(),
    )
    .await;
    let archive = MemoryStore::default();
    let source = StagingSource::new(staging, 2);
    let report = seal_days(&source, &archive, &options(DAY), now(), &mut |_| {})
        .await
        .unwrap();
    assert_eq!(report.days[0].traces, 1);
    assert!(quarantine_reasons(&archive).await.is_empty());
    let spans = rows(&archive, "spans").await;
    assert_eq!(strings(&spans, "name"), ["vaultlink-api"]);
    assert_eq!(strings(&spans, "payment_id"), ["pay_otlp_1"]);
    assert_eq!(
        strings(&rows(&archive, "segments").await, "format"),
        ["otlp"]
    );
}

#[tokio::test]
async fn a_staged_object_gone_before_it_is_read_is_recorded_as_lost() {
    // A listed object that is gone when read (the staging bucket's expiry between the two):
    // a dangling link lists as a file and reads as missing.
    let dir = tempfile::tempdir().unwrap();
    let hour = dir.path().join("2026/08/04/08");
    std::fs::create_dir_all(&hour).unwrap();
    std::os::unix::fs::symlink(dir.path().join("gone"), hour.join("spans-1-expired")).unwrap();
    let staging = exporter::LocalDirStore::open(dir.path()).unwrap();
    let archive = MemoryStore::default();
    let source = StagingSource::new(staging, 2);
    let report = seal_days(&source, &archive, &options(DAY), now(), &mut |_| {})
        .await
        .unwrap();
    assert_eq!(report.days[0].traces, 0);
    assert_eq!(
        report.days[0].quarantined, 1,
        "the loss is in the day's manifest"
    );
    let reasons = quarantine_reasons(&archive).await;
    assert!(
        reasons.len() == 1 && reasons[0].contains("expired before it was read"),
        "{reasons:?}"
    );
}
