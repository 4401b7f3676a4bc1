//! The exporter Lambda: an EventBridge schedule invokes it every hour; it seals every day
//! that is due (oldest first, hour by hour, resuming where the last invocation stopped), and
//! stops cleanly before the invocation deadline. Configuration: [`exporter::config`].
//!
//! A manual invocation may pass `{"from": "YYYY-MM-DD", "to": "YYYY-MM-DD"}` to seal an
//! exact range of days, and `{"new_redaction_policy": true}` to export under a redaction
//! policy or hashing key other than the one the archive's manifests record (the change is
//! recorded in the next manifest). The hashing key comes from the Secrets Manager secret
//! named by `XRAY_ARCHIVE_HASH_KEY_SECRET_ARN` ([`exporter::config::hash_key_from_secret`]).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chrono::{NaiveDate, Utc};
use exporter::config::{archive_url_from_env, parse_var, s3_options_from_env};
use exporter::seal::{DEFAULT_SEAL_AFTER_DAYS, SealOptions, emf_line, seal_days, status};
use exporter::source::staging::ExportSource;
use exporter::{AnyStore, Error, S3Store, XRaySource};
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::{Value, json};

/// Time kept back from the invocation deadline to record progress and log.
const DEADLINE_MARGIN: Duration = Duration::from_secs(20);

/// A failed invocation, typed so that alarms and retries can tell the two kinds apart.
#[derive(Debug)]
struct Failure(Error);

impl From<Failure> for Diagnostic {
    fn from(f: Failure) -> Self {
        let kind = if f.0.is_retriable() {
            "XrayArchive.Retryable"
        } else {
            "XrayArchive.NonRetryable"
        };
        Diagnostic {
            error_type: kind.into(),
            error_message: f.0.to_string(),
        }
    }
}

fn main() -> Result<(), lambda_runtime::Error> {
    // Before the runtime's threads start.
    exporter::allocator::bound_resident_memory();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(serve())
}

async fn serve() -> Result<(), lambda_runtime::Error> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_current_span(false)
        .without_time()
        .init();
    lambda_runtime::run(service_fn(handle)).await
}

async fn handle(event: LambdaEvent<Value>) -> Result<Value, Failure> {
    let deadline_ms = event.context.deadline;
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let remaining = Duration::from_millis(deadline_ms.saturating_sub(now_ms));
    let deadline = Instant::now() + remaining.saturating_sub(DEADLINE_MARGIN);
    run(&event.payload, deadline).await.map_err(|e| {
        tracing::error!(error = %e, retriable = e.is_retriable(), "export failed");
        Failure(e)
    })
}

async fn run(payload: &Value, deadline: Instant) -> Result<Value, Error> {
    let xray = XRaySource::from_env(parse_var("XRAY_ARCHIVE_CONCURRENCY", 4usize)?).await;
    let store = async {
        S3Store::new(
            S3Store::client_from_env().await,
            &archive_url_from_env()?,
            s3_options_from_env()?,
        )
    }
    .await;
    // The metrics line is printed on every run, failed ones too (a bad setting included), so
    // the alarms see every run.
    let store = match store {
        Ok(store) => store,
        Err(e) => {
            println!("{}", emf_line(None, None, 0, Utc::now()));
            return Err(e);
        }
    };
    let result = async {
        let staging = exporter::config::staging_source(None).await?;
        let (source, destination) = ExportSource::choose(xray.clone(), staging).await?;
        let report = seal(payload, deadline, &source, &store).await?;
        Ok::<_, Error>((report, source, destination))
    }
    .await;
    let throttles = xray.pace_stats().throttles;
    match &result {
        Ok((report, ..)) => println!("{}", emf_line(Some(report), None, throttles, Utc::now())),
        Err(_) => {
            let s = status(&store, Utc::now()).await.ok();
            println!("{}", emf_line(None, s.as_ref(), throttles, Utc::now()));
        }
    }
    let (report, source, destination) = result?;
    Ok(json!({
        "export": report,
        "destination": format!("{destination:?}"),
        "api_calls": xray.api_calls(),
        "staging": source.staging().map(|s| s.stats()),
    }))
}

/// Checks the event and settings, then seals what is due.
async fn seal(
    payload: &Value,
    deadline: Instant,
    source: &ExportSource<AnyStore>,
    store: &S3Store,
) -> Result<exporter::seal::RunReport, Error> {
    let day = |field: &str| -> Result<Option<NaiveDate>, Error> {
        payload
            .get(field)
            .and_then(Value::as_str)
            .map(|s| {
                s.parse().map_err(|e| {
                    Error::Config(format!("event field {field}={s:?} is not YYYY-MM-DD: {e}"))
                })
            })
            .transpose()
    };
    let mut options = SealOptions {
        seal_after_days: parse_var("XRAY_ARCHIVE_SEAL_AFTER_DAYS", DEFAULT_SEAL_AFTER_DAYS)?,
        from: day("from")?,
        to: day("to")?,
        deadline: Some(deadline),
        writer: exporter::WriterConfig {
            new_redaction_policy: payload
                .get("new_redaction_policy")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            ..exporter::WriterConfig::default()
        },
        ..SealOptions::default()
    };
    // The key the CLI gets as XRAY_ARCHIVE_HASH_KEY, here from Secrets Manager.
    if options.writer.redaction.key.is_none() {
        options.writer.redaction.key = exporter::config::hash_key_from_secret().await?;
    }
    exporter::config::check_policy_env()?;
    seal_days(source, store, &options, Utc::now(), &mut |_| {}).await
}
