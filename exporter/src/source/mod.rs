//! Trace sources: where segment documents come from.

pub mod files;
pub mod xray;

pub use files::{FileSource, read_input};

use schema::input::InputItem;

/// One item a source produced, with where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceItem {
    /// What was found.
    pub item: SourceContent,
    /// The input it came from (a file path, or a name for in-memory input).
    pub source: String,
    /// Where in that input: `line 3`, `Traces[0].Segments[2].Document`, or empty.
    pub location: String,
}

/// What a source found.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceContent {
    /// A candidate segment document.
    Document {
        /// Its exact text.
        text: String,
        /// X-Ray's LimitExceeded for its trace, when the input said.
        limit_exceeded: Option<bool>,
    },
    /// Input that is not trace data; quarantined with the reason.
    Rejected {
        /// The exact bytes.
        bytes: Vec<u8>,
        /// Why.
        reason: String,
    },
}

impl SourceItem {
    pub(crate) fn from_input(item: InputItem, source: &str, prefix: &str) -> Option<Self> {
        let join = |path: String| match (prefix.is_empty(), path.is_empty()) {
            (true, _) => path,
            (false, true) => prefix.to_owned(),
            (false, false) => format!("{prefix} {path}"),
        };
        let (item, location) = match item {
            InputItem::DaemonHeader => return None,
            InputItem::Document {
                text,
                limit_exceeded,
                path,
            } => (
                SourceContent::Document {
                    text,
                    limit_exceeded,
                },
                join(path),
            ),
            InputItem::Rejected { text, reason, path } => (
                SourceContent::Rejected {
                    bytes: text.into_bytes(),
                    reason,
                },
                join(path),
            ),
        };
        Some(Self {
            item,
            source: source.to_owned(),
            location,
        })
    }
}
