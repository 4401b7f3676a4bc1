//! Manifests, the chain they form, and the progress record: the archive's record of what
//! was committed.
//!
//! - A manifest commits one sealed day or one file import. Its key comes from its sequence
//!   number alone (`_manifests/0000000042.json`) and it is created only if absent, so of two
//!   writers that race for number 42 exactly one wins: the manifest is the commit point and
//!   the fence. It lists every object the run wrote (key, version id, SHA-256, row count)
//!   and the key and SHA-256 of the manifest before it: a hash chain, whose head `verify`
//!   prints and the exporter logs.
//! - Parts are written first, under keys nobody else writes with other bytes; the manifest
//!   last. A crash before the manifest leaves parts no manifest lists; the next run writes
//!   the same bytes under the same keys and commits them.
//! - `_state/progress.json` is the only record ever replaced (with `If-Match` /
//!   `If-None-Match`): the lease, and the hours of the day being sealed.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use schema::v1::{MANIFEST_PREFIX, PartKey, Table, manifest_key, manifest_seq};

use crate::archive::{ExportSummary, NextParts, ObjectRecord, QuarantineRecord};
use crate::error::{Error, Result};
use crate::store::{ArchiveStore, put_once, sha256_hex};

/// The progress record's key.
pub const PROGRESS_KEY: &str = "_state/progress.json";

/// Unreturned trace ids a day's manifest names: enough to investigate, few enough that a
/// mass loss does not bloat the manifest (the count is always whole).
pub const UNRETURNED_SAMPLE: usize = 100;

fn is_zero(n: &u64) -> bool {
    *n == 0
}
/// Format tag written in every manifest.
pub const MANIFEST_FORMAT: &str = "xray-archive-manifest/2";
/// Format tag written in the progress record.
pub const PROGRESS_FORMAT: &str = "xray-archive-progress/1";

/// A manifest's key and hash, as the next manifest cites it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestLink {
    /// Its key.
    pub key: String,
    /// SHA-256 of its bytes, hex.
    pub sha256: String,
}

/// What a manifest commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ManifestKind {
    /// One UTC day, sealed once from a trace source (X-Ray).
    Day,
    /// A file import: parts added to the days its documents belong to.
    Import,
    /// The payment index rolled up over months and years that are over.
    Rollup,
}

/// How a sealed day ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayStatus {
    /// Sealed while X-Ray still held the whole day.
    Sealed,
    /// Sealed after X-Ray had begun deleting it (older than 30 days): traces are lost.
    Expired,
}

/// One commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`MANIFEST_FORMAT`].
    pub format: String,
    /// Position in the chain, from 1.
    pub seq: u64,
    /// What it commits.
    pub kind: ManifestKind,
    /// The sealed day, for [`ManifestKind::Day`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day: Option<NaiveDate>,
    /// How the day was sealed, for [`ManifestKind::Day`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<DayStatus>,
    /// Where the documents came from (`xray`, `files`).
    pub source: String,
    /// When it was committed.
    pub committed_at: DateTime<Utc>,
    /// The writer's name and version.
    pub writer: String,
    /// `host:pid` of the process that committed it.
    pub owner: String,
    /// Trace ids the source listed for the day (for [`ManifestKind::Day`]): on an expired
    /// day, how many X-Ray still returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_traces: Option<u64>,
    /// Trace ids the source listed for the day but returned no document for: traces lost
    /// between the listing and the fetch. `verify` and `status` report them.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unreturned_traces: u64,
    /// The first [`UNRETURNED_SAMPLE`] of those ids, so an investigator can name them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unreturned_sample: Vec<String>,
    /// Traces written.
    pub traces: u64,
    /// Segment documents written.
    pub segments: u64,
    /// Documents already archived byte for byte, not written again.
    pub unchanged: u64,
    /// Inputs quarantined.
    pub quarantined: u64,
    /// Documents of traces the retention policy keeps for zero years.
    #[serde(default)]
    pub excluded_by_retention: u64,
    /// Values the redaction policy removed, by kind.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub redactions: crate::redact::Counts,
    /// The same, by place in the documents (or `quarantine`), then kind.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub redaction_places: crate::redact::PlaceCounts,
    /// The redaction policy the documents were written under (the key only as a
    /// fingerprint). Every later export must use the same one, or record a change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redaction_policy: Option<crate::redact::PolicyRecord>,
    /// True when this manifest is where the redaction policy changed
    /// (`--new-redaction-policy`): documents before it were written under the earlier one.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub redaction_policy_changed: bool,
    /// Every object committed, in key order.
    pub objects: Vec<ObjectRecord>,
    /// The manifest before this one, `None` for the first.
    pub previous: Option<ManifestLink>,
}

