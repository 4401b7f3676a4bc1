//! `reconcile`: compares the archive with what X-Ray holds now, for a range X-Ray still
//! keeps (the last 30 days).
//!
//! X-Ray's side: every trace id in the range (`GetTraceSummaries` by trace-id time) and its
//! segment documents (`BatchGetTraces`). The archive's side: the `segments` parts of the
//! same days. A trace X-Ray has and the archive lacks is *missing*; a trace the archive
//! holds with fewer distinct segments than X-Ray now has is *incomplete* (a segment arrived
//! after the seal). [`reimport`] fixes both the way a file import does: it adds write-once
//! parts with what is new, and neither rewrites a sealed day nor duplicates a document.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::parquet_io::decode;
use crate::source::SourceContent;
use crate::source::xray::{RangeType, XRaySource};
use crate::store::ArchiveStore;

/// A trace the archive holds only in part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Incomplete {
    /// The trace.
    pub trace_id: String,
    /// Distinct segments archived.
    pub archived_segments: u64,
    /// Distinct segments X-Ray has now.
    pub xray_segments: u64,
}

/// What reconcile found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReconcileReport {
    /// Traces X-Ray lists in the range.
    pub xray_traces: u64,
    /// Of them, archived.
    pub archived_traces: u64,
    /// In X-Ray, not in the archive.
    pub missing: Vec<String>,
    /// Archived with fewer segments than X-Ray has.
    pub incomplete: Vec<Incomplete>,
}

impl ReconcileReport {
    /// True when the archive holds everything X-Ray has.
    pub fn is_clean(&self) -> bool {
        self.missing.is_empty() && self.incomplete.is_empty()
    }
}

/// Compares the archive with X-Ray over `[from, to)`.
pub async fn reconcile(
    source: &XRaySource,
    store: &impl ArchiveStore,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<ReconcileReport> {
    if from >= to {
        return Err(Error::Config(format!(
            "--from {from} must be before --to {to}"
        )));
    }
    if from < now - Duration::days(30) {
        return Err(Error::Config(format!(
            "--from {} is more than 30 days ago: X-Ray has deleted those traces, so there is \
             nothing to compare with. Use a range within the last 30 days.",
            from.to_rfc3339()
        )));
    }
    let ids = source.list(from, to, RangeType::TraceId).await?;
    let mut xray: BTreeMap<String, BTreeSet<String>> =
        ids.iter().map(|id| (id.clone(), BTreeSet::new())).collect();
    for item in source.fetch(&ids).await?.items {
        if let SourceContent::Document { text, .. } = item.item
            && let Ok(doc) = schema::SegmentDocument::parse(&text)
            && let (Some(trace), Some(id)) = (doc.trace_id, doc.id)
        {
            xray.entry(trace).or_default().insert(id);
        }
    }
    // The archive's segments, read from every part of the days the traces belong to.
    let mut days: BTreeSet<chrono::NaiveDate> = BTreeSet::new();
    for id in xray.keys() {
        if let Some(p) = schema::TracePlacement::of(id) {
            days.insert(p.dt);
        }
    }
    let mut parts: Vec<String> = Vec::new();
    for day in days {
        let prefix = schema::v1::day_prefix(schema::v1::Table::Segments, day);
        parts.extend(store.list(&prefix).await?.into_iter().map(|m| m.key));
    }
    let mut archived: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for key in parts {
        let Some(bytes) = crate::store::get(store, &key).await? else {
            continue;
        };
        for batch in decode(&key, bytes)? {
            let read = schema::v1::SegmentsReader::new(&batch);
            let (traces, segs) = (read.trace_id().ok(), read.segment_id().ok());
            let (Some(traces), Some(segs)) = (traces, segs) else {
                return Err(Error::CorruptPart {
                    key,
                    reason: "no trace_id / segment_id column".into(),
                });
            };
            for i in 0..batch.num_rows() {
                archived
                    .entry(traces.value(i).to_owned())
                    .or_default()
                    .insert(segs.value(i).to_owned());
            }
        }
    }
    let mut report = ReconcileReport {
        xray_traces: xray.len() as u64,
        ..ReconcileReport::default()
    };
    for (trace, segments) in &xray {
        match archived.get(trace) {
            None => report.missing.push(trace.clone()),
            Some(have) => {
                report.archived_traces += 1;
                let lacking = segments.difference(have).count();
                if lacking > 0 {
                    report.incomplete.push(Incomplete {
                        trace_id: trace.clone(),
                        archived_segments: have.len() as u64,
                        xray_segments: segments.len() as u64,
                    });
                }
            }
        }
    }
    Ok(report)
}

/// Archives what `report` found missing or incomplete: fetches those traces again and adds
/// them as a file import would, committed by one manifest (source `xray-reconcile`).
pub async fn reimport(
    source: &XRaySource,
    store: &impl ArchiveStore,
    report: &ReconcileReport,
    config: crate::archive::WriterConfig,
) -> Result<crate::archive::ExportSummary> {
    let ids: Vec<String> = report
        .missing
        .iter()
        .cloned()
        .chain(report.incomplete.iter().map(|i| i.trace_id.clone()))
        .collect();
    let mut tracked = crate::ledger::Tracked::read(store).await?;
    tracked.take_lease(store, Duration::hours(1)).await?;
    let mut chain = crate::ledger::read_chain(store).await?;
    if let Err(e) = crate::ledger::check_redaction_policy(&chain, &config) {
        tracked.release_unused(store).await?;
        return Err(e);
    }
    let mut writer = crate::export::ImportWriter::new(store, config, &chain);
    for item in source.fetch(&ids).await?.items {
        writer.push(item).await?;
    }
    let summary = writer.finish().await?;
    crate::ledger::commit_import(store, &mut chain, &summary, "xray-reconcile").await?;
    let now = Utc::now();
    tracked
        .release(
            store,
            crate::ledger::RunRecord {
                started_at: now,
                finished_at: now,
                outcome: "reconcile".into(),
                days: 0,
                traces: summary.traces,
                error: None,
            },
        )
        .await?;
    Ok(summary)
}
