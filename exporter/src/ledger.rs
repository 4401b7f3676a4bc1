//! Manifests and the checkpoint: the archive's record of what was exported.
//!
//! - One manifest per exported window, at `_manifests/<seq>-<window start>.json`. It lists
//!   every object the window wrote, with its SHA-256 and row count, the trace ids, and the
//!   key and SHA-256 of the manifest before it: a hash chain, so a removed, altered or
//!   reordered manifest shows.
//! - The checkpoint, `_state/checkpoint.json`, names the last committed manifest and the
//!   watermark: every trace whose id time is before it is archived. It is only ever
//!   replaced with a conditional write against the version that was read, so two exporters
//!   can never both advance it.
//!
//! A window is committed in this order: parts, manifest, checkpoint. A crash before the
//! checkpoint leaves it pointing at the previous manifest; the next run redoes the window,
//! rewriting the same keys.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::archive::ObjectRecord;
use crate::error::{Error, Result};
use crate::store::ArchiveStore;

/// Where manifests are kept.
pub const MANIFEST_PREFIX: &str = "_manifests/";
/// The checkpoint's key.
pub const CHECKPOINT_KEY: &str = "_state/checkpoint.json";
/// Format tag written in every manifest.
pub const MANIFEST_FORMAT: &str = "xray-archive-manifest/1";
/// Format tag written in the checkpoint.
pub const CHECKPOINT_FORMAT: &str = "xray-archive-checkpoint/1";

/// A manifest's key and hash, as the next manifest and the checkpoint cite it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestLink {
    /// Its key.
    pub key: String,
    /// SHA-256 of its bytes, hex.
    pub sha256: String,
}

/// Why a manifest was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ManifestKind {
    /// A window of trace-id time: the regular export and backfills.
    Window,
    /// A re-sweep for late segments of already archived traces, by event time.
    Resweep,
    /// An export from files; the window spans the days written.
    Files,
    /// `prune` removed expired parts; they are listed in `removed`.
    Prune,
}

/// The time range a manifest covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// Start, inclusive.
    pub start: DateTime<Utc>,
    /// End, exclusive.
    pub end: DateTime<Utc>,
}

impl Window {
    /// `start..end` in RFC 3339.
    pub fn label(&self) -> String {
        format!("{} to {}", self.start.to_rfc3339(), self.end.to_rfc3339())
    }
}

/// One exported window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`MANIFEST_FORMAT`].
    pub format: String,
    /// Position in the chain, from 1.
    pub seq: u64,
    /// Why it was written.
    pub kind: ManifestKind,
    /// The range covered.
    pub window: Window,
    /// Where the documents came from (`xray`).
    pub source: String,
    /// When the window was exported.
    pub exported_at: DateTime<Utc>,
    /// The exporter version.
    pub writer: String,
    /// Traces in the window, sorted.
    pub trace_ids: Vec<String>,
    /// Segment documents archived.
    pub segments: u64,
    /// Documents the archive already held unchanged.
    pub unchanged: u64,
    /// Archived documents replaced by a newer state of the same segment.
    pub superseded: u64,
    /// Inputs quarantined.
    pub quarantined: u64,
    /// Values the redaction policy removed, by kind.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub redactions: crate::redact::Counts,
    /// Every object written, in key order.
    pub objects: Vec<ObjectRecord>,
    /// The manifest before this one, `None` for the first.
    pub previous: Option<ManifestLink>,
    /// Objects removed on purpose (`prune`, after their retention), no longer expected.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<String>,
}

impl Manifest {
    /// An empty manifest of `kind` for `window`, at chain position `seq` after `previous`.
    pub fn next(
        seq: u64,
        previous: Option<ManifestLink>,
        kind: ManifestKind,
        window: Window,
        source: &str,
    ) -> Self {
        Self {
            format: MANIFEST_FORMAT.into(),
            seq,
            kind,
            window,
            source: source.into(),
            exported_at: Utc::now(),
            writer: concat!("xray-archive ", env!("CARGO_PKG_VERSION")).into(),
            trace_ids: Vec::new(),
            segments: 0,
            unchanged: 0,
            superseded: 0,
            quarantined: 0,
            redactions: Default::default(),
            objects: Vec::new(),
            previous,
            removed: Vec::new(),
        }
    }

    /// With the counts and objects of an export.
    pub fn with_summary(mut self, summary: &crate::archive::ExportSummary) -> Self {
        self.segments = summary.segments;
        self.unchanged = summary.unchanged;
        self.superseded = summary.superseded;
        self.quarantined = summary.quarantined.len() as u64;
        self.redactions = summary.redactions.clone();
        self.objects = summary.objects.values().cloned().collect();
        self
    }

