//! Recognises the shapes X-Ray data comes in and pulls segment documents out of them.
//!
//! Accepted, per JSON value:
//! - a BatchGetTraces response: `Traces[].Segments[].Document`, as an escaped JSON string
//!   (the API form) or an object (the console's raw-data form);
//! - one element of `Segments[]` (`{"Id": ..., "Document": ...}`);
//! - one trace as the X-Ray console's raw data shows it (`{"Id", "Duration",
//!   "LimitExceeded", "Segments": [...]}`), documents as strings or objects;
//! - a single segment document or independent subsegment;
//! - the X-Ray daemon's header line `{"format": "json", "version": 1}` (skipped);
//! - an array of any of these.
//!
//! Other X-Ray API responses (GetTraceSummaries, GetServiceGraph, PutTraceSegments) hold no
//! segment documents; they are rejected with a reason that says what they are.

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;

/// One thing found in an input value.
#[derive(Debug, Clone, PartialEq)]
pub enum InputItem {
    /// A candidate segment document (validated later), with its exact text.
    Document {
        /// The document's JSON text, byte for byte as the source holds it.
        text: String,
        /// BatchGetTraces' `LimitExceeded` for the trace, when the input said.
        limit_exceeded: Option<bool>,
        /// Where in the value it was, like `Traces[0].Segments[3]`; empty at the top.
        path: String,
    },
    /// A value that holds no segment documents.
    Rejected {
        /// The value's text.
        text: String,
        /// Why it was rejected.
        reason: String,
        /// Where in the value it was.
        path: String,
    },
    /// An X-Ray daemon header line (`{"format": "json", "version": 1}`).
    DaemonHeader,
}

#[derive(Deserialize)]
struct Probe<'a> {
    #[serde(rename = "Traces", borrow, default)]
    traces: Option<Vec<BatchTrace<'a>>>,
    #[serde(rename = "Document", borrow, default)]
    document: Option<&'a RawValue>,
    /// One trace as the X-Ray console's raw data shows it: `{"Id", "Duration",
    /// "LimitExceeded", "Segments": [...]}`, a `Traces[]` element on its own.
    #[serde(rename = "Segments", borrow, default)]
    segments: Option<Vec<BatchSegment<'a>>>,
    #[serde(rename = "LimitExceeded", default)]
    limit_exceeded: Option<bool>,
    #[serde(rename = "TraceSummaries", default)]
    trace_summaries: Option<IgnoredAny>,
    #[serde(rename = "Services", default)]
    services: Option<IgnoredAny>,
    #[serde(rename = "UnprocessedTraceSegments", default)]
    unprocessed_segments: Option<IgnoredAny>,
    #[serde(default)]
    format: Option<IgnoredAny>,
    #[serde(default)]
    version: Option<IgnoredAny>,
    #[serde(default)]
    id: Option<IgnoredAny>,
    #[serde(default)]
    name: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct BatchTrace<'a> {
    #[serde(rename = "LimitExceeded", default)]
    limit_exceeded: Option<bool>,
    #[serde(rename = "Segments", borrow, default)]
    segments: Vec<BatchSegment<'a>>,
}

#[derive(Deserialize)]
struct BatchSegment<'a> {
    #[serde(rename = "Document", borrow)]
    document: &'a RawValue,
}

/// Classifies one JSON value and appends what it holds to `out`.
///
/// ```
/// use schema::input::{classify, InputItem};
/// let v: Box<serde_json::value::RawValue> = serde_json::from_str(
///     r#"{"Traces":[{"Id":"t","Segments":[{"Id":"a","Document":"{\"id\":\"a\"}"}]}]}"#).unwrap();
/// let mut out = Vec::new();
/// classify(&v, &mut out);
/// assert!(matches!(&out[0], InputItem::Document { text, .. } if text == r#"{"id":"a"}"#));
/// ```
pub fn classify(value: &RawValue, out: &mut Vec<InputItem>) {
    classify_at(value, String::new(), out);
}