impl Manifest {
    /// An empty manifest of `kind` at chain position `seq` after `previous`.
    pub fn next(
        seq: u64,
        previous: Option<ManifestLink>,
        kind: ManifestKind,
        source: &str,
    ) -> Self {
        Self {
            format: MANIFEST_FORMAT.into(),
            seq,
            kind,
            day: None,
            status: None,
            source: source.into(),
            committed_at: Utc::now(),
            writer: concat!("xray-archive ", env!("CARGO_PKG_VERSION")).into(),
            owner: Lease::me(),
            source_traces: None,
            unreturned_traces: 0,
            unreturned_sample: Vec::new(),
            traces: 0,
            segments: 0,
            unchanged: 0,
            quarantined: 0,
            excluded_by_retention: 0,
            redactions: Default::default(),
            redaction_places: Default::default(),
            redaction_policy: None,
            redaction_policy_changed: false,
            objects: Vec::new(),
            previous,
        }
    }

    /// With the counts and objects of a run.
    pub fn with_summary(mut self, summary: &ExportSummary) -> Self {
        self.traces = summary.traces;
        self.segments = summary.segments;
        self.unchanged = summary.unchanged;
        self.quarantined = summary.quarantined.len() as u64;
        self.excluded_by_retention = summary.excluded_by_retention;
        self.redactions = summary.redactions.clone();
        self.redaction_places = summary.redaction_places.clone();
        self.redaction_policy = summary.redaction_policy.clone();
        self.objects = summary.objects.values().cloned().collect();
        self
    }

    /// The manifest's key: from its sequence number alone.
    pub fn key(&self) -> String {
        manifest_key(self.seq)
    }

    /// What it commits, for people: `day 2026-03-02`, `day 2026-03-02 (expired)`, `import`.
    pub fn what(&self) -> String {
        match (self.kind, self.day, self.status) {
            (ManifestKind::Day, Some(d), Some(DayStatus::Expired)) => format!("day {d} (expired)"),
            (ManifestKind::Day, Some(d), _) => format!("day {d}"),
            (ManifestKind::Rollup, ..) => "payment index roll-up".into(),
            _ => format!("{} import", self.source),
        }
    }

    /// Serializes it (pretty, stable field order).
    pub fn to_bytes(&self) -> Bytes {
        Bytes::from(serde_json::to_vec_pretty(self).expect("manifest serializes"))
    }
}

/// The committed state of an archive, read from its manifests.
#[derive(Debug, Clone, Default)]
pub struct Chain {
    /// Every manifest in chain order, with its key and SHA-256.
    pub manifests: Vec<(String, Manifest, String)>,
    /// Keys under `_manifests/` that are not manifests of this format.
    pub unreadable: Vec<(String, String)>,
}

impl Chain {
    /// The redaction policy the last manifest that records one records, with its key.
    pub fn redaction_policy(&self) -> Option<(&str, &crate::redact::PolicyRecord)> {
        self.manifests
            .iter()
            .rev()
            .find_map(|(key, m, _)| m.redaction_policy.as_ref().map(|p| (key.as_str(), p)))
    }

    /// The last manifest's number (0 for none) and link.
    pub fn head(&self) -> (u64, Option<ManifestLink>) {
        self.manifests.last().map_or((0, None), |(key, m, sha)| {
            (
                m.seq,
                Some(ManifestLink {
                    key: key.clone(),
                    sha256: sha.clone(),
                }),
            )
        })
    }