    /// The manifest's key: sequence number, then the window start, so listing sorts by chain
    /// order and a person sees what each covers.
    pub fn key(&self) -> String {
        format!(
            "{MANIFEST_PREFIX}{:010}-{}.json",
            self.seq,
            self.window.start.format("%Y%m%dT%H%M%SZ")
        )
    }

    /// Serializes it (pretty, stable field order).
    pub fn to_bytes(&self) -> Bytes {
        Bytes::from(serde_json::to_vec_pretty(self).expect("manifest serializes"))
    }
}

/// The last run's result, kept in the checkpoint for `status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: DateTime<Utc>,
    /// `complete`, `deadline` (stopped before the invocation deadline; the next run goes on)
    /// or `failed`.
    pub outcome: String,
    /// Windows committed.
    pub windows: u64,
    /// Traces exported.
    pub traces: u64,
    /// The error, when it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Who is exporting now. Held in the checkpoint, taken and renewed with conditional writes,
/// so only one exporter works on an archive at a time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// `host:pid` of the holder.
    pub owner: String,
    /// When it was taken.
    pub acquired_at: DateTime<Utc>,
    /// When it lapses unless renewed (each committed window renews it).
    pub expires_at: DateTime<Utc>,
}

impl Lease {
    /// This process's owner id.
    pub fn me() -> String {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .unwrap_or_else(|| "unknown".into());
        format!("{}:{}", host.trim(), std::process::id())
    }

    /// Whether the lease still binds at `now`: not expired, and not held by a process of
    /// this host that no longer exists (a crashed run on the same machine).
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        if self.expires_at <= now {
            return false;
        }
        let me = Self::me();
        let (my_host, _) = me.rsplit_once(':').unwrap_or((&me, ""));
        match self.owner.rsplit_once(':') {
            Some((host, pid)) if host == my_host => {
                std::path::Path::new("/proc").join(pid).exists()
            }
            _ => true,
        }
    }
}

/// The export checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// [`CHECKPOINT_FORMAT`].
    pub format: String,
    /// Every trace whose id time is before this is archived.
    pub watermark: DateTime<Utc>,
    /// Event time up to which re-sweeps for late segments have run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resweep_mark: Option<DateTime<Utc>>,
    /// Sequence number of the last committed manifest.
    pub seq: u64,
    /// The last committed manifest.
    pub manifest: Option<ManifestLink>,
    /// When it was last written.
    pub updated_at: DateTime<Utc>,
    /// The last run's outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run: Option<RunRecord>,
    /// The exporter at work, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<Lease>,
}

impl Checkpoint {
    /// A checkpoint for an archive nothing has been exported to yet.
    pub fn empty(watermark: DateTime<Utc>) -> Self {
        Self {
            format: CHECKPOINT_FORMAT.into(),
            watermark,
            resweep_mark: None,
            seq: 0,
            manifest: None,
            updated_at: Utc::now(),
            last_run: None,
            lease: None,
        }
    }
}

/// The checkpoint as read, with the version tag a conditional write needs.
#[derive(Debug, Clone)]
pub struct Tracked {
    /// The checkpoint (or `None` when the archive has none yet).
    pub checkpoint: Option<Checkpoint>,
    /// The store's tag of the version read.
    pub tag: Option<String>,
}

/// Reads the checkpoint.
pub async fn read_checkpoint(store: &impl ArchiveStore) -> Result<Tracked> {
    match store.get_tagged(CHECKPOINT_KEY).await? {
        None => Ok(Tracked {
            checkpoint: None,
            tag: None,
        }),
        Some((bytes, tag)) => {
            let checkpoint = serde_json::from_slice(&bytes).map_err(|e| Error::CorruptPart {
                key: CHECKPOINT_KEY.into(),
                reason: format!("not a checkpoint: {e}"),
            })?;
            Ok(Tracked {
                checkpoint: Some(checkpoint),
                tag: Some(tag),
            })
        }
    }
}

/// Replaces the checkpoint if it is still the version in `tracked`; updates `tracked`.
pub async fn write_checkpoint(
    store: &impl ArchiveStore,
    tracked: &mut Tracked,
    mut checkpoint: Checkpoint,
) -> Result<()> {
    checkpoint.updated_at = Utc::now();
    let bytes = Bytes::from(serde_json::to_vec_pretty(&checkpoint).expect("checkpoint"));
    let tag = store
        .put_if(CHECKPOINT_KEY, bytes, tracked.tag.as_deref())
        .await?;
    tracked.checkpoint = Some(checkpoint);
    tracked.tag = Some(tag);
    Ok(())
}