fn reject(value: &RawValue, reason: impl Into<String>, path: String) -> InputItem {
    reject_text(value.get(), reason, path)
}

fn reject_text(text: &str, reason: impl Into<String>, path: String) -> InputItem {
    InputItem::Rejected {
        text: text.to_owned(),
        reason: reason.into(),
        path,
    }
}

fn classify_at(value: &RawValue, path: String, out: &mut Vec<InputItem>) {
    let text = value.get();
    match text.as_bytes().first() {
        Some(b'[') => {
            match serde_json::from_str::<Vec<&RawValue>>(text) {
                Ok(items) => {
                    if items.is_empty() {
                        out.push(reject(
                            value,
                            "an empty array holds no segment documents",
                            path,
                        ));
                        return;
                    }
                    for (i, item) in items.into_iter().enumerate() {
                        classify_at(item, format!("{path}[{i}]"), out);
                    }
                }
                Err(e) => out.push(reject(value, format!("not valid JSON: {e}"), path)),
            }
            return;
        }
        Some(b'{') => {}
        _ => {
            out.push(reject(
                value,
                "expected a JSON object (a segment document or an X-Ray API response)",
                path,
            ));
            return;
        }
    }
    let probe = match serde_json::from_str::<Probe>(text) {
        Ok(p) => p,
        // Not one of the API shapes we read; the document parser gives the precise reason.
        Err(_) => {
            out.push(InputItem::Document {
                text: text.to_owned(),
                limit_exceeded: None,
                path,
            });
            return;
        }
    };
    from_probe(text, probe, path, out);
}

/// Classifies the text of one JSON object in a single pass over it, when it is one of the
/// shapes [`classify`] reads; `false` (and nothing added) when it is not, or is not valid
/// JSON, so the caller can give [`classify`]'s precise answer instead.
///
/// ```
/// let mut out = Vec::new();
/// assert!(schema::input::classify_object(r#"{"Traces":[{"Segments":[{"Document":"{}"}]}]}"#, &mut out));
/// assert!(!schema::input::classify_object("{oops", &mut out));
/// assert_eq!(out.len(), 1);
/// ```
pub fn classify_object(text: &str, out: &mut Vec<InputItem>) -> bool {
    if !text.starts_with('{') {
        return false;
    }
    match serde_json::from_str::<Probe>(text) {
        Ok(probe) => {
            from_probe(text, probe, String::new(), out);
            true
        }
        Err(_) => false,
    }
}

/// What an object that parsed as a [`Probe`] holds.
fn from_probe(text: &str, probe: Probe<'_>, path: String, out: &mut Vec<InputItem>) {
    if let Some(traces) = probe.traces {
        for (t, trace) in traces.into_iter().enumerate() {
            for (s, seg) in trace.segments.into_iter().enumerate() {
                let at = join(&path, &format!("Traces[{t}].Segments[{s}].Document"));
                push_document(seg.document, trace.limit_exceeded, at, out);
            }
        }
    } else if let Some(segments) = probe.segments {
        for (s, seg) in segments.into_iter().enumerate() {
            let at = join(&path, &format!("Segments[{s}].Document"));
            push_document(seg.document, probe.limit_exceeded, at, out);
        }
    } else if let Some(doc) = probe.document {
        push_document(doc, None, join(&path, "Document"), out);
    } else if probe.trace_summaries.is_some() {
        out.push(reject_text(
            text,
            "a GetTraceSummaries response lists trace ids but holds no segment documents; \
             fetch the traces with BatchGetTraces and archive that output",
            path,
        ));
    } else if probe.services.is_some() {
        out.push(reject_text(
            text,
            "a GetServiceGraph response describes services, not traces; it holds no segment documents",
            path,
        ));
    } else if probe.unprocessed_segments.is_some() {
        out.push(reject_text(
            text,
            "a PutTraceSegments response (UnprocessedTraceSegments) holds no segment documents",
            path,
        ));
    } else if probe.format.is_some()
        && probe.version.is_some()
        && probe.id.is_none()
        && probe.name.is_none()
    {
        out.push(InputItem::DaemonHeader);
    } else {
        out.push(InputItem::Document {
            text: text.to_owned(),
            limit_exceeded: None,
            path,
        });
    }
}

fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_owned()
    } else {
        format!("{path}.{field}")
    }
}

fn push_document(
    doc: &RawValue,
    limit_exceeded: Option<bool>,
    path: String,
    out: &mut Vec<InputItem>,
) {
    let raw = doc.get();
    if raw.starts_with('"') {
        // The API form: the document is a JSON string holding the document's text.
        match serde_json::from_str::<String>(raw) {
            Ok(text) => out.push(InputItem::Document {
                text,
                limit_exceeded,
                path,
            }),
            Err(e) => out.push(reject(
                doc,
                format!("Document is not a valid JSON string: {e}"),
                path,
            )),
        }
    } else if raw.starts_with('{') {
        out.push(InputItem::Document {
            text: raw.to_owned(),
            limit_exceeded,
            path,
        });
    } else {
        out.push(reject(
            doc,
            "Document must be a JSON object or a string holding one",
            path,
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(text: &str) -> Vec<InputItem> {
        let v: Box<RawValue> = serde_json::from_str(text).unwrap();
        let mut out = Vec::new();
        classify(&v, &mut out);
        out
    }

    #[test]
    fn batch_get_traces_string_and_object_documents() {
        let out = items(
            r#"{"Traces":[{"Id":"t","LimitExceeded":true,"Segments":[
                {"Id":"a","Document":"{\"id\":\"a\"}"},
                {"Id":"b","Document":{"id": "b"}}]}],"UnprocessedTraceIds":[]}"#,
        );
        assert_eq!(
            out,
            vec![
                InputItem::Document {
                    text: r#"{"id":"a"}"#.into(),
                    limit_exceeded: Some(true),
                    path: "Traces[0].Segments[0].Document".into()
                },
                InputItem::Document {
                    text: r#"{"id": "b"}"#.into(),
                    limit_exceeded: Some(true),
                    path: "Traces[0].Segments[1].Document".into()
                },
            ]
        );
    }

    #[test]
    fn one_trace_as_the_console_shows_its_raw_data() {
        let out = items(
            r#"{"Id":"1-581cf771-a006649127e371903a2de979","Duration":0.5,"LimitExceeded":false,
                "Segments":[{"Id":"a","Document":{"id": "a"}},{"Id":"b","Document":"{\"id\":\"b\"}"}]}"#,
        );
        assert_eq!(
            out,
            vec![
                InputItem::Document {
                    text: r#"{"id": "a"}"#.into(),
                    limit_exceeded: Some(false),
                    path: "Segments[0].Document".into()
                },
                InputItem::Document {
                    text: r#"{"id":"b"}"#.into(),
                    limit_exceeded: Some(false),
                    path: "Segments[1].Document".into()
                },
            ]
        );
    }

    #[test]
    fn daemon_header_and_api_responses() {
        assert_eq!(
            items(r#"{"format": "json", "version": 1}"#),
            vec![InputItem::DaemonHeader]
        );
        let summaries = items(r#"{"TraceSummaries":[]}"#);
        assert!(
            matches!(&summaries[0], InputItem::Rejected { reason, .. } if reason.contains("GetTraceSummaries"))
        );
        let graph = items(r#"{"Services":[]}"#);
        assert!(
            matches!(&graph[0], InputItem::Rejected { reason, .. } if reason.contains("GetServiceGraph"))
        );
    }

    #[test]
    fn arrays_and_plain_documents() {
        let out = items(r#"[{"id":"a"},{"name":"b"},3]"#);
        assert_eq!(out.len(), 3);
        assert!(matches!(&out[1], InputItem::Document { path, .. } if path == "[1]"));
        assert!(matches!(&out[2], InputItem::Rejected { path, .. } if path == "[2]"));
    }
}