    /// Every sealed day and how it was sealed.
    pub fn sealed_days(&self) -> BTreeMap<NaiveDate, DayStatus> {
        self.manifests
            .iter()
            .filter(|(_, m, _)| m.kind == ManifestKind::Day)
            .filter_map(|(_, m, _)| Some((m.day?, m.status.unwrap_or(DayStatus::Sealed))))
            .collect()
    }

    /// The manifest listing each committed key, and the record it lists.
    pub fn committed(&self) -> BTreeMap<&str, (&ObjectRecord, &str)> {
        let mut out = BTreeMap::new();
        for (key, m, _) in &self.manifests {
            for o in &m.objects {
                out.insert(o.key.as_str(), (o, key.as_str()));
            }
        }
        out
    }

    /// Committed part keys of `table` on `dt`, in key order.
    pub fn committed_parts(&self, table: Table, dt: NaiveDate) -> Vec<String> {
        let mut keys: BTreeSet<String> = BTreeSet::new();
        for (_, m, _) in &self.manifests {
            for o in &m.objects {
                if let Some(p) = PartKey::parse(&o.key)
                    && p.table == table
                    && p.dt == dt
                {
                    keys.insert(o.key.clone());
                }
            }
        }
        keys.into_iter().collect()
    }

    /// The first part number of each table on `dt` that no manifest has committed.
    pub fn next_parts(&self, dt: NaiveDate) -> NextParts {
        let mut next = NextParts::new();
        for (_, m, _) in &self.manifests {
            for o in &m.objects {
                if let Some(p) = PartKey::parse(&o.key)
                    && p.dt == dt
                {
                    let n = next.entry(p.table).or_insert(0);
                    *n = (*n).max(p.number + 1);
                }
            }
        }
        next
    }
}

/// Where a copy of every manifest read so far is kept, so a run reads only the manifests
/// committed since (one GET a day) instead of the whole chain (one GET per sealed day,
/// 2,555 over seven years). Like all of `_state/` it is not evidence: `verify` never reads
/// it, and [`read_chain`] trusts it only as far as the store's own manifests confirm it.
pub const CHAIN_CACHE_KEY: &str = "_state/chain-cache.jsonl";

/// One manifest in the chain cache: its key and its exact bytes.
#[derive(Serialize, Deserialize)]
struct CachedManifest {
    key: String,
    bytes: String,
}

/// Reads every manifest in chain order, from the chain cache ([`CHAIN_CACHE_KEY`]) and
/// whatever was committed after it.
///
/// The cache is used only when its keys are the first keys of the `_manifests/` listing,
/// each cached manifest links by SHA-256 to the one before it, and its last manifest has the
/// bytes the store holds under that key: the hash chain then vouches for every earlier one.
/// Otherwise every manifest is read, as [`read_chain_whole`] does. The cache is rewritten
/// when newer manifests were read; a caller that may not write `_state/` (a read-only
/// investigator's role) just reads those again next time.
pub async fn read_chain(store: &impl ArchiveStore) -> Result<Chain> {
    let listing: Vec<String> = store
        .list(MANIFEST_PREFIX)
        .await?
        .into_iter()
        .map(|m| m.key)
        .collect();
    let cached = read_chain_cache(store, &listing).await;
    let mut raw = Vec::with_capacity(listing.len());
    let from_cache = cached.as_ref().map_or(0, |(c, _)| c.len());
    if let Some((c, _)) = cached.as_ref() {
        raw.extend(
            c.iter()
                .map(|m| (m.key.clone(), Bytes::from(m.bytes.clone()))),
        );
    }
    for key in &listing[from_cache..] {
        if let Some(bytes) = crate::store::get(store, key).await? {
            raw.push((key.clone(), bytes));
        }
    }
    let chain = chain_of(raw.iter().cloned());
    if raw.len() > from_cache && chain.unreadable.is_empty() {
        let lines: Vec<u8> = raw
            .iter()
            .filter_map(|(key, bytes)| {
                let bytes = String::from_utf8(bytes.to_vec()).ok()?;
                let mut line = serde_json::to_vec(&CachedManifest {
                    key: key.clone(),
                    bytes,
                })
                .ok()?;
                line.push(b'\n');
                Some(line)
            })
            .flatten()
            .collect();
        let tag = cached.and_then(|(_, tag)| tag);
        if let Err(e) = store
            .put_if(CHAIN_CACHE_KEY, Bytes::from(lines), tag.as_deref())
            .await
        {
            tracing::debug!(error = %e, "chain cache not updated; the next run reads the new manifests again");
        }
    }
    Ok(chain)
}

