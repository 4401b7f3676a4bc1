//! Retries and pacing for AWS calls: one decision point for what is retriable, an adaptive
//! rate that backs off on throttling, and jittered exponential backoff.
//!
//! The SDK clients are built with their own retries off, so every attempt passes through
//! [`Pacer::call`] and every throttle is counted (the `Throttles` metric). The SDK's
//! adaptive retry mode does not expose those counts, which is why this small layer exists.

use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_smithy_types::error::metadata::ErrorMetadata;
use rand::Rng;
use tracing::{debug, warn};

use crate::error::Error;

/// The raw HTTP response type carried by SDK errors.
pub type HttpResponse = aws_sdk_s3::config::http::HttpResponse;

/// How a failed call should be treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The service asked us to slow down: retry later, and lower the rate.
    Throttled,
    /// A network error, a timeout or a 5xx: retry.
    Transient,
    /// Anything else (access denied, bad request, missing object): do not retry.
    Fatal,
}

/// Error codes that mean "slow down", across X-Ray, S3 and Athena (`ThrottlingException`
/// for its API rate, `TooManyRequestsException` for its concurrent-query quota).
const THROTTLE_CODES: &[&str] = &[
    "ThrottledException",
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "SlowDown",
];

/// Codes that are transient whatever their status.
const TRANSIENT_CODES: &[&str] = &["RequestTimeout", "InternalError", "InternalFailure"];

/// Classifies an SDK error. With [`is_retriable`] this is the one place that decides.
pub fn classify<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> Failure {
    let status = err.raw_response().map(|r| r.status().as_u16());
    match err {
        SdkError::TimeoutError(_) | SdkError::ResponseError(_) => Failure::Transient,
        SdkError::DispatchFailure(d) if d.is_io() || d.is_timeout() || d.is_other() => {
            Failure::Transient
        }
        SdkError::ServiceError(_) => {
            let code = err.code().unwrap_or_default();
            if THROTTLE_CODES.contains(&code) || status == Some(429) {
                Failure::Throttled
            } else if TRANSIENT_CODES.contains(&code) || status.is_some_and(|s| s >= 500) {
                Failure::Transient
            } else {
                Failure::Fatal
            }
        }
        _ => Failure::Fatal,
    }
}

/// Whether a failure may succeed on a later attempt.
pub fn is_retriable(failure: Failure) -> bool {
    failure != Failure::Fatal
}

/// Turns a final SDK error into the exporter's error, keeping the code and the retry verdict.
pub fn aws_error<E>(
    service: &'static str,
    operation: &'static str,
    target: impl Into<String>,
    err: &SdkError<E, HttpResponse>,
) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let meta: Option<&ErrorMetadata> = err.as_service_error().map(|e| e.meta());
    Error::Aws {
        service,
        operation,
        target: target.into(),
        code: meta.and_then(|m| m.code()).map(str::to_owned),
        message: DisplayErrorContext(err).to_string(),
        retriable: is_retriable(classify(err)),
    }
}

/// Rate and retry settings of one service's calls.
#[derive(Debug, Clone, Copy)]
pub struct PaceConfig {
    /// Calls per second to start at.
    pub initial_rps: f64,
    /// The rate never drops below this.
    pub min_rps: f64,
    /// Nor rises above this.
    pub max_rps: f64,
    /// Attempts per call, the first included.
    pub max_attempts: u32,
    /// First backoff; doubles per attempt, with full jitter.
    pub base_backoff: Duration,
    /// Longest backoff.
    pub max_backoff: Duration,
}

impl PaceConfig {
    /// X-Ray's read APIs allow about 5 calls a second per account and region; the rate
    /// starts there and adapts.
    pub const XRAY: PaceConfig = PaceConfig {
        initial_rps: 5.0,
        min_rps: 1.0,
        max_rps: 25.0,
        max_attempts: 12,
        base_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_secs(10),
    };
    /// S3 takes thousands of writes a second per prefix, far more than an export sends;
    /// a `SlowDown` is met mostly by the jittered backoff, and the rate floor stays high.
    pub const S3: PaceConfig = PaceConfig {
        initial_rps: 200.0,
        min_rps: 50.0,
        max_rps: 1000.0,
        max_attempts: 12,
        base_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_secs(10),
    };
    /// Athena's per-account API quotas (the "Per account API call quotas" table of Athena's
    /// Service Quotas page): StartQueryExecution 20 calls a second (burst 80),
    /// GetQueryExecution and GetQueryResults 100 (burst 200), CreateNamedQuery 5 (burst
    /// 20). One pacer carries all of a client's Athena calls, so its ceiling is the
    /// StartQueryExecution rate; it starts at half of that because the quota is shared
    /// with every other Athena client of the account (BI tools, the console). A register
    /// run's eight CreateNamedQuery calls fit in that call's burst. Polls wait between
    /// themselves anyway (200 ms doubling to 5 s), so pacing costs a query nothing.
    pub const ATHENA: PaceConfig = PaceConfig {
        initial_rps: 10.0,
        min_rps: 1.0,
        max_rps: 20.0,
        max_attempts: 10,
        base_backoff: Duration::from_millis(200),
        max_backoff: Duration::from_secs(10),
    };
}

