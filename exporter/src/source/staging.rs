//! The staging source: CloudWatch Transaction Search spans (`aws/spans`), as a subscription
//! filter sends them through Amazon Data Firehose into a staging prefix.
//!
//! With Transaction Search on, X-Ray writes every span to the `aws/spans` log group and
//! `BatchGetTraces` sees only the indexed few. The infra's subscription filter streams the
//! group to Firehose, which writes its payloads (gzip, several concatenated) under
//! `<prefix>YYYY/MM/DD/HH/`, the hour they were delivered, in UTC. That prefix is raw and
//! mutable (it expires after 35 days); the archive's sealed days are made from it.
//!
//! The sealing logic asks by trace-id time, an hour at a time, as it asks X-Ray. A span is
//! delivered after it starts, and usually within minutes; so the hour `H` is answered from
//! the objects delivered in hours `H-1` (a fast clock) to `H+late_hours`, and each span has
//! exactly one window that answers it:
//! - a trace id with an epoch (`1-<8 hex>-…`, as AWS makes them) belongs to its epoch hour;
//! - a W3C trace id, with no time in it, is answered with its day, in the day's last hour,
//!   from the spans that started that day (a W3C trace that crosses midnight UTC is archived
//!   on each day it has spans on);
//! - a span delivered outside its window (more than `late_hours` late) is quarantined, with
//!   the reason, in the window of the hour it was delivered: kept and counted, never
//!   archived twice and never dropped.
//!
//! `CONTROL_MESSAGE`s, payloads that do not decompress and records that are not spans are
//! handed back in the window of their delivery hour, to be counted and quarantined.
//!
//! Delivery hours are read once each and kept while a window may still need them; memory
//! holds `late_hours + 2` hours of spans. The day's pass for W3C traces reads again only
//! the hours that held some (or that an earlier invocation read).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use tokio::sync::Mutex;
use tracing::{debug, error, warn};

use super::files::InputReader;
use super::xray::{Destination, XRaySource};
use super::{Fetched, SourceContent, SourceItem, TraceSource};
use crate::error::{Error, Result};
use crate::store::{ArchiveStore, get};

/// Hours after a trace's hour that its spans may still arrive in staging and be archived
/// with it: Firehose buffers up to 15 minutes, and CloudWatch Logs delivers in seconds.
pub const DEFAULT_LATE_HOURS: u32 = 2;

/// The `TraceSource::name` of the staging source.
pub const STAGING_SOURCE: &str = "aws-spans";

/// Which window answers an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    /// The hour (hours since the epoch) of a trace id with an epoch, or an item's delivery
    /// hour.
    Hour(i64),
    /// The day of a W3C trace's span.
    Day(NaiveDate),
}

/// One item of a delivery hour, with the window that answers it.
#[derive(Debug, Clone)]
struct Entry {
    owner: Owner,
    /// The trace id in the archive's form, for spans archived with their trace.
    trace: Option<String>,
    /// A span that arrived outside its window, quarantined instead.
    late: bool,
    item: SourceItem,
}

/// What the last `list` found, waiting for `fetch`.
#[derive(Debug, Default)]
struct Window {
    traces: BTreeMap<String, Vec<SourceItem>>,
    /// Items answered by delivery hour: control messages, rejects, late spans.
    loose: Vec<SourceItem>,
}

/// Objects and bytes read from staging.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StagingStats {
    /// Objects read (an object is read again only for a day's W3C traces).
    pub objects: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Spans quarantined for arriving outside their window.
    pub late_spans: u64,
}

/// Spans staged by Firehose under a prefix of `store`.
#[derive(Debug)]
pub struct StagingSource<S> {
    store: S,
    late_hours: i64,
    hours: Mutex<BTreeMap<i64, Arc<Vec<Entry>>>>,
    /// Delivery hours read by this process, and whether they held spans of W3C traces: the
    /// day's pass for those skips the hours known to hold none.
    w3c_in: Mutex<BTreeMap<i64, bool>>,
    window: Mutex<Option<Window>>,
    objects: AtomicU64,
    bytes: AtomicU64,
    late_spans: AtomicU64,
}

const HOUR: i64 = 3600;

fn hour_start(hour: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(hour * HOUR, 0).expect("an hour within chrono's range")
}

fn day_of_hour(hour: i64) -> NaiveDate {
    hour_start(hour).date_naive()
}

fn first_hour_of(day: NaiveDate) -> i64 {
    day.and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc()
        .timestamp()
        / HOUR
}