/// Reads every manifest in chain order straight from the store, with no cache: what
/// `verify` checks.
pub async fn read_chain_whole(store: &impl ArchiveStore) -> Result<Chain> {
    let mut raw = Vec::new();
    for meta in store.list(MANIFEST_PREFIX).await? {
        if let Some(bytes) = crate::store::get(store, &meta.key).await? {
            raw.push((meta.key, bytes));
        }
    }
    Ok(chain_of(raw))
}

/// The chain of manifests given as `(key, bytes)` in key order.
fn chain_of(raw: impl IntoIterator<Item = (String, Bytes)>) -> Chain {
    let mut chain = Chain::default();
    for (key, bytes) in raw {
        let sha = sha256_hex(&bytes);
        match serde_json::from_slice::<Manifest>(&bytes) {
            Ok(m) if manifest_seq(&key).is_some() => chain.manifests.push((key, m, sha)),
            Ok(_) => chain
                .unreadable
                .push((key, "not named _manifests/<10-digit seq>.json".into())),
            Err(e) => chain
                .unreadable
                .push((key, format!("not a readable manifest: {e}"))),
        }
    }
    chain
}

/// The cached manifests and the cache's tag, when the store confirms them (see
/// [`read_chain`]); `None` means: read the whole chain.
async fn read_chain_cache(
    store: &impl ArchiveStore,
    listing: &[String],
) -> Option<(Vec<CachedManifest>, Option<String>)> {
    let stored = store.read(CHAIN_CACHE_KEY, None).await.ok()??;
    let tag = Some(stored.tag.clone());
    // A cache that does not check out is replaced (under its tag) by a whole read.
    let stale = Some((Vec::new(), tag.clone()));
    let Ok(cached) = stored
        .bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(serde_json::from_slice)
        .collect::<std::result::Result<Vec<CachedManifest>, _>>()
    else {
        return stale;
    };
    if cached.len() > listing.len() || cached.iter().zip(listing).any(|(c, k)| c.key != *k) {
        return stale;
    }
    let mut previous: Option<String> = None;
    for c in &cached {
        let Ok(m) = serde_json::from_str::<Manifest>(&c.bytes) else {
            return stale;
        };
        if m.previous.map(|p| p.sha256) != previous {
            return stale;
        }
        previous = Some(sha256_hex(c.bytes.as_bytes()));
    }
    if let Some(last) = cached.last() {
        let head = crate::store::get(store, &last.key).await.ok().flatten();
        if head.map(|h| sha256_hex(&h)) != previous {
            return stale;
        }
    }
    Some((cached, tag))
}

/// Commits the next manifest, built by `make` from its sequence number and the link to the
/// chain head. Created only if absent: when another writer committed that number first,
/// fails with [`Error::Fenced`] naming it.
pub async fn commit(
    store: &impl ArchiveStore,
    chain: &mut Chain,
    make: impl FnOnce(u64, Option<ManifestLink>) -> Manifest,
) -> Result<ManifestLink> {
    let (seq, previous) = chain.head();
    let mut manifest = make(seq + 1, previous);
    // A policy other than the recorded one got past `check_redaction_policy` only with
    // `--new-redaction-policy`: this manifest is where it changed.
    manifest.redaction_policy_changed = match (&manifest.redaction_policy, chain.redaction_policy())
    {
        (Some(now), Some((_, before))) => now != before,
        _ => false,
    };
    let bytes = manifest.to_bytes();
    let link = ManifestLink {
        key: manifest.key(),
        sha256: sha256_hex(&bytes),
    };
    match put_once(store, &link.key, bytes, None).await {
        Ok(_) => {}
        Err(Error::AlreadyArchived { .. }) => {
            let winner = crate::store::get(store, &link.key)
                .await?
                .and_then(|b| serde_json::from_slice::<Manifest>(&b).ok());
            return Err(Error::Fenced {
                seq: manifest.seq,
                winner: winner
                    .as_ref()
                    .map_or_else(|| "unknown".into(), |w| w.owner.clone()),
                what: winner.map_or_else(|| "unreadable".into(), |w| w.what()),
            });
        }
        Err(e) => return Err(e),
    }
    tracing::info!(manifest = %link.key, sha256 = %link.sha256, what = %manifest.what(), "committed; chain head");
    chain
        .manifests
        .push((link.key.clone(), manifest, link.sha256.clone()));
    Ok(link)
}

