//! payment-core's error type: each variant says what failed and, where someone can act on
//! it, what to do.
//!
//! A downstream call that fails inside the payment flow (DynamoDB, SQS, Stripe, Prism) is
//! not one of these: it is a [`crate::ports::PortError`], the record of that call (service,
//! error type, HTTP status, request id) that the flow writes onto the call's subsegment and
//! turns into its HTTP answer.

/// Errors of webhook signatures, trace headers, segment emitters and the Lambda functions'
/// setup.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The `Stripe-Signature` header is missing or has no `t=` / `v1=`.
    #[error("Stripe-Signature header is missing or malformed")]
    SignatureMalformed,
    /// The signed timestamp is outside the tolerance.
    #[error("Stripe-Signature timestamp is {age} s away from now (tolerance {tolerance} s)")]
    SignatureStale {
        /// Seconds between the timestamp and now.
        age: i64,
        /// The tolerance.
        tolerance: i64,
    },
    /// No `v1` signature matches.
    #[error("no Stripe-Signature v1 signature matches the payload under the endpoint secret")]
    SignatureMismatch,
    /// A trace header without `Root=`.
    #[error("trace header has no Root= field: {header:?}")]
    TraceHeaderNoRoot {
        /// The header value.
        header: String,
    },
    /// A trace header with a malformed root, parent or sampling decision.
    #[error("trace header field {field} is malformed: {value:?}")]
    TraceHeaderField {
        /// The field.
        field: &'static str,
        /// Its value.
        value: String,
    },
    /// A socket or file error while emitting segments.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        source: std::io::Error,
    },
    /// `AWS_XRAY_DAEMON_ADDRESS` is malformed.
    #[error(
        "AWS_XRAY_DAEMON_ADDRESS {address:?} is not HOST:PORT or \"tcp:HOST:PORT udp:HOST:PORT\""
    )]
    DaemonAddress {
        /// The value.
        address: String,
    },
    /// PutTraceSegments failed, or X-Ray refused documents.
    #[error("PutTraceSegments: {message}")]
    PutTraceSegments {
        /// What the call or X-Ray said.
        message: String,
    },
    /// A setting the Lambda functions need is not in the environment.
    #[error(
        "{name} is not set: the VaultLink functions read their configuration from the \
         environment (see payment-core/src/lambda.rs)"
    )]
    MissingSetting {
        /// The variable.
        name: &'static str,
    },
    /// `VAULTLINK_HANDLER` names no function.
    #[error("VAULTLINK_HANDLER is {handler:?}; it must be api, delivery or replay")]
    UnknownHandler {
        /// Its value.
        handler: String,
    },
    /// The Lambda runtime stopped with an error.
    #[error("the Lambda runtime stopped: {source}")]
    Runtime {
        /// The runtime's error.
        source: lambda_runtime::Error,
    },
}

/// Result with payment-core's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
