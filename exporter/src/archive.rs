//! The archive writer: validated documents in, hourly Parquet parts out.
//!
//! Documents are buffered by their trace's hourly window (from the trace id). When the
//! buffer is full, and at the end, each window is written: the window's existing `segments`
//! part (if any) is read back and merged with the new documents by `(trace_id, id)`, then the
//! window's `segments`, `spans` and `traces` parts are rewritten whole. So:
//! - re-running the same input writes the same bytes to the same keys (no duplicates);
//! - late documents of a trace join the trace's earlier ones in the same part;
//! - a crash part-way leaves every object either old or new, and a re-run converges.
//!
//! `payment_index` rows are gathered per bucket part and merged the same way at the end.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use bytes::Bytes;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tracing::{debug, info};

use schema::TracePlacement;
use schema::v1::{
    ArchivedSegment, PaymentIndexPart, PaymentIndexRow, QUARANTINE_PREFIX, Table, convert,
    part_key, payment_index_batch, sort_for_archive,
};

use crate::error::{Error, Result};
use crate::parquet_io::{decode, encode, read_segment_documents};
use crate::source::{SourceContent, SourceItem};
use crate::store::ArchiveStore;

/// How the writer buffers and slices its work.
#[derive(Debug, Clone)]
pub struct WriterConfig {
    /// Document bytes buffered before windows are written. Bounds memory: the model of a
    /// document takes about as much again as its text.
    pub buffer_bytes: usize,
    /// Documents converted per record batch, so no Arrow string array nears its 2 GiB limit
    /// and memory stays flat for very large windows.
    pub batch_documents: usize,
    /// How a document whose `(trace_id, id)` is already archived with other text is kept.
    /// `false` (files): both are kept, each a piece of evidence. `true` (the X-Ray API, whose
    /// answer is the segment's latest state): the new text replaces the old one.
    pub supersede: bool,
    /// What is removed from documents before they are parsed and written.
    pub redaction: crate::redact::Policy,
    /// Years each trace is kept (and whether at all); none: the store's default years.
    pub retention: Option<crate::retention::RetentionPolicy>,
}

/// 32 MiB of documents: about 30,000 payment-trace documents. With their parsed models,
/// the Arrow batches and the encoded parts this peaks well inside a 400 MB budget
/// (measured on a 2-million-document export; see the README).
pub const DEFAULT_BUFFER_BYTES: usize = 32 << 20;

/// `payment_index` rows gathered before their bucket parts are merged and written.
pub const PAYMENT_ROWS_BUFFERED: usize = 100_000;

/// 16,384 documents per batch: two `segments` row groups.
pub const DEFAULT_BATCH_DOCUMENTS: usize = 16 * 1024;

impl Default for WriterConfig {
    fn default() -> Self {
        Self {
            buffer_bytes: DEFAULT_BUFFER_BYTES,
            batch_documents: DEFAULT_BATCH_DOCUMENTS,
            supersede: false,
            // XRAY_ARCHIVE_HASH_KEY / _EMAILS / _CLIENT_IPS; the CLI and the Lambda check
            // them at start and stop on a bad value.
            redaction: crate::redact::Policy::from_env().unwrap_or_default(),
            // XRAY_ARCHIVE_RETENTION_POLICY, checked at start like the redaction settings.
            retention: crate::retention::RetentionPolicy::from_env().ok().flatten(),
        }
    }
}

/// A quarantined input, as reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuarantineRecord {
    /// Key of the quarantined bytes in the archive (`_quarantine/<sha256>.raw`).
    pub key: String,
    /// The input it came from.
    pub source: String,
    /// Where in the input.
    pub location: String,
    /// Why it was rejected.
    pub reason: String,
}

