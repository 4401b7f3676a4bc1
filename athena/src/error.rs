//! The athena crate's error type: each variant says what failed, on what, and what to do.

use aws_sdk_athena::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use exporter::retry::{HttpResponse, classify, is_retriable};

/// Errors of the DDL, the saved queries, the local engine, the payment lookup and the Athena
/// client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Athena reads tables from S3 only.
    #[error(
        "Athena reads tables from S3: pass the archive as s3://bucket/prefix, not {location:?}"
    )]
    NotS3 {
        /// The location given.
        location: String,
    },
    /// Glue database names are lower-case letters, digits and underscores.
    #[error(
        "database name {database:?} must be lower-case letters, digits and underscores \
         (the default is xray_archive)"
    )]
    BadDatabase {
        /// The name given.
        database: String,
    },
    /// No saved query by that name.
    #[error("no saved query {name:?}; `xray-archive query --list` shows them")]
    UnknownQuery {
        /// The name asked for.
        name: String,
    },
    /// A declared parameter was not given.
    #[error("{query} needs --param {name}=<{kind}>: {doc}")]
    MissingParam {
        /// The query.
        query: String,
        /// The parameter.
        name: String,
        /// Its type.
        kind: &'static str,
        /// What it means.
        doc: String,
    },
    /// A parameter value of the wrong shape.
    #[error("--param {name}={value:?} is not a valid {kind}")]
    InvalidParam {
        /// The parameter.
        name: String,
        /// The value given.
        value: String,
        /// The expected type.
        kind: &'static str,
    },
    /// A parameter the query does not declare.
    #[error("{query} has no parameter {name:?}; it takes {expected}")]
    UnexpectedParam {
        /// The query.
        query: String,
        /// The parameter given.
        name: String,
        /// The declared ones.
        expected: String,
    },
    /// The directory is missing or holds no v1 tables.
    #[error("{archive} is not an xray-archive archive (no v1/ directory); export into it first")]
    NotAnArchive {
        /// The archive given.
        archive: String,
    },
    /// An `s3://` archive could not be opened for the local engine.
    #[error(
        "cannot open the archive {archive}: {reason}. Give it as s3://bucket/prefix, with \
         AWS_REGION and credentials set (and AWS_ENDPOINT_URL for an emulator)"
    )]
    ArchiveStore {
        /// The archive given.
        archive: String,
        /// What the object store said.
        reason: String,
    },
    /// The local engine refused or failed a statement, or could not register a table.
    #[error("{what} failed: {source}")]
    Engine {
        /// What was being done: `query`, or registering one table over its location.
        what: String,
        /// DataFusion's error.
        source: datafusion::error::DataFusionError,
    },
    /// Query results could not be written in the asked format.
    #[error("cannot write the rows as {format:?}: {source}")]
    Format {
        /// The format asked for.
        format: crate::Format,
        /// Arrow's error.
        source: arrow::error::ArrowError,
    },
    /// No trace of the archive carries the payment id.
    #[error(
        "payment id {payment_id:?} is not in this archive: payment_index ({files} files) has \
         no row for it. Check the id (PaymentId annotation, such as pay_000000000042) and the \
         archive"
    )]
    UnknownPayment {
        /// The id asked for.
        payment_id: String,
        /// Files read.
        files: u64,
    },
    /// Reading the archive failed (its own message names the object and what to do).
    #[error(transparent)]
    Archive {
        /// The archive store's error.
        #[from]
        source: exporter::Error,
    },
    /// An Athena API call failed for good: not retriable, or still failing after every retry.
    #[error(
        "Athena {operation} failed{target}: {message}{hint}",
        target = if target.is_empty() { String::new() } else { format!(" for {target}") },
        hint = api_hint(code.as_deref(), message, *retriable),
    )]
    Api {
        /// The API operation, such as `StartQueryExecution`.
        operation: &'static str,
        /// The query execution or workgroup the call was about.
        target: String,
        /// Athena's error code, when it sent one (`InvalidRequestException`).
        code: Option<String>,
        /// The error message with its source chain.
        message: String,
        /// Whether running again later may succeed (throttling, 5xx, network).
        retriable: bool,
    },
    /// StartQueryExecution answered without a query execution id.
    #[error(
        "Athena StartQueryExecution in workgroup {workgroup} returned no query execution id; \
         nothing can be polled. Run again, and check the endpoint (AWS_ENDPOINT_URL_ATHENA) \
         if it persists"
    )]
    NoExecutionId {
        /// The workgroup.
        workgroup: String,
    },
    /// The query ran and failed, or was cancelled.
    #[error(
        "Athena query {id} {state}: {reason}{hint}",
        hint = query_hint(reason),
    )]
    QueryFailed {
        /// Query execution id.
        id: String,
        /// `FAILED` or `CANCELLED`.
        state: String,
        /// Athena's reason.
        reason: String,
    },
}

