//! Import from files: read every input, add its documents to the archive as new write-once
//! parts of the days they belong to (a sealed day is never rewritten; documents already
//! archived are not written again), quarantine the rest, and commit it all with one
//! manifest. The import holds the archive's lease meanwhile.

use std::path::Path;

use crate::archive::{ExportSummary, ImportWriter, WriterConfig};
use crate::error::{Error, Result};
use crate::ledger::{RunRecord, Tracked, commit_import, read_chain};
use crate::source::FileSource;
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

/// Streams one file's items into the writer.
async fn archive_file<S: ArchiveStore>(
    writer: &mut ImportWriter<'_, S>,
    path: &Path,
) -> Result<()> {
    for item in FileSource::read_file(path)? {
        let item = item.map_err(|source| Error::SourceRead {
            path: path.to_owned(),
            source,
        })?;
        writer.push(item).await?;
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
    let mut writer = ImportWriter::new(store, config, &chain);
    for (name, content) in inputs {
        for item in InputReader::new(name, *content) {
            writer
                .push(item.expect("reading from memory cannot fail"))
                .await?;
        }
        writer.count_input(1, content.len() as u64);
    }
    let summary = writer.finish().await?;
    commit_import(store, &mut chain, &summary, "files").await?;
    release(store, &mut tracked, &summary).await?;
    Ok(summary)
}