impl<S: ArchiveStore> StagingSource<S> {
    /// Spans staged in `store` (rooted at the staging prefix, where `YYYY/MM/DD/HH/`
    /// begins), archived with their trace when they arrive at most `late_hours` after it.
    pub fn new(store: S, late_hours: u32) -> Self {
        Self {
            store,
            late_hours: i64::from(late_hours),
            hours: Mutex::default(),
            w3c_in: Mutex::default(),
            window: Mutex::default(),
            objects: AtomicU64::default(),
            bytes: AtomicU64::default(),
            late_spans: AtomicU64::default(),
        }
    }

    /// Where the spans are staged.
    pub fn location(&self) -> String {
        self.store.location()
    }

    /// What was read so far.
    pub fn stats(&self) -> StagingStats {
        StagingStats {
            objects: self.objects.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            late_spans: self.late_spans.load(Ordering::Relaxed),
        }
    }

    /// The items delivered in `hour`, with their windows; kept when `keep`.
    async fn delivered(&self, hour: i64, keep: bool) -> Result<Arc<Vec<Entry>>> {
        if let Some(entries) = self.hours.lock().await.get(&hour) {
            return Ok(entries.clone());
        }
        let prefix = hour_start(hour).format("%Y/%m/%d/%H/").to_string();
        let mut entries = Vec::new();
        for object in self.store.list(&prefix).await? {
            let name = format!("{}/{}", self.store.location(), object.key);
            let Some(bytes) = get(&self.store, &object.key).await? else {
                // Gone between the listing and the read (the 35-day expiry): its spans are
                // lost, so the day's manifest records it as a quarantined input.
                error!(object = %name, "STAGED SPANS LOST: a staged object expired before it was read");
                entries.push(Entry {
                    owner: Owner::Hour(hour),
                    trace: None,
                    late: false,
                    item: SourceItem {
                        item: SourceContent::Rejected {
                            bytes: Vec::new(),
                            reason: "the staged object was listed but expired before it was \
                                     read: its spans are lost; seal days sooner than the \
                                     staging bucket's expiry"
                                .into(),
                        },
                        source: name,
                        location: String::new(),
                    },
                });
                continue;
            };
            self.objects.fetch_add(1, Ordering::Relaxed);
            self.bytes.fetch_add(bytes.len() as u64, Ordering::Relaxed);
            for item in InputReader::new(&name, bytes.as_ref()) {
                let item = item.map_err(|e| Error::Config(format!("reading {name}: {e}")))?;
                entries.push(self.entry(item, hour));
            }
        }
        debug!(%prefix, items = entries.len(), "staging hour read");
        let w3c = entries.iter().any(|e| matches!(e.owner, Owner::Day(_)));
        self.w3c_in.lock().await.insert(hour, w3c);
        let entries = Arc::new(entries);
        if keep {
            self.hours.lock().await.insert(hour, entries.clone());
        }
        Ok(entries)
    }

    /// Decides which window answers an item delivered in `delivered` (see the module docs).
    fn entry(&self, item: SourceItem, delivered: i64) -> Entry {
        let SourceContent::Span(record) = &item.item else {
            let item = match item.item {
                SourceContent::Document { text, .. } => SourceItem {
                    item: SourceContent::Rejected {
                        bytes: text.into_bytes(),
                        reason: "an X-Ray segment document in the span staging prefix, which \
                                 holds aws/spans subscription payloads; archive X-Ray \
                                 documents with `export --source files`"
                            .into(),
                    },
                    ..item
                },
                _ => item,
            };
            return Entry {
                owner: Owner::Hour(delivered),
                trace: None,
                late: false,
                item,
            };
        };
        let start_s = (record.span.start_ns / 1_000_000_000) as i64;
        let trace = schema::otel::archive_trace_id(&record.span.trace_id, start_s);
        let (hour, owner) = match schema::trace_epoch(&trace) {
            Some(epoch) => (epoch.div_euclid(HOUR), Owner::Hour(epoch.div_euclid(HOUR))),
            None => {
                let hour = start_s.div_euclid(HOUR);
                (hour, Owner::Day(day_of_hour(hour)))
            }
        };
        if (hour - 1..=hour + self.late_hours).contains(&delivered) {
            return Entry {
                owner,
                trace: Some(trace),
                late: false,
                item,
            };
        }
        let reason = format!(
            "span {} of trace {trace} (its hour {}) reached staging in hour {}, outside the \
             {} hours after its trace's hour in which it is archived with its trace; it is \
             kept here, not in the tables. If spans often arrive this late, raise \
             XRAY_ARCHIVE_STAGING_LATE_HOURS",
            record.span.span_id,
            hour_start(hour).format("%Y-%m-%dT%H:00Z"),
            hour_start(delivered).format("%Y-%m-%dT%H:00Z"),
            self.late_hours
        );
        let SourceContent::Span(record) = item.item else {
            unreachable!("matched above")
        };
        Entry {
            owner: Owner::Hour(delivered),
            trace: None,
            late: true,
            item: SourceItem {
                item: SourceContent::Rejected {
                    bytes: record.text.into_bytes(),
                    reason,
                },
                source: item.source,
                location: item.location,
            },
        }
    }