/// Stops an export whose redaction policy (or hashing key) differs from the one the
/// archive's manifests record, unless `config.new_redaction_policy` says the change is meant.
/// An archive without a recorded policy takes this run's.
pub fn check_redaction_policy(chain: &Chain, config: &crate::WriterConfig) -> Result<()> {
    let current = config.redaction.record();
    match chain.redaction_policy() {
        Some((key, recorded)) if *recorded != current && !config.new_redaction_policy => {
            Err(Error::RedactionPolicyChanged {
                manifest: key.to_owned(),
                recorded: recorded.clone(),
                current,
            })
        }
        _ => Ok(()),
    }
}

/// Commits a file import (nothing when it wrote no object).
pub async fn commit_import(
    store: &impl ArchiveStore,
    chain: &mut Chain,
    summary: &ExportSummary,
    source: &str,
) -> Result<Option<ManifestLink>> {
    if summary.objects.is_empty() {
        return Ok(None);
    }
    let link = commit(store, chain, |seq, previous| {
        Manifest::next(seq, previous, ManifestKind::Import, source).with_summary(summary)
    })
    .await?;
    Ok(Some(link))
}

/// The last run's result, kept in the progress record for `status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: DateTime<Utc>,
    /// `complete`, `deadline` (stopped before the invocation deadline; the next run goes on)
    /// or `failed`.
    pub outcome: String,
    /// Days sealed.
    pub days: u64,
    /// Traces archived.
    pub traces: u64,
    /// The error, when it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Who is writing now. Taken and renewed with conditional writes of the progress record,
/// so one exporter works on an archive at a time; the manifest fence is the backstop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// `host:pid` of the holder.
    pub owner: String,
    /// When it was taken.
    pub acquired_at: DateTime<Utc>,
    /// When it lapses unless renewed (each finished hour renews it).
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

/// One finished hour of the day being sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HourRecord {
    /// Trace ids the source listed.
    pub traces: u64,
    /// Documents fetched and staged.
    pub documents: u64,
    /// CloudWatch Logs control messages the source delivered in the hour (skipped).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub control_messages: u64,
    /// Listed trace ids the source returned no document for.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unreturned: u64,
    /// The first [`UNRETURNED_SAMPLE`] of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unreturned_sample: Vec<String>,
    /// Where they wait for the seal (`_state/staging/...`), when there were any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staged: Option<String>,
    /// Objects of the inputs quarantined (already written; the day's manifest lists them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quarantine_objects: Vec<ObjectRecord>,
    /// The inputs quarantined, with reasons.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quarantined: Vec<QuarantineRecord>,
    /// Values redacted from the hour's documents, by kind.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub redactions: crate::redact::Counts,
    /// The same, by place, then kind.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub redaction_places: crate::redact::PlaceCounts,
}

/// The day being sealed, hour by hour, across invocations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayProgress {
    /// The day.
    pub day: NaiveDate,
    /// Finished hours (0-23): never fetched again.
    pub hours: BTreeMap<u32, HourRecord>,
}

/// The one mutable record: lease, the day in progress, the last run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// [`PROGRESS_FORMAT`].
    pub format: String,
    /// The exporter at work, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<Lease>,
    /// The day being sealed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealing: Option<DayProgress>,
    /// The last run's outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run: Option<RunRecord>,
    /// When it was last written.
    pub updated_at: DateTime<Utc>,
}

