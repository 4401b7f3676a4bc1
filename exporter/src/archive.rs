//! The archive writer: validated documents in, write-once daily Parquet parts out.
//!
//! - [`ArchiveWriter`] takes source items: it redacts and validates each document, and
//!   quarantines what it cannot archive. Every object it writes goes through
//!   [`OnceWriter`], so nothing in the archive is ever replaced.
//! - [`DayParts`] streams one day's documents, in archive order, into that day's parts:
//!   `part-NNNN` of `segments`, `spans` and `traces`, a new part whenever one reaches the
//!   target size, and the day's `payment_index` part. Parts go to the store as their row
//!   groups are encoded ([`ArchiveStore::begin`]: multipart on S3), so memory holds a row
//!   group per table, not a part, and does not grow with the day.
//!
//! File imports ([`crate::export::ImportWriter`]) and sealing ([`crate::seal`]) build on
//! these; neither this module nor the store knows about manifests.
//! What a run wrote becomes part of the archive only when its manifest commits it
//! ([`crate::ledger`]).

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use chrono::NaiveDate;
use parquet::arrow::ArrowWriter;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tracing::{debug, info};

use schema::v1::{
    ArchivedSegment, PartKey, PaymentIndexColumns, QUARANTINE_PREFIX, Table, convert,
};

use crate::error::{Error, Result};
use crate::idset::IdSet;
use crate::parquet_io::{encode, writer_properties};
use crate::redact::{Tally, places};
use crate::source::{SourceContent, SourceItem};
use crate::store::{ArchiveStore, OnceWriter, WrittenObject};

/// How the writer buffers and slices its work.
#[derive(Debug, Clone)]
pub struct WriterConfig {
    /// Document bytes a file import buffers before it adds them to the days' open parts.
    /// Bounds memory (a document's parsed model takes about three times its text), not the
    /// number of parts.
    pub buffer_bytes: usize,
    /// Documents converted per record batch, so no Arrow string array nears its 2 GiB limit.
    pub batch_documents: usize,
    /// A part is closed, and the next one started, once its Parquet reaches this size.
    pub part_bytes: usize,
    /// Index rows a payment-index roll-up holds at once ([`crate::rollup::ROLLUP_PASS_ROWS`]).
    pub rollup_pass_rows: u64,
    /// What is removed from documents before they are parsed and written.
    pub redaction: crate::redact::Policy,
    /// Years each trace is kept (and whether at all); none: the store's default years.
    pub retention: Option<crate::retention::RetentionPolicy>,
    /// OpenTelemetry attribute keys promoted to `payment_id` and `correlation_id`.
    pub span_keys: schema::otel::PromotedKeys,
    /// Allow `redaction` to differ from the policy the archive's manifests record; the
    /// next manifest records the change (`--new-redaction-policy`).
    pub new_redaction_policy: bool,
    /// Threads that parse, convert and encode (0: one per core). The archive's bytes are
    /// the same whatever the count.
    pub threads: usize,
}

/// 8 MiB of documents: about 7,500 payment-trace documents per import flush. A flush adds
/// row groups to the day's open parts, so the buffer sets memory, not the number of files.
/// Measured on 2,000,000 documents, 2 threads (peak RSS, wall): 16 MiB took 332 MiB and
/// 25.4 s, 8 MiB 259 MiB and 25.4 s (with 4,096-document batches).
pub const DEFAULT_BUFFER_BYTES: usize = 8 << 20;

/// 4,096 documents per batch. A writer converts one batch per thread at a time, so an
/// import's 8 MiB flush still gives each of 2 threads a batch; at 16,384 a
/// 2,000,000-document import peaked 90 MB higher than at 8,192, and ran no faster.
pub const DEFAULT_BATCH_DOCUMENTS: usize = 4 * 1024;

