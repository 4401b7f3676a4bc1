//! The X-Ray API as a trace source, through `aws-sdk-xray`.
//!
//! - `GetTraceSegmentDestination` first: with CloudWatch Transaction Search on, the API
//!   below sees nothing, and the export stops with an error that says so.
//! - `GetTraceSummaries` lists a window's trace ids (`Sampling=false`, every page).
//! - `BatchGetTraces` fetches them five at a time, a few calls in flight, paging each call
//!   and asking again for `UnprocessedTraceIds`.
//!
//! Every call goes through one [`Pacer`]: an adaptive rate with jittered backoff.

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_xray::Client;
use aws_sdk_xray::error::ProvideErrorMetadata;
use aws_sdk_xray::primitives::DateTime;
use aws_sdk_xray::types::{TimeRangeType, TraceSegmentDestination};
use chrono::{DateTime as ChronoTime, Utc};
use serde::Serialize;
use tokio::sync::Mutex;
use tracing::{debug, warn};

use super::{Fetched, SourceContent, SourceItem};
use crate::error::{Error, Result};
use crate::retry::{PaceConfig, PaceStats, Pacer, aws_error};

/// Trace ids per `BatchGetTraces` call: the API's maximum.
pub const IDS_PER_CALL: usize = 5;

/// Rounds of asking again for `UnprocessedTraceIds` before a window fails (and is retried
/// whole on the next run).
const UNPROCESSED_ROUNDS: usize = 20;

/// Trace-id chunks waiting for a `BatchGetTraces` call, with how often each was asked.
/// What one fetch worker received: documents, and the ids of traces that had any.
#[derive(Default)]
struct Answered {
    items: Vec<SourceItem>,
    returned: Vec<String>,
}

type FetchQueue = Arc<Mutex<VecDeque<(Vec<String>, usize)>>>;

/// What `GetTraceSegmentDestination` said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// Segments are indexed in X-Ray: the API can see them.
    XRay,
    /// CloudWatch Transaction Search is on: spans go to the `aws/spans` log group, and the
    /// API sees only the indexed share of them.
    CloudWatchLogs,
    /// The call is not available (an emulator, or no permission): assumed X-Ray, with a
    /// warning.
    Unknown(String),
}

/// How a window's time range is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum RangeType {
    /// By the time in the trace id: each trace belongs to exactly one window.
    TraceId,
    /// By the time segments were received: finds traces updated within the range.
    Event,
}

/// API calls made, by operation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ApiCalls {
    /// `GetTraceSummaries` pages read.
    pub get_trace_summaries: u64,
    /// `BatchGetTraces` pages read.
    pub batch_get_traces: u64,
}

/// The X-Ray API.
#[derive(Debug, Clone)]
pub struct XRaySource {
    client: Client,
    pacer: Arc<Pacer>,
    concurrency: usize,
    summaries: Arc<AtomicU64>,
    batches: Arc<AtomicU64>,
}

impl XRaySource {
    /// A source through `client`, with at most `concurrency` `BatchGetTraces` calls in
    /// flight.
    pub fn new(client: Client, concurrency: usize) -> Self {
        Self {
            client,
            pacer: Arc::new(Pacer::new(PaceConfig::XRAY)),
            concurrency: concurrency.max(1),
            summaries: Arc::default(),
            batches: Arc::default(),
        }
    }

    /// A source from the standard AWS configuration (`AWS_ENDPOINT_URL_XRAY` included).
    pub async fn from_env(concurrency: usize) -> Self {
        let conf = crate::aws::sdk_config().await;
        Self::new(Client::new(&conf), concurrency)
    }

    /// Calls made so far.
    pub fn api_calls(&self) -> ApiCalls {
        ApiCalls {
            get_trace_summaries: self.summaries.load(Ordering::Relaxed),
            batch_get_traces: self.batches.load(Ordering::Relaxed),
        }
    }

    /// Attempts, throttles and transient failures so far.
    pub fn pace_stats(&self) -> PaceStats {
        self.pacer.stats()
    }

    /// Asks where X-Ray sends segments. An unavailable call is `Unknown`, never taken for
    /// CloudWatch Logs.
    pub async fn check_destination(&self) -> Result<Destination> {
        let out = self
            .pacer
            .call("GetTraceSegmentDestination", || {
                self.client.get_trace_segment_destination().send()
            })
            .await;
        match out {
            Ok(out) => match out.destination() {
                Some(TraceSegmentDestination::CloudWatchLogs) => Ok(Destination::CloudWatchLogs),
                Some(TraceSegmentDestination::XRay) | None => Ok(Destination::XRay),
                Some(other) => Ok(Destination::Unknown(format!(
                    "unrecognised destination {other:?}"
                ))),
            },
            Err(e) => {
                let status = e.raw_response().map(|r| r.status().as_u16());
                let why = match (e.code(), status) {
                    (Some(code), _) => code.to_owned(),
                    (None, Some(s)) => format!("HTTP {s}"),
                    (None, None) => {
                        aws_error("X-Ray", "GetTraceSegmentDestination", "", &e).to_string()
                    }
                };
                warn!(
                    reason = %why,
                    "cannot tell where X-Ray sends segments (GetTraceSegmentDestination \
                     unavailable); assuming X-Ray. If CloudWatch Transaction Search is on, \
                     nothing will be found"
                );
                Ok(Destination::Unknown(why))
            }
        }
    }