impl Default for Progress {
    fn default() -> Self {
        Self {
            format: PROGRESS_FORMAT.into(),
            lease: None,
            sealing: None,
            last_run: None,
            updated_at: Utc::now(),
        }
    }
}

/// The progress record as read, with the tag a conditional write needs.
#[derive(Debug, Clone, Default)]
pub struct Tracked {
    /// The record (default when the archive has none yet).
    pub progress: Progress,
    /// The store's tag of the version read; `None` when there was none.
    pub tag: Option<String>,
}

impl Tracked {
    /// Reads the progress record.
    pub async fn read(store: &impl ArchiveStore) -> Result<Self> {
        match store.read(PROGRESS_KEY, None).await? {
            None => Ok(Self::default()),
            Some(s) => Ok(Self {
                progress: serde_json::from_slice(&s.bytes).map_err(|e| Error::CorruptPart {
                    key: PROGRESS_KEY.into(),
                    reason: format!("not a progress record: {e}"),
                })?,
                tag: Some(s.tag),
            }),
        }
    }

    /// Replaces the record if it is still the version read.
    pub async fn write(&mut self, store: &impl ArchiveStore) -> Result<()> {
        self.progress.updated_at = Utc::now();
        let bytes = Bytes::from(serde_json::to_vec_pretty(&self.progress).expect("progress"));
        self.tag = Some(
            store
                .put_if(PROGRESS_KEY, bytes, self.tag.as_deref())
                .await?,
        );
        Ok(())
    }

    /// Takes the lease for `length`: fails with [`Error::Busy`] while another writer holds
    /// a live one, or [`Error::Conflict`] when another took it between our read and write.
    pub async fn take_lease(
        &mut self,
        store: &impl ArchiveStore,
        length: chrono::Duration,
    ) -> Result<()> {
        let me = Lease::me();
        if let Some(lease) = &self.progress.lease
            && lease.owner != me
            && lease.is_live(Utc::now())
        {
            return Err(Error::Busy {
                owner: lease.owner.clone(),
                until: lease.expires_at.to_rfc3339(),
            });
        }
        let at = Utc::now();
        self.progress.lease = Some(Lease {
            owner: me.clone(),
            acquired_at: at,
            expires_at: at + length,
        });
        match self.write(store).await {
            // Another writer took it between our read and our write: say who.
            Err(Error::Conflict { key }) => match Self::read(store).await?.progress.lease {
                Some(lease) if lease.owner != me => Err(Error::Busy {
                    owner: lease.owner,
                    until: lease.expires_at.to_rfc3339(),
                }),
                _ => Err(Error::Conflict { key }),
            },
            other => other,
        }
    }

    /// Gives the lease back, recording how the run ended.
    pub async fn release(&mut self, store: &impl ArchiveStore, run: RunRecord) -> Result<()> {
        self.progress.lease = None;
        self.progress.last_run = Some(run);
        self.write(store).await
    }

