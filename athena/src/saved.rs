//! Saved compliance queries: `.sql` files under `athena/queries/`, one text for Athena and
//! DataFusion alike, written in the SQL both engines accept.
//!
//! Each file starts with a header comment: a title line, then `Answers:`, `For:` and the
//! parameters, one per line as `--   :name (type) description`, with type `date`
//! (`YYYY-MM-DD`), `text` or `int`. In the body a parameter is written `:name`; [`render`]
//! replaces it with a checked literal, so a value can never change the statement.

use std::collections::BTreeMap;

use crate::error::{Error, Result};

/// A parameter's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    /// A day, `YYYY-MM-DD`, rendered as a string literal (the `dt` partition is a string).
    Date,
    /// Text, rendered as a string literal with quotes doubled.
    Text,
    /// An integer, rendered as a number.
    Int,
}

/// One declared parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    /// Its name, without the colon.
    pub name: String,
    /// Its type.
    pub kind: ParamType,
    /// What it means.
    pub doc: String,
}

/// A saved query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedQuery {
    /// File name without `.sql`.
    pub name: &'static str,
    /// The title line.
    pub title: String,
    /// What it answers, and for whom (the header's text after the title).
    pub description: String,
    /// Declared parameters.
    pub params: Vec<Param>,
    /// The whole file.
    pub text: &'static str,
}

macro_rules! saved {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../queries/", $name, ".sql")))),*]
    };
}

/// Every saved query file, by name.
const FILES: &[(&str, &str)] = saved!(
    "charged_but_pending",
    "error_rate_per_service_per_day",
    "failed_webhooks",
    "payments_by_correlation_id",
    "prism_dlq",
    "slow_payments",
    "trace_payment",
    "webhook_failures_per_5min",
);

/// Every saved query, sorted by name.
pub fn saved_queries() -> Vec<SavedQuery> {
    FILES.iter().map(|(name, text)| parse(name, text)).collect()
}

/// The saved query called `name`.
pub fn saved_query(name: &str) -> Result<SavedQuery> {
    saved_queries()
        .into_iter()
        .find(|q| q.name == name)
        .ok_or_else(|| Error::UnknownQuery {
            name: name.to_owned(),
        })
}

fn parse(name: &'static str, text: &'static str) -> SavedQuery {
    let header: Vec<&str> = text
        .lines()
        .take_while(|l| l.starts_with("--"))
        .map(|l| l.trim_start_matches('-').trim())
        .collect();
    let title = header.first().copied().unwrap_or(name).to_owned();
    let mut params = Vec::new();
    let mut description = Vec::new();
    for line in header.iter().skip(1) {
        if let Some(rest) = line.strip_prefix(':') {
            let (pname, rest) = rest.split_once(' ').unwrap_or((rest, ""));
            let rest = rest.trim();
            let (kind, doc) = match rest.split_once(')') {
                Some((k, d)) => (k.trim_start_matches('('), d.trim()),
                None => ("text", rest),
            };
            let kind = match kind {
                "date" => ParamType::Date,
                "int" => ParamType::Int,
                _ => ParamType::Text,
            };
            params.push(Param {
                name: pname.to_owned(),
                kind,
                doc: doc.to_owned(),
            });
        } else if !line.is_empty() && *line != "Parameters:" {
            description.push(*line);
        }
    }
    SavedQuery {
        name,
        title,
        description: description.join(" "),
        params,
        text,
    }
}

fn kind_name(kind: ParamType) -> &'static str {
    match kind {
        ParamType::Date => "date (YYYY-MM-DD)",
        ParamType::Text => "text",
        ParamType::Int => "integer",
    }
}