/// Result with the athena crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Whether a later run may succeed where this one failed.
    pub fn is_retriable(&self) -> bool {
        match self {
            Error::Api { retriable, .. } => *retriable,
            Error::Archive { source } => source.is_retriable(),
            _ => false,
        }
    }

    /// Turns a final SDK error of an Athena call into [`Error::Api`], keeping the code and
    /// the retry verdict of `exporter::retry` (the same decision the pacer made).
    pub(crate) fn api<E>(
        operation: &'static str,
        target: impl Into<String>,
        err: &SdkError<E, HttpResponse>,
    ) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        Error::Api {
            operation,
            target: target.into(),
            code: err.code().map(str::to_owned),
            message: DisplayErrorContext(err).to_string(),
            retriable: is_retriable(classify(err)),
        }
    }
}

/// What to do about common Athena error codes.
fn api_hint(code: Option<&str>, message: &str, retriable: bool) -> &'static str {
    match code {
        Some("AccessDeniedException") => {
            ". Check the credentials in use (AWS_PROFILE, AWS_ACCESS_KEY_ID) and that their \
             policy allows this Athena call, Glue on the database, and S3 on the archive and \
             the results location"
        }
        Some("ExpiredTokenException" | "ExpiredToken") => ". Refresh the credentials and run again",
        Some("InvalidRequestException") if message.contains("output location") => {
            ". Pass --output-location s3://bucket/prefix/ for the results, or use a workgroup \
             that sets one (the infra's xray-archive workgroup does)"
        }
        Some("InvalidRequestException") if message.to_ascii_lowercase().contains("workgroup") => {
            ". Check --workgroup: the infra creates xray-archive, and primary is every \
             account's default"
        }
        _ if retriable => {
            ". Athena kept failing or throttling through every retry; run again later (its \
             API quotas are per account and region, shared with other clients)"
        }
        _ => "",
    }
}

/// What to do about a failed query, from Athena's reason.
fn query_hint(reason: &str) -> &'static str {
    let r = reason.to_ascii_lowercase();
    if r.contains("table_not_found")
        || r.contains("schema_not_found")
        || r.contains("does not exist")
    {
        ". Create the database and tables first with `xray-archive register --archive \
         s3://bucket/prefix`, and pass the same --database"
    } else {
        ""
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_errors_say_what_to_do() {
        let e = Error::Api {
            operation: "StartQueryExecution",
            target: "workgroup primary".into(),
            code: Some("InvalidRequestException".into()),
            message: "No output location provided. An output location is required either \
                      through the Workgroup result configuration setting or as an API input."
                .into(),
            retriable: false,
        };
        let text = e.to_string();
        assert!(
            text.starts_with("Athena StartQueryExecution failed for workgroup primary: "),
            "{text}"
        );
        assert!(text.contains("--output-location"), "{text}");
        let throttled = Error::Api {
            operation: "GetQueryResults",
            target: String::new(),
            code: Some("TooManyRequestsException".into()),
            message: "Rate exceeded".into(),
            retriable: true,
        };
        assert!(throttled.is_retriable());
        assert!(
            throttled.to_string().contains("run again later"),
            "{throttled}"
        );
    }

    #[test]
    fn a_missing_table_points_at_register() {
        let e = Error::QueryFailed {
            id: "q-1".into(),
            state: "FAILED".into(),
            reason: "TABLE_NOT_FOUND: line 1:15: Table 'awsdatacatalog.xray_archive.spans' \
                     does not exist"
                .into(),
        };
        assert!(e.to_string().contains("xray-archive register"), "{e}");
    }
}