    /// Gives the lease back after a run that stopped before writing anything (a setting
    /// refused at its start), so the corrected run can start at once.
    pub async fn release_unused(&mut self, store: &impl ArchiveStore) -> Result<()> {
        self.progress.lease = None;
        self.write(store).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    #[tokio::test]
    async fn a_stale_progress_record_cannot_be_written() {
        let store = MemoryStore::default();
        let mut a = Tracked::read(&store).await.unwrap();
        let mut b = a.clone();
        a.write(&store).await.unwrap();
        let lost = b.write(&store).await;
        assert!(matches!(lost, Err(Error::Conflict { .. })), "{lost:?}");
    }

    #[tokio::test]
    async fn of_two_writers_committing_the_same_number_exactly_one_wins() {
        let store = MemoryStore::default();
        let mut first = read_chain(&store).await.unwrap();
        let mut second = first.clone();
        let day = |seq, previous| {
            let mut m = Manifest::next(seq, previous, ManifestKind::Day, "xray");
            m.day = NaiveDate::from_ymd_opt(2026, 3, 2);
            m
        };
        commit(&store, &mut first, day).await.unwrap();
        let lost = commit(&store, &mut second, |seq, previous| {
            Manifest::next(seq, previous, ManifestKind::Import, "files")
        })
        .await;
        match lost {
            Err(Error::Fenced { seq, what, .. }) => {
                assert_eq!(seq, 1);
                assert_eq!(what, "day 2026-03-02");
            }
            other => panic!("expected a fence, got {other:?}"),
        }
        let chain = read_chain(&store).await.unwrap();
        assert_eq!(chain.manifests.len(), 1);
        assert_eq!(chain.head().0, 1);
    }

    fn sealed(day: u32) -> impl FnOnce(u64, Option<ManifestLink>) -> Manifest {
        move |seq, previous| {
            let mut m = Manifest::next(seq, previous, ManifestKind::Day, "xray");
            m.day = NaiveDate::from_ymd_opt(2026, 3, day);
            m
        }
    }

    fn days(chain: &Chain) -> Vec<Option<NaiveDate>> {
        chain.manifests.iter().map(|(_, m, _)| m.day).collect()
    }

    #[tokio::test]
    async fn the_chain_cache_is_used_only_as_far_as_the_stored_manifests_confirm_it() {
        let store = MemoryStore::default();
        let mut chain = read_chain(&store).await.unwrap();
        for day in 1..=3 {
            commit(&store, &mut chain, sealed(day)).await.unwrap();
        }
        let first = read_chain(&store).await.unwrap();
        assert_eq!(days(&first), days(&chain));
        assert!(
            crate::store::get(&store, CHAIN_CACHE_KEY)
                .await
                .unwrap()
                .is_some()
        );

        // An old manifest rewritten in the store: the cache (confirmed by the head and the
        // links) still answers, so it is what was read; verify's whole read sees the change.
        let mut forged = first.manifests[0].1.clone();
        forged.day = NaiveDate::from_ymd_opt(2026, 3, 9);
        store.tamper_put(&first.manifests[0].0, forged.to_bytes());
        let cached = read_chain(&store).await.unwrap();
        assert_eq!(
            cached.manifests[0].1.day,
            NaiveDate::from_ymd_opt(2026, 3, 1)
        );
        let whole = read_chain_whole(&store).await.unwrap();
        assert_eq!(
            whole.manifests[0].1.day,
            NaiveDate::from_ymd_opt(2026, 3, 9)
        );

        // A cache whose links do not hold is not used.
        let stored = store.read(CHAIN_CACHE_KEY, None).await.unwrap().unwrap();
        let text = String::from_utf8(stored.bytes.to_vec()).unwrap();
        let broken = text.replacen("2026-03-02", "2026-03-08", 1);
        store
            .put_if(CHAIN_CACHE_KEY, Bytes::from(broken), Some(&stored.tag))
            .await
            .unwrap();
        assert_eq!(days(&read_chain(&store).await.unwrap()), days(&whole));

        // Manifests committed after the cache are read on top of it.
        let store = MemoryStore::default();
        let mut chain = read_chain(&store).await.unwrap();
        for day in 1..=2 {
            commit(&store, &mut chain, sealed(day)).await.unwrap();
        }
        read_chain(&store).await.unwrap();
        let mut forged = chain.manifests[0].1.clone();
        forged.traces = 77;
        store.tamper_put(&chain.manifests[0].0, forged.to_bytes());
        commit(&store, &mut chain, sealed(3)).await.unwrap();
        let read = read_chain(&store).await.unwrap();
        assert_eq!(days(&read), days(&chain));
        assert_eq!(
            read.manifests[0].1.traces, 0,
            "the first two came from the cache"
        );

        // A cache whose head differs from the store's is not used.
        let head = chain.manifests.last().unwrap();
        let mut forged = head.1.clone();
        forged.traces = 99;
        store.tamper_put(&head.0, forged.to_bytes());
        let after = read_chain(&store).await.unwrap();
        assert_eq!(after.manifests[2].1.traces, 99);
        assert_eq!(after.manifests[0].1.traces, 77);
    }
}