/// One object an export wrote, as its manifest records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ObjectRecord {
    /// Key relative to the archive root.
    pub key: String,
    /// `segments`, `spans`, `traces`, `payment_index` or `quarantine`.
    pub table: String,
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256 of the bytes, hex.
    pub sha256: String,
    /// Rows in the part (none for quarantined inputs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
    /// Years it is retained after the day of its data, when a retention policy set them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retain_years: Option<u32>,
}

/// What an export did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ExportSummary {
    /// Input files read.
    pub files: u64,
    /// Input bytes read.
    pub input_bytes: u64,
    /// Segment documents accepted from the input.
    pub segments: u64,
    /// Spans (segments plus nested subsegments) in the accepted documents.
    pub spans: u64,
    /// Distinct traces in the accepted documents.
    pub traces: u64,
    /// Documents the archive (or this input) already held byte for byte: a re-run.
    pub unchanged: u64,
    /// Archived documents replaced by a newer state of the same segment (X-Ray re-sweeps).
    pub superseded: u64,
    /// `dt` partitions written.
    pub partitions: BTreeSet<String>,
    /// Objects written.
    pub objects_written: u64,
    /// Bytes written to the archive (parts and quarantine).
    pub archive_bytes: u64,
    /// Inputs quarantined, with reasons.
    pub quarantined: Vec<QuarantineRecord>,
    /// Values the redaction policy removed, by kind (`card_number`, `email`, `client_ip`).
    pub redactions: crate::redact::Counts,
    /// Documents of traces the retention policy keeps for zero years: never archived.
    pub excluded_by_retention: u64,
    /// Every object written, last write of a key winning, in key order: what the manifest
    /// lists.
    #[serde(skip)]
    pub objects: BTreeMap<String, ObjectRecord>,
}

/// Writes documents into an archive store.
pub struct ArchiveWriter<'a, S: ArchiveStore> {
    store: &'a S,
    config: WriterConfig,
    pending: BTreeMap<TracePlacement, Vec<ArchivedSegment>>,
    pending_bytes: usize,
    payment_rows: BTreeMap<PaymentIndexPart, Vec<PaymentIndexRow>>,
    /// Trace ids seen, as 128-bit numbers (a trace id is 32 bits of epoch and 96 random).
    traces_seen: HashSet<u128>,
    payment_rows_buffered: usize,
    summary: ExportSummary,
}

impl<'a, S: ArchiveStore> ArchiveWriter<'a, S> {
    /// A writer into `store`.
    pub fn new(store: &'a S, config: WriterConfig) -> Self {
        Self {
            store,
            config,
            pending: BTreeMap::new(),
            pending_bytes: 0,
            payment_rows: BTreeMap::new(),
            traces_seen: HashSet::new(),
            payment_rows_buffered: 0,
            summary: ExportSummary::default(),
        }
    }

    /// Counts an input file read (for the summary).
    pub fn count_input(&mut self, files: u64, bytes: u64) {
        self.summary.files += files;
        self.summary.input_bytes += bytes;
    }

    /// The summary so far.
    pub fn summary(&self) -> &ExportSummary {
        &self.summary
    }

    /// Takes one source item: a document is validated and buffered, anything else is
    /// quarantined. Writes windows when the buffer is full.
    pub async fn push(&mut self, item: SourceItem) -> Result<()> {
        match item.item {
            SourceContent::Document {
                text,
                limit_exceeded,
            } => match ArchivedSegment::new(
                self.config
                    .redaction
                    .apply(text, &mut self.summary.redactions),
                limit_exceeded,
            ) {
                Ok(seg) => self.accept(seg).await?,
                Err(rejected) => {
                    let bytes = rejected.text.into_bytes();
                    self.quarantine(bytes, &item.source, &item.location, rejected.rejection)
                        .await?
                }
            },
            SourceContent::Rejected { bytes, reason } => {
                let bytes = self
                    .config
                    .redaction
                    .apply_bytes(bytes, &mut self.summary.redactions);
                self.quarantine(bytes, &item.source, &item.location, reason)
                    .await?
            }
        }
        Ok(())
    }

