//! Settings from environment variables: the Lambda's configuration, also read by the CLI
//! where a flag is not given.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `XRAY_ARCHIVE_BUCKET` | archive bucket | required in the Lambda |
//! | `XRAY_ARCHIVE_PREFIX` | key prefix in the bucket | none |
//! | `XRAY_ARCHIVE_RETENTION_YEARS` | Object Lock years after the day of the data | 7 |
//! | `XRAY_ARCHIVE_LOCK_MODE` | `COMPLIANCE`, `GOVERNANCE` or `OFF` | COMPLIANCE |
//! | `XRAY_ARCHIVE_KMS_KEY_ID` | SSE-KMS key id or ARN | bucket default |
//! | `XRAY_ARCHIVE_SEAL_AFTER_DAYS` | a day is sealed this many days after it ends | 8 |
//! | `XRAY_ARCHIVE_CONCURRENCY` | BatchGetTraces calls in flight | 4 |
//! | `XRAY_ARCHIVE_HASH_KEY` | HMAC key for hashed emails and IPs | none: hashed values are dropped |
//! | `XRAY_ARCHIVE_EMAILS` | `keep`, `drop` or `hash` email addresses | hash |
//! | `XRAY_ARCHIVE_CLIENT_IPS` | `keep`, `drop`, `hash` or `truncate24` client IPs | keep |
//!
//! | `XRAY_ARCHIVE_RETENTION_POLICY` | JSON file of retention rules per service, path and annotation (see `exporter::retention`) | every trace for the retention years |
//!
//! Card numbers are always redacted.

use crate::error::{Error, Result};
use crate::store::{LockMode, ObjectLock, S3Options};

/// Reads `name`, or `None` when unset or empty.
pub fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Reads and parses `name`, with a message that names the variable when it is malformed.
pub fn parse_var<T: std::str::FromStr>(name: &str, default: T) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    match var(name) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse()
            .map_err(|e| Error::Config(format!("{name}={v:?} is not valid: {e}"))),
    }
}

/// Object Lock settings from a mode (`COMPLIANCE`, `GOVERNANCE`, `OFF`) and years.
pub fn object_lock(mode: &str, years: u32) -> Result<Option<ObjectLock>> {
    if mode.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    if years == 0 {
        return Err(Error::Config(
            "retention years must be at least 1 (or set the lock mode to OFF)".into(),
        ));
    }
    Ok(Some(ObjectLock {
        mode: mode.parse::<LockMode>()?,
        years,
    }))
}

/// The S3 options from the environment.
pub fn s3_options_from_env() -> Result<S3Options> {
    let mode = var("XRAY_ARCHIVE_LOCK_MODE").unwrap_or_else(|| "COMPLIANCE".into());
    let years = parse_var("XRAY_ARCHIVE_RETENTION_YEARS", 7u32)?;
    Ok(S3Options {
        lock: object_lock(&mode, years)?,
        kms_key_id: var("XRAY_ARCHIVE_KMS_KEY_ID"),
        ..S3Options::default()
    })
}

/// The archive URL from `XRAY_ARCHIVE_BUCKET` and `XRAY_ARCHIVE_PREFIX`.
pub fn archive_url_from_env() -> Result<String> {
    let bucket = var("XRAY_ARCHIVE_BUCKET").ok_or_else(|| {
        Error::Config("XRAY_ARCHIVE_BUCKET is not set: name the archive bucket".into())
    })?;
    let prefix = var("XRAY_ARCHIVE_PREFIX").unwrap_or_default();
    Ok(format!("s3://{bucket}/{}", prefix.trim_matches('/')))
}

/// Checks the redaction and retention settings, so a bad value stops the run at its start.
pub fn check_policy_env() -> Result<()> {
    crate::redact::Policy::from_env().map_err(Error::Config)?;
    crate::retention::RetentionPolicy::from_env()?;
    Ok(())
}
