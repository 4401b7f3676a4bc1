//! OpenTelemetry spans, as CloudWatch Transaction Search stores them in the `aws/spans` log
//! group and as OTLP/JSON exports them, read into one model and mapped onto X-Ray's segment
//! document, so the v1 tables, the saved queries and the payment lookup work the same
//! whichever way a trace arrived.
//!
//! What is read ([`read_spans`]):
//! - `aws/spans` records: one JSON object per span, as JSON Lines or a JSON array;
//! - CloudWatch Logs subscription payloads: `DATA_MESSAGE`s whose `logEvents[].message` hold
//!   the records, gzip- or zlib-compressed, several concatenated as Firehose writes them;
//!   `CONTROL_MESSAGE`s are skipped and counted;
//! - OTLP/JSON exports (`resourceSpans` -> `scopeSpans` -> `spans`), with KeyValue
//!   attributes, numeric or string `kind`, hex ids in either case.
//!
//! Every record is kept byte for byte ([`SpanRecord::text`]); what is not a span is handed
//! back with its reason, to be quarantined. Nanosecond times exceed 2^53, so they are read as
//! integers (from numbers or strings), never through `f64`.

use std::collections::BTreeMap;
use std::io::Read;

use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

/// Where a span record came from: the `format` column of `segments`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SpanFormat {
    /// A CloudWatch Transaction Search record (`aws/spans`).
    AwsSpans,
    /// A span of an OTLP/JSON export.
    Otlp,
}

impl SpanFormat {
    /// The name in the `format` column: `aws-spans` or `otlp`.
    pub fn name(self) -> &'static str {
        match self {
            SpanFormat::AwsSpans => "aws-spans",
            SpanFormat::Otlp => "otlp",
        }
    }

    /// The format named `name` in the `format` column, if it is a span format.
    pub fn from_name(name: &str) -> Option<Self> {
        [SpanFormat::AwsSpans, SpanFormat::Otlp]
            .into_iter()
            .find(|f| f.name() == name)
    }
}

/// An attribute value, as either format writes it.
pub type Attributes = BTreeMap<String, Value>;

/// A span event (`exception` events become the X-Ray cause).
#[derive(Debug, Clone, PartialEq)]
pub struct SpanEvent {
    /// The event's name.
    pub name: String,
    /// When, in nanoseconds since the epoch.
    pub time_ns: Option<u64>,
    /// Its attributes.
    pub attributes: Attributes,
}

/// One span, in the shape both formats share.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    /// 32 lowercase hex digits.
    pub trace_id: String,
    /// 16 lowercase hex digits.
    pub span_id: String,
    /// The parent span's id, lowercase; none on a root span.
    pub parent_span_id: Option<String>,
    /// The span's name.
    pub name: String,
    /// `SERVER`, `CLIENT`, `INTERNAL`, `PRODUCER`, `CONSUMER` or `UNSPECIFIED`.
    pub kind: String,
    /// Start, in nanoseconds since the epoch.
    pub start_ns: u64,
    /// End, in nanoseconds since the epoch; none while the span is in progress.
    pub end_ns: Option<u64>,
    /// The span's attributes.
    pub attributes: Attributes,
    /// The resource's attributes (`service.name` is only on root segments in `aws/spans`).
    pub resource: Attributes,
    /// The instrumentation scope's name and version.
    pub scope: Option<(String, String)>,
    /// Events, in order.
    pub events: Vec<SpanEvent>,
    /// `UNSET`, `OK` or `ERROR`.
    pub status: String,
    /// The status message, when there is one.
    pub status_message: Option<String>,
    /// `_aws.xray` of an `aws/spans` record: `name`, `namespace`, `type`, `cause.message`.
    pub xray: Map<String, Value>,
}

impl Span {
    /// True for an in-progress snapshot: no end yet, or `aws.xray.inprogress`. Transaction
    /// Search writes one and later the completed record with the same span id.
    pub fn in_progress(&self) -> bool {
        self.end_ns.is_none()
            || self.attributes.get("aws.xray.inprogress") == Some(&Value::Bool(true))
    }
}

/// One received span record.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanRecord {
    /// The record's exact text: the evidence.
    pub text: String,
    /// Its format.
    pub format: SpanFormat,
    /// The span it holds.
    pub span: Span,
}

