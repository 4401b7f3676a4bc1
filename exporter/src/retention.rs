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
//! The policy judges a whole trace, on its root and its annotations: a rule matches when the
//! trace's root segment (the document without a parent) has the rule's `service` (its name,
//! `*` at the end for a prefix) and `url_path` (the path of its HTTP request, the same), and
//! some span of the trace carries the rule's `annotation` (a key, or `key=value`). What
//! the trace calls downstream does not count: a payment whose Lambda asks a `/health`
//! endpoint is still a payment. Where several rules match, the longest retention wins, so
//! no rule can shorten another's; a trace no rule matches takes `default_years`. Zero years
//! means never archived. Days are sealed whole, so a trace is judged with all its
//! documents. A part is retained (S3 Object Lock) for the longest years among its traces.

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
    /// Rules; where several match a trace, the longest retention wins.
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
    /// Whether the rule matches the trace made of `docs`.
    fn matches(&self, docs: &[&SegmentDocument]) -> bool {
        let roots: Vec<&SegmentDocument> = {
            let roots: Vec<_> = docs
                .iter()
                .copied()
                .filter(|d| d.parent_id.is_none() && d.kind.as_deref() != Some("subsegment"))
                .collect();
            if roots.is_empty() {
                // The root was never received: judge by the earliest document instead.
                docs.iter()
                    .copied()
                    .min_by(|a, b| {
                        a.start_time
                            .unwrap_or(f64::MAX)
                            .total_cmp(&b.start_time.unwrap_or(f64::MAX))
                    })
                    .into_iter()
                    .collect()
            } else {
                roots
            }
        };
        let root_matches = roots.iter().any(|root| {
            let service = self
                .service
                .as_deref()
                .is_none_or(|p| root.name.as_deref().is_some_and(|n| glob(p, n)));
            let path = self.url_path.as_deref().is_none_or(|p| {
                root.http
                    .as_ref()
                    .and_then(|h| h.request.as_ref())
                    .and_then(|r| r.url.as_deref())
                    .is_some_and(|u| glob(p, url_path(u)))
            });
            service && path
        });
        let annotation = self.annotation.as_deref().is_none_or(|a| {
            let (key, value) = a.split_once('=').map_or((a, None), |(k, v)| (k, Some(v)));
            docs.iter().any(|d| {
                let mut stack = vec![*d];
                while let Some(s) = stack.pop() {
                    if s.annotation(key)
                        .is_some_and(|v| value.is_none_or(|want| v.to_string() == want))
                    {
                        return true;
                    }
                    stack.extend(s.subsegments.iter());
                }
                false
            })
        });
        root_matches && annotation
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

    /// Years for the trace made of `docs`: the longest among the rules it matches, else
    /// the default.
    pub fn years_for<'a>(&self, docs: impl IntoIterator<Item = &'a SegmentDocument>) -> u32 {
        let docs: Vec<&SegmentDocument> = docs.into_iter().collect();
        self.rules
            .iter()
            .filter(|r| r.matches(&docs))
            .map(|r| r.years)
            .max()
            .unwrap_or(self.default_years)
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
    fn the_root_decides_not_what_the_trace_calls() {
        let p = policy();
        let health = doc(
            r#"{"name":"api","id":"0000000000000001","http":{"request":{"url":"https://api.example/health?x=1"}}}"#,
        );
        assert_eq!(
            p.years_for([&health]),
            0,
            "a health check is never archived"
        );
        // A payment whose Lambda calls a /health endpoint downstream is a payment.
        let payment = doc(
            r#"{"name":"api","id":"0000000000000001","http":{"request":{"url":"https://api.example/payments"}},
                "annotations":{"PaymentId":"pay_1"},
                "subsegments":[{"name":"probe","id":"0000000000000002","http":{"request":{"url":"https://dep.example/health"}}}]}"#,
        );
        assert_eq!(p.years_for([&payment]), 7);
        // A downstream Lambda segment (it has a parent) calling /health does not count.
        let lambda = doc(
            r#"{"name":"fn","id":"0000000000000003","parent_id":"0000000000000002","http":{"request":{"url":"https://x/health"}}}"#,
        );
        let root = doc(
            r#"{"name":"api","id":"0000000000000001","http":{"request":{"url":"https://api.example/payments"}}}"#,
        );
        assert_eq!(p.years_for([&root, &lambda]), 7, "the default");
    }

    #[test]
    fn the_annotation_counts_wherever_it_is_in_the_trace() {
        let p = policy();
        // The PaymentId sits on a late Lambda segment, not on the root: the trace is judged
        // whole, so the payment rule still applies.
        let root = doc(r#"{"name":"VaultLink-Statements","id":"0000000000000001"}"#);
        let late = doc(
            r#"{"name":"fn","id":"0000000000000002","parent_id":"0000000000000001","subsegments":[{"name":"x","id":"0000000000000003","annotations":{"PaymentId":"pay_1"}}]}"#,
        );
        assert_eq!(p.years_for([&root]), 1, "a job alone: one year");
        assert_eq!(p.years_for([&root, &late]), 7);
    }

    #[test]
    fn where_rules_disagree_the_longest_retention_wins() {
        let p: RetentionPolicy = serde_json::from_str(
            r#"{"default_years": 3, "rules": [
                {"service": "VaultLink-*", "years": 1},
                {"annotation": "PaymentId", "years": 7},
                {"service": "VaultLink-Statements", "years": 0}]}"#,
        )
        .unwrap();
        let job = doc(r#"{"name":"VaultLink-Statements","id":"0000000000000001"}"#);
        assert_eq!(p.years_for([&job]), 1, "0 and 1 match: 1 wins");
        let pay = doc(
            r#"{"name":"VaultLink-Statements","id":"0000000000000001","annotations":{"PaymentId":"p"}}"#,
        );
        assert_eq!(p.years_for([&pay]), 7, "0, 1 and 7 match: 7 wins");
        let other = doc(r#"{"name":"other","id":"0000000000000001"}"#);
        assert_eq!(p.years_for([&other]), 3);
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
