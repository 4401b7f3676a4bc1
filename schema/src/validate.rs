//! Validation of segment documents: what X-Ray itself requires, with a precise reason.
//!
//! A document that fails is quarantined with [`ValidationError`]'s text, which names the
//! field, where it is in the subsegment tree, and what was wrong.

use crate::document::SegmentDocument;
use crate::ids::{is_segment_id, is_trace_id};

/// Why a segment document was rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{at}{problem}", at = if path.is_empty() { String::new() } else { format!("{path}: ") })]
pub struct ValidationError {
    /// Where in the document: empty for the top level, else like `subsegments[1].subsegments[0]`.
    pub path: String,
    /// What was wrong.
    pub problem: Problem,
}

/// One validation rule that a document broke (the reason [`ValidationError`] carries).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    /// `trace_id` absent on a top-level document.
    #[error("trace_id is missing; it must be 1-<8 hex>-<24 hex>")]
    MissingTraceId,
    /// `trace_id` present but not `1-<8 hex>-<24 hex>`.
    #[error("trace_id must be 1-<8 hex>-<24 hex>, got {0:?}")]
    BadTraceId(String),
    /// `id` absent.
    #[error("id is missing; it must be 16 hex digits")]
    MissingId,
    /// `id` present but not 16 hex digits.
    #[error("id must be 16 hex digits, got {0:?}")]
    BadId(String),
    /// `parent_id` present but not 16 hex digits.
    #[error("parent_id must be 16 hex digits, got {0:?}")]
    BadParentId(String),
    /// `name` absent or empty.
    #[error("name is missing")]
    MissingName,
    /// `start_time` absent.
    #[error("start_time is missing")]
    MissingStartTime,
    /// A time that is negative, NaN or infinite.
    #[error("{0} must be epoch seconds (>= 0), got {1}")]
    BadTime(&'static str, f64),
    /// Neither `end_time` nor `in_progress: true`.
    #[error("end_time or in_progress required")]
    MissingEnd,
    /// `namespace` other than `aws` or `remote`.
    #[error("namespace must be aws or remote, got {0:?}")]
    BadNamespace(String),
    /// `type: subsegment` sent on its own without `parent_id`.
    #[error("an independent subsegment (type: subsegment) needs parent_id")]
    SubsegmentWithoutParent,
    /// `type` other than `subsegment`.
    #[error("type must be \"subsegment\" when present, got {0:?}")]
    BadType(String),
}

/// Checks a top-level document (segment or independent subsegment) and all its subsegments.
///
/// ```
/// let doc = schema::SegmentDocument::parse(
///     r#"{"name":"a","id":"70de5b6f19ff9a0a","start_time":1,"trace_id":"1-581cf771-a006649127e371903a2de979"}"#,
/// ).unwrap();
/// let err = schema::validate_document(&doc).unwrap_err();
/// assert_eq!(err.to_string(), "end_time or in_progress required");
/// ```
pub fn validate_document(doc: &SegmentDocument) -> Result<(), ValidationError> {
    let top = |problem| ValidationError {
        path: String::new(),
        problem,
    };
    match doc.trace_id.as_deref() {
        None => return Err(top(Problem::MissingTraceId)),
        Some(t) if !is_trace_id(t) => return Err(top(Problem::BadTraceId(t.to_owned()))),
        Some(_) => {}
    }
    match doc.kind.as_deref() {
        None => {}
        Some("subsegment") if doc.parent_id.is_none() => {
            return Err(top(Problem::SubsegmentWithoutParent));
        }
        Some("subsegment") => {}
        Some(other) => return Err(top(Problem::BadType(other.to_owned()))),
    }
    let mut path = String::new();
    validate_node(doc, &mut path)
}

