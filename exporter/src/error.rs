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
    /// A file under a legal hold cannot be deleted.
    #[error(
        "{key} is under a legal hold for payment {payment_id}; release it first \
         (xray-archive hold --release --payment-id {payment_id} --reason ...)"
    )]
    Held {
        /// The object key.
        key: String,
        /// The payment whose hold covers it.
        payment_id: String,
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
    /// An AWS call failed for good: not retriable, or still failing after every retry.
    #[error("{service} {operation} failed{target}: {message}{hint}", target = if target.is_empty() { String::new() } else { format!(" for {target}") }, hint = hint_text(code))]
    Aws {
        /// `X-Ray` or `S3`.
        service: &'static str,
        /// The API operation, such as `BatchGetTraces`.
        operation: &'static str,
        /// The bucket/key or window the call was about.
        target: String,
        /// The service's error code, when it sent one (`AccessDenied`, `ThrottledException`).
        code: Option<String>,
        /// The error message with its source chain.
        message: String,
        /// Whether running again later may succeed (throttling, 5xx, network).
        retriable: bool,
    },
    /// A conditional write found the object changed: another exporter got there first.
    #[error(
        "{key} was changed by someone else since it was read (another exporter running at the \
         same time?); nothing was advanced. Run again once the other run has finished"
    )]
    Conflict {
        /// The object key.
        key: String,
    },
    /// A create-only key already holds other bytes: the archive never replaces an object.
    #[error(
        "{key} is already archived with different content (stored SHA-256 {stored}, this run's \
         {ours}); the archive never replaces an object. Run `xray-archive verify` to see \
         whether the stored object was tampered with"
    )]
    AlreadyArchived {
        /// The object key.
        key: String,
        /// SHA-256 of the stored object, hex.
        stored: String,
        /// SHA-256 of the bytes this run wanted to write, hex.
        ours: String,
    },
    /// A write or delete aimed at an append-only key through a path meant for `_state/`.
    #[error("{key} is append-only evidence: it is written once and never replaced or deleted")]
    AppendOnly {
        /// The object key.
        key: String,
    },
    /// Another writer committed this manifest number first: the manifest is the fence.
    #[error(
        "another writer ({winner}) committed manifest {seq} ({what}) first; this run wrote no \
         manifest and stops. Its parts are the same write-once objects the winner committed, \
         or unlisted ones that `verify` names"
    )]
    Fenced {
        /// The contested sequence number.
        seq: u64,
        /// The winning writer's `host:pid`.
        winner: String,
        /// What the winner's manifest commits (`day 2026-03-02`, `import`).
        what: String,
    },
    /// Another exporter holds the archive's lease.
    #[error(
        "another exporter ({owner}) is working on this archive until {until}; run again after \
         that. If that run crashed on another machine, its lease lapses at that time"
    )]
    Busy {
        /// `host:pid` of the holder.
        owner: String,
        /// When its lease lapses.
        until: String,
    },
    /// X-Ray sends this account's traces to CloudWatch Logs, where BatchGetTraces cannot see
    /// them.
    #[error(
        "X-Ray trace segments go to CloudWatch Logs (Transaction Search is on, destination \
         {destination}), so BatchGetTraces sees only the indexed share of them and no staging \
         prefix is set to archive the rest from. Deploy the infra's aws/spans staging (context \
         xray-archive:spansLogGroup) and set XRAY_ARCHIVE_STAGING_URL (the CLI's --staging) to \
         its s3://bucket/aws-spans/ prefix, or set the destination back to X-Ray with \
         `aws xray update-trace-segment-destination --destination XRay`"
    )]
    TransactionSearch {
        /// The destination X-Ray reported.
        destination: String,
    },
    /// A setting is missing or malformed.
    #[error("{0}")]
    Config(String),
    /// The redaction policy or hashing key differs from the one the archive's manifests
    /// record: exporting would archive the same document two ways.
    #[error(
        "the redaction policy differs from the one this archive was written under \
         (recorded in {manifest}: {recorded}; this run: {current}). Set XRAY_ARCHIVE_HASH_KEY, \
         XRAY_ARCHIVE_EMAILS and XRAY_ARCHIVE_CLIENT_IPS as before, or, to change the policy \
         on purpose, run once with --new-redaction-policy (the Lambda: the event field \
         \"new_redaction_policy\": true); the change is recorded in the next manifest"
    )]
    RedactionPolicyChanged {
        /// The manifest that last recorded a policy.
        manifest: String,
        /// What it records.
        recorded: crate::redact::PolicyRecord,
        /// This run's policy.
        current: crate::redact::PolicyRecord,
    },
}

impl Error {
    /// Whether a later run may succeed where this one failed: the single place that maps an
    /// error to the Lambda's retryable or non-retryable diagnostic.
    pub fn is_retriable(&self) -> bool {
        match self {
            Error::Aws { retriable, .. } => *retriable,
            Error::Conflict { .. } | Error::Busy { .. } | Error::Fenced { .. } => true,
            Error::Put { .. } | Error::Get { .. } | Error::List { .. } => true,
            _ => false,
        }
    }
}

/// What to do about common AWS error codes.
fn hint_text(code: &Option<String>) -> &'static str {
    match code.as_deref() {
        Some("AccessDenied" | "AccessDeniedException") => {
            ". Check the credentials in use (AWS_PROFILE, AWS_ACCESS_KEY_ID) and that their \
             policy allows this call"
        }
        Some("NoSuchBucket") => {
            ". Create the bucket first (see infra/README.md), with Object Lock enabled"
        }
        Some("InvalidRequest") => {
            ". If the bucket has no Object Lock configuration, enable it or pass --lock-mode off"
        }
        Some("ExpiredToken" | "ExpiredTokenException") => ". Refresh the credentials and run again",
        _ => "",
    }
}

/// Result with the exporter's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
