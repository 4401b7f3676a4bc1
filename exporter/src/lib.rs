//! Trace sources, Parquet writing and archive stores for xray-archive.
//!
//! The exporter turns X-Ray data into the v1 archive. A [`TraceSource`] (the X-Ray API)
//! yields each day's documents once the day can no longer change, and [`seal`] writes the
//! day's write-once Parquet parts and commits them with a manifest; a [`FileSource`] is
//! imported the same way, adding parts. Whatever cannot be archived is quarantined with
//! its reason. Modules read bottom-up: stores, Parquet and redaction, sources, the writer,
//! the ledger (manifests), sealing and imports, then verify, holds and reconcile.
//! It does not depend on DataFusion, so the Lambda stays small and loads on
//! provided.al2023.

pub mod allocator;
pub mod archive;
pub mod aws;
pub mod config;
pub mod error;
pub mod export;
pub mod holds;
pub mod idset;
pub mod ledger;
pub mod parquet_io;
pub mod reconcile;
pub mod redact;
pub mod retention;
pub mod retry;
pub mod rollup;
pub mod seal;
pub mod source;
pub mod store;
pub mod synth;
pub mod verify;

pub use archive::{ArchiveWriter, ExportSummary, ObjectRecord, QuarantineRecord, WriterConfig};
pub use error::{Error, Result};
pub use export::{Progress, export_files, export_inputs};
pub use ledger::{Chain, Manifest, ManifestLink, read_chain};
pub use source::xray::XRaySource;
pub use source::{Fetched, FileSource, MemorySource, SourceContent, SourceItem, TraceSource};
pub use store::{
    AnyStore, ArchiveStore, LocalDirStore, LockMode, ObjectLock, ObjectMeta, S3Options, S3Store,
};