fn validate_node(doc: &SegmentDocument, path: &mut String) -> Result<(), ValidationError> {
    let err = |path: &String, problem| ValidationError {
        path: path.clone(),
        problem,
    };
    match doc.id.as_deref() {
        None => return Err(err(path, Problem::MissingId)),
        Some(id) if !is_segment_id(id) => return Err(err(path, Problem::BadId(id.to_owned()))),
        Some(_) => {}
    }
    if let Some(p) = doc.parent_id.as_deref()
        && !is_segment_id(p)
    {
        return Err(err(path, Problem::BadParentId(p.to_owned())));
    }
    if doc.name.as_deref().is_none_or(str::is_empty) {
        return Err(err(path, Problem::MissingName));
    }
    let Some(start) = doc.start_time else {
        return Err(err(path, Problem::MissingStartTime));
    };
    if !start.is_finite() || start < 0.0 {
        return Err(err(path, Problem::BadTime("start_time", start)));
    }
    match doc.end_time {
        Some(end) if !end.is_finite() || end < 0.0 => {
            return Err(err(path, Problem::BadTime("end_time", end)));
        }
        Some(_) => {}
        None if doc.in_progress == Some(true) => {}
        None => return Err(err(path, Problem::MissingEnd)),
    }
    if let Some(ns) = doc.namespace.as_deref()
        && ns != "aws"
        && ns != "remote"
    {
        return Err(err(path, Problem::BadNamespace(ns.to_owned())));
    }
    let base = path.len();
    for (i, sub) in doc.subsegments.iter().enumerate() {
        use std::fmt::Write;
        if base > 0 {
            path.push('.');
        }
        let _ = write!(path, "subsegments[{i}]");
        validate_node(sub, path)?;
        path.truncate(base);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> Result<(), String> {
        let doc = SegmentDocument::parse(text).map_err(|e| e.to_string())?;
        validate_document(&doc).map_err(|e| e.to_string())
    }

    const OK: &str = r#"{"name":"a","id":"70de5b6f19ff9a0a","start_time":1,"end_time":2,"trace_id":"1-581cf771-a006649127e371903a2de979""#;

    #[test]
    fn accepts_a_minimal_document() {
        assert_eq!(check(&format!("{OK}}}")), Ok(()));
    }

    #[test]
    fn names_each_problem() {
        let cases = [
            (
                r#"{"name":"a","id":"70de5b6f19ff9a0a","start_time":1,"end_time":2}"#,
                "trace_id is missing; it must be 1-<8 hex>-<24 hex>",
            ),
            (
                r#"{"name":"a","id":"70de5b6f19ff9a0a","start_time":1,"end_time":2,"trace_id":"1-67891234-abcdef1234567890"}"#,
                "trace_id must be 1-<8 hex>-<24 hex>, got \"1-67891234-abcdef1234567890\"",
            ),
            (
                r#"{"name":"a","id":"xyz","start_time":1,"end_time":2,"trace_id":"1-581cf771-a006649127e371903a2de979"}"#,
                "id must be 16 hex digits, got \"xyz\"",
            ),
            (
                r#"{"id":"70de5b6f19ff9a0a","start_time":1,"end_time":2,"trace_id":"1-581cf771-a006649127e371903a2de979"}"#,
                "name is missing",
            ),
            (
                r#"{"name":"a","id":"70de5b6f19ff9a0a","end_time":2,"trace_id":"1-581cf771-a006649127e371903a2de979"}"#,
                "start_time is missing",
            ),
            (
                r#"{"name":"a","id":"70de5b6f19ff9a0a","start_time":1,"trace_id":"1-581cf771-a006649127e371903a2de979","in_progress":false}"#,
                "end_time or in_progress required",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(check(text), Err(want.to_string()), "{text}");
        }
        assert_eq!(
            check(&format!(r#"{OK},"namespace":"local"}}"#)),
            Err("namespace must be aws or remote, got \"local\"".into())
        );
        assert_eq!(
            check(&format!(r#"{OK},"type":"subsegment"}}"#)),
            Err("an independent subsegment (type: subsegment) needs parent_id".into())
        );
    }

    #[test]
    fn names_the_path_of_a_bad_subsegment() {
        let text = format!(
            r#"{OK},"subsegments":[{{"name":"b","id":"70de5b6f19ff9a0b","start_time":1,"end_time":2}},{{"name":"c","id":"70de5b6f19ff9a0c","start_time":1,"end_time":2,"subsegments":[{{"name":"d","id":"70de5b6f19ff9a0d","start_time":1}}]}}]}}"#
        );
        assert_eq!(
            check(&text),
            Err("subsegments[1].subsegments[0]: end_time or in_progress required".into())
        );
    }
}
