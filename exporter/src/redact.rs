//! The redaction policy, applied to every document's raw JSON text before it is parsed, so
//! no column and no copy of the document can hold what was removed.
//!
//! - Card numbers (`schema::pii`): always replaced by `[redacted:card-number]`, wherever
//!   they are: annotations, metadata, URLs, user agents, `sql`, cause messages, any field.
//!   A card written as a JSON number becomes the marker as a string.
//! - Email addresses: kept, dropped (`[redacted:email]`) or keyed-hashed
//!   (`[email:<16 hex of HMAC-SHA256>]`, the same address always the same marker).
//! - Client IPs (`client_ip` fields): kept, dropped (`[redacted:ip]`), keyed-hashed
//!   (`[ip:<16 hex>]`) or truncated to the /24 (`203.0.113.0/24`).
//!
//! The default keeps client IPs (dispute evidence such as Visa's Compelling Evidence 3.0
//! matches on them), hashes emails and always removes card numbers. Replacement is done in
//! the text itself, so the document stays valid JSON, its keys keep their order, and a
//! document with nothing to redact stays byte-identical.
//!
//! Written by hand over the JSON text: a parse and re-serialization would reorder keys and
//! reformat numbers, and no crate edits string values of raw JSON in place.

use std::collections::BTreeMap;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// What to do with a kind of personal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Treatment {
    /// Leave it.
    Keep,
    /// Replace it by a marker.
    Drop,
    /// Replace it by a keyed hash (needs a key; dropped without one).
    Hash,
    /// Keep the /24 network of an IPv4 address (IPs only; others are dropped).
    Truncate24,
}

/// The kinds a manifest counts.
pub mod kinds {
    /// Card numbers.
    pub const CARD: &str = "card_number";
    /// Email addresses.
    pub const EMAIL: &str = "email";
    /// Client IPs.
    pub const CLIENT_IP: &str = "client_ip";
}

/// A redaction policy.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// Remove card numbers (always on in [`Policy::default`]; off only for measuring).
    pub cards: bool,
    /// Email addresses.
    pub emails: Treatment,
    /// `client_ip` values.
    pub client_ips: Treatment,
    /// The HMAC key for hashing; never serialized.
    #[serde(skip)]
    pub key: Option<Vec<u8>>,
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy")
            .field("cards", &self.cards)
            .field("emails", &self.emails)
            .field("client_ips", &self.client_ips)
            .field("key", &self.key.as_ref().map(|_| "<set>"))
            .finish()
    }
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            cards: true,
            emails: Treatment::Hash,
            client_ips: Treatment::Keep,
            key: None,
        }
    }
}

/// Redactions by kind.
pub type Counts = BTreeMap<String, u64>;

impl Policy {
    /// No redaction at all: for measuring the policy's cost only.
    pub fn off() -> Self {
        Self {
            cards: false,
            emails: Treatment::Keep,
            client_ips: Treatment::Keep,
            key: None,
        }
    }

    /// The default policy with the hashing key from `XRAY_ARCHIVE_HASH_KEY`, and the
    /// treatments from `XRAY_ARCHIVE_EMAILS` / `XRAY_ARCHIVE_CLIENT_IPS` when set.
    pub fn from_env() -> Result<Self, String> {
        let mut p = Self {
            key: std::env::var("XRAY_ARCHIVE_HASH_KEY")
                .ok()
                .filter(|k| !k.is_empty())
                .map(String::into_bytes),
            ..Self::default()
        };
        let parse = |name: &str, default: Treatment| -> Result<Treatment, String> {
            match std::env::var(name) {
                Err(_) => Ok(default),
                Ok(v) => serde_json::from_value(serde_json::Value::String(v.to_lowercase()))
                    .map_err(|_| format!("{name}={v:?}: use keep, drop, hash or truncate24")),
            }
        };
        p.emails = parse("XRAY_ARCHIVE_EMAILS", p.emails)?;
        p.client_ips = parse("XRAY_ARCHIVE_CLIENT_IPS", p.client_ips)?;
        Ok(p)
    }

    fn hash(&self, prefix: &str, value: &str) -> Option<String> {
        let key = self.key.as_ref()?;
        let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
        mac.update(value.as_bytes());
        Some(format!(
            "[{prefix}:{}]",
            &hex::encode(mac.finalize().into_bytes())[..16]
        ))
    }

