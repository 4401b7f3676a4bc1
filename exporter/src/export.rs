//! Import from files: read every input, add its documents to the archive as new write-once
//! parts of the days they belong to (a sealed day is never rewritten; documents already
//! archived are not written again), quarantine the rest, and commit it all with one
//! manifest. The import holds the archive's lease meanwhile.

use std::io::BufRead;
use std::path::Path;

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use schema::v1::{ArchivedSegment, Table, sort_for_archive};

use crate::archive::{ArchiveWriter, DayParts, ExportSummary, NextParts, WriterConfig};
use crate::error::{Error, Result};
use crate::idset::IdSet;
use crate::ledger::Chain;
use crate::ledger::{RunRecord, Tracked, commit_import, read_chain};
use crate::parquet_io::read_segment_documents;
use crate::source::FileSource;
use crate::source::SourceItem;
use crate::source::files::InputReader;
use crate::store::ArchiveStore;

/// Progress of a long export, reported after each input file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Files done.
    pub files_done: u64,
    /// Files in all.
    pub files_total: u64,
    /// Input bytes done.
    pub bytes_done: u64,
    /// Input bytes in all.
    pub bytes_total: u64,
    /// Documents accepted so far.
    pub segments: u64,
    /// Inputs quarantined so far.
    pub quarantined: u64,
}

/// Archives every file of `source` into `store`, calling `progress` after each file.
///
/// ```no_run
/// # async fn run() -> exporter::Result<()> {
/// let store = exporter::LocalDirStore::open("/tmp/archive")?;
/// let source = exporter::FileSource::open("traces/".as_ref())?;
/// let summary = exporter::export_files(&source, &store, Default::default(), &mut |_| {}).await?;
/// println!("{} traces archived", summary.traces);
/// # Ok(()) }
/// ```
pub async fn export_files<S: ArchiveStore>(
    source: &FileSource,
    store: &S,
    config: WriterConfig,
    progress: &mut dyn FnMut(Progress),
) -> Result<ExportSummary> {
    let mut tracked = Tracked::read(store).await?;
    tracked.take_lease(store, LEASE).await?;
    let mut chain = read_chain(store).await?;
    if let Err(e) = crate::ledger::check_redaction_policy(&chain, &config) {
        tracked.release_unused(store).await?;
        return Err(e);
    }
    let mut writer = ImportWriter::new(store, config, &chain);
    let mut p = Progress {
        files_done: 0,
        files_total: source.files().len() as u64,
        bytes_done: 0,
        bytes_total: source.total_bytes(),
        segments: 0,
        quarantined: 0,
    };
    for (path, size) in source.files() {
        archive_file(&mut writer, path).await?;
        writer.count_input(1, *size);
        p.files_done += 1;
        p.bytes_done += size;
        p.segments = writer.summary().segments;
        p.quarantined = writer.summary().quarantined.len() as u64;
        progress(p);
    }
    let summary = writer.finish().await?;
    commit_import(store, &mut chain, &summary, "files").await?;
    release(store, &mut tracked, &summary).await?;
    Ok(summary)
}

/// A document's identity in an import: the first 128 bits of its SHA-256. Two different
/// documents share one with odds near 2^-128 per pair, and an import holds one per document
/// of every day it touches, so half a digest halves that memory.
fn digest128(text: &str) -> u128 {
    let full = Sha256::digest(text);
    u128::from_be_bytes(full[..16].try_into().expect("SHA-256 has 32 bytes"))
}

/// How long an import may hold the lease: long enough for a large directory.
const LEASE: chrono::Duration = chrono::Duration::hours(1);

/// Gives the lease back after a committed import.
async fn release<S: ArchiveStore>(
    store: &S,
    tracked: &mut Tracked,
    summary: &ExportSummary,
) -> Result<()> {
    let now = chrono::Utc::now();
    tracked
        .release(
            store,
            RunRecord {
                started_at: now,
                finished_at: now,
                outcome: "import".into(),
                days: 0,
                traces: summary.traces,
                error: None,
            },
        )
        .await
}