/// What [`read_spans`] found in one input.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SpanInput {
    /// Every span record, in input order.
    pub records: Vec<SpanRecord>,
    /// What is not a span record: `(location, exact bytes, reason)`, to be quarantined.
    pub rejected: Vec<(String, Vec<u8>, String)>,
    /// CloudWatch Logs `CONTROL_MESSAGE` payloads, skipped.
    pub control_messages: u64,
}

/// True when `bytes` are span input: compressed (a subscription payload), or JSON whose
/// first value (or an array's first element) has a top-level `traceId`, `resourceSpans` or
/// `messageType`. X-Ray writes `trace_id`, so an X-Ray document that merely mentions
/// `traceId` somewhere inside stays X-Ray input. The keys are looked for in the first 4 KiB
/// first, so X-Ray input, the conversion's hot path, costs three substring searches.
pub fn looks_like_spans(bytes: &[u8]) -> bool {
    if is_compressed(bytes) {
        return true;
    }
    let head = &bytes[..bytes.len().min(4096)];
    let named = ["\"traceId\"", "\"resourceSpans\"", "\"messageType\""]
        .iter()
        .any(|k| memchr::memmem::find(head, k.as_bytes()).is_some());
    named && first_value_names_spans(bytes)
}

/// The top-level keys that make a JSON object span input.
#[derive(serde::Deserialize)]
struct SpanKeys {
    #[serde(rename = "traceId")]
    trace_id: Option<serde::de::IgnoredAny>,
    #[serde(rename = "resourceSpans")]
    resource_spans: Option<serde::de::IgnoredAny>,
    #[serde(rename = "messageType")]
    message_type: Option<serde::de::IgnoredAny>,
}

fn first_value_names_spans(bytes: &[u8]) -> bool {
    let Some(Ok(first)) = serde_json::Deserializer::from_slice(bytes)
        .into_iter::<&RawValue>()
        .next()
    else {
        return false;
    };
    let object = if first.get().starts_with('[') {
        match serde_json::from_str::<Vec<&RawValue>>(first.get()) {
            Ok(items) => match items.first() {
                Some(item) => *item,
                None => return false,
            },
            Err(_) => return false,
        }
    } else {
        first
    };
    serde_json::from_str::<SpanKeys>(object.get()).is_ok_and(|k| {
        k.trace_id.is_some() || k.resource_spans.is_some() || k.message_type.is_some()
    })
}

fn is_compressed(bytes: &[u8]) -> bool {
    matches!(
        bytes,
        [0x1f, 0x8b, ..] | [0x78, 0x01 | 0x5e | 0x9c | 0xda, ..]
    )
}

/// Reads span records from one input: `aws/spans` records (JSON Lines or an array),
/// subscription payloads (plain, gzip or zlib, several concatenated) or an OTLP/JSON export.
pub fn read_spans(bytes: &[u8]) -> SpanInput {
    let mut out = SpanInput::default();
    let text = match decompress(bytes) {
        Ok(text) => text,
        Err(reason) => {
            out.rejected.push((String::new(), bytes.to_vec(), reason));
            return out;
        }
    };
    let mut stream = serde_json::Deserializer::from_str(&text).into_iter::<&RawValue>();
    let mut n = 0;
    loop {
        let start = stream.byte_offset();
        match stream.next() {
            None => break,
            Some(Ok(raw)) => {
                read_value(raw, &format!("value {n}"), &mut out);
                n += 1;
            }
            Some(Err(e)) => {
                out.rejected.push((
                    format!("value {n}"),
                    text.as_bytes()[start..].to_vec(),
                    format!("not valid JSON: {e}"),
                ));
                break;
            }
        }
    }
    out
}

/// The text of an input, decompressed when it is gzip (every concatenated member) or zlib.
fn decompress(bytes: &[u8]) -> Result<String, String> {
    let raw = match bytes {
        [0x1f, 0x8b, ..] => {
            let mut s = Vec::new();
            flate2::read::MultiGzDecoder::new(bytes)
                .read_to_end(&mut s)
                .map_err(|e| format!("a gzip payload that does not decompress: {e}"))?;
            s
        }
        _ if is_compressed(bytes) => {
            let mut s = Vec::new();
            flate2::read::ZlibDecoder::new(bytes)
                .read_to_end(&mut s)
                .map_err(|e| format!("a zlib payload that does not decompress: {e}"))?;
            s
        }
        _ => bytes.to_vec(),
    };
    String::from_utf8(raw).map_err(|e| format!("not UTF-8 text: {e}"))
}