/// 128 MiB of Parquet per part: large enough that a day at VaultLink's volume is one file
/// per table (Athena opens 2,555 files per table over seven years, not 61,000), small
/// enough to hold in a 1 GiB Lambda and to read back whole.
pub const DEFAULT_PART_BYTES: usize = 128 << 20;

impl WriterConfig {
    /// The threads a writer with these settings runs on.
    pub fn threads_in_use(&self) -> usize {
        thread_pool(self.threads).current_num_threads()
    }
}

impl Default for WriterConfig {
    fn default() -> Self {
        Self {
            buffer_bytes: DEFAULT_BUFFER_BYTES,
            batch_documents: DEFAULT_BATCH_DOCUMENTS,
            part_bytes: DEFAULT_PART_BYTES,
            rollup_pass_rows: crate::rollup::ROLLUP_PASS_ROWS,
            // XRAY_ARCHIVE_HASH_KEY / _EMAILS / _CLIENT_IPS; the CLI and the Lambda check
            // them at start and stop on a bad value.
            redaction: crate::redact::Policy::from_env().unwrap_or_default(),
            // XRAY_ARCHIVE_RETENTION_POLICY, checked at start like the redaction settings.
            retention: crate::retention::RetentionPolicy::from_env().ok().flatten(),
            span_keys: schema::otel::PromotedKeys::default(),
            new_redaction_policy: false,
            // XRAY_ARCHIVE_THREADS, checked at start like the settings above.
            threads: threads_from_env().ok().flatten().unwrap_or(0),
        }
    }
}

/// `XRAY_ARCHIVE_THREADS`: how many threads parse, convert and encode; unset, one per core.
pub fn threads_from_env() -> std::result::Result<Option<usize>, String> {
    match std::env::var("XRAY_ARCHIVE_THREADS") {
        Err(_) => Ok(None),
        Ok(v) => match v.trim().parse::<usize>() {
            Ok(n) if n > 0 => Ok(Some(n)),
            _ => Err(format!(
                "XRAY_ARCHIVE_THREADS={v:?} is not a thread count: set a whole number from 1, \
                 or unset it for one thread per core"
            )),
        },
    }
}

/// A quarantined input, as reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// One object a run wrote, as its manifest records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    /// The store's version id of the object (S3 on a versioned bucket).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// Years it is retained after the day of its data, when a retention policy set them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retain_years: Option<u32>,
}

/// What a run wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ExportSummary {
    /// Input files read.
    pub files: u64,
    /// Input bytes read.
    pub input_bytes: u64,
    /// Segment documents written.
    pub segments: u64,
    /// Spans (segments plus nested subsegments) in the documents written.
    pub spans: u64,
    /// Distinct traces in the documents written.
    pub traces: u64,
    /// Documents the archive (or this input) already held byte for byte: not written again.
    pub unchanged: u64,
    /// `dt` partitions written.
    pub partitions: BTreeSet<String>,
    /// Objects written (or found already there with the same bytes, after a crash).
    pub objects_written: u64,
    /// Bytes written to the archive (parts and quarantine).
    pub archive_bytes: u64,
    /// Inputs quarantined, with reasons.
    pub quarantined: Vec<QuarantineRecord>,
    /// Values the redaction policy removed, by kind (`card_number`, `email`, `client_ip`).
    pub redactions: crate::redact::Counts,
    /// The same, by place (`annotations`, `metadata`, `http`, `sql`, `cause`, `aws`, `other`,
    /// `quarantine`), then kind.
    pub redaction_places: crate::redact::PlaceCounts,
    /// Documents of traces the retention policy keeps for zero years: never archived.
    pub excluded_by_retention: u64,
    /// CloudWatch Logs control messages skipped (they hold no spans).
    pub control_messages: u64,
    /// The redaction policy the documents were written under (the key as a fingerprint).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redaction_policy: Option<crate::redact::PolicyRecord>,
    /// Every object written, in key order: what the manifest lists.
    #[serde(skip)]
    pub objects: BTreeMap<String, ObjectRecord>,
}