/// Input read, parsed and validated at a time, on every core: small next to the import
/// buffer, large enough to keep the threads busy.
pub const READ_BATCH_BYTES: usize = 2 << 20;

/// Streams one file's items into the writer. A thread of its own reads the file and
/// prepares its items ([`crate::archive::prepare`]) a batch ahead, while the writer
/// admits the batch before and writes parts; the items reach the writer in file order.
async fn archive_file<S: ArchiveStore>(
    writer: &mut ImportWriter<'_, S>,
    path: &Path,
) -> Result<()> {
    let mut reader = FileSource::read_file(path)?;
    let (tx, mut rx) = tokio::sync::mpsc::channel(1);
    let config = writer.out.config().clone();
    let pool = writer.pool().clone();
    std::thread::Builder::new()
        .name("xray-archive-read".into())
        .spawn(move || {
            loop {
                let batch = reader.next_batch(READ_BATCH_BYTES, &pool, &|item| {
                    crate::archive::prepare(&config, item)
                });
                let last = !matches!(&batch, Ok(items) if !items.is_empty());
                // A writer that stopped (an error) drops its end, and the read ends too.
                if tx.blocking_send(batch).is_err() || last {
                    return;
                }
            }
        })
        .map_err(|source| Error::SourceRead {
            path: path.to_owned(),
            source,
        })?;
    while let Some(batch) = rx.recv().await {
        let batch = batch.map_err(|source| Error::SourceRead {
            path: path.to_owned(),
            source,
        })?;
        for prepared in batch {
            writer.admit(prepared).await?;
        }
    }
    Ok(())
}

/// Archives in-memory inputs (name, content), such as the demo's bundled samples.
pub async fn export_inputs<S: ArchiveStore>(
    inputs: &[(&str, &[u8])],
    store: &S,
    config: WriterConfig,
) -> Result<ExportSummary> {
    let mut tracked = Tracked::read(store).await?;
    tracked.take_lease(store, LEASE).await?;
    let mut chain = read_chain(store).await?;
    if let Err(e) = crate::ledger::check_redaction_policy(&chain, &config) {
        tracked.release_unused(store).await?;
        return Err(e);
    }
    let mut writer = ImportWriter::new(store, config, &chain);
    for (name, content) in inputs {
        writer.push_input(name, *content).await?;
        writer.count_input(1, content.len() as u64);
    }
    let summary = writer.finish().await?;
    commit_import(store, &mut chain, &summary, "files").await?;
    release(store, &mut tracked, &summary).await?;
    Ok(summary)
}

/// A file import: documents in any order, buffered per day. Each flush sorts a day's
/// buffered documents, skips those the archive already holds, and appends them to the
/// day's open parts as new row groups; the parts get the day's next free numbers and are
/// closed at the end (or at 128 MB, or 512 row groups), so an import writes one part per
/// table per day whatever its buffer size.
///
/// A trace whose id carries no epoch (an OpenTelemetry W3C id) is archived on the day of its
/// earliest span among the documents buffered with it.
pub struct ImportWriter<'a, S: ArchiveStore> {
    out: ArchiveWriter<'a, S>,
    chain: &'a Chain,
    pending: BTreeMap<NaiveDate, Vec<ArchivedSegment>>,
    pending_bytes: usize,
    days: BTreeMap<NaiveDate, ImportDay<'a, S>>,
    flushes: u64,
    /// The trace of the document buffered last: a flush waits for the next trace, so
    /// documents of one trace that arrive together are written together.
    last_trace: Option<u128>,
}

/// What an import keeps of a day it has touched.
struct ImportDay<'a, S: ArchiveStore> {
    /// The digest of every document text archived there.
    known: IdSet,
    /// The part numbers the day's next parts take.
    next: NextParts,
    /// The day's parts being written, if open.
    open: Option<DayParts<'a, S>>,
    /// The flush that last wrote to the open parts.
    touched: u64,
}