/// Writes `manifest` and returns the link the next manifest and the checkpoint cite.
pub async fn write_manifest(
    store: &impl ArchiveStore,
    manifest: &Manifest,
) -> Result<ManifestLink> {
    let bytes = manifest.to_bytes();
    let link = ManifestLink {
        key: manifest.key(),
        sha256: hex::encode(Sha256::digest(&bytes)),
    };
    store.put(&link.key, bytes).await?;
    Ok(link)
}

/// The head of the manifest chain: the checkpoint's when there is one, else the last
/// manifest listed (an archive written by file exports only). Returns its sequence number
/// (0 for none) and its link.
pub async fn chain_head(
    store: &impl ArchiveStore,
    checkpoint: Option<&Checkpoint>,
) -> Result<(u64, Option<ManifestLink>)> {
    if let Some(cp) = checkpoint {
        return Ok((cp.seq, cp.manifest.clone()));
    }
    let Some(last) = store.list(MANIFEST_PREFIX).await?.pop() else {
        return Ok((0, None));
    };
    let Some(bytes) = store.get(&last.key).await? else {
        return Ok((0, None));
    };
    let manifest: Manifest = serde_json::from_slice(&bytes).map_err(|e| Error::CorruptPart {
        key: last.key.clone(),
        reason: format!("not a manifest: {e}"),
    })?;
    Ok((
        manifest.seq,
        Some(ManifestLink {
            key: last.key,
            sha256: hex::encode(Sha256::digest(&bytes)),
        }),
    ))
}

/// Records a file export in the manifest chain (nothing when it wrote no object), and moves
/// the checkpoint's chain head when there is a checkpoint. The window spans the days written.
pub async fn commit_files_manifest(
    store: &impl ArchiveStore,
    summary: &crate::archive::ExportSummary,
) -> Result<Option<ManifestLink>> {
    if summary.objects.is_empty() {
        return Ok(None);
    }
    let day = |p: &str| {
        chrono::NaiveDate::parse_from_str(p.trim_start_matches("dt="), "%Y-%m-%d")
            .ok()
            .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight").and_utc())
    };
    let now = Utc::now();
    let start = summary
        .partitions
        .iter()
        .filter_map(|p| day(p))
        .min()
        .unwrap_or(now);
    let end = summary
        .partitions
        .iter()
        .filter_map(|p| day(p))
        .max()
        .map_or(now, |d| d + chrono::Duration::days(1));
    let link = append_manifest(store, |seq, previous| {
        Manifest::next(
            seq,
            previous,
            ManifestKind::Files,
            Window { start, end },
            "files",
        )
        .with_summary(summary)
    })
    .await?;
    Ok(Some(link))
}

/// Adds a manifest at the head of the chain (built by `make` from its sequence number and
/// the link to the previous head), and moves the checkpoint's head to it when there is a
/// checkpoint. For writers that do not hold the export lease: file exports and prune.
pub async fn append_manifest(
    store: &impl ArchiveStore,
    make: impl FnOnce(u64, Option<ManifestLink>) -> Manifest,
) -> Result<ManifestLink> {
    let mut tracked = read_checkpoint(store).await?;
    let (seq, previous) = chain_head(store, tracked.checkpoint.as_ref()).await?;
    let manifest = make(seq + 1, previous);
    let link = write_manifest(store, &manifest).await?;
    if let Some(mut cp) = tracked.checkpoint.clone() {
        cp.seq = manifest.seq;
        cp.manifest = Some(link.clone());
        write_checkpoint(store, &mut tracked, cp).await?;
    }
    Ok(link)
}

/// Reads every manifest in chain order.
pub async fn read_manifests(store: &impl ArchiveStore) -> Result<Vec<(String, Manifest, String)>> {
    let mut out = Vec::new();
    for meta in store.list(MANIFEST_PREFIX).await? {
        let Some(bytes) = store.get(&meta.key).await? else {
            continue;
        };
        let sha = hex::encode(Sha256::digest(&bytes));
        let manifest = serde_json::from_slice(&bytes).map_err(|e| Error::CorruptPart {
            key: meta.key.clone(),
            reason: format!("not a manifest: {e}"),
        })?;
        out.push((meta.key, manifest, sha));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LocalDirStore;

    #[tokio::test]
    async fn a_stale_checkpoint_cannot_be_written() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDirStore::open(dir.path()).unwrap();
        let mut a = read_checkpoint(&store).await.unwrap();
        let mut b = a.clone();
        let cp = Checkpoint::empty(Utc::now());
        write_checkpoint(&store, &mut a, cp.clone()).await.unwrap();
        let lost = write_checkpoint(&store, &mut b, cp).await;
        assert!(matches!(lost, Err(Error::Conflict { .. })), "{lost:?}");
        let read = read_checkpoint(&store).await.unwrap();
        assert_eq!(read.checkpoint, a.checkpoint);
    }
}
