//! The exporter's error type: each variant says what failed, on which object, and why.

use std::path::PathBuf;

/// Errors from sources, stores and Parquet writing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The `--source` path does not exist or cannot be read.
    #[error("cannot read source {path}: {source}")]
    SourceRead {
        /// The path that failed.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The archive root cannot be used.
    #[error("cannot use archive directory {path}: {source}")]
    ArchiveRoot {
        /// The root that failed.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Writing an object to the archive failed.
    #[error("cannot write {key} to the archive: {source}")]
    Put {
        /// The object key.
        key: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Reading an object from the archive failed.
    #[error("cannot read {key} from the archive: {source}")]
    Get {
        /// The object key.
        key: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Listing the archive failed.
    #[error("cannot list {prefix} in the archive: {source}")]
    List {
        /// The prefix listed.
        prefix: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// An object key that would escape the archive root.
    #[error("invalid object key {key:?}: keys are relative paths without '..'")]
    InvalidKey {
        /// The rejected key.
        key: String,
    },
    /// Encoding a table part as Parquet failed.
    #[error("cannot encode {key} as Parquet: {source}")]
    Encode {
        /// The object key being written.
        key: String,
        /// The Parquet error.
        source: parquet::errors::ParquetError,
    },
    /// Building record batches failed.
    #[error("cannot build the {table} table: {source}")]
    Convert {
        /// The table being built.
        table: &'static str,
        /// The Arrow error.
        source: arrow::error::ArrowError,
    },
    /// An existing archive part could not be read back; the archive needs `verify`.
    #[error("existing archive part {key} is unreadable ({reason}); it was not overwritten")]
    CorruptPart {
        /// The object key.
        key: String,
        /// What was wrong.
        reason: String,
    },
}

/// Result with the exporter's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
