//! The nightly export from the X-Ray API: window by window, oldest first, each one
//! committed with a manifest and a conditional checkpoint write.
//!
//! For each window: list (`GetTraceSummaries`, trace-id time), fetch (`BatchGetTraces`),
//! write the parts, write the manifest, advance the checkpoint. Killed at any point, the
//! next run starts again at the first uncommitted window and rewrites the same keys with
//! the same rows: nothing half-written is ever referenced, nothing is duplicated.
//!
//! X-Ray accepts segments for a trace for up to 7 days, so a window is only exported once
//! it is older than the settle period, and a re-sweep (event time) fetches again the
//! archived traces that received segments since, superseding their earlier rows.

use std::time::Instant;

use chrono::{DateTime, Duration, DurationRound, Utc};
use serde::Serialize;
use tracing::{error, info, warn};

use crate::archive::{ArchiveWriter, WriterConfig};
use crate::error::{Error, Result};
use crate::ledger::{
    Checkpoint, Lease, Manifest, ManifestKind, RunRecord, Tracked, Window, read_checkpoint,
    write_checkpoint, write_manifest,
};
use crate::retry::PaceStats;
use crate::source::xray::{ApiCalls, Destination, RangeType, XRaySource};
use crate::store::ArchiveStore;

/// How long X-Ray keeps a trace.
pub const XRAY_RETENTION_DAYS: i64 = 30;

/// How long X-Ray accepts new segments for a trace.
pub const LATE_SEGMENT_DAYS: i64 = 7;

/// What to export and how.
#[derive(Debug, Clone)]
pub struct XRayExportOptions {
    /// Window length (one hour by default: one `part-HH` per window).
    pub window: Duration,
    /// A window is exported only once it ended this long ago.
    pub settle: Duration,
    /// Explicit start (RFC 3339 on the command line); default: the checkpoint.
    pub from: Option<DateTime<Utc>>,
    /// Explicit end; default: now minus the settle period.
    pub to: Option<DateTime<Utc>>,
    /// Re-sweep for late segments (event time) instead of exporting new windows.
    pub resweep: bool,
    /// Stop cleanly before this instant (the Lambda invocation deadline), leaving the
    /// checkpoint at the last committed window.
    pub deadline: Option<Instant>,
    /// Below this many days before X-Ray deletes the oldest unexported window, every run
    /// warns loudly.
    pub expiry_warning_days: f64,
    /// How long the lease on the archive lasts without renewal; each committed window
    /// renews it. Longer than the slowest window.
    pub lease: Duration,
    /// Buffering of the archive writer.
    pub writer: WriterConfig,
}

impl Default for XRayExportOptions {
    fn default() -> Self {
        Self {
            window: Duration::hours(1),
            settle: Duration::hours(1),
            from: None,
            to: None,
            resweep: false,
            deadline: None,
            expiry_warning_days: 7.0,
            lease: Duration::minutes(15),
            writer: WriterConfig::default(),
        }
    }
}

/// One committed window.
#[derive(Debug, Clone, Serialize)]
pub struct WindowReport {
    /// Its range.
    pub window: Window,
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
    /// Its manifest.
    pub manifest: String,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every window due was exported.
    Complete,
    /// Stopped before the invocation deadline; the next run continues.
    Deadline,
}

/// What a run did.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// How it ended.
    pub outcome: Outcome,
    /// `re-sweep` or `windows`.
    pub mode: &'static str,
    /// What GetTraceSegmentDestination said (`xray`, or why it is unknown).
    pub destination: String,
    /// Windows planned.
    pub windows_planned: u64,
    /// Windows committed.
    pub windows: Vec<WindowReport>,
    /// Traces archived.
    pub traces: u64,
    /// Segment documents archived.
    pub segments: u64,
    /// Inputs quarantined.
    pub quarantined: u64,
    /// Archived documents superseded by a newer state.
    pub superseded: u64,
    /// X-Ray API calls.
    pub api_calls: ApiCalls,
    /// API calls per archived trace (the floor is 0.2 for BatchGetTraces alone).
    pub calls_per_trace: Option<f64>,
    /// X-Ray attempts, throttles and transient failures.
    pub xray: PaceStats,
    /// The status after the run.
    pub status: Status,
}

