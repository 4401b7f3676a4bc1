//! `verify`: proves an archive is what its manifests say it is, version by version.
//!
//! 1. Versions: every key under `v1/`, `_manifests/`, `_quarantine/` and `_holds/` must have
//!    exactly one version and no delete marker. The archive writes each key once, so a
//!    second version is tampering (`overwritten`), even with the same bytes, and a delete
//!    marker is a deletion (`deleted`).
//! 2. The manifest chain: numbers 1, 2, 3, … under the keys their numbers give, each
//!    `previous` naming the key and SHA-256 of the one before. Its head's SHA-256 is
//!    printed, and checked against `--expect-head` (a value kept outside the bucket, such
//!    as the Lambda's log line).
//! 3. Every object a manifest lists: present, the listed version, the same SHA-256, and for
//!    Parquet parts the same row count as the footer says.
//! 4. Nothing else: an object under `v1/` or `_quarantine/` that no manifest lists.
//! 5. Days: every day from the first sealed day to the last is sealed (`missing_day`), and
//!    none was sealed after X-Ray had begun deleting it (`expired_day`).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use schema::v1::{APPEND_ONLY_PREFIXES, manifest_key};

use crate::error::Result;
use crate::ledger::{DayStatus, ManifestLink, read_chain_whole};
use crate::store::{ArchiveStore, sha256_hex};

/// What is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// A write-once key has more than one version.
    Overwritten,
    /// A write-once key has a delete marker.
    Deleted,
    /// A listed object is gone.
    MissingObject,
    /// A listed object's bytes changed.
    AlteredObject,
    /// The current version of a listed object is not the version its manifest lists.
    VersionMismatch,
    /// A Parquet part's row count differs from its manifest.
    RowCount,
    /// An object no manifest lists.
    UnlistedObject,
    /// The manifest chain is broken: a manifest missing, unreadable, out of order, or
    /// linking to the wrong predecessor.
    BrokenChain,
    /// The chain head is not the one expected (`--expect-head`).
    HeadMismatch,
    /// A day between the first and last sealed day that no manifest seals.
    MissingDay,
    /// A day sealed after X-Ray had begun deleting it: traces were lost.
    ExpiredDay,
    /// A day whose listed traces the source did not return: those traces were lost.
    UnreturnedTraces,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// What kind.
    pub kind: FindingKind,
    /// The object or manifest key (or the day) concerned.
    pub key: String,
    /// What exactly.
    pub detail: String,
}

/// The result of a verification.
#[derive(Debug, Clone, Default, Serialize)]
pub struct VerifyReport {
    /// Manifests read.
    pub manifests: u64,
    /// Objects checked against their manifests.
    pub objects: u64,
    /// Object versions listed.
    pub versions: u64,
    /// Bytes hashed.
    pub bytes: u64,
    /// Days sealed.
    pub sealed_days: u64,
    /// The chain head: the last manifest and its SHA-256.
    pub head: Option<ManifestLink>,
    /// Every finding, by kind then key.
    pub findings: Vec<Finding>,
}

impl VerifyReport {
    fn add(&mut self, kind: FindingKind, key: impl Into<String>, detail: impl Into<String>) {
        self.findings.push(Finding {
            kind,
            key: key.into(),
            detail: detail.into(),
        });
    }
}

/// Row count from a Parquet footer.
fn parquet_rows(bytes: &bytes::Bytes) -> Option<u64> {
    let reader = parquet::file::serialized_reader::SerializedFileReader::new(bytes.clone()).ok()?;
    use parquet::file::reader::FileReader;
    Some(reader.metadata().file_metadata().num_rows() as u64)
}

