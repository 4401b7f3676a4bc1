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
//! | `XRAY_ARCHIVE_HASH_KEY_SECRET_ARN` | in the Lambda: the Secrets Manager secret holding that key, read through the AWS Parameters and Secrets Lambda Extension | none |
//! | `XRAY_ARCHIVE_EMAILS` | `keep`, `drop` or `hash` email addresses | hash |
//! | `XRAY_ARCHIVE_CLIENT_IPS` | `keep`, `drop`, `hash` or `truncate24` client IPs | keep |
//! | `XRAY_ARCHIVE_STAGING_URL` | `s3://bucket/prefix/` (or a directory) where Firehose stages the `aws/spans` subscription; set, days are sealed from it and from X-Ray together | none: X-Ray alone |
//! | `XRAY_ARCHIVE_STAGING_LATE_HOURS` | hours after its trace's hour a staged span may arrive and still be archived with it | 2 |
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

/// Checks the redaction, retention and thread settings, so a bad value stops the run at its
/// start.
pub fn check_policy_env() -> Result<()> {
    crate::redact::Policy::from_env().map_err(Error::Config)?;
    crate::retention::RetentionPolicy::from_env()?;
    crate::archive::threads_from_env().map_err(Error::Config)?;
    Ok(())
}

/// The span staging source named by `url` (`XRAY_ARCHIVE_STAGING_URL` when `None`), with
/// `XRAY_ARCHIVE_STAGING_LATE_HOURS`; `None` when neither names one. Staging is read, never
/// written, so no Object Lock applies.
pub async fn staging_source(
    url: Option<&str>,
) -> Result<Option<crate::source::StagingSource<crate::store::AnyStore>>> {
    let Some(url) = url
        .map(str::to_owned)
        .or_else(|| var("XRAY_ARCHIVE_STAGING_URL"))
    else {
        return Ok(None);
    };
    let late = parse_var(
        "XRAY_ARCHIVE_STAGING_LATE_HOURS",
        crate::source::staging::DEFAULT_LATE_HOURS,
    )?;
    let options = S3Options {
        lock: None,
        ..S3Options::default()
    };
    let store = crate::store::AnyStore::open(&url, options).await?;
    Ok(Some(crate::source::StagingSource::new(store, late)))
}

/// The Secrets Manager secret holding the redaction hashing key, in the Lambda.
pub const HASH_KEY_SECRET_ENV: &str = "XRAY_ARCHIVE_HASH_KEY_SECRET_ARN";

/// The extension's port when `PARAMETERS_SECRETS_EXTENSION_HTTP_PORT` is not set (its
/// documented default).
const DEFAULT_EXTENSION_PORT: u16 = 2773;

/// The redaction hashing key named by `XRAY_ARCHIVE_HASH_KEY_SECRET_ARN`, read through the
/// AWS Parameters and Secrets Lambda Extension; `None` when the variable is not set.
///
/// The extension serves secrets on localhost and caches them, so the key costs one local
/// HTTP request per invocation and no Secrets Manager client in the binary (an SDK crate
/// more to build for one call at start).
pub async fn hash_key_from_secret() -> Result<Option<Vec<u8>>> {
    let Some(secret) = var(HASH_KEY_SECRET_ENV) else {
        return Ok(None);
    };
    let port = parse_var(
        "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT",
        DEFAULT_EXTENSION_PORT,
    )?;
    let token = var("AWS_SESSION_TOKEN").unwrap_or_default();
    let value = read_secret(port, &token, &secret).await?;
    Ok(Some(value.into_bytes()))
}

/// GET `/secretsmanager/get?secretId=...` from the extension on `port`: its `SecretString`.
async fn read_secret(port: u16, token: &str, secret: &str) -> Result<String> {
    let fail = |why: String| {
        Error::Config(format!(
            "cannot read the redaction hash key from {HASH_KEY_SECRET_ENV}={secret}: {why}. \
             The Lambda needs the AWS Parameters and Secrets Lambda Extension layer and \
             secretsmanager:GetSecretValue on the secret (infra/ sets both)"
        ))
    };
    let url = url::Url::parse_with_params(
        &format!("http://127.0.0.1:{port}/secretsmanager/get"),
        [("secretId", secret)],
    )
    .map_err(|e| fail(e.to_string()))?;
    let response = reqwest::Client::new()
        .get(url)
        .header("X-Aws-Parameters-Secrets-Token", token)
        .timeout(std::time::Duration::from_secs(10))
        .send()
        .await
        .map_err(|e| fail(format!("no answer from the extension on port {port}: {e}")))?;
    let status = response.status();
    let body = response.text().await.map_err(|e| fail(e.to_string()))?;
    if !status.is_success() {
        return Err(fail(format!(
            "the extension answered {}: {}",
            status.as_u16(),
            body.trim()
        )));
    }
    #[derive(serde::Deserialize)]
    struct Secret {
        #[serde(rename = "SecretString")]
        secret_string: Option<String>,
    }
    let parsed: Secret = serde_json::from_str(&body)
        .map_err(|e| fail(format!("the extension's answer is not a secret: {e}")))?;
    parsed
        .secret_string
        .filter(|s| !s.is_empty())
        .ok_or_else(|| fail("the secret has no SecretString".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// A stand-in for the extension: answers one request with `response`, returns the request.
    fn extension(response: &'static str) -> (u16, std::thread::JoinHandle<String>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let handle = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).unwrap();
            s.write_all(response.as_bytes()).unwrap();
            String::from_utf8_lossy(&buf[..n]).into_owned()
        });
        (port, handle)
    }

    #[tokio::test]
    async fn reads_the_key_through_the_extension() {
        let (port, request) = extension(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"Name\":\"k\",\"SecretString\":\"s3cr3t\"}",
        );
        let arn = "arn:aws:secretsmanager:eu-west-1:1:secret:hash-AbC";
        assert_eq!(read_secret(port, "tok", arn).await.unwrap(), "s3cr3t");
        let request = request.join().unwrap();
        assert!(
            request.starts_with("GET /secretsmanager/get?secretId=arn%3Aaws%3Asecretsmanager%3Aeu-west-1%3A1%3Asecret%3Ahash-AbC HTTP/1.1"),
            "{request}"
        );
        assert!(
            request
                .to_ascii_lowercase()
                .contains("x-aws-parameters-secrets-token: tok\r\n"),
            "{request}"
        );

        let (port, _) = extension(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n{\"SecretString\":\r\n6\r\n\"abc\"}\r\n0\r\n\r\n",
        );
        assert_eq!(read_secret(port, "tok", "s").await.unwrap(), "abc");
    }

    #[tokio::test]
    async fn says_what_to_do_when_the_extension_refuses() {
        let (port, _) = extension(
            "HTTP/1.1 400 Bad Request\r\nContent-Length: 14\r\nConnection: close\r\n\r\nnot authorized",
        );
        let e = read_secret(port, "tok", "arn:x")
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("400") && e.contains("secretsmanager:GetSecretValue"),
            "{e}"
        );
    }
}