/// Lag and deadline of an archive, as `status` shows them.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// Where the archive is.
    pub archive: String,
    /// Every trace with an id time before this is archived; `None` before the first export.
    pub watermark: Option<DateTime<Utc>>,
    /// Hours between the watermark and now.
    pub lag_hours: Option<f64>,
    /// Days until X-Ray deletes the oldest trace not yet archived (negative: already gone).
    pub days_until_expiry: Option<f64>,
    /// Manifests committed.
    pub manifests: u64,
    /// The last committed manifest.
    pub last_manifest: Option<String>,
    /// Event time up to which re-sweeps have run.
    pub resweep_mark: Option<DateTime<Utc>>,
    /// The last run.
    pub last_run: Option<RunRecord>,
}

impl Status {
    /// The status of `checkpoint` at `now`.
    pub fn of(archive: String, checkpoint: Option<&Checkpoint>, now: DateTime<Utc>) -> Self {
        let hours = |d: Duration| d.num_seconds() as f64 / 3600.0;
        let watermark = checkpoint.map(|c| c.watermark);
        Self {
            archive,
            watermark,
            lag_hours: watermark.map(|w| hours(now - w)),
            days_until_expiry: watermark
                .map(|w| hours(w + Duration::days(XRAY_RETENTION_DAYS) - now) / 24.0),
            manifests: checkpoint.map_or(0, |c| c.seq),
            last_manifest: checkpoint.and_then(|c| c.manifest.as_ref().map(|m| m.key.clone())),
            resweep_mark: checkpoint.and_then(|c| c.resweep_mark),
            last_run: checkpoint.and_then(|c| c.last_run.clone()),
        }
    }
}

/// Reads the archive's status.
pub async fn status(store: &impl ArchiveStore, now: DateTime<Utc>) -> Result<Status> {
    let tracked = read_checkpoint(store).await?;
    Ok(Status::of(
        store.location(),
        tracked.checkpoint.as_ref(),
        now,
    ))
}

/// Progress after each committed window: the window's report, windows done, windows planned.
pub type WindowProgress<'a> = &'a mut dyn FnMut(&WindowReport, u64, u64);

/// Exports from X-Ray into `store`. See the module docs for the order of work.
pub async fn export_xray<S: ArchiveStore>(
    source: &XRaySource,
    store: &S,
    options: &XRayExportOptions,
    now: DateTime<Utc>,
    progress: WindowProgress<'_>,
) -> Result<RunReport> {
    let started_at = Utc::now();
    let destination = match source.check_destination().await? {
        Destination::XRay => "xray".to_owned(),
        Destination::Unknown(why) => format!("unknown ({why})"),
    };
    let mut tracked = read_checkpoint(store).await?;
    take_lease(store, &mut tracked, options, now).await?;
    let mut run = Run {
        source,
        store,
        options,
        report: RunReport {
            outcome: Outcome::Complete,
            mode: if options.resweep {
                "re-sweep"
            } else {
                "windows"
            },
            destination,
            windows_planned: 0,
            windows: Vec::new(),
            traces: 0,
            segments: 0,
            quarantined: 0,
            superseded: 0,
            api_calls: ApiCalls::default(),
            calls_per_trace: None,
            xray: PaceStats::default(),
            status: Status::of(store.location(), None, now),
        },
        slowest_window: std::time::Duration::ZERO,
    };
    let result = if options.resweep {
        run.resweep(&mut tracked, now, progress).await
    } else {
        run.windows(&mut tracked, now, progress).await
    };
    let mut report = run.report;
    report.api_calls = source.api_calls();
    report.xray = source.pace_stats();
    let calls = report.api_calls.get_trace_summaries + report.api_calls.batch_get_traces;
    report.calls_per_trace = (report.traces > 0).then(|| calls as f64 / report.traces as f64);

    // Record the outcome for `status` and give the lease back (not after a conflict: the
    // checkpoint is someone else's now).
    let (outcome, error_text) = match &result {
        Ok(()) => (
            match report.outcome {
                Outcome::Complete => "complete",
                Outcome::Deadline => "deadline",
            },
            None,
        ),
        Err(e) => ("failed", Some(e.to_string())),
    };
    if !matches!(result, Err(Error::Conflict { .. })) {
        let mut cp = tracked
            .checkpoint
            .clone()
            .expect("written when the lease was taken");
        cp.lease = None;
        cp.last_run = Some(RunRecord {
            started_at,
            finished_at: Utc::now(),
            outcome: outcome.into(),
            windows: report.windows.len() as u64,
            traces: report.traces,
            error: error_text,
        });
        if let Err(e) = write_checkpoint(store, &mut tracked, cp).await {
            warn!(error = %e, "could not record the run's outcome in the checkpoint");
        }
    }
    result?;
    report.status = Status::of(store.location(), tracked.checkpoint.as_ref(), now);
    warn_on_deadline(&report.status, options.expiry_warning_days);
    Ok(report)
}