    async fn accept(&mut self, seg: ArchivedSegment) -> Result<()> {
        self.summary.segments += 1;
        self.summary.spans += seg.document().span_count() as u64;
        self.traces_seen.insert(trace_number(seg.trace_id()));
        self.summary.traces = self.traces_seen.len() as u64;
        self.pending_bytes += seg.text().len();
        self.pending.entry(seg.placement()).or_default().push(seg);
        if self.pending_bytes >= self.config.buffer_bytes {
            self.write_pending().await?;
        }
        Ok(())
    }

    /// Stores a rejected input under `_quarantine/`: `<key>.raw` holds the bytes exactly and
    /// `<key>.json` the reason and where they came from. The key is a SHA-256 over the source,
    /// the location and the bytes, so a re-run writes the same objects and two inputs with
    /// equal bytes keep their own records.
    async fn quarantine(
        &mut self,
        bytes: Vec<u8>,
        source: &str,
        location: &str,
        reason: impl ToString,
    ) -> Result<()> {
        let reason = reason.to_string();
        let hash = hex::encode(Sha256::digest(&bytes));
        let key = Sha256::new()
            .chain_update(source)
            .chain_update([0])
            .chain_update(location)
            .chain_update([0])
            .chain_update(&bytes)
            .finalize();
        let base = format!("{QUARANTINE_PREFIX}{}", &hex::encode(key)[..32]);
        let raw_key = format!("{base}.raw");
        let meta = serde_json::json!({
            "reason": reason,
            "source": source,
            "location": location,
            "sha256": hash,
            "bytes": bytes.len(),
            "raw": raw_key,
        });
        let meta = Bytes::from(serde_json::to_vec_pretty(&meta).expect("json"));
        self.put(&raw_key, "quarantine", None, Bytes::from(bytes))
            .await?;
        self.put(&format!("{base}.json"), "quarantine", None, meta)
            .await?;
        info!(%source, %location, %reason, "quarantined");
        self.summary.quarantined.push(QuarantineRecord {
            key: raw_key,
            source: source.to_owned(),
            location: location.to_owned(),
            reason,
        });
        Ok(())
    }

    async fn put(&mut self, key: &str, table: &str, rows: Option<u64>, bytes: Bytes) -> Result<()> {
        self.put_for(key, table, rows, bytes, None).await
    }

    /// Writes an object, retained `years` (a retention policy's) when given.
    async fn put_for(
        &mut self,
        key: &str,
        table: &str,
        rows: Option<u64>,
        bytes: Bytes,
        years: Option<u32>,
    ) -> Result<()> {
        self.summary.archive_bytes += bytes.len() as u64;
        self.summary.objects_written += 1;
        let record = ObjectRecord {
            key: key.to_owned(),
            table: table.to_owned(),
            bytes: bytes.len() as u64,
            sha256: hex::encode(Sha256::digest(&bytes)),
            rows,
            retain_years: years,
        };
        match years {
            Some(y) => self.store.put_retained(key, bytes, y).await?,
            None => self.store.put(key, bytes).await?,
        }
        self.summary.objects.insert(key.to_owned(), record);
        Ok(())
    }

    async fn write_pending(&mut self) -> Result<()> {
        let pending = std::mem::take(&mut self.pending);
        self.pending_bytes = 0;
        for (placement, segments) in pending {
            self.write_window(placement, segments).await?;
        }
        Ok(())
    }

