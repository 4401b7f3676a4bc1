//! `verify`: proves an archive is what its manifests say it is.
//!
//! 1. The manifest chain: sequence numbers 1, 2, 3, … with none missing, each manifest's
//!    `previous` naming the key and SHA-256 of the one before, and the checkpoint naming
//!    the last.
//! 2. Every object a manifest lists (the latest manifest listing a key wins): present, the
//!    same SHA-256, and for Parquet parts the same row count as the footer says.
//! 3. Nothing else: an object under `v1/` or `_quarantine/` that no manifest lists.
//! 4. Coverage: the X-Ray windows, in time order, with no gap and no partial overlap (a
//!    window exported twice after a crash is fine: the same documents, no duplicates).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::Result;
use crate::ledger::{CHECKPOINT_KEY, MANIFEST_PREFIX, Manifest, ManifestKind, read_checkpoint};
use crate::store::ArchiveStore;

/// What is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// A listed object is gone.
    MissingObject,
    /// A listed object's bytes changed.
    AlteredObject,
    /// A Parquet part's row count differs from its manifest.
    RowCount,
    /// An object no manifest lists.
    UnlistedObject,
    /// The manifest chain is broken: a manifest missing, unreadable, out of order, or
    /// linking to the wrong predecessor.
    BrokenChain,
    /// Time no X-Ray window covers.
    Gap,
    /// Two X-Ray windows partly covering the same time.
    Overlap,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// What kind.
    pub kind: FindingKind,
    /// The object or manifest key (or the time range) concerned.
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
    /// Bytes hashed.
    pub bytes: u64,
    /// X-Ray windows checked for coverage.
    pub windows: u64,
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

