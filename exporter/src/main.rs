//! The nightly export Lambda: an EventBridge schedule invokes it; it exports every window
//! from the checkpoint up to now minus the settle period, then re-sweeps for late segments,
//! and stops cleanly before the invocation deadline. Configuration: [`exporter::config`].
//!
//! A manual invocation may pass `{"from": "<RFC 3339>", "to": "<RFC 3339>"}` to export an
//! exact range, or `{"resweep": true}` to re-sweep only.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use exporter::config::{
    archive_url_from_env, minutes_var, parse_var, s3_options_from_env, window_from_env,
};
use exporter::xray_export::{Outcome, XRayExportOptions, emf_line, export_xray};
use exporter::{Error, S3Store, XRaySource};
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::{Value, json};

/// Time kept back from the invocation deadline to record the checkpoint and log.
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

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
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
    let time = |field: &str| -> Result<Option<DateTime<Utc>>, Error> {
        payload
            .get(field)
            .and_then(Value::as_str)
            .map(|s| {
                s.parse().map_err(|e| {
                    Error::Config(format!("event field {field}={s:?} is not RFC 3339: {e}"))
                })
            })
            .transpose()
    };
    let mut options = XRayExportOptions {
        window: window_from_env()?,
        settle: minutes_var("XRAY_ARCHIVE_SETTLE_MINUTES", 60)?,
        from: time("from")?,
        to: time("to")?,
        resweep: payload.get("resweep").and_then(Value::as_bool) == Some(true),
        deadline: Some(deadline),
        ..XRayExportOptions::default()
    };
    let resweep_after = parse_var("XRAY_ARCHIVE_RESWEEP", true)? && !options.resweep;
    exporter::config::check_policy_env()?;
    let source = XRaySource::from_env(parse_var("XRAY_ARCHIVE_CONCURRENCY", 4usize)?).await;
    let store = S3Store::new(
        S3Store::client_from_env().await,
        &archive_url_from_env()?,
        s3_options_from_env()?,
    )?;
    let report = export_xray(&source, &store, &options, Utc::now(), &mut |_, _, _| {}).await?;
    println!("{}", emf_line(&report, Utc::now()));
    let mut out = json!({ "export": report });
    if resweep_after && report.outcome == Outcome::Complete {
        options.resweep = true;
        options.from = None;
        options.to = None;
        let sweep = export_xray(&source, &store, &options, Utc::now(), &mut |_, _, _| {}).await?;
        out["resweep"] = serde_json::to_value(&sweep).expect("report serializes");
    }
    Ok(out)
}