/// Counts of what a pacer saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PaceStats {
    /// Attempts sent.
    pub attempts: u64,
    /// Attempts answered with a throttle.
    pub throttles: u64,
    /// Attempts that failed transiently (5xx, network).
    pub transient: u64,
}

/// Paces and retries the calls to one service.
#[derive(Debug)]
pub struct Pacer {
    config: PaceConfig,
    state: Mutex<(f64, Instant)>,
    attempts: AtomicU64,
    throttles: AtomicU64,
    transient: AtomicU64,
}

impl Pacer {
    /// A pacer with `config`.
    pub fn new(config: PaceConfig) -> Self {
        Self {
            config,
            state: Mutex::new((config.initial_rps, Instant::now())),
            attempts: AtomicU64::new(0),
            throttles: AtomicU64::new(0),
            transient: AtomicU64::new(0),
        }
    }

    /// What this pacer has seen so far.
    pub fn stats(&self) -> PaceStats {
        PaceStats {
            attempts: self.attempts.load(Ordering::Relaxed),
            throttles: self.throttles.load(Ordering::Relaxed),
            transient: self.transient.load(Ordering::Relaxed),
        }
    }

    /// The current rate, in calls per second.
    pub fn rate(&self) -> f64 {
        self.state.lock().expect("pacer lock").0
    }

    /// Waits for the next slot at the current rate.
    async fn wait_turn(&self) {
        let wait = {
            let mut s = self.state.lock().expect("pacer lock");
            let now = Instant::now();
            let at = s.1.max(now);
            s.1 = at + Duration::from_secs_f64(1.0 / s.0);
            at - now
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    fn adjust(&self, throttled: bool) {
        let mut s = self.state.lock().expect("pacer lock");
        s.0 = if throttled {
            (s.0 * 0.5).max(self.config.min_rps)
        } else {
            (s.0 + 0.25).min(self.config.max_rps)
        };
    }

    /// Runs `call` until it succeeds, fails for good, or runs out of attempts; returns the
    /// last error as the SDK gave it, so the caller can still look at its code.
    pub async fn call<T, E, F, Fut>(
        &self,
        operation: &'static str,
        mut call: F,
    ) -> Result<T, SdkError<E, HttpResponse>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let mut attempt = 0;
        loop {
            self.wait_turn().await;
            self.attempts.fetch_add(1, Ordering::Relaxed);
            let err = match call().await {
                Ok(v) => {
                    self.adjust(false);
                    return Ok(v);
                }
                Err(err) => err,
            };
            let failure = classify(&err);
            match failure {
                Failure::Throttled => {
                    self.throttles.fetch_add(1, Ordering::Relaxed);
                    self.adjust(true);
                }
                Failure::Transient => {
                    self.transient.fetch_add(1, Ordering::Relaxed);
                }
                Failure::Fatal => {}
            }
            attempt += 1;
            if !is_retriable(failure) || attempt >= self.config.max_attempts {
                if is_retriable(failure) {
                    warn!(operation, attempts = attempt, "giving up after retries");
                }
                return Err(err);
            }
            let delay = self.backoff(attempt);
            debug!(operation, ?failure, attempt, ?delay, "retrying");
            tokio::time::sleep(delay).await;
        }
    }

    /// Full-jitter exponential backoff for the `attempt`th retry.
    fn backoff(&self, attempt: u32) -> Duration {
        let cap = self
            .config
            .base_backoff
            .saturating_mul(1 << attempt.min(16))
            .min(self.config.max_backoff);
        cap.mul_f64(rand::rng().random::<f64>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn throttles_halve_the_rate_and_successes_raise_it() {
        let pacer = Pacer::new(PaceConfig::XRAY);
        pacer.adjust(true);
        assert_eq!(pacer.rate(), 2.5);
        for _ in 0..200 {
            pacer.adjust(true);
        }
        assert_eq!(pacer.rate(), PaceConfig::XRAY.min_rps);
        for _ in 0..1000 {
            pacer.adjust(false);
        }
        assert_eq!(pacer.rate(), PaceConfig::XRAY.max_rps);
    }

    #[test]
    fn backoff_is_capped() {
        let pacer = Pacer::new(PaceConfig::XRAY);
        for attempt in 0..40 {
            assert!(pacer.backoff(attempt) <= PaceConfig::XRAY.max_backoff);
        }
    }
}
