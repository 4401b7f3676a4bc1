//! Trace sources, Parquet writing and archive stores for xray-archive.
//!
//! The exporter turns X-Ray data into the v1 archive: a [`FileSource`] (or, later, the
//! X-Ray API) yields documents, the [`ArchiveWriter`] validates, converts and writes them as
//! hourly Parquet parts into an [`ArchiveStore`], and quarantines what it cannot archive.
//! It does not depend on DataFusion, so the Lambda stays small and loads on
//! provided.al2023.

pub mod archive;
pub mod aws;
pub mod config;
pub mod error;
pub mod export;
pub mod holds;
pub mod ledger;
pub mod parquet_io;
pub mod reconcile;
pub mod redact;
pub mod retention;
pub mod retry;
pub mod source;
pub mod store;
pub mod synth;
pub mod verify;
pub mod xray_export;

pub use archive::{ArchiveWriter, ExportSummary, ObjectRecord, QuarantineRecord, WriterConfig};
pub use error::{Error, Result};
pub use export::{Progress, export_files, export_inputs};
pub use source::xray::XRaySource;
pub use source::{FileSource, SourceContent, SourceItem};
pub use store::{
    AnyStore, ArchiveStore, LocalDirStore, LockMode, ObjectLock, ObjectMeta, S3Options, S3Store,
};
