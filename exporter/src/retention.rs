//! Retention policy per service, URL path and annotation.
//!
//! A JSON file (`--retention-policy FILE` or `XRAY_ARCHIVE_RETENTION_POLICY`):
//!
//! ```json
//! {
//!   "default_years": 7,
//!   "rules": [
//!     {"name": "health checks", "url_path": "/health", "years": 0},
//!     {"name": "payments and webhooks", "annotation": "PaymentId", "years": 7},
//!     {"name": "background jobs", "service": "VaultLink-Statements*", "years": 1}
//!   ]
//! }
//! ```
//!
//! A rule matches a trace when one of its documents has every condition the rule gives
//! (`service`: a segment or subsegment name, `*` at the end for a prefix; `url_path`: the
//! path of an HTTP request, the same; `annotation`: a key, or `key=value`). A trace takes
//! the years of the first rule it matches, else `default_years`. Zero years means never
//! archived. A part is retained (S3 Object Lock) for the longest years among its traces;
//! `prune` deletes a local part once that has passed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use schema::SegmentDocument;

use crate::error::{Error, Result};

/// One rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionRule {
    /// A label for people.
    #[serde(default)]
    pub name: Option<String>,
    /// Segment or subsegment name; `*` at the end for a prefix.
    #[serde(default)]
    pub service: Option<String>,
    /// HTTP request path; `*` at the end for a prefix.
    #[serde(default)]
    pub url_path: Option<String>,
    /// Annotation key, or `key=value`.
    #[serde(default)]
    pub annotation: Option<String>,
    /// Years after the day of the data; 0: never archived.
    pub years: u32,
}

/// A retention policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionPolicy {
    /// Years for traces no rule matches.
    pub default_years: u32,
    /// Rules, first match wins.
    #[serde(default)]
    pub rules: Vec<RetentionRule>,
}

fn glob(pattern: &str, value: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => value.starts_with(prefix),
        None => pattern == value,
    }
}

fn url_path(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let path = rest.find('/').map_or("/", |i| &rest[i..]);
    path.split(['?', '#']).next().unwrap_or(path)
}

impl RetentionRule {
    fn matches_span(&self, s: &SegmentDocument) -> bool {
        let service = self
            .service
            .as_deref()
            .is_none_or(|p| s.name.as_deref().is_some_and(|n| glob(p, n)));
        let path = self.url_path.as_deref().is_none_or(|p| {
            s.http
                .as_ref()
                .and_then(|h| h.request.as_ref())
                .and_then(|r| r.url.as_deref())
                .is_some_and(|u| glob(p, url_path(u)))
        });
        let annotation = self.annotation.as_deref().is_none_or(|a| {
            let (key, value) = a.split_once('=').map_or((a, None), |(k, v)| (k, Some(v)));
            s.annotation(key)
                .is_some_and(|v| value.is_none_or(|want| v.to_string() == want))
        });
        service && path && annotation
    }

    fn matches(&self, doc: &SegmentDocument) -> bool {
        let mut stack = vec![doc];
        while let Some(s) = stack.pop() {
            if self.matches_span(s) {
                return true;
            }
            stack.extend(s.subsegments.iter());
        }
        false
    }
}

impl RetentionPolicy {
    /// Reads and checks a policy file.
    pub fn load(path: &std::path::Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::Config(format!(
                "cannot read the retention policy {}: {e}",
                path.display()
            ))
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses and checks a policy; `origin` names where it came from in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        let policy: Self = serde_json::from_str(text).map_err(|e| {
            Error::Config(format!(
                "the retention policy {origin} is not valid: {e} (see the README's compliance section)"
            ))
        })?;
        for (n, r) in policy.rules.iter().enumerate() {
            if r.service.is_none() && r.url_path.is_none() && r.annotation.is_none() {
                return Err(Error::Config(format!(
                    "retention rule {} ({}) has no condition: give service, url_path or annotation",
                    n + 1,
                    r.name.as_deref().unwrap_or("unnamed")
                )));
            }
        }
        Ok(policy)
    }

    /// The policy in `XRAY_ARCHIVE_RETENTION_POLICY`, if any: a file path, or the JSON
    /// itself (handy in a Lambda's environment).
    pub fn from_env() -> Result<Option<Self>> {
        match std::env::var("XRAY_ARCHIVE_RETENTION_POLICY") {
            Ok(p) if p.trim_start().starts_with('{') => {
                Self::parse(&p, "in XRAY_ARCHIVE_RETENTION_POLICY").map(Some)
            }
            Ok(p) if !p.is_empty() => Self::load(p.as_ref()).map(Some),
            _ => Ok(None),
        }
    }