    /// Merges `new` into the window's existing documents and rewrites its parts.
    async fn write_window(
        &mut self,
        placement: TracePlacement,
        new: Vec<ArchivedSegment>,
    ) -> Result<()> {
        let mut new = new;
        if let Some(policy) = &self.config.retention {
            let years = policy
                .years_by_trace(new.iter().map(|s| (s.trace_id(), s.document())))
                .into_iter()
                .map(|(t, y)| (t.to_owned(), y))
                .collect::<BTreeMap<String, u32>>();
            let before = new.len();
            let mut dropped_spans = 0u64;
            new.retain(|s| {
                let keep = years.get(s.trace_id()).is_none_or(|y| *y > 0);
                if !keep {
                    dropped_spans += s.document().span_count() as u64;
                }
                keep
            });
            let dropped = (before - new.len()) as u64;
            if dropped > 0 {
                self.summary.excluded_by_retention += dropped;
                self.summary.segments -= dropped;
                self.summary.spans -= dropped_spans;
                for (t, y) in &years {
                    if *y == 0 {
                        self.traces_seen.remove(&trace_number(t));
                    }
                }
                self.summary.traces = self.traces_seen.len() as u64;
            }
            if new.is_empty() {
                return Ok(());
            }
        }
        let seg_key = part_key(Table::Segments, &placement);
        let mut segments: Vec<ArchivedSegment> = Vec::new();
        if let Some(bytes) = self.store.get(&seg_key).await? {
            for (text, limit) in read_segment_documents(&seg_key, bytes)? {
                let seg = ArchivedSegment::new(text, limit).map_err(|e| Error::CorruptPart {
                    key: seg_key.clone(),
                    reason: format!("archived document no longer valid: {}", e.rejection),
                })?;
                segments.push(seg);
            }
        }
        // Documents are kept as a set of distinct texts: an identical document (a re-run, or
        // the same input twice) is stored once; a different document with the same id is a
        // different piece of evidence (an in-progress and a completed copy, say), kept too.
        let mut by_id: HashMap<(String, String), Vec<usize>> =
            HashMap::with_capacity(segments.len());
        for (i, s) in segments.iter().enumerate() {
            by_id
                .entry((s.trace_id().to_owned(), s.id().to_owned()))
                .or_default()
                .push(i);
        }
        let mut replaced: HashSet<usize> = HashSet::new();
        for seg in new {
            let same = by_id
                .entry((seg.trace_id().to_owned(), seg.id().to_owned()))
                .or_default();
            if same
                .iter()
                .any(|&i| !replaced.contains(&i) && segments[i].text() == seg.text())
            {
                self.summary.unchanged += 1;
                continue;
            }
            if self.config.supersede {
                for &i in same.iter() {
                    if replaced.insert(i) {
                        self.summary.superseded += 1;
                    }
                }
            }
            same.push(segments.len());
            segments.push(seg);
        }
        drop(by_id);
        if !replaced.is_empty() {
            let mut i = 0;
            segments.retain(|_| {
                i += 1;
                !replaced.contains(&(i - 1))
            });
        }
        sort_for_archive(&mut segments);
        debug!(window = ?placement, documents = segments.len(), "writing window");

        let mut parts: [Vec<arrow::record_batch::RecordBatch>; 3] = Default::default();
        for chunk in trace_aligned_chunks(&segments, self.config.batch_documents) {
            let batches = convert(chunk).map_err(|source| Error::Convert {
                table: "window",
                source,
            })?;
            parts[0].push(batches.segments);
            parts[1].push(batches.spans);
            parts[2].push(batches.traces);
            for row in batches.payment_index {
                let part = PaymentIndexPart::of(&row.payment_id, row.dt);
                self.payment_rows.entry(part).or_default().push(row);
                self.payment_rows_buffered += 1;
            }
        }
        // `segments` last: it is what a re-run merges with, so until it is replaced a re-run
        // still sees the old documents and rebuilds every part from them plus its input.
        // A part is kept as long as its longest-kept trace.
        let years = self.config.retention.as_ref().map(|policy| {
            policy
                .years_by_trace(segments.iter().map(|s| (s.trace_id(), s.document())))
                .into_values()
                .max()
                .unwrap_or(policy.default_years)
        });
        for (table, batches) in [Table::Spans, Table::Traces, Table::Segments]
            .into_iter()
            .zip([&parts[1], &parts[2], &parts[0]])
        {
            let key = part_key(table, &placement);
            let rows = batches.iter().map(|b| b.num_rows() as u64).sum();
            let bytes = encode(table, &key, batches)?;
            self.put_for(&key, table.name(), Some(rows), bytes, years)
                .await?;
        }
        self.summary.partitions.insert(placement.partition());
        if self.payment_rows_buffered >= PAYMENT_ROWS_BUFFERED {
            self.write_payment_index().await?;
        }
        Ok(())
    }