fn read_value(raw: &RawValue, location: &str, out: &mut SpanInput) {
    let reject = |out: &mut SpanInput, reason: String| {
        out.rejected
            .push((location.to_owned(), raw.get().as_bytes().to_vec(), reason));
    };
    let value: Value = match serde_json::from_str(raw.get()) {
        Ok(v) => v,
        Err(e) => return reject(out, format!("not valid JSON: {e}")),
    };
    match &value {
        Value::Array(_) => {
            let items: Vec<&RawValue> = serde_json::from_str(raw.get()).unwrap_or_default();
            for (i, item) in items.into_iter().enumerate() {
                read_value(item, &format!("{location}[{i}]"), out);
            }
        }
        Value::Object(o) if o.contains_key("messageType") => read_payload(o, raw, location, out),
        Value::Object(o) if o.contains_key("resourceSpans") => read_otlp(o, raw, location, out),
        Value::Object(o) if o.contains_key("traceId") || o.contains_key("spanId") => {
            match aws_span(o) {
                Ok(span) => out.records.push(SpanRecord {
                    text: raw.get().to_owned(),
                    format: SpanFormat::AwsSpans,
                    span,
                }),
                Err(reason) => reject(out, reason),
            }
        }
        _ => reject(
            out,
            "not a span record: no traceId, resourceSpans or CloudWatch Logs messageType".into(),
        ),
    }
}

/// The log group Transaction Search writes spans to.
pub const SPANS_LOG_GROUP: &str = "aws/spans";

fn read_payload(o: &Map<String, Value>, raw: &RawValue, location: &str, out: &mut SpanInput) {
    match o.get("messageType").and_then(Value::as_str) {
        Some("CONTROL_MESSAGE") => out.control_messages += 1,
        Some("DATA_MESSAGE") => {
            let group = o.get("logGroup").and_then(Value::as_str).unwrap_or("");
            if group != SPANS_LOG_GROUP {
                out.rejected.push((
                    location.to_owned(),
                    raw.get().as_bytes().to_vec(),
                    format!(
                        "a subscription payload from log group {group:?}, not {SPANS_LOG_GROUP}: \
                         check the subscription filter"
                    ),
                ));
                return;
            }
            let events = o.get("logEvents").and_then(Value::as_array);
            for (i, event) in events.into_iter().flatten().enumerate() {
                let at = format!("{location} logEvents[{i}]");
                let Some(message) = event.get("message").and_then(Value::as_str) else {
                    out.rejected.push((
                        at,
                        event.to_string().into_bytes(),
                        "a log event without a message".into(),
                    ));
                    continue;
                };
                let mut inner = SpanInput::default();
                match serde_json::from_str::<&RawValue>(message) {
                    Ok(raw) => read_value(raw, &at, &mut inner),
                    Err(e) => inner.rejected.push((
                        at.clone(),
                        message.as_bytes().to_vec(),
                        format!("a log event whose message is not JSON: {e}"),
                    )),
                }
                out.records.append(&mut inner.records);
                out.rejected.append(&mut inner.rejected);
            }
        }
        other => out.rejected.push((
            location.to_owned(),
            raw.get().as_bytes().to_vec(),
            format!("an unknown CloudWatch Logs messageType {other:?}"),
        )),
    }
}