impl SavedQuery {
    /// The SQL with every `:name` replaced by its checked literal.
    pub fn render(&self, args: &BTreeMap<String, String>) -> Result<String> {
        for given in args.keys() {
            if !self.params.iter().any(|p| &p.name == given) {
                return Err(Error::UnexpectedParam {
                    query: self.name.into(),
                    name: given.clone(),
                    expected: self
                        .params
                        .iter()
                        .map(|p| p.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
        }
        let mut literals = BTreeMap::new();
        for p in &self.params {
            let value = args.get(&p.name).ok_or_else(|| Error::MissingParam {
                query: self.name.into(),
                name: p.name.clone(),
                kind: kind_name(p.kind),
                doc: p.doc.clone(),
            })?;
            let invalid = || Error::InvalidParam {
                name: p.name.clone(),
                value: value.clone(),
                kind: kind_name(p.kind),
            };
            let literal = match p.kind {
                ParamType::Date => {
                    chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d").map_err(|_| invalid())?;
                    format!("'{value}'")
                }
                ParamType::Int => value.parse::<i64>().map_err(|_| invalid())?.to_string(),
                ParamType::Text => format!("'{}'", value.replace('\'', "''")),
            };
            literals.insert(p.name.as_str(), literal);
        }
        Ok(substitute(self.body(), &literals))
    }

    /// The statement without the header comment.
    pub fn body(&self) -> &'static str {
        let start = self
            .text
            .lines()
            .take_while(|l| l.starts_with("--"))
            .map(|l| l.len() + 1)
            .sum::<usize>();
        &self.text[start.min(self.text.len())..]
    }
}

/// Replaces `:name` tokens outside string literals. Written by hand: it is a tokenizer for
/// one token kind, and no SQL crate renders named parameters for both Athena and DataFusion.
fn substitute(sql: &str, literals: &BTreeMap<&str, String>) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.char_indices().peekable();
    let mut in_string = false;
    while let Some((i, c)) = chars.next() {
        if c == '\'' {
            in_string = !in_string;
            out.push(c);
        } else if c == ':' && !in_string {
            let rest = &sql[i + 1..];
            let len = rest
                .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_'))
                .unwrap_or(rest.len());
            match literals.get(&rest[..len]) {
                Some(lit) if len > 0 => {
                    out.push_str(lit);
                    for _ in 0..len {
                        chars.next();
                    }
                }
                _ => out.push(c),
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn every_saved_query_documents_itself_and_uses_what_it_declares() {
        let all = saved_queries();
        assert_eq!(all.len(), FILES.len());
        for q in all {
            assert!(q.description.contains("Answers:"), "{}", q.name);
            assert!(q.description.contains("For:"), "{}", q.name);
            assert!(!q.params.is_empty(), "{}", q.name);
            for p in &q.params {
                assert!(
                    q.body().contains(&format!(":{}", p.name)),
                    "{}: :{} unused",
                    q.name,
                    p.name
                );
            }
        }
    }

    #[test]
    fn values_become_checked_literals() {
        let q = saved_query("trace_payment").unwrap();
        let sql = q
            .render(&args(&[
                ("payment_id", "pay_1' OR '1'='1"),
                ("since", "2026-01-01"),
                ("until", "2026-01-31"),
            ]))
            .unwrap();
        assert!(
            sql.contains("p.payment_id = 'pay_1'' OR ''1''=''1'"),
            "{sql}"
        );
        assert!(
            sql.contains("BETWEEN '2026-01-01' AND '2026-01-31'"),
            "{sql}"
        );
        assert!(!sql.contains(":since"));
        let bad = q.render(&args(&[
            ("payment_id", "x"),
            ("since", "yesterday"),
            ("until", "2026-01-31"),
        ]));
        assert!(matches!(bad, Err(Error::InvalidParam { .. })), "{bad:?}");
        let missing = q.render(&args(&[("payment_id", "x")]));
        assert!(
            matches!(missing, Err(Error::MissingParam { .. })),
            "{missing:?}"
        );
        let extra = q.render(&args(&[("nope", "x")]));
        assert!(
            matches!(extra, Err(Error::UnexpectedParam { .. })),
            "{extra:?}"
        );
    }

    #[test]
    fn colons_inside_strings_are_left_alone() {
        let lits = BTreeMap::from([("a", "'x'".to_string())]);
        assert_eq!(
            substitute("SELECT ':a', :a, :b", &lits),
            "SELECT ':a', 'x', :b"
        );
    }
}
