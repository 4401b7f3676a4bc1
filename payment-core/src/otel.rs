//! VaultLink's spans as OpenTelemetry carries them after the move off the X-Ray SDK (in
//! maintenance since February 2026, out of support in February 2027): records in the shape
//! CloudWatch Transaction Search stores in the `aws/spans` log group, and OTLP/JSON
//! exports. They are built from the same finished segment documents the X-Ray emitter
//! sends, so one instrumentation serves both sides of the switch; each segment and each
//! nested subsegment becomes one span, linked by `parentSpanId`.

use schema::SegmentDocument;
use serde_json::{Map, Value, json};

/// The trace formats `vaultlink simulate --format` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TraceFormat {
    /// X-Ray segment documents, as BatchGetTraces returns them.
    Xray,
    /// `aws/spans` records, one JSON object a line, as Transaction Search stores them.
    AwsSpans,
    /// OTLP/JSON exports (`resourceSpans`), one a line.
    Otlp,
}

fn nanos(seconds: &Value) -> Option<u64> {
    let s = seconds.as_f64()?;
    Some(schema::v1::seconds_to_us(s) as u64 * 1000)
}

/// The `aws/spans` records of one segment document: the segment first, then its
/// subsegments depth first.
pub fn aws_spans_records(doc: &SegmentDocument) -> Vec<Value> {
    let v = serde_json::to_value(doc).expect("a document serializes");
    let trace: String = doc
        .trace_id
        .as_deref()
        .unwrap_or_default()
        .trim_start_matches("1-")
        .replace('-', "");
    let mut out = Vec::new();
    let parent = v
        .get("parent_id")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let top_type = if v.get("type").and_then(Value::as_str) == Some("subsegment") {
        "subsegment"
    } else {
        "segment"
    };
    flatten(&v, &trace, parent.as_deref(), top_type, &mut out);
    out
}

fn flatten(node: &Value, trace: &str, parent: Option<&str>, kind: &str, out: &mut Vec<Value>) {
    out.push(record(node, trace, parent, kind));
    let id = node.get("id").and_then(Value::as_str);
    for sub in node
        .get("subsegments")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        flatten(sub, trace, id, "subsegment", out);
    }
}

/// One node of a segment document as an `aws/spans` record.
fn record(node: &Value, trace: &str, parent: Option<&str>, xray_type: &str) -> Value {
    let get = |k: &str| node.get(k);
    let flag = |k: &str| get(k).and_then(Value::as_bool).unwrap_or(false);
    let name = get("name").and_then(Value::as_str).unwrap_or_default();
    let namespace = get("namespace").and_then(Value::as_str);
    let mut attributes = Map::new();
    if let Some(annotations) = get("annotations").and_then(Value::as_object) {
        for (k, v) in annotations {
            attributes.insert(k.clone(), v.clone());
        }
    }
    if let Some(request) = node.pointer("/http/request") {
        for (field, key) in [
            ("method", "http.request.method"),
            ("url", "url.full"),
            ("user_agent", "user_agent.original"),
            ("client_ip", "client.address"),
        ] {
            if let Some(v) = request.get(field) {
                attributes.insert(key.into(), v.clone());
            }
        }
    }
    if let Some(status) = node.pointer("/http/response/status") {
        attributes.insert("http.response.status_code".into(), status.clone());
    }
    if let Some(aws) = get("aws").and_then(Value::as_object) {
        for (field, key) in [
            ("operation", "aws.operation"),
            ("region", "aws.region"),
            ("request_id", "aws.request_id"),
            ("queue_url", "aws.sqs.queue_url"),
            ("table_name", "aws.table_name"),
        ] {
            if let Some(v) = aws.get(field) {
                attributes.insert(key.into(), v.clone());
            }
        }
        if namespace == Some("aws") {
            attributes.insert("rpc.system".into(), json!("aws-api"));
        }
    }
    if let Some(sql) = get("sql") {
        if let Some(q) = sql.get("sanitized_query") {
            attributes.insert("db.statement".into(), q.clone());
        }
        if let Some(t) = sql.get("database_type") {
            attributes.insert("db.system".into(), t.clone());
        }
    }
    if let Some(origin) = get("origin") {
        attributes.insert("aws.xray.origin".into(), origin.clone());
    }
    for k in ["error", "fault", "throttle"] {
        attributes.insert(format!("aws.xray.{k}"), json!(flag(k)));
    }
    let start = get("start_time").and_then(nanos).unwrap_or_default();
    let end = get("end_time").and_then(nanos);
    if end.is_none() {
        attributes.insert("aws.xray.inprogress".into(), json!(true));
    }
    let events: Vec<Value> = node
        .pointer("/cause/exceptions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|e| {
            let mut a = Map::new();
            for (field, key) in [("type", "exception.type"), ("message", "exception.message")] {
                if let Some(v) = e.get(field) {
                    a.insert(key.into(), v.clone());
                }
            }
            if let Some(remote) = e.get("remote") {
                a.insert("aws.xray.exception.remote".into(), remote.clone());
            }
            json!({"timeUnixNano": end.unwrap_or(start), "name": "exception", "attributes": a})
        })
        .collect();
    let kind = match (xray_type, namespace) {
        ("segment", _) => "SERVER",
        (_, Some("aws" | "remote")) => "CLIENT",
        _ => "INTERNAL",
    };
    let mut xray = Map::new();
    xray.insert("name".into(), json!(name));
    xray.insert("type".into(), json!(xray_type));
    if let Some(ns) = namespace {
        xray.insert("namespace".into(), json!(ns));
    }
    // Only root segments carry the service name, as Transaction Search writes them.
    let resource = if xray_type == "segment" {
        json!({"attributes": {"service.name": name, "cloud.provider": "aws"}})
    } else {
        json!({})
    };
    let mut r = Map::new();
    r.insert("resource".into(), resource);
    r.insert(
        "scope".into(),
        json!({"name": "vaultlink", "version": env!("CARGO_PKG_VERSION")}),
    );
    r.insert("traceId".into(), json!(trace));
    r.insert("spanId".into(), json!(get("id")));
    if let Some(p) = parent {
        r.insert("parentSpanId".into(), json!(p));
    }
    r.insert("flags".into(), json!(1));
    r.insert("name".into(), json!(name));
    r.insert("kind".into(), json!(kind));
    r.insert("startTimeUnixNano".into(), json!(start));
    r.insert("endTimeUnixNano".into(), json!(end));
    if let Some(end) = end {
        r.insert("durationNano".into(), json!(end.saturating_sub(start)));
    }
    r.insert("attributes".into(), Value::Object(attributes));
    if !events.is_empty() {
        r.insert("events".into(), Value::Array(events));
    }
    let failed = flag("error") || flag("fault");
    r.insert(
        "status".into(),
        json!({"code": if failed { "ERROR" } else { "UNSET" }}),
    );
    r.insert("_aws".into(), json!({"xray": xray}));
    Value::Object(r)
}