    /// Applies the policy to one document's JSON text. Returns the text (the same `String`
    /// when nothing changed) and the count of each kind removed.
    pub fn apply(&self, text: String, counts: &mut Counts) -> String {
        let candidates = (self.cards && has_long_digit_run(&text))
            || (self.emails != Treatment::Keep && text.contains('@'))
            || (self.client_ips != Treatment::Keep && text.contains("\"client_ip\""));
        if !candidates {
            return text;
        }
        let mut edits: Vec<(std::ops::Range<usize>, String)> = Vec::new();
        let strings = string_ranges(&text);
        if self.cards {
            // X-Ray ids are hex; now and then one is all decimal digits and passes Luhn. They
            // are identifiers, never card data, and redacting one would break the document.
            let ids = id_values(&text, &strings);
            for r in merge(schema::pii::find_card_numbers(&text)) {
                if ids.iter().any(|s| s.start <= r.start && r.end <= s.end) {
                    continue;
                }
                let inside = strings.iter().any(|s| s.start <= r.start && r.end <= s.end);
                let marker = if inside {
                    "[redacted:card-number]".to_owned()
                } else {
                    "\"[redacted:card-number]\"".to_owned()
                };
                *counts.entry(kinds::CARD.into()).or_default() += 1;
                edits.push((r, marker));
            }
        }
        if self.emails != Treatment::Keep {
            let exempt = not_emails(&text, &strings);
            for s in strings.iter().filter(|s| !exempt.contains(s)) {
                for r in find_emails(&text[s.clone()]) {
                    let r = s.start + r.start..s.start + r.end;
                    if edits
                        .iter()
                        .any(|(e, _)| e.start < r.end && r.start < e.end)
                    {
                        continue;
                    }
                    let marker = match self.emails {
                        Treatment::Hash => self.hash("email", &text[r.clone()].to_lowercase()),
                        _ => None,
                    }
                    .unwrap_or_else(|| "[redacted:email]".into());
                    *counts.entry(kinds::EMAIL.into()).or_default() += 1;
                    edits.push((r, marker));
                }
            }
        }
        if self.client_ips != Treatment::Keep {
            for r in client_ip_values(&text, &strings) {
                let ip = &text[r.clone()];
                let marker = match self.client_ips {
                    Treatment::Hash => self.hash("ip", ip),
                    Treatment::Truncate24 => truncate24(ip),
                    _ => None,
                }
                .unwrap_or_else(|| "[redacted:ip]".into());
                if marker != ip {
                    *counts.entry(kinds::CLIENT_IP.into()).or_default() += 1;
                    edits.push((r, marker));
                }
            }
        }
        if edits.is_empty() {
            return text;
        }
        edits.sort_by_key(|(r, _)| r.start);
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for (r, marker) in edits {
            if r.start < at {
                continue;
            }
            out.push_str(&text[at..r.start]);
            out.push_str(&marker);
            at = r.end;
        }
        out.push_str(&text[at..]);
        out
    }

    /// Removes card numbers from bytes that are not a valid document (kept in quarantine).
    pub fn apply_bytes(&self, bytes: Vec<u8>, counts: &mut Counts) -> Vec<u8> {
        if !self.cards {
            return bytes;
        }
        match String::from_utf8(bytes) {
            Ok(text) => {
                let found = merge(schema::pii::find_card_numbers(&text));
                if found.is_empty() {
                    return text.into_bytes();
                }
                let mut out = String::with_capacity(text.len());
                let mut at = 0;
                for r in found {
                    out.push_str(&text[at..r.start]);
                    out.push_str("[redacted:card-number]");
                    at = r.end;
                    *counts.entry(kinds::CARD.into()).or_default() += 1;
                }
                out.push_str(&text[at..]);
                out.into_bytes()
            }
            Err(e) => e.into_bytes(),
        }
    }
}

/// A run of 13 or more digits, spaces and dashes: the cheap test before any scanning.
fn has_long_digit_run(text: &str) -> bool {
    let mut digits = 0;
    let mut run = 0;
    for &c in text.as_bytes() {
        if c.is_ascii_digit() {
            digits += 1;
            run += 1;
            if digits >= 13 {
                return true;
            }
        } else if (c == b' ' || c == b'-') && run > 0 {
            run = 0;
        } else {
            digits = 0;
            run = 0;
        }
    }
    false
}

fn merge(mut ranges: Vec<std::ops::Range<usize>>) -> Vec<std::ops::Range<usize>> {
    ranges.sort_by_key(|r| (r.start, std::cmp::Reverse(r.end)));
    let mut out: Vec<std::ops::Range<usize>> = Vec::new();
    for r in ranges {
        match out.last_mut() {
            Some(last) if r.start < last.end => last.end = last.end.max(r.end),
            _ => out.push(r),
        }
    }
    out
}

