//! Sealing days: each UTC day is archived once, when it can no longer change.
//!
//! X-Ray accepts segments for a trace for 7 days and deletes it after 30. So a day (in
//! trace-id time) is final 7 days after it ends; the exporter seals it once, by default 8
//! days after its end ([`DEFAULT_SEAL_AFTER_DAYS`]), oldest day first. X-Ray serves the last
//! 30 days itself, and the archive takes over from day 8, with 22 days of margin. No part is
//! ever rewritten for a late segment, because there are none after the seal.
//!
//! A day is sealed hour by hour, across as many invocations as it takes: each finished
//! hour's documents wait under `_state/staging/` and the hour is recorded in
//! `_state/progress.json`, so no finished hour is fetched again. When all 24 are in, the
//! day's parts are written (streaming, hour after hour, in trace order), then its manifest
//! commits them, then the staging objects go.
//!
//! A day X-Ray no longer holds whole when it is sealed (its start more than 30 days ago) is
//! sealed as `expired`, with the number of traces X-Ray still returned: `status` and
//! `verify` report it as a loss. Nothing is committed as an empty day silently.

use std::time::Instant;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rayon::prelude::*;
use serde::Serialize;
use tracing::{error, info, warn};

use schema::v1::{ArchivedSegment, staging_key};

use crate::archive::{ArchiveWriter, DayParts, WriterConfig};
use crate::error::{Error, Result};
use crate::ledger::{
    Chain, DayProgress, DayStatus, HourRecord, Manifest, ManifestKind, ManifestLink, RunRecord,
    Tracked, UNRETURNED_SAMPLE, commit, read_chain,
};
use crate::parquet_io::{StagedRef, encode_staging, staged_batches};
use crate::source::TraceSource;
use crate::store::{ArchiveStore, get};

/// How long X-Ray keeps a trace.
pub const XRAY_RETENTION_DAYS: i64 = 30;

/// How long X-Ray accepts new segments for a trace.
pub const LATE_SEGMENT_DAYS: i64 = 7;

/// A day is sealed this many days after it ends: X-Ray's 7 days of late segments plus one
/// of margin, leaving 22 days before X-Ray deletes it.
pub const DEFAULT_SEAL_AFTER_DAYS: u32 = 8;

/// Below this many days before X-Ray deletes the oldest unsealed day, runs warn and
/// `status` exits 2.
pub const EXPIRY_WARNING_DAYS: f64 = 7.0;

/// What to seal and how.
#[derive(Debug, Clone)]
pub struct SealOptions {
    /// Days a day waits after its end before it is sealed (0 in tests: seal at once).
    pub seal_after_days: u32,
    /// First day to seal; default: the day after the last sealed one, or on a first run
    /// the oldest day X-Ray still holds whole.
    pub from: Option<NaiveDate>,
    /// Last day to seal (inclusive); default: the last sealable day.
    pub to: Option<NaiveDate>,
    /// Stop cleanly before this instant (the Lambda invocation deadline); the next run
    /// resumes at the first unfinished hour.
    pub deadline: Option<Instant>,
    /// How long the lease lasts without renewal; each finished hour renews it.
    pub lease: Duration,
    /// Buffering and policies of the archive writer.
    pub writer: WriterConfig,
}

impl Default for SealOptions {
    fn default() -> Self {
        Self {
            seal_after_days: DEFAULT_SEAL_AFTER_DAYS,
            from: None,
            to: None,
            deadline: None,
            lease: Duration::minutes(15),
            writer: WriterConfig::default(),
        }
    }
}