    async fn write_payment_index(&mut self) -> Result<()> {
        let parts = std::mem::take(&mut self.payment_rows);
        self.payment_rows_buffered = 0;
        for (part, rows) in parts {
            let key = part.key();
            let mut merged: BTreeMap<(String, String), PaymentIndexRow> = BTreeMap::new();
            if let Some(bytes) = self.store.get(&key).await? {
                for row in read_payment_rows(&key, bytes)? {
                    merged.insert((row.payment_id.clone(), row.trace_id.clone()), row);
                }
            }
            for row in rows {
                merged.insert((row.payment_id.clone(), row.trace_id.clone()), row);
            }
            let mut rows: Vec<PaymentIndexRow> = merged.into_values().collect();
            let batch = payment_index_batch(&mut rows).map_err(|source| Error::Convert {
                table: "payment_index",
                source,
            })?;
            let bytes = encode(Table::PaymentIndex, &key, &[batch])?;
            let table = Table::PaymentIndex.name();
            // The index outlives every trace it points to.
            let years = self.config.retention.as_ref().map(|p| {
                p.rules
                    .iter()
                    .map(|r| r.years)
                    .chain([p.default_years])
                    .max()
                    .unwrap_or(p.default_years)
            });
            self.put_for(&key, table, Some(rows.len() as u64), bytes, years)
                .await?;
        }
        Ok(())
    }

    /// Writes everything still buffered and returns the summary.
    pub async fn finish(mut self) -> Result<ExportSummary> {
        self.write_pending().await?;
        self.write_payment_index().await?;
        Ok(self.summary)
    }
}

/// A validated trace id as one number: hex digits after `1-`, dash skipped.
fn trace_number(trace_id: &str) -> u128 {
    trace_id
        .bytes()
        .skip(2)
        .filter(|b| *b != b'-')
        .fold(0u128, |n, b| {
            (n << 4) | u128::from((b as char).to_digit(16).unwrap_or(0))
        })
}

/// Slices documents in archive order into runs of about `size`, never splitting a trace.
fn trace_aligned_chunks(segments: &[ArchivedSegment], size: usize) -> Vec<&[ArchivedSegment]> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < segments.len() {
        let mut end = (start + size.max(1)).min(segments.len());
        while end < segments.len() && segments[end].trace_id() == segments[end - 1].trace_id() {
            end += 1;
        }
        out.push(&segments[start..end]);
        start = end;
    }
    out
}