/// The byte ranges of the contents of JSON string literals (quotes excluded).
fn string_ranges(text: &str) -> Vec<std::ops::Range<usize>> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'"' {
            let start = i + 1;
            let mut j = start;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            out.push(start..j.min(b.len()));
            i = j + 1;
        } else {
            i += 1;
        }
    }
    out
}

/// The key a string value belongs to, and whether it is an element of an array under that
/// key. `None` for keys themselves and for values inside objects of arrays.
fn key_of<'t>(
    text: &'t str,
    strings: &[std::ops::Range<usize>],
    n: usize,
) -> Option<(&'t str, bool)> {
    let mut k = n.checked_sub(1)?;
    let mut in_array = false;
    loop {
        let between = text[strings[k].end + 1..strings[k + 1].start - 1].trim();
        match between {
            ":" => break,
            "," if k > 0 => {
                in_array = true;
                k -= 1;
            }
            ":[" | ": [" => {
                in_array = true;
                break;
            }
            _ => return None,
        }
    }
    Some((&text[strings[k].clone()], in_array))
}

/// The string values that are X-Ray ids: `id`, `parent_id` and `trace_id` values in the id
/// formats, and the elements of `precursor_ids`.
fn id_values(text: &str, strings: &[std::ops::Range<usize>]) -> Vec<std::ops::Range<usize>> {
    let is_id = |v: &str| schema::is_segment_id(v) || schema::is_trace_id(v);
    strings
        .iter()
        .enumerate()
        .filter(|(n, s)| {
            is_id(&text[(*s).clone()])
                && match key_of(text, strings, *n) {
                    Some(("precursor_ids", true)) => true,
                    Some((k, false)) => matches!(k, "id" | "parent_id" | "trace_id"),
                    _ => false,
                }
        })
        .map(|(_, s)| s.clone())
        .collect()
}

/// Values where `user@host` names a database, not a person: a SQL subsegment's `name`
/// (`database@hostname`, the X-Ray SDKs' convention) and `sql.url` / `connection_string`.
fn not_emails(text: &str, strings: &[std::ops::Range<usize>]) -> Vec<std::ops::Range<usize>> {
    strings
        .iter()
        .enumerate()
        .filter(|(n, _)| {
            matches!(
                key_of(text, strings, *n),
                Some(("name" | "connection_string", false))
            ) || (matches!(key_of(text, strings, *n), Some(("url", false)))
                && text[strings[*n].clone()].starts_with("jdbc:"))
        })
        .map(|(_, s)| s.clone())
        .collect()
}

/// Email addresses in `s`: `local@domain.tld`.
fn find_emails(s: &str) -> Vec<std::ops::Range<usize>> {
    let b = s.as_bytes();
    let local = |c: u8| c.is_ascii_alphanumeric() || b"._%+-".contains(&c);
    let domain = |c: u8| c.is_ascii_alphanumeric() || c == b'.' || c == b'-';
    let mut out = Vec::new();
    for (at, _) in s.match_indices('@') {
        let mut start = at;
        while start > 0 && local(b[start - 1]) && !(start > 1 && b[start - 2] == b'\\') {
            start -= 1;
        }
        let mut end = at + 1;
        while end < b.len() && domain(b[end]) {
            end += 1;
        }
        while end > at + 1 && b[end - 1] == b'.' {
            end -= 1;
        }
        let dom = &s[at + 1..end];
        let tld_ok = dom.rsplit_once('.').is_some_and(|(h, t)| {
            !h.is_empty() && t.len() >= 2 && t.bytes().all(|c| c.is_ascii_alphabetic())
        });
        if start < at && tld_ok {
            out.push(start..end);
        }
    }
    out
}

/// The value ranges of `"client_ip": "<value>"` fields.
fn client_ip_values(text: &str, strings: &[std::ops::Range<usize>]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    for (n, s) in strings.iter().enumerate() {
        if &text[s.clone()] != "client_ip" {
            continue;
        }
        let Some(value) = strings.get(n + 1) else {
            continue;
        };
        let between = &text[s.end + 1..value.start.saturating_sub(1)];
        if between.trim() == ":" {
            out.push(value.clone());
        }
    }
    out
}