impl ExportSummary {
    /// Adds what the redaction policy removed from one input, every place counted as
    /// `place` when given.
    pub fn count_redactions(&mut self, found: &Tally, place: Option<&str>) {
        for (p, counts) in &found.places {
            for (kind, n) in counts {
                *self.redactions.entry(kind.clone()).or_default() += n;
                *self
                    .redaction_places
                    .entry(place.unwrap_or(p).to_owned())
                    .or_default()
                    .entry(kind.clone())
                    .or_default() += n;
            }
        }
    }
}

/// Validates, redacts and quarantines items, and writes every object once.
pub struct ArchiveWriter<'a, S: ArchiveStore> {
    store: &'a S,
    config: WriterConfig,
    /// Trace ids written, as 128-bit numbers (a trace id is 32 bits of epoch and 96 random).
    traces_seen: IdSet,
    summary: ExportSummary,
    pool: std::sync::Arc<rayon::ThreadPool>,
}

impl<'a, S: ArchiveStore> ArchiveWriter<'a, S> {
    /// A writer into `store`.
    pub fn new(store: &'a S, config: WriterConfig) -> Self {
        let summary = ExportSummary {
            redaction_policy: Some(config.redaction.record()),
            ..ExportSummary::default()
        };
        Self {
            store,
            pool: thread_pool(config.threads),
            config,
            traces_seen: IdSet::default(),
            summary,
        }
    }