/// Days whose parts an import keeps open at once. An input in time order touches one or two
/// days per flush; one that jumps between more days closes the least recently written and
/// opens it again as new parts, so memory holds at most this many days' row-group metadata
/// and upload buffers (on S3, up to 16 MiB per table and day).
pub const MAX_OPEN_DAYS: usize = 2;

impl<'a, S: ArchiveStore> ImportWriter<'a, S> {
    /// An import into `store`, whose committed state is `chain`.
    pub fn new(store: &'a S, config: WriterConfig, chain: &'a Chain) -> Self {
        Self {
            out: ArchiveWriter::new(store, config),
            chain,
            pending: BTreeMap::new(),
            pending_bytes: 0,
            days: BTreeMap::new(),
            flushes: 0,
            last_trace: None,
        }
    }

    /// Counts an input file read (for the summary).
    pub fn count_input(&mut self, files: u64, bytes: u64) {
        self.out.count_input(files, bytes);
    }

    /// The summary so far.
    pub fn summary(&self) -> &ExportSummary {
        self.out.summary()
    }

    /// The threads the import parses, converts and encodes on.
    pub fn pool(&self) -> &std::sync::Arc<rayon::ThreadPool> {
        self.out.pool()
    }

    /// Takes one source item; writes parts when the buffer is full.
    pub async fn push(&mut self, item: SourceItem) -> Result<()> {
        if let Some(seg) = self.out.intake(item).await? {
            self.buffer(seg).await?;
        }
        Ok(())
    }

    /// Takes every item of one input named `name`, read and prepared on every core a batch
    /// at a time, in input order; writes parts whenever the buffer is full.
    pub async fn push_input(&mut self, name: &str, input: impl BufRead) -> Result<()> {
        let mut reader = InputReader::new(name, input);
        loop {
            let config = self.out.config();
            let batch = reader
                .next_batch(READ_BATCH_BYTES, self.out.pool(), &|item| {
                    crate::archive::prepare(config, item)
                })
                .map_err(|source| Error::SourceRead {
                    path: name.into(),
                    source,
                })?;
            if batch.is_empty() {
                return Ok(());
            }
            for prepared in batch {
                self.admit(prepared).await?;
            }
        }
    }

    /// Takes one prepared item ([`crate::archive::prepare`]); writes parts when the buffer
    /// is full.
    pub async fn admit(&mut self, prepared: crate::archive::Prepared) -> Result<()> {
        if let Some(seg) = self.out.admit(prepared).await? {
            self.buffer(seg).await?;
        }
        Ok(())
    }

    async fn buffer(&mut self, seg: ArchivedSegment) -> Result<()> {
        let trace = crate::archive::trace_number(seg.trace_id());
        if self.pending_bytes >= self.out.config().buffer_bytes && self.last_trace != Some(trace) {
            self.flush().await?;
        }
        self.last_trace = Some(trace);
        self.pending_bytes += seg.text().len();
        self.pending
            .entry(seg.placement().dt)
            .or_default()
            .push(seg);
        Ok(())
    }