/// Documents as `aws/spans` JSON Lines: one record a line.
pub fn aws_spans_lines(docs: &[SegmentDocument]) -> String {
    let mut out = String::new();
    for doc in docs {
        for r in aws_spans_records(doc) {
            out.push_str(&r.to_string());
            out.push('\n');
        }
    }
    out
}

/// Documents as input files in `format`, `per_body` traces a body: BatchGetTraces
/// responses, `aws/spans` JSON Lines, or OTLP/JSON exports (one a line).
pub fn bodies(docs: Vec<SegmentDocument>, format: TraceFormat, per_body: usize) -> Vec<String> {
    let mut traces: std::collections::BTreeMap<String, Vec<SegmentDocument>> = Default::default();
    for doc in docs {
        traces
            .entry(doc.trace_id.clone().unwrap_or_default())
            .or_default()
            .push(doc);
    }
    let all: Vec<(String, Vec<SegmentDocument>)> = traces.into_iter().collect();
    all.chunks(per_body.max(1))
        .map(|chunk| match format {
            TraceFormat::Xray => {
                let texts: Vec<(String, Vec<(String, String)>)> = chunk
                    .iter()
                    .map(|(trace, docs)| {
                        let docs = docs
                            .iter()
                            .map(|d| {
                                let text = serde_json::to_string(d).expect("a document serializes");
                                (d.id.clone().unwrap_or_default(), text)
                            })
                            .collect();
                        (trace.clone(), docs)
                    })
                    .collect();
                crate::xray::emit::batch_get_traces(&texts)
            }
            TraceFormat::AwsSpans => {
                let docs: Vec<SegmentDocument> =
                    chunk.iter().flat_map(|(_, d)| d.iter().cloned()).collect();
                aws_spans_lines(&docs)
            }
            TraceFormat::Otlp => {
                let docs: Vec<SegmentDocument> =
                    chunk.iter().flat_map(|(_, d)| d.iter().cloned()).collect();
                otlp_export(&docs).to_string() + "\n"
            }
        })
        .collect()
}