    /// Reads what answers `[start, end)` (whole hours) and keeps it for [`Self::take`].
    async fn answer(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> Result<Vec<String>> {
        let first = start.timestamp().div_euclid(HOUR);
        let last = (end.timestamp() - 1).div_euclid(HOUR);
        let mut window = Window::default();
        let mut late = 0;
        let mut take = |entries: &[Entry], wanted: &dyn Fn(Owner) -> bool| {
            for e in entries.iter().filter(|e| wanted(e.owner)) {
                late += u64::from(e.late);
                match &e.trace {
                    Some(t) => window
                        .traces
                        .entry(t.clone())
                        .or_default()
                        .push(e.item.clone()),
                    None => window.loose.push(e.item.clone()),
                }
            }
        };
        let in_hours = |o: Owner| matches!(o, Owner::Hour(h) if (first..=last).contains(&h));
        for hour in first - 1..=last + self.late_hours {
            let entries = self.delivered(hour, true).await?;
            take(&entries, &in_hours);
        }
        // A day's W3C traces are answered with its last hour.
        for hour in (first..=last).filter(|h| (h + 1) % 24 == 0) {
            let day = day_of_hour(hour);
            let day_first = first_hour_of(day);
            let kept = first - 1..=last + self.late_hours;
            for h in day_first - 1..=day_first + 24 + self.late_hours {
                if kept.contains(&h) || self.w3c_in.lock().await.get(&h) == Some(&false) {
                    continue; // read above, or known to hold no W3C trace
                }
                let entries = self.delivered(h, false).await?;
                take(&entries, &|o| o == Owner::Day(day));
            }
            for h in kept.clone() {
                let entries = self.delivered(h, true).await?;
                take(&entries, &|o| o == Owner::Day(day));
            }
        }
        // The next window starts an hour later: what it no longer reads goes.
        self.hours.lock().await.retain(|h, _| *h >= first);
        self.late_spans.fetch_add(late, Ordering::Relaxed);
        if late > 0 {
            warn!(
                late,
                window = %start.to_rfc3339(),
                "SPANS ARRIVED LATE: they reached staging after their trace's hour was archived; they are quarantined with the reason"
            );
        }
        let ids = window.traces.keys().cloned().collect();
        *self.window.lock().await = Some(window);
        Ok(ids)
    }

    /// The spans of `ids` from the last window, and the items its delivery hours answer.
    async fn take(&self, ids: &[String]) -> Fetched {
        let Some(mut window) = self.window.lock().await.take() else {
            return Fetched::of(ids, Vec::new(), []);
        };
        let mut items = std::mem::take(&mut window.loose);
        let mut returned = Vec::new();
        for id in ids {
            if let Some(mut spans) = window.traces.remove(id) {
                items.append(&mut spans);
                returned.push(id.clone());
            }
        }
        Fetched::of(ids, items, returned.iter().map(String::as_str))
    }
}

impl<S: ArchiveStore> TraceSource for StagingSource<S> {
    fn name(&self) -> &'static str {
        STAGING_SOURCE
    }

    async fn list(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> Result<Vec<String>> {
        self.answer(start, end).await
    }

    async fn fetch(&self, ids: &[String]) -> Result<Fetched> {
        Ok(self.take(ids).await)
    }
}

/// Two sources of one archive, as on the day a system moves from X-Ray to Transaction
/// Search: each contributes what it holds. A trace both hold (X-Ray indexes a share of
/// Transaction Search's spans) is taken from `preferred` alone, so no span is archived twice.
#[derive(Debug)]
pub struct MergedSource<P, Q> {
    name: &'static str,
    preferred: P,
    other: Q,
    listed: Mutex<HashSet<String>>,
}

impl<P: TraceSource, Q: TraceSource> MergedSource<P, Q> {
    /// `preferred` and `other`, recorded in manifests as `name`.
    pub fn new(name: &'static str, preferred: P, other: Q) -> Self {
        Self {
            name,
            preferred,
            other,
            listed: Mutex::default(),
        }
    }