/// One sealed day.
#[derive(Debug, Clone, Serialize)]
pub struct DayReport {
    /// The day.
    pub day: NaiveDate,
    /// `sealed` or `expired`.
    pub status: DayStatus,
    /// Trace ids the source listed.
    pub source_traces: u64,
    /// Listed trace ids the source returned no document for: lost.
    pub unreturned_traces: u64,
    /// Traces archived.
    pub traces: u64,
    /// Segment documents archived.
    pub segments: u64,
    /// Inputs quarantined.
    pub quarantined: u64,
    /// Objects written.
    pub objects: u64,
    /// Bytes written.
    pub bytes: u64,
    /// The manifest that commits it, and its SHA-256: the new chain head.
    pub manifest: ManifestLink,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every sealable day is sealed.
    Complete,
    /// Stopped before the invocation deadline; the next run continues.
    Deadline,
}

/// What a run did.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// How it ended.
    pub outcome: Outcome,
    /// The source (`xray`).
    pub source: String,
    /// Days due when the run started.
    pub days_planned: u64,
    /// Days sealed by this run.
    pub days: Vec<DayReport>,
    /// Hours fetched by this run (of days sealed now or later).
    pub hours_fetched: u64,
    /// Traces archived.
    pub traces: u64,
    /// Segment documents archived.
    pub segments: u64,
    /// Inputs quarantined.
    pub quarantined: u64,
    /// The status after the run.
    pub status: Status,
}

/// Where an archive stands, as `status` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// Where the archive is.
    pub archive: String,
    /// Days sealed.
    pub sealed_days: u64,
    /// The first and last sealed day.
    pub first_sealed: Option<NaiveDate>,
    /// The last sealed day.
    pub last_sealed: Option<NaiveDate>,
    /// The oldest day not yet sealed (the day after the last sealed one).
    pub oldest_unsealed: Option<NaiveDate>,
    /// Hours between the end of the last sealed day and now (at least the seal delay).
    pub lag_hours: Option<f64>,
    /// Days until X-Ray starts deleting the oldest unsealed day (negative: it has).
    pub days_until_expiry: Option<f64>,
    /// Hours of the oldest unsealed day fetched so far.
    pub hours_staged: u64,
    /// Days sealed after X-Ray had begun deleting them: traces lost.
    pub expired_days: Vec<NaiveDate>,
    /// Days between the first and last sealed day that no manifest seals.
    pub missing_days: Vec<NaiveDate>,
    /// Sealed days whose listed traces the source did not all return, with how many it
    /// did not: traces lost.
    pub unreturned_traces: std::collections::BTreeMap<NaiveDate, u64>,
    /// Manifests committed.
    pub manifests: u64,
    /// The chain head: the last manifest and its SHA-256.
    pub head: Option<ManifestLink>,
    /// The last run.
    pub last_run: Option<RunRecord>,
}

impl Status {
    /// The status of a chain and progress record at `now`.
    pub fn of(archive: String, chain: &Chain, progress: &Tracked, now: DateTime<Utc>) -> Self {
        let sealed = chain.sealed_days();
        let first = sealed.keys().next().copied();
        let last = sealed.keys().next_back().copied();
        let missing = match (first, last) {
            (Some(f), Some(l)) => f
                .iter_days()
                .take_while(|d| *d <= l)
                .filter(|d| !sealed.contains_key(d))
                .collect(),
            _ => Vec::new(),
        };
        let oldest_unsealed = last
            .and_then(|d| d.succ_opt())
            .or_else(|| progress.progress.sealing.as_ref().map(|s| s.day));
        let days_until_expiry = oldest_unsealed.map(|d| {
            let start = d.and_hms_opt(0, 0, 0).expect("midnight").and_utc();
            (start + Duration::days(XRAY_RETENTION_DAYS) - now).num_seconds() as f64 / 86_400.0
        });
        let hours_staged = progress
            .progress
            .sealing
            .as_ref()
            .filter(|s| Some(s.day) == oldest_unsealed)
            .map_or(0, |s| s.hours.len() as u64);
        Self {
            archive,
            sealed_days: sealed.len() as u64,
            first_sealed: first,
            last_sealed: last,
            oldest_unsealed,
            lag_hours: oldest_unsealed.map(|d| (now - day_start(d)).num_seconds() as f64 / 3600.0),
            days_until_expiry,
            hours_staged,
            expired_days: sealed
                .iter()
                .filter(|(_, s)| **s == DayStatus::Expired)
                .map(|(d, _)| *d)
                .collect(),
            missing_days: missing,
            unreturned_traces: chain
                .manifests
                .iter()
                .filter(|(_, m, _)| m.unreturned_traces > 0)
                .filter_map(|(_, m, _)| Some((m.day?, m.unreturned_traces)))
                .collect(),
            manifests: chain.manifests.len() as u64,
            head: chain.head().1,
            last_run: progress.progress.last_run.clone(),
        }
    }