/// Verifies `store`. With `from`/`to`, only manifests whose window meets the range are
/// checked, and coverage is checked over exactly that range.
pub async fn verify(
    store: &impl ArchiveStore,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<VerifyReport> {
    let mut report = VerifyReport::default();
    // 1. The chain.
    let mut chain: Vec<(String, Manifest, String)> = Vec::new();
    for meta in store.list(MANIFEST_PREFIX).await? {
        let Some(bytes) = store.get(&meta.key).await? else {
            continue;
        };
        report.manifests += 1;
        let sha = hex::encode(Sha256::digest(&bytes));
        match serde_json::from_slice::<Manifest>(&bytes) {
            Ok(m) => chain.push((meta.key, m, sha)),
            Err(e) => report.add(
                FindingKind::BrokenChain,
                meta.key,
                format!("not a readable manifest: {e}"),
            ),
        }
    }
    let mut expected_seq = 1;
    let mut prev: Option<(&str, &str)> = None;
    for (key, m, sha) in &chain {
        if key != &m.key() {
            report.add(
                FindingKind::BrokenChain,
                key.clone(),
                format!(
                    "holds manifest seq {} for {}, which belongs at {}",
                    m.seq,
                    m.window.label(),
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
                        "manifest seq {expected_seq}..{} is missing before seq {}",
                        m.seq - 1,
                        m.seq
                    )
                } else {
                    format!("seq {} is out of order (expected {expected_seq})", m.seq)
                },
            );
        }
        let link = m
            .previous
            .as_ref()
            .map(|l| (l.key.as_str(), l.sha256.as_str()));
        if link != prev {
            report.add(
                FindingKind::BrokenChain,
                key.clone(),
                format!(
                    "previous is {}, but the manifest before it is {}",
                    link.map_or("none".into(), |(k, s)| format!(
                        "{k} ({})",
                        &s[..12.min(s.len())]
                    )),
                    prev.map_or("none".into(), |(k, s)| format!("{k} ({})", &s[..12])),
                ),
            );
        }
        expected_seq = m.seq.max(expected_seq) + 1;
        prev = Some((key.as_str(), sha.as_str()));
    }
    if let Some(cp) = read_checkpoint(store).await?.checkpoint {
        let head = cp
            .manifest
            .as_ref()
            .map(|l| (l.key.as_str(), l.sha256.as_str()));
        if head.is_some() && head != prev {
            report.add(
                FindingKind::BrokenChain,
                CHECKPOINT_KEY,
                format!(
                    "the checkpoint names {} as the last manifest, but the chain ends at {}",
                    head.map_or("none", |(k, _)| k),
                    prev.map_or("none", |(k, _)| k)
                ),
            );
        }
    }

    // 2. Objects, the latest listing of each key winning.
    let in_range = |m: &Manifest| {
        from.is_none_or(|f| m.window.end > f) && to.is_none_or(|t| m.window.start < t)
    };
    let mut expected: BTreeMap<String, (crate::ObjectRecord, String)> = BTreeMap::new();
    let mut listed: BTreeSet<String> = BTreeSet::new();
    for (key, m, _) in &chain {
        for r in &m.removed {
            listed.insert(r.clone());
            expected.remove(r);
        }
        for o in &m.objects {
            listed.insert(o.key.clone());
            if in_range(m) {
                expected.insert(o.key.clone(), (o.clone(), key.clone()));
            } else {
                expected.remove(&o.key);
            }
        }
    }
    for (key, (record, manifest)) in &expected {
        let Some(bytes) = store.get(key).await? else {
            report.add(
                FindingKind::MissingObject,
                key.clone(),
                format!("listed in {manifest}, not in the archive"),
            );
            continue;
        };
        report.objects += 1;
        report.bytes += bytes.len() as u64;
        let sha = hex::encode(Sha256::digest(&bytes));
        if sha != record.sha256 {
            report.add(
                FindingKind::AlteredObject,
                key.clone(),
                format!(
                    "SHA-256 {} but {manifest} says {} ({} bytes, listed {})",
                    &sha[..16],
                    &record.sha256[..16],
                    bytes.len(),
                    record.bytes
                ),
            );
            continue;
        }
        if let Some(rows) = record.rows.filter(|_| key.ends_with(".parquet"))
            && let Some(actual) = parquet_rows(&bytes)
            && actual != rows
        {
            report.add(
                FindingKind::RowCount,
                key.clone(),
                format!("{actual} rows, {manifest} says {rows}"),
            );
        }
    }

    // 3. Objects nobody listed.
    for prefix in ["v1/", "_quarantine/"] {
        for meta in store.list(prefix).await? {
            if !listed.contains(&meta.key) {
                report.add(
                    FindingKind::UnlistedObject,
                    meta.key,
                    "no manifest lists it",
                );
            }
        }
    }

    // 4. Coverage of the X-Ray windows.
    let mut windows: Vec<(DateTime<Utc>, DateTime<Utc>, &str)> = chain
        .iter()
        .filter(|(_, m, _)| m.kind == ManifestKind::Window && in_range(m))
        .map(|(k, m, _)| (m.window.start, m.window.end, k.as_str()))
        .collect();
    windows.sort();
    windows.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
    report.windows = windows.len() as u64;
    if let Some(first) = windows.first() {
        let mut covered_to = from.unwrap_or(first.0);
        for (start, end, key) in &windows {
            if *start > covered_to {
                report.add(
                    FindingKind::Gap,
                    format!("{} to {}", covered_to.to_rfc3339(), start.to_rfc3339()),
                    format!("no X-Ray window covers this time (next: {key})"),
                );
            } else if *start < covered_to && from.is_none_or(|f| *start >= f) {
                report.add(
                    FindingKind::Overlap,
                    key.to_string(),
                    format!(
                        "starts at {}, before the previous window ends at {}",
                        start.to_rfc3339(),
                        covered_to.to_rfc3339()
                    ),
                );
            }
            covered_to = covered_to.max(*end);
        }
        if let Some(t) = to
            && covered_to < t
        {
            report.add(
                FindingKind::Gap,
                format!("{} to {}", covered_to.to_rfc3339(), t.to_rfc3339()),
                "no X-Ray window covers this time",
            );
        }
    }
    report
        .findings
        .sort_by(|a, b| (a.kind, &a.key).cmp(&(b.kind, &b.key)));
    Ok(report)
}