/// Verifies `store`; with `expect_head`, also that the chain head's SHA-256 is that one.
pub async fn verify(store: &impl ArchiveStore, expect_head: Option<&str>) -> Result<VerifyReport> {
    let mut report = VerifyReport::default();

    // 1. Versions.
    let mut versions: BTreeMap<String, Vec<crate::store::ObjectVersion>> = BTreeMap::new();
    for prefix in APPEND_ONLY_PREFIXES {
        for v in store.list_versions(prefix).await? {
            report.versions += 1;
            versions.entry(v.key.clone()).or_default().push(v);
        }
    }
    for (key, vs) in &versions {
        let markers = vs.iter().filter(|v| v.delete_marker).count();
        let contents = vs.len() - markers;
        if markers > 0 {
            report.add(
                FindingKind::Deleted,
                key.clone(),
                format!("{markers} delete marker(s): the write-once object was deleted"),
            );
        }
        if contents > 1 {
            report.add(
                FindingKind::Overwritten,
                key.clone(),
                format!("{contents} versions: the write-once object was written again"),
            );
        }
    }

    // 2. The chain.
    let chain = read_chain_whole(store).await?;
    report.manifests = (chain.manifests.len() + chain.unreadable.len()) as u64;
    for (key, why) in &chain.unreadable {
        report.add(FindingKind::BrokenChain, key.clone(), why.clone());
    }
    let mut expected_seq = 1;
    let mut prev: Option<(&str, &str)> = None;
    for (key, m, sha) in &chain.manifests {
        if key != &manifest_key(m.seq) {
            report.add(
                FindingKind::BrokenChain,
                key.clone(),
                format!(
                    "holds manifest {} ({}), which belongs at {}",
                    m.seq,
                    m.what(),
                    m.key()
                ),
            );
        }
        if m.seq != expected_seq {
            report.add(
                FindingKind::BrokenChain,
                key.clone(),
                if m.seq > expected_seq {
                    format!(
                        "manifests {expected_seq}..{} are missing before {}",
                        m.seq - 1,
                        m.seq
                    )
                } else {
                    format!("number {} is out of order (expected {expected_seq})", m.seq)
                },
            );
        }
        let link = m
            .previous
            .as_ref()
            .map(|l| (l.key.as_str(), l.sha256.as_str()));
        if link != prev {
            let show = |l: Option<(&str, &str)>| {
                l.map_or("none".into(), |(k, s)| {
                    format!("{k} ({})", &s[..12.min(s.len())])
                })
            };
            report.add(
                FindingKind::BrokenChain,
                key.clone(),
                format!(
                    "previous is {}, but the manifest before it is {}",
                    show(link),
                    show(prev)
                ),
            );
        }
        expected_seq = m.seq.max(expected_seq) + 1;
        prev = Some((key.as_str(), sha.as_str()));
    }
    report.head = chain.head().1;
    if let Some(want) = expect_head {
        let have = report.head.as_ref().map(|h| h.sha256.as_str());
        if have != Some(want) {
            report.add(
                FindingKind::HeadMismatch,
                report
                    .head
                    .as_ref()
                    .map_or("_manifests/".into(), |h| h.key.clone()),
                format!(
                    "the chain head is {}, but {want} was expected: manifests were added, \
                     removed or replaced since that head was recorded",
                    have.unwrap_or("none")
                ),
            );
        }
    }

    // 3. Listed objects, exactly the listed version.
    let committed = chain.committed();
    for (key, (record, manifest)) in &committed {
        let Some(stored) = store.read(key, record.version_id.as_deref()).await? else {
            report.add(
                FindingKind::MissingObject,
                key.to_string(),
                format!("listed in {manifest}, not in the archive"),
            );
            continue;
        };
        report.objects += 1;
        report.bytes += stored.bytes.len() as u64;
        if let Some(listed) = &record.version_id
            && let Some(latest) = versions
                .get(*key)
                .and_then(|vs| vs.iter().rev().find(|v| v.is_latest))
            && latest.version_id.as_deref() != Some(listed.as_str())
        {
            report.add(
                FindingKind::VersionMismatch,
                key.to_string(),
                format!(
                    "{manifest} lists version {listed}, but readers get version {}",
                    latest.version_id.as_deref().unwrap_or("none")
                ),
            );
        }
        let sha = sha256_hex(&stored.bytes);
        if sha != record.sha256 {
            report.add(
                FindingKind::AlteredObject,
                key.to_string(),
                format!(
                    "SHA-256 {} but {manifest} says {} ({} bytes, listed {})",
                    &sha[..16],
                    &record.sha256[..16.min(record.sha256.len())],
                    stored.bytes.len(),
                    record.bytes
                ),
            );
            continue;
        }
        if let Some(rows) = record.rows.filter(|_| key.ends_with(".parquet"))
            && let Some(actual) = parquet_rows(&stored.bytes)
            && actual != rows
        {
            report.add(
                FindingKind::RowCount,
                key.to_string(),
                format!("{actual} rows, {manifest} says {rows}"),
            );
        }
    }

    // 4. Objects nobody listed.
    let listed: BTreeSet<&str> = committed.keys().copied().collect();
    for prefix in ["v1/", "_quarantine/"] {
        for meta in store.list(prefix).await? {
            if !listed.contains(meta.key.as_str()) {
                report.add(
                    FindingKind::UnlistedObject,
                    meta.key,
                    "no manifest lists it",
                );
            }
        }
    }

    // 5. Days.
    let sealed = chain.sealed_days();
    report.sealed_days = sealed.len() as u64;
    if let (Some(first), Some(last)) = (sealed.keys().next(), sealed.keys().next_back()) {
        for day in first.iter_days().take_while(|d| d <= last) {
            if !sealed.contains_key(&day) {
                report.add(
                    FindingKind::MissingDay,
                    day.to_string(),
                    "no manifest seals this day: its traces were never archived",
                );
            }
        }
    }
    for (key, m, _) in &chain.manifests {
        if let (Some(day), Some(DayStatus::Expired)) = (m.day, m.status) {
            report.add(
                FindingKind::ExpiredDay,
                day.to_string(),
                format!(
                    "expired: sealed after X-Ray had begun deleting it ({} traces were still \
                     there, {key}); the rest are lost",
                    m.source_traces.unwrap_or(0)
                ),
            );
        }
        if let Some(day) = m.day
            && m.unreturned_traces > 0
        {
            report.add(
                FindingKind::UnreturnedTraces,
                day.to_string(),
                format!(
                    "{} traces listed by the source were never returned, so never archived \
                     ({key}; first: {})",
                    m.unreturned_traces,
                    m.unreturned_sample.join(", ")
                ),
            );
        }
    }
    report
        .findings
        .sort_by(|a, b| (a.kind, &a.key).cmp(&(b.kind, &b.key)));
    Ok(report)
}