fn read_otlp(o: &Map<String, Value>, raw: &RawValue, location: &str, out: &mut SpanInput) {
    // The spans' exact texts: the same export parsed again with raw values where spans are.
    #[derive(serde::Deserialize)]
    struct Export<'a> {
        #[serde(borrow, rename = "resourceSpans", default)]
        resource_spans: Vec<ResourceSpans<'a>>,
    }
    #[derive(serde::Deserialize)]
    struct ResourceSpans<'a> {
        #[serde(
            borrow,
            rename = "scopeSpans",
            alias = "instrumentationLibrarySpans",
            default
        )]
        scope_spans: Vec<ScopeSpans<'a>>,
    }
    #[derive(serde::Deserialize)]
    struct ScopeSpans<'a> {
        #[serde(borrow, default)]
        spans: Vec<&'a RawValue>,
    }
    let Ok(export) = serde_json::from_str::<Export>(raw.get()) else {
        out.rejected.push((
            location.to_owned(),
            raw.get().as_bytes().to_vec(),
            "an OTLP export whose resourceSpans are not arrays of scopeSpans".into(),
        ));
        return;
    };
    let resources = o.get("resourceSpans").and_then(Value::as_array);
    for (r, (resource, texts)) in resources
        .into_iter()
        .flatten()
        .zip(export.resource_spans)
        .enumerate()
    {
        let resource_attrs = resource
            .pointer("/resource/attributes")
            .map(attributes)
            .unwrap_or_default();
        let scopes = resource
            .get("scopeSpans")
            .or_else(|| resource.get("instrumentationLibrarySpans"))
            .and_then(Value::as_array);
        for (s, (scope, texts)) in scopes
            .into_iter()
            .flatten()
            .zip(texts.scope_spans)
            .enumerate()
        {
            let scope_name = scope
                .pointer("/scope/name")
                .and_then(Value::as_str)
                .map(|name| {
                    let version = scope.pointer("/scope/version").and_then(Value::as_str);
                    (name.to_owned(), version.unwrap_or("").to_owned())
                });
            let spans = scope.get("spans").and_then(Value::as_array);
            for (i, (span, text)) in spans.into_iter().flatten().zip(texts.spans).enumerate() {
                let at = format!("{location} resourceSpans[{r}].scopeSpans[{s}].spans[{i}]");
                let Some(object) = span.as_object() else {
                    out.rejected.push((
                        at,
                        text.get().as_bytes().to_vec(),
                        "not a span object".into(),
                    ));
                    continue;
                };
                match otlp_span(object, &resource_attrs, scope_name.clone()) {
                    Ok(span) => out.records.push(SpanRecord {
                        text: text.get().to_owned(),
                        format: SpanFormat::Otlp,
                        span,
                    }),
                    Err(reason) => out
                        .rejected
                        .push((at, text.get().as_bytes().to_vec(), reason)),
                }
            }
        }
    }
}

/// A nanosecond time from a JSON integer, an integer string (OTLP's int64 encoding), or a
/// float written by a tool that lost the digits (rounded to the nearest nanosecond).
fn nanos(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::Number(n) => n.as_u64().or_else(|| n.as_f64().map(|f| f.round() as u64)),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn hex_id(v: Option<&Value>, len: usize) -> Option<String> {
    let s = v?.as_str()?;
    (s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())).then(|| s.to_ascii_lowercase())
}

/// The span kinds by OTLP's numbers.
const KINDS: [&str; 6] = [
    "UNSPECIFIED",
    "INTERNAL",
    "SERVER",
    "CLIENT",
    "PRODUCER",
    "CONSUMER",
];

fn kind(v: Option<&Value>) -> String {
    match v {
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|n| KINDS.get(n as usize))
            .unwrap_or(&"UNSPECIFIED")
            .to_string(),
        Some(Value::String(s)) => s
            .trim_start_matches("SPAN_KIND_")
            .to_ascii_uppercase()
            .to_string(),
        _ => "UNSPECIFIED".into(),
    }
}

fn status(v: Option<&Value>) -> (String, Option<String>) {
    let code = match v.and_then(|s| s.get("code")) {
        Some(Value::Number(n)) => match n.as_u64() {
            Some(1) => "OK",
            Some(2) => "ERROR",
            _ => "UNSET",
        }
        .to_string(),
        Some(Value::String(s)) => s.trim_start_matches("STATUS_CODE_").to_ascii_uppercase(),
        _ => "UNSET".into(),
    };
    let message = v
        .and_then(|s| s.get("message"))
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .map(str::to_owned);
    (code, message)
}

/// Attributes as a map, from a plain object (`aws/spans`) or a KeyValue list (OTLP).
fn attributes(v: &Value) -> Attributes {
    match v {
        Value::Object(o) => o.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        Value::Array(kvs) => kvs
            .iter()
            .filter_map(|kv| {
                let key = kv.get("key")?.as_str()?.to_owned();
                Some((key, any_value(kv.get("value")?)))
            })
            .collect(),
        _ => Attributes::new(),
    }
}