    /// Years for the trace made of `docs`.
    pub fn years_for<'a>(
        &self,
        docs: impl IntoIterator<Item = &'a SegmentDocument> + Clone,
    ) -> u32 {
        for rule in &self.rules {
            if docs.clone().into_iter().any(|d| rule.matches(d)) {
                return rule.years;
            }
        }
        self.default_years
    }

    /// Years per trace id for a set of documents.
    pub fn years_by_trace<'a>(
        &self,
        docs: impl IntoIterator<Item = (&'a str, &'a SegmentDocument)>,
    ) -> BTreeMap<&'a str, u32> {
        let mut by_trace: BTreeMap<&str, Vec<&SegmentDocument>> = BTreeMap::new();
        for (t, d) in docs {
            by_trace.entry(t).or_default().push(d);
        }
        by_trace
            .into_iter()
            .map(|(t, ds)| (t, self.years_for(ds.iter().copied())))
            .collect()
    }
}

/// What `prune` did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PruneReport {
    /// Parts past their retention, deleted (or that would be, on a dry run).
    pub deleted: Vec<String>,
    /// Parts past their retention kept because a legal hold covers them, with the payment.
    pub held: Vec<(String, String)>,
    /// Parts still within their retention.
    pub kept: u64,
    /// The manifest recording the deletions.
    pub manifest: Option<String>,
}

/// Deletes the parts of a local archive whose retention has passed at `now`, never one a
/// legal hold covers. A part's retention is the years its manifest recorded (from the
/// policy it was written under), else `default_years`, counted from the day of its data.
/// The deletions are recorded in the manifest chain, so `verify` expects them gone.
pub async fn prune(
    store: &crate::LocalDirStore,
    now: chrono::DateTime<chrono::Utc>,
    default_years: u32,
    dry_run: bool,
) -> Result<PruneReport> {
    use crate::ledger::{Manifest, ManifestKind, Window, append_manifest, read_manifests};
    let mut latest: BTreeMap<String, Option<u32>> = BTreeMap::new();
    for (_, m, _) in read_manifests(store).await? {
        for r in &m.removed {
            latest.remove(r);
        }
        for o in &m.objects {
            if o.key.starts_with("v1/") {
                latest.insert(o.key.clone(), o.retain_years);
            }
        }
    }
    let held = crate::holds::held_objects(&crate::holds::read_log(store).await?);
    let mut report = PruneReport::default();
    for (key, years) in latest {
        let Some(day) = crate::store::data_day(&key) else {
            continue;
        };
        let years = years.unwrap_or(default_years);
        let until = day
            .checked_add_months(chrono::Months::new(12 * years))
            .unwrap_or(chrono::NaiveDate::MAX)
            .and_hms_opt(0, 0, 0)
            .expect("midnight")
            .and_utc();
        if now < until {
            report.kept += 1;
        } else if let Some(payment) = held.get(&key) {
            report.held.push((key, payment.clone()));
        } else {
            report.deleted.push(key);
        }
    }
    if dry_run || report.deleted.is_empty() {
        return Ok(report);
    }
    for key in &report.deleted {
        store.delete(key).await?;
    }
    let removed = report.deleted.clone();
    let link = append_manifest(store, |seq, previous| Manifest {
        removed,
        exported_at: now,
        ..Manifest::next(
            seq,
            previous,
            ManifestKind::Prune,
            Window {
                start: now,
                end: now,
            },
            "prune",
        )
    })
    .await?;
    report.manifest = Some(link.key);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(json: &str) -> SegmentDocument {
        SegmentDocument::parse(json).unwrap()
    }

    fn policy() -> RetentionPolicy {
        serde_json::from_str(
            r#"{"default_years": 7, "rules": [
                {"url_path": "/health", "years": 0},
                {"annotation": "PaymentId", "years": 7},
                {"service": "VaultLink-Statements*", "years": 1}]}"#,
        )
        .unwrap()
    }

    #[test]
    fn first_matching_rule_decides() {
        let p = policy();
        let health =
            doc(r#"{"name":"api","http":{"request":{"url":"https://api.example/health?x=1"}}}"#);
        let lambda = doc(r#"{"name":"vaultlink-create-payment"}"#);
        assert_eq!(p.years_for([&health, &lambda]), 0, "the whole trace goes");
        let job =
            doc(r#"{"name":"VaultLink-Statements","subsegments":[{"name":"GenerateStatements"}]}"#);
        assert_eq!(p.years_for([&job]), 1);
        let pay = doc(
            r#"{"name":"VaultLink-Statements","subsegments":[{"name":"x","annotations":{"PaymentId":"pay_1"}}]}"#,
        );
        assert_eq!(p.years_for([&pay]), 7, "the payment rule comes first");
        assert_eq!(p.years_for([&lambda]), 7);
    }

    #[test]
    fn a_rule_without_condition_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("p.json");
        std::fs::write(&f, r#"{"default_years": 7, "rules": [{"years": 1}]}"#).unwrap();
        let e = RetentionPolicy::load(&f).unwrap_err().to_string();
        assert!(e.contains("no condition"), "{e}");
        std::fs::write(&f, r#"{"default_years": 7, "rulez": []}"#).unwrap();
        assert!(
            RetentionPolicy::load(&f)
                .unwrap_err()
                .to_string()
                .contains("not valid")
        );
    }
}