    /// Lists the ids of traces in `[start, end)`, every page, sorted and distinct.
    pub async fn list(
        &self,
        start: ChronoTime<Utc>,
        end: ChronoTime<Utc>,
        range: RangeType,
    ) -> Result<Vec<String>> {
        let mut ids = BTreeSet::new();
        let mut token: Option<String> = None;
        let range_type = match range {
            RangeType::TraceId => TimeRangeType::TraceId,
            RangeType::Event => TimeRangeType::Event,
        };
        let window = format!("{} to {}", start.to_rfc3339(), end.to_rfc3339());
        loop {
            let page = self
                .pacer
                .call("GetTraceSummaries", || {
                    self.client
                        .get_trace_summaries()
                        .start_time(to_smithy(start))
                        .end_time(to_smithy(end))
                        .time_range_type(range_type.clone())
                        .sampling(false)
                        .set_next_token(token.clone())
                        .send()
                })
                .await
                .map_err(|e| aws_error("X-Ray", "GetTraceSummaries", &window, &e))?;
            self.summaries.fetch_add(1, Ordering::Relaxed);
            for s in page.trace_summaries() {
                if let Some(id) = s.id() {
                    ids.insert(id.to_owned());
                }
            }
            token = page.next_token().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        debug!(%window, traces = ids.len(), "listed");
        Ok(ids.into_iter().collect())
    }

    /// Fetches every segment document of `ids`. Documents come back as source items (in no
    /// particular order; the archive writer sorts them).
    pub async fn fetch(&self, ids: &[String]) -> Result<Fetched> {
        let queue: FetchQueue = Arc::new(Mutex::new(
            ids.chunks(IDS_PER_CALL).map(|c| (c.to_vec(), 0)).collect(),
        ));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..self.concurrency.min(ids.len().div_ceil(IDS_PER_CALL)) {
            let this = self.clone();
            let queue = queue.clone();
            tasks.spawn(async move { this.fetch_worker(queue).await });
        }
        let mut items = Vec::new();
        let mut returned = Vec::new();
        let mut failure = None;
        while let Some(done) = tasks.join_next().await {
            match done.expect("fetch worker panicked") {
                Ok(mut got) => {
                    items.append(&mut got.items);
                    returned.append(&mut got.returned);
                }
                Err(e) => {
                    failure.get_or_insert(e);
                    queue.lock().await.clear();
                }
            }
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(Fetched::of(ids, items, returned.iter().map(String::as_str))),
        }
    }

    async fn fetch_worker(&self, queue: FetchQueue) -> Result<Answered> {
        let mut answered = Answered::default();
        loop {
            let Some((ids, round)) = queue.lock().await.pop_front() else {
                return Ok(answered);
            };
            let unprocessed = self.fetch_call(&ids, &mut answered).await?;
            if !unprocessed.is_empty() {
                if round + 1 >= UNPROCESSED_ROUNDS {
                    return Err(Error::Aws {
                        service: "X-Ray",
                        operation: "BatchGetTraces",
                        target: unprocessed.join(", "),
                        code: None,
                        message: format!(
                            "still unprocessed after {UNPROCESSED_ROUNDS} rounds; the window \
                             was not committed and is retried on the next run"
                        ),
                        retriable: true,
                    });
                }
                debug!(
                    count = unprocessed.len(),
                    round, "unprocessed trace ids, asking again"
                );
                queue.lock().await.push_back((unprocessed, round + 1));
            }
        }
    }

    /// One `BatchGetTraces` call with all its pages; returns the unprocessed ids.
    async fn fetch_call(&self, ids: &[String], answered: &mut Answered) -> Result<Vec<String>> {
        let mut token: Option<String> = None;
        let mut unprocessed = Vec::new();
        loop {
            let page = self
                .pacer
                .call("BatchGetTraces", || {
                    self.client
                        .batch_get_traces()
                        .set_trace_ids(Some(ids.to_vec()))
                        .set_next_token(token.clone())
                        .send()
                })
                .await
                .map_err(|e| aws_error("X-Ray", "BatchGetTraces", ids.join(", "), &e))?;
            self.batches.fetch_add(1, Ordering::Relaxed);
            for trace in page.traces() {
                let trace_id = trace.id().unwrap_or_default();
                if !trace.segments().is_empty() {
                    answered.returned.push(trace_id.to_owned());
                }
                for (i, seg) in trace.segments().iter().enumerate() {
                    let location = format!(
                        "trace {trace_id} segment {}",
                        seg.id().map_or_else(|| i.to_string(), str::to_owned)
                    );
                    let item = match seg.document() {
                        Some(text) => SourceContent::Document {
                            text: text.to_owned(),
                            limit_exceeded: trace.limit_exceeded(),
                        },
                        None => SourceContent::Rejected {
                            bytes: Vec::new(),
                            reason: "X-Ray returned a segment without a document".into(),
                        },
                    };
                    answered.items.push(SourceItem {
                        item,
                        source: "xray".into(),
                        location,
                    });
                }
            }
            unprocessed.extend(page.unprocessed_trace_ids().iter().cloned());
            token = page.next_token().map(str::to_owned);
            if token.is_none() {
                return Ok(unprocessed);
            }
        }
    }
}

fn to_smithy(t: ChronoTime<Utc>) -> DateTime {
    DateTime::from_millis(t.timestamp_millis())
}

impl super::TraceSource for XRaySource {
    fn name(&self) -> &'static str {
        "xray"
    }

    async fn list(&self, start: ChronoTime<Utc>, end: ChronoTime<Utc>) -> Result<Vec<String>> {
        XRaySource::list(self, start, end, RangeType::TraceId).await
    }

    async fn fetch(&self, ids: &[String]) -> Result<Fetched> {
        XRaySource::fetch(self, ids).await
    }
}