    /// The preferred source.
    pub fn preferred(&self) -> &P {
        &self.preferred
    }

    /// The other source.
    pub fn other(&self) -> &Q {
        &self.other
    }
}

impl<P: TraceSource, Q: TraceSource> TraceSource for MergedSource<P, Q> {
    fn name(&self) -> &'static str {
        self.name
    }

    async fn list(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> Result<Vec<String>> {
        let preferred = self.preferred.list(start, end).await?;
        let mut ids = self.other.list(start, end).await?;
        ids.extend(preferred.iter().cloned());
        ids.sort();
        ids.dedup();
        *self.listed.lock().await = preferred.into_iter().collect();
        Ok(ids)
    }

    async fn fetch(&self, ids: &[String]) -> Result<Fetched> {
        let listed = std::mem::take(&mut *self.listed.lock().await);
        let (mine, rest): (Vec<String>, Vec<String>) =
            ids.iter().cloned().partition(|id| listed.contains(id));
        // Both are asked even for no ids: the staging source also answers what its delivery
        // hours hold beside traces.
        let mut a = self.preferred.fetch(&mine).await?;
        let mut b = self.other.fetch(&rest).await?;
        a.items.append(&mut b.items);
        a.unreturned.append(&mut b.unreturned);
        Ok(a)
    }
}

/// The name manifests record for a day sealed from staging and X-Ray together.
pub const MIGRATING_SOURCE: &str = "aws-spans+xray";

/// What the exporter seals from: X-Ray alone, or the span staging prefix with X-Ray beside
/// it (Transaction Search on, or a switch still within X-Ray's 30 days).
#[derive(Debug)]
pub enum ExportSource<S> {
    /// `BatchGetTraces` alone.
    XRay(XRaySource),
    /// Staging first, and what X-Ray still holds (boxed: it is ten times the size of the
    /// X-Ray source, and one is built per run).
    Migrating(Box<MergedSource<StagingSource<S>, XRaySource>>),
}

impl<S: ArchiveStore> ExportSource<S> {
    /// Reads `GetTraceSegmentDestination` and chooses: with a staging prefix, both sources
    /// contribute, whichever the destination (a switch in the middle of a day leaves part of
    /// it in each); without one, X-Ray alone, and CloudWatch Logs is an error that says what
    /// to set up.
    pub async fn choose(
        xray: XRaySource,
        staging: Option<StagingSource<S>>,
    ) -> Result<(Self, Destination)> {
        let destination = xray.check_destination().await?;
        let source = match (staging, &destination) {
            (Some(staging), _) => {
                Self::Migrating(Box::new(MergedSource::new(MIGRATING_SOURCE, staging, xray)))
            }
            (None, Destination::CloudWatchLogs) => {
                return Err(Error::TransactionSearch {
                    destination: "CloudWatchLogs".into(),
                });
            }
            (None, _) => Self::XRay(xray),
        };
        Ok((source, destination))
    }

    /// The X-Ray API source.
    pub fn xray(&self) -> &XRaySource {
        match self {
            Self::XRay(x) => x,
            Self::Migrating(m) => m.other(),
        }
    }

    /// The staging source, when there is one.
    pub fn staging(&self) -> Option<&StagingSource<S>> {
        match self {
            Self::XRay(_) => None,
            Self::Migrating(m) => Some(m.preferred()),
        }
    }
}

impl<S: ArchiveStore> TraceSource for ExportSource<S> {
    fn name(&self) -> &'static str {
        match self {
            Self::XRay(x) => x.name(),
            Self::Migrating(m) => m.name(),
        }
    }

    async fn list(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> Result<Vec<String>> {
        match self {
            Self::XRay(x) => TraceSource::list(x, start, end).await,
            Self::Migrating(m) => m.list(start, end).await,
        }
    }

    async fn fetch(&self, ids: &[String]) -> Result<Fetched> {
        match self {
            Self::XRay(x) => TraceSource::fetch(x, ids).await,
            Self::Migrating(m) => m.fetch(ids).await,
        }
    }
}