    /// Appends every buffered day to its open parts.
    async fn flush(&mut self) -> Result<()> {
        let pending = place_w3c_traces(std::mem::take(&mut self.pending));
        self.pending_bytes = 0;
        self.flushes += 1;
        let flushing: Vec<NaiveDate> = pending.keys().copied().collect();
        for (dt, docs) in pending {
            if !self.days.contains_key(&dt) {
                let known = self.archived_documents(dt).await?;
                let next = self.chain.next_parts(dt);
                self.days.insert(
                    dt,
                    ImportDay {
                        known,
                        next,
                        open: None,
                        touched: 0,
                    },
                );
            }
            let digests: Vec<u128> = self
                .out
                .pool()
                .install(|| docs.par_iter().map(|seg| digest128(seg.text())).collect());
            let new = self
                .days
                .get_mut(&dt)
                .expect("inserted above")
                .known
                .insert_all(&digests);
            let mut fresh = Vec::with_capacity(docs.len());
            for (seg, new) in docs.into_iter().zip(new) {
                if new {
                    fresh.push(seg);
                } else {
                    self.out.count_unchanged();
                }
            }
            if fresh.is_empty() {
                continue;
            }
            sort_for_archive(&mut fresh);
            if self.days[&dt].open.is_none() {
                self.close_least_recent(MAX_OPEN_DAYS - 1, &flushing)
                    .await?;
                let day = self.days.get_mut(&dt).expect("inserted above");
                day.open = Some(DayParts::new(dt, &day.next));
            }
            let day = self.days.get_mut(&dt).expect("inserted above");
            day.touched = self.flushes;
            let parts = day.open.as_mut().expect("opened above");
            parts.push(&mut self.out, fresh).await?;
            parts.end_run(&mut self.out).await?;
        }
        Ok(())
    }

    /// Closes the open days' parts until at most `keep` are open: days this flush does not
    /// write (`flushing`) first, then the least recently written.
    async fn close_least_recent(&mut self, keep: usize, flushing: &[NaiveDate]) -> Result<()> {
        loop {
            let open = self.days.iter().filter(|(_, d)| d.open.is_some());
            if open.clone().count() <= keep {
                return Ok(());
            }
            let dt = *open
                .min_by_key(|(dt, d)| (flushing.contains(dt), d.touched))
                .expect("one is open")
                .0;
            let day = self.days.get_mut(&dt).expect("found above");
            let parts = day.open.take().expect("open");
            day.next = parts.finish(&mut self.out).await?;
        }
    }

    /// The digest of every document in the committed `segments` parts of `dt`.
    async fn archived_documents(&self, dt: NaiveDate) -> Result<IdSet> {
        let mut known = IdSet::default();
        for key in self.chain.committed_parts(Table::Segments, dt) {
            let Some(bytes) = crate::store::get(self.out.store(), &key).await? else {
                continue;
            };
            let digests: Vec<u128> = read_segment_documents(&key, bytes)?
                .iter()
                .map(|row| digest128(&row.text))
                .collect();
            known.insert_all(&digests);
        }
        Ok(known)
    }

    /// Writes everything still buffered and returns the summary. Objects a manifest has
    /// already committed (a quarantined input seen again) are left out of it: only what
    /// this import adds is listed, so a re-run of the same input commits nothing.
    pub async fn finish(mut self) -> Result<ExportSummary> {
        self.flush().await?;
        self.close_least_recent(0, &[]).await?;
        let mut summary = self.out.into_summary();
        let committed = self.chain.committed();
        summary
            .objects
            .retain(|k, _| !committed.contains_key(k.as_str()));
        summary.objects_written = summary.objects.len() as u64;
        Ok(summary)
    }
}

/// Moves every span of a W3C trace id (no epoch, so no day of its own) to the day of the
/// trace's earliest span.
fn place_w3c_traces(
    pending: BTreeMap<NaiveDate, Vec<ArchivedSegment>>,
) -> BTreeMap<NaiveDate, Vec<ArchivedSegment>> {
    let mut earliest: BTreeMap<String, NaiveDate> = BTreeMap::new();
    for seg in pending.values().flatten().filter(|s| s.has_w3c_trace_id()) {
        let day = seg.placement().dt;
        earliest
            .entry(seg.trace_id().to_owned())
            .and_modify(|d| *d = (*d).min(day))
            .or_insert(day);
    }
    if earliest.is_empty() {
        return pending;
    }
    let mut placed: BTreeMap<NaiveDate, Vec<ArchivedSegment>> = BTreeMap::new();
    for mut seg in pending.into_values().flatten() {
        if let Some(day) = earliest.get(seg.trace_id()) {
            seg.place_on(*day);
        }
        placed.entry(seg.placement().dt).or_default().push(seg);
    }
    placed
}