    /// True when something was lost or is about to be: an expired or missing day, traces
    /// listed but never returned, or fewer than [`EXPIRY_WARNING_DAYS`] before X-Ray
    /// deletes the oldest unsealed day.
    pub fn is_alarming(&self) -> bool {
        !self.expired_days.is_empty()
            || !self.missing_days.is_empty()
            || !self.unreturned_traces.is_empty()
            || self
                .days_until_expiry
                .is_some_and(|d| d < EXPIRY_WARNING_DAYS)
    }
}

/// Reads the archive's status.
pub async fn status(store: &impl ArchiveStore, now: DateTime<Utc>) -> Result<Status> {
    let chain = read_chain(store).await?;
    let progress = Tracked::read(store).await?;
    Ok(Status::of(store.location(), &chain, &progress, now))
}

/// The oldest day X-Ray still holds whole at `now`.
pub fn oldest_whole_day(now: DateTime<Utc>) -> NaiveDate {
    (now - Duration::days(XRAY_RETENTION_DAYS)).date_naive() + chrono::Days::new(1)
}

/// The last day that may be sealed at `now`: it ended `seal_after_days` ago.
pub fn last_sealable_day(now: DateTime<Utc>, seal_after_days: u32) -> NaiveDate {
    (now - Duration::days(i64::from(seal_after_days))).date_naive() - chrono::Days::new(1)
}

/// Seals every due day from `source` into `store`, oldest first. See the module docs.
pub async fn seal_days<T: TraceSource, S: ArchiveStore>(
    source: &T,
    store: &S,
    options: &SealOptions,
    now: DateTime<Utc>,
    progress_cb: &mut dyn FnMut(&str),
) -> Result<RunReport> {
    let started_at = Utc::now();
    let mut tracked = Tracked::read(store).await?;
    tracked.take_lease(store, options.lease).await?;
    let mut chain = read_chain(store).await?;
    if let Err(e) = crate::ledger::check_redaction_policy(&chain, &options.writer) {
        tracked.release_unused(store).await?;
        return Err(e);
    }
    let mut report = RunReport {
        outcome: Outcome::Complete,
        source: source.name().into(),
        days_planned: 0,
        days: Vec::new(),
        hours_fetched: 0,
        traces: 0,
        segments: 0,
        quarantined: 0,
        status: Status::of(store.location(), &chain, &tracked, now),
    };
    let result = seal_due(
        source,
        store,
        options,
        now,
        &mut tracked,
        &mut chain,
        &mut report,
        progress_cb,
    )
    .await;
    let run = RunRecord {
        started_at,
        finished_at: Utc::now(),
        outcome: match (&result, report.outcome) {
            (Err(_), _) => "failed",
            (Ok(()), Outcome::Complete) => "complete",
            (Ok(()), Outcome::Deadline) => "deadline",
        }
        .into(),
        days: report.days.len() as u64,
        traces: report.traces,
        error: result.as_ref().err().map(ToString::to_string),
    };
    // Give the lease back, unless someone else's conditional write won in between.
    if !matches!(result, Err(Error::Conflict { .. }))
        && let Err(e) = tracked.release(store, run).await
    {
        warn!(error = %e, "could not record the run's outcome");
    }
    result?;
    report.status = Status::of(store.location(), &chain, &tracked, now);
    warn_on_deadline(&report.status);
    Ok(report)
}