/// An OTLP `AnyValue` as plain JSON.
fn any_value(v: &Value) -> Value {
    let Some(o) = v.as_object() else {
        return v.clone();
    };
    if let Some(s) = o.get("stringValue") {
        return s.clone();
    }
    if let Some(b) = o.get("boolValue") {
        return b.clone();
    }
    if let Some(i) = o.get("intValue") {
        // int64 is a string in OTLP/JSON.
        return match i {
            Value::String(s) => s.parse::<i64>().map_or_else(|_| i.clone(), Value::from),
            _ => i.clone(),
        };
    }
    if let Some(d) = o.get("doubleValue") {
        return d.clone();
    }
    if let Some(a) = v.pointer("/arrayValue/values").and_then(Value::as_array) {
        return Value::Array(a.iter().map(any_value).collect());
    }
    if let Some(kv) = v.pointer("/kvlistValue/values") {
        return Value::Object(attributes(kv).into_iter().collect());
    }
    if let Some(b) = o.get("bytesValue") {
        return b.clone();
    }
    Value::Null
}

fn events(v: Option<&Value>) -> Vec<SpanEvent> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|e| SpanEvent {
            name: e.get("name").and_then(Value::as_str).unwrap_or("").into(),
            time_ns: nanos(e.get("timeUnixNano")),
            attributes: e.get("attributes").map(attributes).unwrap_or_default(),
        })
        .collect()
}

/// The fields both formats share, or why the record is not a span.
fn common(o: &Map<String, Value>) -> Result<Span, String> {
    let trace_id = hex_id(o.get("traceId"), 32)
        .ok_or("a span without a traceId of 32 hex digits".to_string())?;
    let span_id = hex_id(o.get("spanId"), 16)
        .ok_or("a span without a spanId of 16 hex digits".to_string())?;
    let start_ns =
        nanos(o.get("startTimeUnixNano")).ok_or("a span without startTimeUnixNano".to_string())?;
    let parent_span_id = hex_id(o.get("parentSpanId"), 16);
    let (status, status_message) = status(o.get("status"));
    Ok(Span {
        trace_id,
        span_id,
        parent_span_id,
        name: o.get("name").and_then(Value::as_str).unwrap_or("").into(),
        kind: kind(o.get("kind")),
        start_ns,
        end_ns: nanos(o.get("endTimeUnixNano")),
        attributes: o.get("attributes").map(attributes).unwrap_or_default(),
        resource: Attributes::new(),
        scope: None,
        events: events(o.get("events")),
        status,
        status_message,
        xray: Map::new(),
    })
}

fn aws_span(o: &Map<String, Value>) -> Result<Span, String> {
    let mut span = common(o)?;
    span.resource = o
        .get("resource")
        .and_then(|r| r.get("attributes"))
        .map(attributes)
        .unwrap_or_default();
    span.scope = o.get("scope").and_then(|s| {
        let name = s.get("name")?.as_str()?.to_owned();
        let version = s.get("version").and_then(Value::as_str).unwrap_or("");
        Some((name, version.to_owned()))
    });
    span.xray = o
        .get("_aws")
        .and_then(|a| a.get("xray"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    Ok(span)
}

fn otlp_span(
    o: &Map<String, Value>,
    resource: &Attributes,
    scope: Option<(String, String)>,
) -> Result<Span, String> {
    let mut span = common(o)?;
    span.resource = resource.clone();
    span.scope = scope;
    // OTLP has no `_aws` block: X-Ray's names travel as `aws.xray.name`, `.type` and
    // `.namespace` attributes.
    for key in ["name", "type", "namespace"] {
        if let Some(v) = span.attributes.get(&format!("aws.xray.{key}")) {
            span.xray.insert(key.into(), v.clone());
        }
    }
    Ok(span)
}

/// What an OTLP span's own text lacks, its resource and scope, as JSON for [`reread`]; none
/// for an `aws/spans` record, which holds its own.
pub fn context_of(record: &SpanRecord) -> Option<String> {
    (record.format == SpanFormat::Otlp).then(|| {
        json!({
            "resource": Value::Object(record.span.resource.clone().into_iter().collect()),
            "scope": record.span.scope,
        })
        .to_string()
    })
}

/// Reads one record again from its text (and an OTLP span's [`context_of`]): after the
/// redaction policy has rewritten them, so no value it removed reaches a column.
pub fn reread(text: &str, format: SpanFormat, context: Option<&str>) -> Result<SpanRecord, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    let o = value
        .as_object()
        .ok_or_else(|| "not a span record: not a JSON object".to_string())?;
    let span = match format {
        SpanFormat::AwsSpans => aws_span(o)?,
        SpanFormat::Otlp => {
            let context: Value = context
                .map(serde_json::from_str)
                .transpose()
                .map_err(|e| format!("the span's resource is not JSON: {e}"))?
                .unwrap_or(Value::Null);
            let resource = context.get("resource").map(attributes).unwrap_or_default();
            let scope =
                serde_json::from_value(context.get("scope").cloned().unwrap_or(Value::Null))
                    .unwrap_or(None);
            otlp_span(o, &resource, scope)?
        }
    };
    Ok(SpanRecord {
        text: text.to_owned(),
        format,
        span,
    })
}

/// Attribute keys promoted to the `payment_id` and `correlation_id` columns, first found
/// first used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromotedKeys {
    /// Keys whose value is the payment id.
    pub payment_id: Vec<String>,
    /// Keys whose value is the correlation id.
    pub correlation_id: Vec<String>,
}