/// Takes the archive's lease, creating the checkpoint on a first run. Fails with
/// [`Error::Busy`] when another exporter holds a live lease, or [`Error::Conflict`] when
/// another one took it between our read and our write.
async fn take_lease(
    store: &impl ArchiveStore,
    tracked: &mut Tracked,
    options: &XRayExportOptions,
    now: DateTime<Utc>,
) -> Result<()> {
    let me = Lease::me();
    let mut cp = tracked.checkpoint.clone().unwrap_or_else(|| {
        Checkpoint::empty(options.from.unwrap_or_else(|| default_start(now, options)))
    });
    if let Some(lease) = &cp.lease
        && lease.owner != me
        && lease.is_live(Utc::now())
    {
        return Err(Error::Busy {
            owner: lease.owner.clone(),
            until: lease.expires_at.to_rfc3339(),
        });
    }
    let at = Utc::now();
    cp.lease = Some(Lease {
        owner: me,
        acquired_at: at,
        expires_at: at + options.lease,
    });
    write_checkpoint(store, tracked, cp).await
}

/// Extends our lease in a checkpoint about to be written.
fn renew(cp: &mut Checkpoint, options: &XRayExportOptions) {
    if let Some(lease) = &mut cp.lease {
        lease.expires_at = Utc::now() + options.lease;
    }
}

/// The oldest window X-Ray still holds whole.
fn default_start(now: DateTime<Utc>, options: &XRayExportOptions) -> DateTime<Utc> {
    floor(now - Duration::days(XRAY_RETENTION_DAYS), options.window) + options.window
}

fn floor(t: DateTime<Utc>, step: Duration) -> DateTime<Utc> {
    t.duration_trunc(step).unwrap_or(t)
}

/// `[start, end)` cut at multiples of `step`.
fn windows(start: DateTime<Utc>, end: DateTime<Utc>, step: Duration) -> Vec<Window> {
    let mut out = Vec::new();
    let mut s = start;
    while s < end {
        let e = (floor(s, step) + step).min(end);
        out.push(Window { start: s, end: e });
        s = e;
    }
    out
}

/// Logs loudly when the oldest unexported trace is close to X-Ray's 30-day limit.
fn warn_on_deadline(status: &Status, warning_days: f64) {
    if let Some(days) = status.days_until_expiry {
        if days < 0.0 {
            error!(
                days_until_expiry = days,
                "X-RAY HAS ALREADY DELETED TRACES THAT WERE NEVER ARCHIVED: the watermark is \
                 older than 30 days. Export now and investigate why runs stopped"
            );
        } else if days < warning_days {
            warn!(
                days_until_expiry = days,
                lag_hours = status.lag_hours,
                "X-RAY WILL DELETE UNARCHIVED TRACES IN {days:.1} DAYS: the export is falling \
                 behind; run a backfill or raise the Lambda's timeout"
            );
        }
    }
}

struct Run<'a, S: ArchiveStore> {
    source: &'a XRaySource,
    store: &'a S,
    options: &'a XRayExportOptions,
    report: RunReport,
    slowest_window: std::time::Duration,
}