#[allow(clippy::too_many_arguments)]
async fn seal_due<T: TraceSource, S: ArchiveStore>(
    source: &T,
    store: &S,
    options: &SealOptions,
    now: DateTime<Utc>,
    tracked: &mut Tracked,
    chain: &mut Chain,
    report: &mut RunReport,
    progress_cb: &mut dyn FnMut(&str),
) -> Result<()> {
    let sealed = chain.sealed_days();
    let first = options
        .from
        .or_else(|| tracked.progress.sealing.as_ref().map(|s| s.day))
        .or_else(|| sealed.keys().next_back().and_then(|d| d.succ_opt()))
        .unwrap_or_else(|| oldest_whole_day(now));
    let last = last_sealable_day(now, options.seal_after_days);
    let last = options.to.map_or(last, |t| t.min(last));
    let due: Vec<NaiveDate> = first
        .iter_days()
        .take_while(|d| *d <= last)
        .filter(|d| !sealed.contains_key(d))
        .collect();
    report.days_planned = due.len() as u64;
    if let Some(to) = options.to
        && to > last
    {
        warn!(%to, last_sealable = %last, "days after {last} cannot be sealed yet: X-Ray may still add segments to them");
    }
    info!(from = %first, to = %last, days = due.len(), "sealing");
    let mut slowest_hour = std::time::Duration::ZERO;
    for day in due {
        let expired = day_start(day) < now - Duration::days(XRAY_RETENTION_DAYS);
        if expired {
            error!(%day, "X-RAY HAS ALREADY DELETED PART OF {day}: it is sealed as expired, with what X-Ray still returns");
        }
        let progress = match tracked.progress.sealing.take() {
            Some(p) if p.day == day => p,
            _ => DayProgress {
                day,
                hours: Default::default(),
            },
        };
        tracked.progress.sealing = Some(progress);
        for hour in 0..24u32 {
            if tracked
                .progress
                .sealing
                .as_ref()
                .is_some_and(|p| p.hours.contains_key(&hour))
            {
                continue;
            }
            if let Some(deadline) = options.deadline
                && Instant::now() + slowest_hour.mul_f64(1.5) + std::time::Duration::from_secs(5)
                    >= deadline
            {
                info!(%day, hour, "stopping before the invocation deadline; the next run resumes at this hour");
                report.outcome = Outcome::Deadline;
                return Ok(());
            }
            let t0 = Instant::now();
            let record = fetch_hour(source, store, &options.writer, day, hour).await?;
            let p = tracked.progress.sealing.as_mut().expect("set above");
            p.hours.insert(hour, record);
            if let Some(lease) = &mut tracked.progress.lease {
                lease.expires_at = Utc::now() + options.lease;
            }
            tracked.write(store).await?;
            report.hours_fetched += 1;
            slowest_hour = slowest_hour.max(t0.elapsed());
            progress_cb(&format!("{day} hour {hour:02} fetched"));
        }
        let progress = tracked.progress.sealing.clone().expect("set above");
        let sealed = seal_day(
            store,
            &options.writer,
            chain,
            &progress,
            expired,
            source.name(),
        )
        .await?;
        tracked.progress.sealing = None;
        tracked.write(store).await?;
        for h in progress.hours.values() {
            if let Some(key) = &h.staged {
                store.delete_state(key).await?;
            }
        }
        report.traces += sealed.traces;
        report.segments += sealed.segments;
        report.quarantined += sealed.quarantined;
        progress_cb(&format!("{day} sealed: {} traces", sealed.traces));
        report.days.push(sealed);
    }
    Ok(())
}

fn day_start(day: NaiveDate) -> DateTime<Utc> {
    day.and_hms_opt(0, 0, 0).expect("midnight").and_utc()
}