fn truncate24(ip: &str) -> Option<String> {
    let v4: std::net::Ipv4Addr = ip.parse().ok()?;
    let [a, b, c, _] = v4.octets();
    Some(format!("{a}.{b}.{c}.0/24"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keyed() -> Policy {
        Policy {
            key: Some(b"k".to_vec()),
            ..Policy::default()
        }
    }

    #[test]
    fn untouched_documents_stay_byte_identical() {
        let text = r#"{"name":"a","id":"0123456789abcdef","start_time":1772409600.123456,"http":{"request":{"client_ip":"203.0.113.7"}}}"#.to_owned();
        let copy = text.clone();
        let ptr = text.as_ptr();
        let mut counts = Counts::new();
        let out = keyed().apply(text, &mut counts);
        assert_eq!(out, copy);
        assert_eq!(out.as_ptr(), ptr, "the same allocation: no copy was made");
        assert!(counts.is_empty());
    }

    #[test]
    fn cards_go_everywhere_and_the_json_stays_valid() {
        let text = r#"{"annotations":{"note":"card 4242 4242 4242 4242"},"metadata":{"n":4000056655665556,"s":"x\n5555-5555-5555-4444"},"http":{"request":{"url":"https://x/p?pan=378282246310005","user_agent":"UA 4222222222222"}},"sql":{"sanitized_query":"WHERE pan='6011111111111117'"}}"#;
        let mut counts = Counts::new();
        let out = keyed().apply(text.to_owned(), &mut counts);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert!(schema::pii::find_card_numbers(&out).is_empty(), "{out}");
        assert_eq!(v["metadata"]["n"], "[redacted:card-number]");
        assert_eq!(counts[kinds::CARD], 6);
        assert!(out.starts_with(r#"{"annotations":{"note":"card [redacted:card-number]"}"#));
    }

    #[test]
    fn ids_of_decimal_digits_are_not_card_numbers() {
        let text = r#"{"id":"4242424242424242","parent_id":"5555555555554444","trace_id":"1-69a4d300-4242424242424242aaaaaaaa","precursor_ids":["0000000000000000","4000056655665556"],"metadata":{"pan":"4242424242424242"}}"#;
        let mut counts = Counts::new();
        let out = keyed().apply(text.to_owned(), &mut counts);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["id"], "4242424242424242");
        assert_eq!(v["parent_id"], "5555555555554444");
        assert_eq!(v["precursor_ids"][1], "4000056655665556");
        assert_eq!(v["metadata"]["pan"], "[redacted:card-number]");
        assert_eq!(counts[kinds::CARD], 1);
    }

    #[test]
    fn emails_are_hashed_dropped_or_kept() {
        let text =
            r#"{"metadata":{"who":"Jane.Doe+x@Example.com","again":"jane.doe+x@example.com"}}"#;
        let mut counts = Counts::new();
        let out = keyed().apply(text.to_owned(), &mut counts);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["metadata"]["who"], v["metadata"]["again"]);
        assert!(
            v["metadata"]["who"]
                .as_str()
                .unwrap()
                .starts_with("[email:")
        );
        assert_eq!(counts[kinds::EMAIL], 2);
        let no_key = Policy::default().apply(text.to_owned(), &mut Counts::new());
        assert!(no_key.contains("[redacted:email]") && !no_key.contains('@'));
        let keep = Policy {
            emails: Treatment::Keep,
            ..keyed()
        };
        assert_eq!(keep.apply(text.to_owned(), &mut Counts::new()), text);
    }

    #[test]
    fn database_names_are_not_emails() {
        let text = r#"{"name":"ebdb@db.example.com","sql":{"url":"jdbc:postgresql://app@db.example.com:5432/ebdb"},"metadata":{"to":"jane@example.com"}}"#;
        let mut counts = Counts::new();
        let out = keyed().apply(text.to_owned(), &mut counts);
        assert!(out.starts_with(r#"{"name":"ebdb@db.example.com","sql":{"url":"jdbc:postgresql://app@db.example.com"#), "{out}");
        assert!(!out.contains("jane@"));
        assert_eq!(counts[kinds::EMAIL], 1);
    }

    #[test]
    fn client_ips_are_kept_by_default_and_truncated_one_setting_away() {
        let text =
            r#"{"http":{"request":{"client_ip": "203.0.113.77","url":"https://203.0.113.77/"}}}"#;
        assert_eq!(keyed().apply(text.to_owned(), &mut Counts::new()), text);
        let mut counts = Counts::new();
        let p = Policy {
            client_ips: Treatment::Truncate24,
            ..keyed()
        };
        let out = p.apply(text.to_owned(), &mut counts);
        assert!(out.contains(r#""client_ip": "203.0.113.0/24""#), "{out}");
        assert_eq!(counts[kinds::CLIENT_IP], 1);
        let dropped = Policy {
            client_ips: Treatment::Drop,
            ..keyed()
        }
        .apply(text.to_owned(), &mut Counts::new());
        assert!(dropped.contains(r#""client_ip": "[redacted:ip]""#));
    }
}