/// Reads the rows of an existing `payment_index` part.
fn read_payment_rows(key: &str, bytes: Bytes) -> Result<Vec<PaymentIndexRow>> {
    use arrow::array::AsArray;
    use arrow::datatypes::{Date32Type, TimestampMillisecondType};
    let corrupt = |reason: &str| Error::CorruptPart {
        key: key.to_owned(),
        reason: reason.to_owned(),
    };
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
    let mut out = Vec::new();
    for b in decode(key, bytes)? {
        if b.schema().fields() != Table::PaymentIndex.schema().fields() {
            return Err(corrupt("schema differs from payment_index v1"));
        }
        let s = |i: usize| b.column(i).as_string::<i32>();
        let flag = |i: usize| b.column(i).as_boolean();
        let dt = b.column(2).as_primitive::<Date32Type>();
        let start = b.column(3).as_primitive::<TimestampMillisecondType>();
        for i in 0..b.num_rows() {
            out.push(PaymentIndexRow {
                payment_id: s(0).value(i).to_owned(),
                trace_id: s(1).value(i).to_owned(),
                dt: epoch + chrono::Days::new(dt.value(i) as u64),
                start_us: start.value(i) * 1000,
                root_name: s(4).value(i).to_owned(),
                error: flag(5).value(i),
                fault: flag(6).value(i),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(trace: &str, id: &str) -> ArchivedSegment {
        ArchivedSegment::new(
            format!(
                r#"{{"name":"n","id":"{id}","trace_id":"{trace}","start_time":1,"end_time":2}}"#
            ),
            None,
        )
        .unwrap()
    }

    fn doc(id: &str, end: f64) -> SourceItem {
        SourceItem {
            item: SourceContent::Document {
                text: format!(
                    r#"{{"name":"n","id":"{id}","trace_id":"1-5f2aebcc-000000000000000000000001","start_time":1596648396,"end_time":{end}}}"#
                ),
                limit_exceeded: None,
            },
            source: "test".into(),
            location: String::new(),
        }
    }

    async fn write(
        store: &crate::store::MemoryStore,
        supersede: bool,
        items: Vec<SourceItem>,
    ) -> ExportSummary {
        let config = WriterConfig {
            supersede,
            ..WriterConfig::default()
        };
        let mut w = ArchiveWriter::new(store, config);
        for item in items {
            w.push(item).await.unwrap();
        }
        w.finish().await.unwrap()
    }

    async fn archived_texts(store: &crate::store::MemoryStore) -> Vec<String> {
        let key = "v1/segments/dt=2020-08-05/part-17.parquet";
        let bytes = store.get(key).await.unwrap().expect("segments part");
        read_segment_documents(key, bytes)
            .unwrap()
            .into_iter()
            .map(|(t, _)| t)
            .collect()
    }

    #[tokio::test]
    async fn a_newer_state_supersedes_the_archived_one_when_asked() {
        let store = crate::store::MemoryStore::default();
        write(&store, true, vec![doc("0000000000000001", 1596648397.0)]).await;
        let again = write(
            &store,
            true,
            vec![
                doc("0000000000000001", 1596648398.0),
                doc("0000000000000002", 1596648397.0),
            ],
        )
        .await;
        assert_eq!(again.superseded, 1);
        let texts = archived_texts(&store).await;
        assert_eq!(texts.len(), 2, "{texts:?}");
        assert!(texts[0].contains("1596648398"), "{texts:?}");
        // The same state again changes nothing.
        let third = write(&store, true, vec![doc("0000000000000001", 1596648398.0)]).await;
        assert_eq!((third.superseded, third.unchanged), (0, 1));
        assert_eq!(archived_texts(&store).await.len(), 2);
    }

    #[tokio::test]
    async fn without_supersede_both_states_are_kept_as_evidence() {
        let store = crate::store::MemoryStore::default();
        write(&store, false, vec![doc("0000000000000001", 1596648397.0)]).await;
        let again = write(&store, false, vec![doc("0000000000000001", 1596648398.0)]).await;
        assert_eq!(again.superseded, 0);
        assert_eq!(archived_texts(&store).await.len(), 2);
    }

    #[test]
    fn chunks_never_split_a_trace() {
        let t1 = "1-5f2aebcc-000000000000000000000001";
        let t2 = "1-5f2aebcc-000000000000000000000002";
        let segs = vec![
            seg(t1, "0000000000000001"),
            seg(t1, "0000000000000002"),
            seg(t1, "0000000000000003"),
            seg(t2, "0000000000000004"),
        ];
        let chunks = trace_aligned_chunks(&segs, 2);
        assert_eq!(
            chunks.iter().map(|c| c.len()).collect::<Vec<_>>(),
            vec![3, 1]
        );
    }
}