/// A fetched document waiting to be staged: its text and its place in archive order. The
/// parsed model is dropped once the document validates, so an hour in memory costs its
/// text and little more.
struct StagedDocument {
    sort_key: (String, i64, String),
    text: String,
    limit_exceeded: Option<bool>,
    /// `None` for an X-Ray document, else the span record's format.
    format: Option<&'static str>,
    context: Option<String>,
}

/// Items of a fetched hour prepared at a time.
const PREPARE_BATCH: usize = 4096;

/// Fetches one hour, quarantines what cannot be archived, and stages the documents.
async fn fetch_hour<T: TraceSource, S: ArchiveStore>(
    source: &T,
    store: &S,
    config: &WriterConfig,
    day: NaiveDate,
    hour: u32,
) -> Result<HourRecord> {
    let start = day_start(day) + Duration::hours(i64::from(hour));
    let ids = source.list(start, start + Duration::hours(1)).await?;
    // Asked even for no ids: a source may answer an hour with more than traces (the staging
    // source hands back its delivery hour's control messages and rejects).
    let fetched = source.fetch(&ids).await?;
    if !fetched.unreturned.is_empty() {
        error!(
            %day, hour, unreturned = fetched.unreturned.len(), first = %fetched.unreturned[0],
            "TRACES LOST: the source listed traces it then returned no document for; the day's \
             manifest records them and verify reports them"
        );
    }
    let mut writer = ArchiveWriter::new(store, config.clone());
    let mut docs = Vec::with_capacity(fetched.items.len());
    // Prepared a few thousand at a time: each document's model is dropped as soon as it is
    // staged, so an hour in memory costs its text, not its models.
    let mut items = fetched.items.into_iter().peekable();
    while items.peek().is_some() {
        let batch: Vec<_> = items.by_ref().take(PREPARE_BATCH).collect();
        for prepared in writer.prepare_all(batch) {
            let Some(seg) = writer.admit(prepared).await? else {
                continue;
            };
            let sort_key = (
                seg.trace_id().to_owned(),
                seg.start_us(),
                seg.id().to_owned(),
            );
            let limit_exceeded = seg.limit_exceeded();
            let format = Some(seg.format()).filter(|f| *f != schema::v1::XRAY_FORMAT);
            let context = seg.span_context().map(str::to_owned);
            docs.push(StagedDocument {
                sort_key,
                text: seg.into_text(),
                limit_exceeded,
                format,
                context,
            });
        }
    }
    // Ties (two versions of one segment) are broken by the text, so the staged bytes do
    // not depend on the order the source answered in.
    docs.sort_unstable_by(|a, b| {
        a.sort_key
            .cmp(&b.sort_key)
            .then_with(|| a.text.cmp(&b.text))
    });
    // A document fetched twice (a trace asked for again after a partial answer) is one.
    docs.dedup_by(|a, b| a.text == b.text);
    let documents = docs.len() as u64;
    let staged = if docs.is_empty() {
        None
    } else {
        let key = staging_key(day, hour);
        let bytes = encode_staging(
            &key,
            docs.iter().map(|d| StagedRef {
                text: &d.text,
                limit_exceeded: d.limit_exceeded,
                format: d.format,
                context: d.context.as_deref(),
            }),
        )?;
        drop(docs);
        // `_state/` is the one mutable prefix: a half-finished earlier try is replaced.
        let tag = store.read(&key, None).await?.map(|s| s.tag);
        store.put_if(&key, bytes, tag.as_deref()).await?;
        Some(key)
    };
    let summary = writer.into_summary();
    Ok(HourRecord {
        traces: ids.len() as u64,
        documents,
        control_messages: summary.control_messages,
        unreturned: fetched.unreturned.len() as u64,
        unreturned_sample: fetched
            .unreturned
            .into_iter()
            .take(UNRETURNED_SAMPLE)
            .collect(),
        staged,
        quarantine_objects: summary.objects.into_values().collect(),
        quarantined: summary.quarantined,
        redactions: summary.redactions,
        redaction_places: summary.redaction_places,
    })
}