impl Default for PromotedKeys {
    fn default() -> Self {
        Self {
            payment_id: ["PaymentId", "payment.id", "payment_id"]
                .map(String::from)
                .into(),
            correlation_id: ["CorrelationId", "correlation.id", "correlation_id"]
                .map(String::from)
                .into(),
        }
    }
}

/// How far from its first span's start a trace id's first 8 hex digits may be and still be
/// read as its epoch second, as X-Ray-compatible ids carry it: X-Ray takes segments for a
/// trace for 7 days. A random W3C id falls in this range about 3 times in 10,000.
pub const EPOCH_TOLERANCE_SECONDS: i64 = 7 * 86_400;

/// The trace id in the archive's form: X-Ray's `1-<8 hex>-<24 hex>` when the first 8 hex
/// digits are an epoch second near `start_s`, as AWS makes them; else the W3C 32 hex.
///
/// ```
/// assert_eq!(
///     schema::otel::archive_trace_id("6a719ba03dce37b129b5432cd44db566", 1_785_830_304),
///     "1-6a719ba0-3dce37b129b5432cd44db566"
/// );
/// assert_eq!(
///     schema::otel::archive_trace_id("0af7651916cd43dd8448eb211c80319c", 1_785_830_304),
///     "0af7651916cd43dd8448eb211c80319c"
/// );
/// ```
pub fn archive_trace_id(trace_id: &str, start_s: i64) -> String {
    let epoch = i64::from_str_radix(&trace_id[..8.min(trace_id.len())], 16).unwrap_or(-1);
    if trace_id.len() == 32 && (start_s - epoch).abs() <= EPOCH_TOLERANCE_SECONDS {
        format!("1-{}-{}", &trace_id[..8], &trace_id[8..])
    } else {
        trace_id.to_owned()
    }
}

/// True for a trace id in W3C's form, 32 hex digits (no epoch in it).
pub fn is_w3c_trace_id(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

fn first<'a>(attrs: &'a Attributes, keys: &[&str]) -> Option<&'a Value> {
    keys.iter().find_map(|k| attrs.get(*k))
}

/// Seconds since the epoch, to the microsecond, from nanoseconds (whole and fraction apart,
/// so no digit is lost in `f64`).
fn seconds(ns: u64) -> Value {
    let us = ns.div_euclid(1000);
    let text = format!("{}.{:06}", us / 1_000_000, us % 1_000_000);
    serde_json::from_str(&text).expect("a decimal number")
}