    /// The store written to.
    pub fn store(&self) -> &'a S {
        self.store
    }

    /// The writer's settings.
    pub fn config(&self) -> &WriterConfig {
        &self.config
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

    /// The summary, when the run is done.
    pub fn into_summary(self) -> ExportSummary {
        self.summary
    }

    /// Takes one source item: a valid document comes back, redacted; anything else is
    /// quarantined (its bytes redacted too) and `None` comes back.
    pub async fn intake(&mut self, item: SourceItem) -> Result<Option<ArchivedSegment>> {
        let prepared = prepare(&self.config, item);
        self.admit(prepared).await
    }

    /// Prepares items on the writer's threads ([`prepare`]), in their order.
    pub fn prepare_all(&self, items: Vec<SourceItem>) -> Vec<Prepared> {
        let config = &self.config;
        self.pool
            .install(|| items.into_par_iter().map(|i| prepare(config, i)).collect())
    }

    /// The effects of one prepared item, in input order: its redactions are counted, and
    /// what cannot be archived is quarantined. A valid document comes back.
    pub async fn admit(&mut self, prepared: Prepared) -> Result<Option<ArchivedSegment>> {
        let Prepared {
            outcome,
            found,
            source,
            location,
        } = prepared;
        match outcome {
            Outcome::Archive(seg) => {
                self.summary.count_redactions(&found, None);
                Ok(Some(seg))
            }
            Outcome::Quarantine {
                bytes,
                reason,
                place,
            } => {
                self.summary.count_redactions(&found, place);
                self.quarantine(bytes, &source, &location, reason).await?;
                Ok(None)
            }
            Outcome::Control => {
                self.summary.control_messages += 1;
                Ok(None)
            }
        }
    }

    /// The threads conversion and encoding run on ([`WriterConfig::threads`]).
    pub fn pool(&self) -> &std::sync::Arc<rayon::ThreadPool> {
        &self.pool
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
        // A reason may quote the rejected value (`id "…" is not 16 hex digits`).
        let reason = self
            .config
            .redaction
            .apply_bytes(reason.to_string().into_bytes(), &mut Tally::default());
        let reason = String::from_utf8_lossy(&reason).into_owned();
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
        self.put(&raw_key, "quarantine", None, Bytes::from(bytes), None)
            .await?;
        self.put(&format!("{base}.json"), "quarantine", None, meta, None)
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

    /// Writes an object once (see [`crate::store::put_once`]) and records it for the manifest.
    pub async fn put(
        &mut self,
        key: &str,
        table: &str,
        rows: Option<u64>,
        bytes: Bytes,
        years: Option<u32>,
    ) -> Result<()> {
        let mut w = OnceWriter::begin(self.store, key, years)?;
        w.append(bytes).await?;
        let written = w.finish(years).await?;
        self.record(key, table, rows, written, years);
        Ok(())
    }

    /// Records an object written once for the manifest.
    pub fn record(
        &mut self,
        key: &str,
        table: &str,
        rows: Option<u64>,
        written: WrittenObject,
        years: Option<u32>,
    ) {
        self.summary.archive_bytes += written.size;
        self.summary.objects_written += 1;
        self.summary.objects.insert(
            key.to_owned(),
            ObjectRecord {
                key: key.to_owned(),
                table: table.to_owned(),
                bytes: written.size,
                sha256: written.sha256,
                rows,
                version_id: written.written.version_id,
                retain_years: years,
            },
        );
    }

    /// Adds objects written by an earlier invocation (quarantined inputs of a day's hours)
    /// to what this run's manifest lists.
    pub fn adopt(&mut self, objects: Vec<ObjectRecord>, quarantined: Vec<QuarantineRecord>) {
        for object in objects {
            self.summary.archive_bytes += object.bytes;
            self.summary.objects.insert(object.key.clone(), object);
        }
        self.summary.quarantined.extend(quarantined);
    }

    /// Counts a document the archive already holds, not written again.
    pub fn count_unchanged(&mut self) {
        self.summary.unchanged += 1;
    }

    /// Counts documents of a trace as written.
    fn count_written(&mut self, docs: &[ArchivedSegment]) {
        let mut traces = Vec::new();
        for trace in docs.chunk_by(|a, b| a.trace_id() == b.trace_id()) {
            for s in trace {
                self.summary.segments += 1;
                if !s.superseded_in(trace) {
                    self.summary.spans += s.span_count() as u64;
                }
            }
            traces.push(trace_number(trace[0].trace_id()));
        }
        self.traces_seen.insert_all(&traces);
        self.summary.traces = self.traces_seen.len() as u64;
    }

    /// Years per trace under the retention policy, and the documents it keeps: a trace
    /// kept for zero years is never archived.
    fn apply_retention(
        &mut self,
        docs: Vec<ArchivedSegment>,
    ) -> (Vec<ArchivedSegment>, BTreeMap<String, u32>) {
        let Some(policy) = &self.config.retention else {
            return (docs, BTreeMap::new());
        };
        let years: BTreeMap<String, u32> = policy
            .years_by_trace(docs.iter().map(|s| (s.trace_id(), s.document())))
            .into_iter()
            .map(|(t, y)| (t.to_owned(), y))
            .collect();
        let before = docs.len();
        let kept: Vec<ArchivedSegment> = docs
            .into_iter()
            .filter(|s| years.get(s.trace_id()).is_none_or(|y| *y > 0))
            .collect();
        self.summary.excluded_by_retention += (before - kept.len()) as u64;
        (kept, years)
    }
}

/// A source item made ready on any thread: redacted, then parsed and validated. Nothing is
/// written and nothing counted until [`ArchiveWriter::admit`] takes it, in input order.
#[derive(Debug)]
pub struct Prepared {
    outcome: Outcome,
    found: Tally,
    source: String,
    location: String,
}

#[derive(Debug)]
enum Outcome {
    Archive(ArchivedSegment),
    /// Quarantined with the reason; the redactions are counted at `place`.
    Quarantine {
        bytes: Vec<u8>,
        reason: String,
        place: Option<&'static str>,
    },
    Control,
}

/// Redacts and validates one item under `config`: the pure half of
/// [`ArchiveWriter::intake`], safe to run on many items at once.
pub fn prepare(config: &WriterConfig, item: SourceItem) -> Prepared {
    let mut found = Tally::default();
    let outcome = match item.item {
        SourceContent::Document {
            text,
            limit_exceeded,
        } => {
            let text = config.redaction.apply(text, &mut found);
            match ArchivedSegment::new(text, limit_exceeded) {
                Ok(seg) => Outcome::Archive(seg),
                Err(rejected) => Outcome::Quarantine {
                    bytes: rejected.text.into_bytes(),
                    reason: rejected.rejection.to_string(),
                    place: Some(places::QUARANTINE),
                },
            }
        }
        SourceContent::Span(record) => {
            let mut record = *record;
            let text = std::mem::take(&mut record.text);
            let text = config.redaction.apply(text, &mut found);
            let context =
                schema::otel::context_of(&record).map(|c| config.redaction.apply(c, &mut found));
            // Read again only what the policy rewrote, so no removed value reaches a
            // column; an untouched record keeps the span its reader parsed.
            let record = if found.kinds.is_empty() {
                record.text = text;
                Ok(record)
            } else {
                schema::otel::reread(&text, record.format, context.as_deref())
                    .map_err(|reason| (text, reason))
            };
            let archived = record.and_then(|r| {
                ArchivedSegment::from_span(r, &config.span_keys)
                    .map_err(|rejected| (rejected.text, rejected.rejection.to_string()))
            });
            match archived {
                Ok(seg) => Outcome::Archive(seg),
                Err((text, reason)) => Outcome::Quarantine {
                    bytes: text.into_bytes(),
                    reason,
                    place: Some(places::QUARANTINE),
                },
            }
        }
        SourceContent::Control => Outcome::Control,
        SourceContent::Rejected { bytes, reason } => Outcome::Quarantine {
            bytes: config.redaction.apply_bytes(bytes, &mut found),
            reason,
            place: None,
        },
    };
    Prepared {
        outcome,
        found,
        source: item.source,
        location: item.location,
    }
}

/// The thread pool of `threads` threads (0: one per core), built once per count.
fn thread_pool(threads: usize) -> std::sync::Arc<rayon::ThreadPool> {
    static POOLS: std::sync::Mutex<BTreeMap<usize, std::sync::Arc<rayon::ThreadPool>>> =
        std::sync::Mutex::new(BTreeMap::new());
    let threads = if threads == 0 {
        std::thread::available_parallelism().map_or(1, usize::from)
    } else {
        threads
    };
    let mut pools = POOLS.lock().unwrap_or_else(|e| e.into_inner());
    pools
        .entry(threads)
        .or_insert_with(|| {
            std::sync::Arc::new(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .thread_name(|i| format!("xray-archive-{i}"))
                    .build()
                    .expect("a thread pool can be started"),
            )
        })
        .clone()
}

/// A validated trace id as one number: its 32 hex digits (after `1-`, dash skipped, in
/// X-Ray's form; all of them in W3C's).
pub(crate) fn trace_number(trace_id: &str) -> u128 {
    trace_id
        .strip_prefix("1-")
        .unwrap_or(trace_id)
        .bytes()
        .filter(|b| *b != b'-')
        .fold(0u128, |n, b| {
            (n << 4) | u128::from((b as char).to_digit(16).unwrap_or(0))
        })
}

/// Encoded Parquet a part writer hands to its upload at a time: an S3 part's worth, so
/// memory holds a row group being encoded and at most this much of what it encoded.
const UPLOAD_PIECE_BYTES: usize = 8 << 20;

/// One table's part being written: row groups go to the store as they are encoded, so the
/// part is never whole in memory, and a new part begins once one reaches the target size.
struct PartWriter<'a, S: ArchiveStore + 'a> {
    key: PartKey,
    open: Option<(ArrowWriter<Vec<u8>>, OnceWriter<'a, S>)>,
    rows: u64,
    years: Option<u32>,
}

impl<'a, S: ArchiveStore> PartWriter<'a, S> {
    fn new(table: Table, dt: NaiveDate, number: u32) -> Self {
        Self {
            key: PartKey { table, dt, number },
            open: None,
            rows: 0,
            years: None,
        }
    }

    /// The open part's encoder, opening the part (and its upload) first if none is open.
    fn encoder(&mut self, store: &'a S, years: Option<u32>) -> Result<&mut ArrowWriter<Vec<u8>>> {
        if self.open.is_none() {
            let key = self.key.key();
            let table = self.key.table;
            let w =
                ArrowWriter::try_new(Vec::new(), table.schema(), Some(writer_properties(table)))
                    .map_err(|source| Error::Encode {
                        key: key.clone(),
                        source,
                    })?;
            self.open = Some((w, OnceWriter::begin(store, &key, years)?));
        }
        Ok(&mut self.open.as_mut().expect("just opened").0)
    }

    /// Counts a batch encoded into the open part, and hands what it encoded to the upload
    /// once there is an upload piece of it.
    async fn wrote(&mut self, rows: usize, years: Option<u32>) -> Result<()> {
        let (w, upload) = self.open.as_mut().expect("encoded into an open part");
        if w.inner().len() >= UPLOAD_PIECE_BYTES {
            // The writer counts what it wrote itself, so taking the encoded bytes it has
            // handed on leaves the file's offsets right.
            upload
                .append(Bytes::from(std::mem::take(w.inner_mut())))
                .await?;
        }
        self.rows += rows as u64;
        self.years = self.years.max(years);
        Ok(())
    }

    /// Ends the open part's row group, so the rows encoded so far are complete row groups,
    /// and hands everything encoded to the upload: between an import's flushes, an open
    /// part holds no rows of its own, only its row groups' metadata and what the upload
    /// keeps (nothing locally; on S3, up to a multipart part of 16 MiB).
    async fn end_row_group(&mut self) -> Result<()> {
        let Some((w, upload)) = self.open.as_mut() else {
            return Ok(());
        };
        w.flush().map_err(|source| Error::Encode {
            key: self.key.key(),
            source,
        })?;
        upload
            .append(Bytes::from(std::mem::take(w.inner_mut())))
            .await
    }

    /// Row groups in the open part.
    fn row_groups(&self) -> usize {
        self.open
            .as_ref()
            .map_or(0, |(w, _)| w.flushed_row_groups().len())
    }

    fn size(&self) -> usize {
        self.open
            .as_ref()
            .map_or(0, |(w, _)| w.bytes_written() + w.in_progress_size())
    }

    /// Closes the part, creates it once, and moves on to the next number.
    async fn close(&mut self, out: &mut ArchiveWriter<'a, S>) -> Result<()> {
        let Some((w, mut upload)) = self.open.take() else {
            return Ok(());
        };
        let key = self.key.key();
        let rest = w.into_inner().map_err(|source| Error::Encode {
            key: key.clone(),
            source,
        })?;
        upload.append(Bytes::from(rest)).await?;
        let written = upload.finish(self.years).await?;
        debug!(%key, rows = self.rows, bytes = written.size, "part written");
        out.record(
            &key,
            self.key.table.name(),
            Some(self.rows),
            written,
            self.years,
        );
        self.key.number += 1;
        self.rows = 0;
        self.years = None;
        Ok(())
    }
}

/// The first part number each table may use in a day: one past what is committed.
pub type NextParts = BTreeMap<Table, u32>;

/// Streams one day's documents, in archive order, into write-once parts.
pub struct DayParts<'a, S: ArchiveStore + 'a> {
    dt: NaiveDate,
    parts: [PartWriter<'a, S>; 3],
    payment_number: u32,
    payment_rows: PaymentIndexColumns,
    payment_years: Option<u32>,
}

impl<'a, S: ArchiveStore> DayParts<'a, S> {
    /// A writer of `dt`'s parts, numbered from `next`.
    pub fn new(dt: NaiveDate, next: &NextParts) -> Self {
        let n = |t: Table| next.get(&t).copied().unwrap_or(0);
        Self {
            dt,
            parts: [
                PartWriter::new(Table::Segments, dt, n(Table::Segments)),
                PartWriter::new(Table::Spans, dt, n(Table::Spans)),
                PartWriter::new(Table::Traces, dt, n(Table::Traces)),
            ],
            payment_number: n(Table::PaymentIndex),
            payment_rows: PaymentIndexColumns::default(),
            payment_years: None,
        }
    }

    /// The part numbers the next writer of this day would start from.
    pub fn next_parts(&self) -> NextParts {
        let mut next = NextParts::new();
        for p in &self.parts {
            next.insert(p.key.table, p.key.number);
        }
        next.insert(Table::PaymentIndex, self.payment_number);
        next
    }

    /// Writes documents of whole traces, sorted in archive order, all of this day. Within
    /// a run (everything pushed between two [`DayParts::end_run`]s) each push sorts after
    /// the one before.
    pub async fn push(
        &mut self,
        out: &mut ArchiveWriter<'a, S>,
        docs: Vec<ArchivedSegment>,
    ) -> Result<()> {
        let (docs, years) = out.apply_retention(docs);
        if docs.is_empty() {
            return Ok(());
        }
        out.count_written(&docs);
        out.summary
            .partitions
            .insert(schema::v1::partition(self.dt));
        let batch_documents = out.config.batch_documents;
        let chunks = trace_aligned_chunks(&docs, batch_documents);
        // Chunks are converted a pool's width at a time, so memory holds that many batches.
        for group in chunks.chunks(out.pool.current_num_threads()) {
            let converted: Vec<_> = out
                .pool
                .install(|| group.par_iter().map(|chunk| convert(chunk)).collect());
            for (chunk, batches) in group.iter().zip(converted) {
                let batches = batches.map_err(|source| Error::Convert {
                    table: "day",
                    source,
                })?;
                let chunk_years = chunk
                    .iter()
                    .filter_map(|s| years.get(s.trace_id()).copied())
                    .max();
                self.encode(out, &batches, chunk_years).await?;
                self.payment_years = self.payment_years.max(chunk_years);
                for row in &batches.payment_index {
                    self.payment_rows.push(row);
                }
            }
        }
        // Freeing a few hundred thousand parsed strings is left to the pool, beside the
        // next work.
        out.pool.spawn(move || drop(docs));
        Ok(())
    }

    /// Encodes one chunk's batches into the open parts, the tables side by side on the
    /// pool: each table's bytes depend only on its own batches, never on the threads.
    async fn encode(
        &mut self,
        out: &mut ArchiveWriter<'a, S>,
        batches: &schema::v1::WindowBatches,
        years: Option<u32>,
    ) -> Result<()> {
        let tables = [&batches.segments, &batches.spans, &batches.traces];
        let mut encoders = Vec::with_capacity(tables.len());
        for part in &mut self.parts {
            let key = part.key.key();
            encoders.push((key, part.encoder(out.store, years)?));
        }
        out.pool.install(|| {
            encoders
                .par_iter_mut()
                .zip(tables)
                .try_for_each(|((key, w), batch)| {
                    w.write(batch).map_err(|source| Error::Encode {
                        key: key.clone(),
                        source,
                    })
                })
        })?;
        drop(encoders);
        for (part, batch) in self.parts.iter_mut().zip(tables) {
            part.wrote(batch.num_rows(), years).await?;
            if part.size() >= out.config.part_bytes {
                part.close(out).await?;
            }
        }
        Ok(())
    }

    /// Ends a sorted run of documents: the parts stay open for the next run (a file
    /// import's next flush), which starts a new row group, so every row group is in
    /// archive order. The payment index rows so far are written as a part once there are
    /// [`PAYMENT_PART_ROWS`] of them, so they do not grow with the day.
    pub async fn end_run(&mut self, out: &mut ArchiveWriter<'a, S>) -> Result<()> {
        for part in &mut self.parts {
            part.end_row_group().await?;
            // A day that gets a few documents every flush would otherwise add a small row
            // group, and its metadata, to memory at each.
            if part.row_groups() >= MAX_PART_ROW_GROUPS {
                part.close(out).await?;
            }
        }
        if self.payment_rows.len() >= PAYMENT_PART_ROWS {
            self.write_payment_index(out).await?;
        }
        Ok(())
    }

    /// Closes the open parts and writes the day's `payment_index` part.
    pub async fn finish(mut self, out: &mut ArchiveWriter<'a, S>) -> Result<NextParts> {
        for part in &mut self.parts {
            part.close(out).await?;
        }
        self.write_payment_index(out).await?;
        Ok(self.next_parts())
    }

    /// Writes the payment index rows held as the next `payment_index` part of the day.
    async fn write_payment_index(&mut self, out: &mut ArchiveWriter<'a, S>) -> Result<()> {
        if !self.payment_rows.is_empty() {
            let key = PartKey {
                table: Table::PaymentIndex,
                dt: self.dt,
                number: self.payment_number,
            }
            .key();
            let rows = self.payment_rows.len() as u64;
            let batch = std::mem::take(&mut self.payment_rows)
                .finish_sorted()
                .map_err(|source| Error::Convert {
                    table: "payment_index",
                    source,
                })?;
            let bytes = encode(Table::PaymentIndex, &key, &[batch])?;
            out.put(
                &key,
                Table::PaymentIndex.name(),
                Some(rows),
                bytes,
                self.payment_years,
            )
            .await?;
            self.payment_number += 1;
            self.payment_years = None;
        }
        Ok(())
    }
}

/// Row groups a part takes before it is closed and the next begun: a row group's metadata
/// (about 90 column chunks in `spans`) stays in memory until its part is closed.
pub const MAX_PART_ROW_GROUPS: usize = 512;

/// Payment index rows (about 100 bytes each, twice that in growing builders) a file import
/// holds per open day before it writes them as a part: one part for a day of up to 32,768
/// payments, and a few MB held. (At 131,072, a 2,000,000-document import held 49 MB.)
pub const PAYMENT_PART_ROWS: usize = 32 * 1024;

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

    #[tokio::test]
    async fn a_day_over_the_target_size_gets_more_parts_numbered_in_order() {
        let store = crate::store::MemoryStore::default();
        let config = WriterConfig {
            part_bytes: 1,
            batch_documents: 1,
            redaction: crate::redact::Policy::default(),
            retention: None,
            ..WriterConfig::default()
        };
        let mut out = ArchiveWriter::new(&store, config);
        let dt = NaiveDate::from_ymd_opt(2020, 8, 5).unwrap();
        let mut day = DayParts::new(dt, &NextParts::from([(Table::Segments, 3)]));
        let docs = vec![
            seg("1-5f2aebcc-000000000000000000000001", "0000000000000001"),
            seg("1-5f2aebcc-000000000000000000000002", "0000000000000002"),
        ];
        day.push(&mut out, docs).await.unwrap();
        let next = day.finish(&mut out).await.unwrap();
        let keys: Vec<&str> = out.summary().objects.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "v1/segments/dt=2020-08-05/part-0003.parquet",
                "v1/segments/dt=2020-08-05/part-0004.parquet",
                "v1/spans/dt=2020-08-05/part-0000.parquet",
                "v1/spans/dt=2020-08-05/part-0001.parquet",
                "v1/traces/dt=2020-08-05/part-0000.parquet",
                "v1/traces/dt=2020-08-05/part-0001.parquet",
            ]
        );
        assert_eq!(next[&Table::Segments], 5);
        assert_eq!(next[&Table::PaymentIndex], 0, "no payment rows, no part");
    }
}