/// Writes the day's parts from its staged hours, then commits them with its manifest.
async fn seal_day<S: ArchiveStore>(
    store: &S,
    config: &WriterConfig,
    chain: &mut Chain,
    progress: &DayProgress,
    expired: bool,
    source: &str,
) -> Result<DayReport> {
    let day = progress.day;
    let mut out = ArchiveWriter::new(store, config.clone());
    let mut parts = DayParts::new(day, &chain.next_parts(day));
    let mut source_traces = 0;
    let mut unreturned = 0;
    let mut unreturned_sample = Vec::new();
    for hour in progress.hours.values() {
        source_traces += hour.traces;
        unreturned += hour.unreturned;
        unreturned_sample.extend(hour.unreturned_sample.iter().cloned());
        let Some(key) = &hour.staged else { continue };
        let bytes = get(store, key).await?.ok_or_else(|| Error::CorruptPart {
            key: key.clone(),
            reason: "the staged hour is gone; delete _state/progress.json to fetch the day again"
                .into(),
        })?;
        // The hour is read a batch at a time, and pushed in whole traces: a trace that may
        // go on in the next batch waits for it.
        let mut pending: Vec<ArchivedSegment> = Vec::new();
        for batch in staged_batches(key, bytes, config.batch_documents)? {
            let restored: Vec<_> = out.pool().install(|| {
                batch?
                    .into_par_iter()
                    .map(|row| {
                        ArchivedSegment::restore(
                            row.text,
                            row.limit_exceeded,
                            row.format.as_deref(),
                            row.context.as_deref(),
                            &config.span_keys,
                        )
                        .map_err(|e| Error::CorruptPart {
                            key: key.clone(),
                            reason: format!(
                                "a staged document no longer validates: {}",
                                e.rejection
                            ),
                        })
                    })
                    .collect::<Result<_>>()
            })?;
            pending.extend(restored);
            let last = pending.last().map(|s| s.trace_id().to_owned());
            let open = pending
                .iter()
                .rev()
                .take_while(|s| Some(s.trace_id()) == last.as_deref())
                .count();
            if open < pending.len() {
                let rest = pending.split_off(pending.len() - open);
                parts
                    .push(&mut out, std::mem::replace(&mut pending, rest))
                    .await?;
            }
        }
        parts.push(&mut out, pending).await?;
    }
    unreturned_sample.truncate(UNRETURNED_SAMPLE);
    parts.finish(&mut out).await?;
    crate::rollup::roll_up_sealed_day(&mut out, chain, day).await?;
    let mut redactions = crate::redact::Counts::new();
    let mut redaction_places = crate::redact::PlaceCounts::new();
    for hour in progress.hours.values() {
        for (k, n) in &hour.redactions {
            *redactions.entry(k.clone()).or_default() += n;
        }
        for (place, counts) in &hour.redaction_places {
            let to = redaction_places.entry(place.clone()).or_default();
            for (k, n) in counts {
                *to.entry(k.clone()).or_default() += n;
            }
        }
        out.adopt(hour.quarantine_objects.clone(), hour.quarantined.clone());
    }
    let mut summary = out.into_summary();
    summary.control_messages = progress.hours.values().map(|h| h.control_messages).sum();
    summary.redactions = redactions;
    summary.redaction_places = redaction_places;
    let status = if expired {
        DayStatus::Expired
    } else {
        DayStatus::Sealed
    };
    let link = commit(store, chain, |seq, previous| {
        let mut m = Manifest::next(seq, previous, ManifestKind::Day, source).with_summary(&summary);
        m.day = Some(day);
        m.status = Some(status);
        m.source_traces = Some(source_traces);
        m.unreturned_traces = unreturned;
        m.unreturned_sample = unreturned_sample.clone();
        m
    })
    .await?;
    info!(%day, status = ?status, traces = summary.traces, head = %link.sha256, "day sealed");
    Ok(DayReport {
        day,
        status,
        source_traces,
        unreturned_traces: unreturned,
        traces: summary.traces,
        segments: summary.segments,
        quarantined: summary.quarantined.len() as u64,
        objects: summary.objects_written,
        bytes: summary.archive_bytes,
        manifest: link,
    })
}