/// An attribute map as OTLP's KeyValue list.
fn key_values(attributes: &Map<String, Value>) -> Vec<Value> {
    attributes
        .iter()
        .map(|(k, v)| {
            let value = match v {
                Value::Bool(b) => json!({"boolValue": b}),
                Value::Number(n) if n.is_i64() || n.is_u64() => {
                    json!({"intValue": n.to_string()})
                }
                Value::Number(n) => json!({"doubleValue": n}),
                Value::String(s) => json!({"stringValue": s}),
                other => json!({"stringValue": other.to_string()}),
            };
            json!({"key": k, "value": value})
        })
        .collect()
}

/// Documents as one OTLP/JSON export: a `resourceSpans` entry per document (its service),
/// int64 times as strings and KeyValue attributes, as the OTLP/JSON encoding writes them.
pub fn otlp_export(docs: &[SegmentDocument]) -> Value {
    let resource_spans: Vec<Value> = docs
        .iter()
        .map(|doc| {
            let records = aws_spans_records(doc);
            let service = records[0]["_aws"]["xray"]["name"].clone();
            let spans: Vec<Value> = records
                .iter()
                .map(|r| {
                    let mut s = Map::new();
                    for k in ["traceId", "spanId", "parentSpanId", "name", "kind", "status", "flags"] {
                        if let Some(v) = r.get(k) {
                            s.insert(k.into(), v.clone());
                        }
                    }
                    for k in ["startTimeUnixNano", "endTimeUnixNano"] {
                        if let Some(n) = r.get(k).and_then(Value::as_u64) {
                            s.insert(k.into(), json!(n.to_string()));
                        }
                    }
                    let mut attributes = r["attributes"].as_object().cloned().unwrap_or_default();
                    // The X-Ray names travel as attributes in OTLP.
                    attributes.insert("aws.xray.name".into(), r["_aws"]["xray"]["name"].clone());
                    attributes.insert("aws.xray.type".into(), r["_aws"]["xray"]["type"].clone());
                    if let Some(ns) = r["_aws"]["xray"].get("namespace") {
                        attributes.insert("aws.xray.namespace".into(), ns.clone());
                    }
                    s.insert("attributes".into(), Value::Array(key_values(&attributes)));
                    if let Some(events) = r.get("events").and_then(Value::as_array) {
                        let events: Vec<Value> = events
                            .iter()
                            .map(|e| {
                                let a = e["attributes"].as_object().cloned().unwrap_or_default();
                                json!({
                                    "timeUnixNano": e["timeUnixNano"].as_u64().map(|n| n.to_string()),
                                    "name": e["name"],
                                    "attributes": key_values(&a),
                                })
                            })
                            .collect();
                        s.insert("events".into(), Value::Array(events));
                    }
                    Value::Object(s)
                })
                .collect();
            json!({
                "resource": {"attributes": key_values(&Map::from_iter([("service.name".to_string(), service)]))},
                "scopeSpans": [{"scope": {"name": "vaultlink", "version": env!("CARGO_PKG_VERSION")}, "spans": spans}],
            })
        })
        .collect();
    json!({ "resourceSpans": resource_spans })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xray::Span;

    fn payment() -> SegmentDocument {
        let trace = "1-69a4fcb1-25baedd8616b2f798296c3e8";
        Span::new(
            "vaultlink-api",
            "5d3c0a8e2b1f4a60".into(),
            1_772_420_273.798,
        )
        .in_trace(trace, None)
        .end(1_772_420_273.819_8)
        .into_doc()
    }

    #[test]
    fn a_segment_maps_there_and_back() {
        let records = aws_spans_records(&payment());
        let [record] = &records[..] else {
            panic!("{records:?}")
        };
        assert_eq!(record["traceId"], "69a4fcb125baedd8616b2f798296c3e8");
        assert_eq!(record["startTimeUnixNano"], 1_772_420_273_798_000_000u64);
        assert_eq!(
            record["resource"]["attributes"]["service.name"],
            "vaultlink-api"
        );
        let read = schema::otel::read_spans(record.to_string().as_bytes());
        let span = &read.records[0].span;
        let back = schema::otel::to_xray_document(span, &Default::default());
        assert_eq!(back["trace_id"], "1-69a4fcb1-25baedd8616b2f798296c3e8");
        assert_eq!(back["name"], "vaultlink-api");
        assert_eq!(back["id"], "5d3c0a8e2b1f4a60");
        let otlp = otlp_export(&[payment()]).to_string();
        let read = schema::otel::read_spans(otlp.as_bytes());
        assert_eq!(read.records.len(), 1, "{:?}", read.rejected);
        assert_eq!(read.records[0].span.start_ns, 1_772_420_273_798_000_000);
        let back = schema::otel::to_xray_document(&read.records[0].span, &Default::default());
        assert_eq!(back["name"], "vaultlink-api");
    }
}