impl<S: ArchiveStore> Run<'_, S> {
    /// True when another window might not finish before the deadline.
    fn out_of_time(&self) -> bool {
        let Some(deadline) = self.options.deadline else {
            return false;
        };
        let needed = self.slowest_window.mul_f64(1.5) + std::time::Duration::from_secs(5);
        Instant::now() + needed >= deadline
    }

    async fn windows(
        &mut self,
        tracked: &mut Tracked,
        now: DateTime<Utc>,
        progress: WindowProgress<'_>,
    ) -> Result<()> {
        let opts = self.options;
        let start = opts
            .from
            .or_else(|| tracked.checkpoint.as_ref().map(|c| c.watermark))
            .unwrap_or_else(|| default_start(now, opts));
        let end = opts
            .to
            .unwrap_or_else(|| floor(now - opts.settle, opts.window));
        let planned = windows(start, end, opts.window);
        self.report.windows_planned = planned.len() as u64;
        info!(from = %start, to = %end, windows = planned.len(), "exporting from X-Ray");
        for (i, window) in planned.into_iter().enumerate() {
            if self.out_of_time() {
                info!(next = %window.start, "stopping before the invocation deadline; the next run continues here");
                self.report.outcome = Outcome::Deadline;
                break;
            }
            let t0 = Instant::now();
            let ids = self
                .source
                .list(window.start, window.end, RangeType::TraceId)
                .await?;
            let w = self
                .commit(tracked, window, ids, ManifestKind::Window, false)
                .await?;
            self.slowest_window = self.slowest_window.max(t0.elapsed());
            progress(&w, i as u64 + 1, self.report.windows_planned);
            self.report.windows.push(w);
        }
        Ok(())
    }

    /// Fetches again the archived traces that received segments in an event-time range.
    async fn resweep(
        &mut self,
        tracked: &mut Tracked,
        now: DateTime<Utc>,
        progress: WindowProgress<'_>,
    ) -> Result<()> {
        let opts = self.options;
        let cp = tracked
            .checkpoint
            .as_ref()
            .expect("written when the lease was taken");
        if cp.seq == 0 {
            info!("nothing archived yet: nothing to re-sweep");
            return Ok(());
        }
        let watermark = cp.watermark;
        let start = opts
            .from
            .or_else(|| tracked.checkpoint.as_ref().and_then(|c| c.resweep_mark))
            .unwrap_or(now - Duration::days(LATE_SEGMENT_DAYS));
        let end = opts.to.unwrap_or(now);
        let planned = windows(start, end, opts.window);
        self.report.windows_planned = planned.len() as u64;
        let expired = now - Duration::days(XRAY_RETENTION_DAYS);
        for (i, window) in planned.into_iter().enumerate() {
            if self.out_of_time() {
                self.report.outcome = Outcome::Deadline;
                break;
            }
            let t0 = Instant::now();
            let ids: Vec<String> = self
                .source
                .list(window.start, window.end, RangeType::Event)
                .await?
                .into_iter()
                .filter(|id| {
                    schema::ids::trace_epoch(id)
                        .is_some_and(|t| t < watermark.timestamp() && t > expired.timestamp())
                })
                .collect();
            if !ids.is_empty() {
                let w = self
                    .commit(tracked, window, ids, ManifestKind::Resweep, true)
                    .await?;
                progress(&w, i as u64 + 1, self.report.windows_planned);
                self.report.windows.push(w);
            }
            let mut cp = tracked.checkpoint.clone().expect("checked above");
            cp.resweep_mark = Some(window.end);
            renew(&mut cp, opts);
            write_checkpoint(self.store, tracked, cp).await?;
            self.slowest_window = self.slowest_window.max(t0.elapsed());
        }
        Ok(())
    }

    /// Fetches and writes one window's traces, then its manifest, then the checkpoint.
    async fn commit(
        &mut self,
        tracked: &mut Tracked,
        window: Window,
        ids: Vec<String>,
        kind: ManifestKind,
        resweep: bool,
    ) -> Result<WindowReport> {
        let items = self.source.fetch(&ids).await?;
        let config = WriterConfig {
            supersede: true,
            ..self.options.writer.clone()
        };
        let mut writer = ArchiveWriter::new(self.store, config);
        for item in items {
            writer.push(item).await?;
        }
        let summary = writer.finish().await?;
        let previous = tracked.checkpoint.as_ref();
        let (head_seq, head) = crate::ledger::chain_head(self.store, previous).await?;
        let manifest = Manifest {
            trace_ids: ids,
            ..Manifest::next(head_seq + 1, head, kind, window, "xray").with_summary(&summary)
        };
        let link = write_manifest(self.store, &manifest).await?;
        let mut cp = previous
            .cloned()
            .unwrap_or_else(|| Checkpoint::empty(window.start));
        renew(&mut cp, self.options);
        cp.seq = manifest.seq;
        cp.manifest = Some(link.clone());
        // The watermark moves only over contiguous ground: a window that starts at or before
        // it. A backfill of an older range, or a re-sweep, leaves it where it is.
        if !resweep && window.start <= cp.watermark {
            cp.watermark = cp.watermark.max(window.end);
        }
        write_checkpoint(self.store, tracked, cp).await?;

        let traces = manifest.trace_ids.len() as u64;
        self.report.traces += traces;
        self.report.segments += summary.segments;
        self.report.quarantined += manifest.quarantined;
        self.report.superseded += summary.superseded;
        info!(
            window = %window.label(),
            traces,
            segments = summary.segments,
            manifest = %link.key,
            "window committed"
        );
        Ok(WindowReport {
            window,
            traces,
            segments: summary.segments,
            quarantined: manifest.quarantined,
            objects: summary.objects_written,
            bytes: summary.archive_bytes,
            manifest: link.key,
        })
    }
}