/// Logs loudly when the oldest unsealed day is close to X-Ray's 30-day limit, or lost.
fn warn_on_deadline(status: &Status) {
    if !status.expired_days.is_empty() {
        error!(expired = ?status.expired_days, "EXPIRED DAYS: X-Ray had deleted traces of these days before they were sealed");
    }
    if let Some(days) = status.days_until_expiry {
        if days < 0.0 {
            error!(
                days_until_expiry = days,
                "X-RAY IS DELETING TRACES THAT WERE NEVER ARCHIVED: the oldest unsealed day is \
                 older than 30 days. Run the export now and investigate why runs stopped"
            );
        } else if days < EXPIRY_WARNING_DAYS {
            warn!(
                days_until_expiry = days,
                "X-RAY WILL DELETE UNARCHIVED TRACES IN {days:.1} DAYS: the export is falling \
                 behind; invoke it again or raise the Lambda's timeout"
            );
        }
    }
}

/// The run's metrics as one CloudWatch Embedded Metric Format line (namespace
/// `XrayArchive`, no dimensions), for the alarms in `infra/`. Printed on failed runs too,
/// with what is known.
pub fn emf_line(
    report: Option<&RunReport>,
    status: Option<&Status>,
    throttles: u64,
    now: DateTime<Utc>,
) -> String {
    let status = status.or(report.map(|r| &r.status));
    let metrics = [
        (
            "TracesExported",
            report.map_or(0.0, |r| r.traces as f64),
            "Count",
        ),
        (
            "DaysSealed",
            report.map_or(0.0, |r| r.days.len() as f64),
            "Count",
        ),
        (
            "LagHours",
            status.and_then(|s| s.lag_hours).unwrap_or(0.0),
            "None",
        ),
        (
            "ExpiredDays",
            status.map_or(0.0, |s| s.expired_days.len() as f64),
            "Count",
        ),
        (
            "DaysUntilExpiry",
            status
                .and_then(|s| s.days_until_expiry)
                .unwrap_or(XRAY_RETENTION_DAYS as f64),
            "None",
        ),
        (
            "UnreturnedTraces",
            report.map_or(0.0, |r| {
                r.days.iter().map(|d| d.unreturned_traces).sum::<u64>() as f64
            }),
            "Count",
        ),
        ("Throttles", throttles as f64, "Count"),
        (
            "QuarantinedDocuments",
            report.map_or(0.0, |r| r.quarantined as f64),
            "Count",
        ),
        ("Failed", if report.is_none() { 1.0 } else { 0.0 }, "Count"),
    ];
    let mut doc = serde_json::Map::new();
    doc.insert(
        "_aws".into(),
        serde_json::json!({
            "Timestamp": now.timestamp_millis(),
            "CloudWatchMetrics": [{
                "Namespace": "XrayArchive",
                "Dimensions": [[]],
                "Metrics": metrics.iter().map(|(n, _, u)| serde_json::json!({"Name": n, "Unit": u})).collect::<Vec<_>>(),
            }],
        }),
    );
    for (name, value, _) in metrics {
        doc.insert(name.into(), serde_json::json!(value));
    }
    if let Some(head) = status.and_then(|s| s.head.as_ref()) {
        doc.insert("chain_head".into(), serde_json::json!(head.sha256));
    }
    doc.insert(
        "outcome".into(),
        serde_json::json!(report.map_or("failed", |r| match r.outcome {
            Outcome::Complete => "complete",
            Outcome::Deadline => "deadline",
        })),
    );
    serde_json::Value::Object(doc).to_string()
}
