//! The X-Ray segment document model and the archive's versioned Arrow schemas.
//!
//! Pure conversion only: no I/O and no AWS. [`input`] finds segment documents in the shapes
//! X-Ray data comes in, [`SegmentDocument`] parses one leniently, [`validate_document`]
//! applies X-Ray's rules, and [`v1`] turns validated documents into the archive's tables.

pub mod document;
pub mod ids;
pub mod input;
pub mod otel;
pub mod pii;
pub mod v1;
pub mod validate;

pub use document::{
    AnnotationValue, Aws, Cause, CauseDetails, Exception, Http, HttpRequest, HttpResponse, Raw,
    RawJson, SegmentDocument, Sql,
};
pub use ids::{TracePlacement, is_segment_id, is_trace_id, trace_epoch};
pub use validate::{Problem, ValidationError, validate_document};