/// The X-Ray segment document a span maps to, with the trace id in the archive's form
/// ([`archive_trace_id`]). Fills what the v1 tables read: times, HTTP method, URL and status,
/// error/fault/throttle, the AWS operation, table and queue, SQL, the exception as the
/// cause, attributes as annotations (the promoted keys under X-Ray's names), and the OTel
/// kind, status, resource and scope under `metadata.otel`.
pub fn to_xray_document(span: &Span, keys: &PromotedKeys) -> Value {
    let a = &span.attributes;
    let start_s = (span.start_ns / 1_000_000_000) as i64;
    let mut doc = Map::new();
    let is_segment = match span.xray.get("type").and_then(Value::as_str) {
        Some(t) => t == "segment",
        None => {
            span.parent_span_id.is_none() || matches!(span.kind.as_str(), "SERVER" | "CONSUMER")
        }
    };
    let name = span
        .xray
        .get("name")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| {
            is_segment
                .then(|| span.resource.get("service.name").and_then(text_of))
                .flatten()
        })
        .unwrap_or_else(|| span.name.clone());
    doc.insert("name".into(), json!(name));
    doc.insert("id".into(), json!(span.span_id));
    doc.insert(
        "trace_id".into(),
        json!(archive_trace_id(&span.trace_id, start_s)),
    );
    doc.insert("start_time".into(), seconds(span.start_ns));
    match span.end_ns {
        Some(end) if !span.in_progress() => {
            doc.insert("end_time".into(), seconds(end));
        }
        _ => {
            doc.insert("in_progress".into(), json!(true));
        }
    }
    if let Some(parent) = &span.parent_span_id {
        doc.insert("parent_id".into(), json!(parent));
    }
    if !is_segment {
        doc.insert("type".into(), json!("subsegment"));
    }
    let namespace = span
        .xray
        .get("namespace")
        .and_then(Value::as_str)
        .or_else(|| {
            match (
                span.kind.as_str(),
                a.get("rpc.system").and_then(Value::as_str),
            ) {
                (_, Some("aws-api")) => Some("aws"),
                ("CLIENT" | "PRODUCER", _) => Some("remote"),
                _ => None,
            }
        });
    if let (false, Some(ns)) = (is_segment, namespace) {
        doc.insert("namespace".into(), json!(ns));
    }
    if let Some(origin) = a
        .get("aws.xray.origin")
        .or_else(|| span.resource.get("aws.xray.origin"))
        .and_then(Value::as_str)
    {
        doc.insert("origin".into(), json!(origin));
    }
    if let Some(arn) = first(a, &["aws.resource_arn", "cloud.resource_id"]).and_then(text_of) {
        doc.insert("resource_arn".into(), json!(arn));
    }

    // HTTP: stable and older semantic conventions.
    let status = first(a, &["http.response.status_code", "http.status_code"])
        .and_then(|v| v.as_i64().or_else(|| v.as_str()?.parse().ok()));
    let mut request = Map::new();
    for (field, names) in [
        ("method", &["http.request.method", "http.method"][..]),
        ("url", &["url.full", "http.url"][..]),
        (
            "user_agent",
            &["user_agent.original", "http.user_agent"][..],
        ),
        ("client_ip", &["client.address", "http.client_ip"][..]),
    ] {
        if let Some(v) = first(a, names).and_then(text_of) {
            request.insert(field.into(), json!(v));
        }
    }
    if !request.contains_key("url")
        && let (Some(host), Some(path)) = (
            first(a, &["server.address", "http.host"]).and_then(text_of),
            first(a, &["url.path", "http.target"]).and_then(text_of),
        )
    {
        let scheme = first(a, &["url.scheme", "http.scheme"])
            .and_then(text_of)
            .unwrap_or_else(|| "https".into());
        request.insert("url".into(), json!(format!("{scheme}://{host}{path}")));
    }
    if !request.is_empty() || status.is_some() {
        let mut http = Map::new();
        if !request.is_empty() {
            http.insert("request".into(), Value::Object(request));
        }
        if let Some(s) = status {
            http.insert("response".into(), json!({ "status": s }));
        }
        doc.insert("http".into(), Value::Object(http));
    }

    // Error, fault and throttle: X-Ray's own attributes first, then the status.
    let flag = |k: &str| a.get(k).and_then(Value::as_bool);
    let throttle = flag("aws.xray.throttle").unwrap_or(status == Some(429));
    let fault = flag("aws.xray.fault").unwrap_or(
        status.is_some_and(|s| s >= 500)
            || (span.status == "ERROR" && status.is_none_or(|s| s < 400)),
    );
    let error = flag("aws.xray.error")
        .unwrap_or(status.is_some_and(|s| (400..500).contains(&s)) || throttle);
    for (field, on) in [("error", error), ("fault", fault), ("throttle", throttle)] {
        if on {
            doc.insert(field.into(), json!(true));
        }
    }

    // AWS calls.
    let mut aws = Map::new();
    let table = first(
        a,
        &[
            "aws.dynamodb.table_names",
            "aws.table_name",
            "aws.dynamodb.table_name",
        ],
    )
    .and_then(|v| match v {
        Value::Array(names) => names.first().and_then(text_of),
        other => text_of(other),
    });
    for (field, value) in [
        (
            "operation",
            first(a, &["aws.operation", "rpc.method", "aws.remote.operation"]).and_then(text_of),
        ),
        ("region", a.get("aws.region").and_then(text_of)),
        (
            "request_id",
            first(a, &["aws.request_id", "aws.requestId"]).and_then(text_of),
        ),
        (
            "queue_url",
            first(a, &["aws.sqs.queue_url", "aws.queue_url", "messaging.url"]).and_then(text_of),
        ),
        ("table_name", table),
    ] {
        if let Some(v) = value {
            aws.insert(field.into(), json!(v));
        }
    }
    if !aws.is_empty() {
        doc.insert("aws".into(), Value::Object(aws));
    }

    // SQL.
    if let Some(query) = first(a, &["db.query.text", "db.statement"]).and_then(text_of) {
        let mut sql = Map::new();
        sql.insert("sanitized_query".into(), json!(query));
        if let Some(system) = first(a, &["db.system.name", "db.system"]).and_then(text_of) {
            sql.insert("database_type".into(), json!(system));
        }
        doc.insert("sql".into(), Value::Object(sql));
    }

    // The exception event (or Transaction Search's cause message) as the cause.
    let exceptions: Vec<Value> = span
        .events
        .iter()
        .filter(|e| e.name == "exception")
        .enumerate()
        .map(|(i, e)| {
            let mut x = Map::new();
            x.insert(
                "id".into(),
                json!(format!("{}{:02x}", &span.span_id[..14], i)),
            );
            for (field, key) in [("message", "exception.message"), ("type", "exception.type")] {
                if let Some(v) = e.attributes.get(key).and_then(text_of) {
                    x.insert(field.into(), json!(v));
                }
            }
            if let Some(remote) = e.attributes.get("aws.xray.exception.remote") {
                x.insert("remote".into(), remote.clone());
            }
            Value::Object(x)
        })
        .collect();
    let cause_message = span
        .xray
        .get("cause.message")
        .and_then(text_of)
        .or_else(|| {
            span.status_message
                .clone()
                .filter(|_| span.status == "ERROR")
        });
    if !exceptions.is_empty() {
        doc.insert("cause".into(), json!({ "exceptions": exceptions }));
    } else if let Some(message) = cause_message {
        doc.insert(
            "cause".into(),
            json!({ "exceptions": [{ "id": format!("{}00", &span.span_id[..14]), "message": message }] }),
        );
    }

    // Attributes as annotations: the promoted ones under X-Ray's names, then the rest.
    let mut annotations = Map::new();
    for (name, candidates) in [
        (crate::v1::PAYMENT_ID, &keys.payment_id),
        (crate::v1::CORRELATION_ID, &keys.correlation_id),
    ] {
        if let Some(v) = candidates
            .iter()
            .find_map(|k| a.get(k.as_str()))
            .and_then(text_of)
        {
            annotations.insert(name.into(), json!(v));
        }
    }
    let promoted: Vec<&str> = keys
        .payment_id
        .iter()
        .chain(&keys.correlation_id)
        .map(String::as_str)
        .collect();
    for (k, v) in a {
        // `aws.xray.*` are X-Ray's own fields, mapped above.
        if promoted.contains(&k.as_str())
            || annotations.contains_key(k)
            || k.starts_with("aws.xray.")
        {
            continue;
        }
        let value = match v {
            Value::String(_) | Value::Bool(_) | Value::Number(_) => v.clone(),
            Value::Null => continue,
            other => json!(other.to_string()),
        };
        annotations.insert(k.clone(), value);
    }
    if !annotations.is_empty() {
        doc.insert("annotations".into(), Value::Object(annotations));
    }

    let mut otel = Map::new();
    otel.insert("kind".into(), json!(span.kind));
    otel.insert("status".into(), json!(span.status));
    if let Some(m) = &span.status_message {
        otel.insert("status_message".into(), json!(m));
    }
    if !span.resource.is_empty() {
        otel.insert(
            "resource".into(),
            Value::Object(span.resource.clone().into_iter().collect()),
        );
    }
    if let Some((name, version)) = &span.scope {
        otel.insert("scope".into(), json!({ "name": name, "version": version }));
    }
    let other_events: Vec<Value> = span
        .events
        .iter()
        .filter(|e| e.name != "exception")
        .map(|e| {
            json!({
                "name": e.name,
                "time_unix_nano": e.time_ns.map(|t| t.to_string()),
                "attributes": Value::Object(e.attributes.clone().into_iter().collect()),
            })
        })
        .collect();
    if !other_events.is_empty() {
        otel.insert("events".into(), Value::Array(other_events));
    }
    doc.insert("metadata".into(), json!({ "otel": otel }));
    Value::Object(doc)
}

#[cfg(test)]
mod tests;