/// The run's metrics as one CloudWatch Embedded Metric Format line (namespace
/// `XrayArchive`, no dimensions), for the alarms in `infra/`.
pub fn emf_line(report: &RunReport, now: DateTime<Utc>) -> String {
    let metrics = [
        ("TracesExported", report.traces as f64, "Count"),
        ("Windows", report.windows.len() as f64, "Count"),
        ("LagHours", report.status.lag_hours.unwrap_or(0.0), "None"),
        (
            "DaysUntilExpiry",
            report
                .status
                .days_until_expiry
                .unwrap_or(XRAY_RETENTION_DAYS as f64),
            "None",
        ),
        ("Throttles", report.xray.throttles as f64, "Count"),
        ("QuarantinedDocuments", report.quarantined as f64, "Count"),
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
    doc.insert("outcome".into(), serde_json::json!(report.outcome));
    serde_json::Value::Object(doc).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn windows_cut_at_hour_boundaries_and_cover_the_range() {
        let w = windows(
            t("2026-11-01T10:30:00Z"),
            t("2026-11-01T13:00:00Z"),
            Duration::hours(1),
        );
        let labels: Vec<_> = w
            .iter()
            .map(|w| (w.start.to_rfc3339(), w.end.to_rfc3339()))
            .collect();
        assert_eq!(
            labels,
            vec![
                (
                    "2026-11-01T10:30:00+00:00".into(),
                    "2026-11-01T11:00:00+00:00".into()
                ),
                (
                    "2026-11-01T11:00:00+00:00".into(),
                    "2026-11-01T12:00:00+00:00".into()
                ),
                (
                    "2026-11-01T12:00:00+00:00".into(),
                    "2026-11-01T13:00:00+00:00".into()
                ),
            ]
        );
        assert!(
            windows(
                t("2026-11-01T10:00:00Z"),
                t("2026-11-01T10:00:00Z"),
                Duration::hours(1)
            )
            .is_empty()
        );
    }

    #[test]
    fn status_counts_lag_and_days_to_expiry() {
        let mut cp = Checkpoint::empty(t("2026-11-01T00:00:00Z"));
        cp.seq = 3;
        let s = Status::of("x".into(), Some(&cp), t("2026-11-26T12:00:00Z"));
        assert_eq!(s.lag_hours, Some(25.0 * 24.0 + 12.0));
        assert_eq!(s.days_until_expiry, Some(4.5));
        let none = Status::of("x".into(), None, t("2026-11-26T12:00:00Z"));
        assert_eq!(none.lag_hours, None);
    }

    #[test]
    fn emf_line_names_every_metric() {
        let report = RunReport {
            outcome: Outcome::Complete,
            mode: "windows",
            destination: "xray".into(),
            windows_planned: 0,
            windows: vec![],
            traces: 12,
            segments: 30,
            quarantined: 1,
            superseded: 0,
            api_calls: ApiCalls::default(),
            calls_per_trace: None,
            xray: PaceStats {
                attempts: 9,
                throttles: 2,
                transient: 0,
            },
            status: Status::of("x".into(), None, Utc::now()),
        };
        let line: serde_json::Value = serde_json::from_str(&emf_line(&report, Utc::now())).unwrap();
        let names: Vec<&str> = line["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap())
            .collect();
        for n in names {
            assert!(line[n].is_number(), "{n} has no value");
        }
        assert_eq!(line["TracesExported"], 12.0);
        assert_eq!(line["Throttles"], 2.0);
    }
}
