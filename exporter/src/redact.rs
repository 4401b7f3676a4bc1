//! The redaction policy, applied to every document before it is parsed, so no column and no
//! copy of the document can hold what was removed.
//!
//! - Card numbers (`schema::pii`, every spelling listed there): always replaced by
//!   `[redacted:card-number]`, wherever they are: any string value, any object key, any
//!   number. A card written as a JSON number becomes the marker as a string. X-Ray's own id
//!   fields (a segment's `id`, `parent_id`, `trace_id`, `precursor_ids`, an exception's `id`
//!   and `cause`) holding ids in X-Ray's formats, and an OpenTelemetry span record's
//!   `traceId`, `spanId` and `parentSpanId`, are ids, not card data; no other key name
//!   exempts anything.
//! - Email addresses (`@` or `%40`), under any key: kept, dropped (`[redacted:email]`) or
//!   keyed-hashed (`[email:<16 hex of HMAC-SHA256>]`, the same address always the same
//!   marker). A SQL subsegment's `name` and `sql.url` / `sql.connection_string` / `sql.user`
//!   name databases (`database@host`), not people, and keep their emails-shaped values.
//! - Client IPs (`client_ip` fields): kept, dropped (`[redacted:ip]`), keyed-hashed
//!   (`[ip:<16 hex>]`) or truncated to the /24 (`203.0.113.0/24`).
//!
//! The default keeps client IPs (dispute evidence such as Visa's Compelling Evidence 3.0
//! matches on them), hashes emails and always removes card numbers.
//!
//! Values are looked at decoded (escapes undone), through `schema::pii::json`; only the
//! tokens that change are written back, re-encoded, so the document stays valid JSON, its
//! keys keep their order, and a document with nothing to redact stays byte-identical. Text
//! that is not JSON (kept in quarantine) gets the same rules on its bytes.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::Range;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use schema::pii::json::{Frame, Token, TokenKind, quote, splice, tokens};
use schema::pii::{
    CARD_MARKER, find_card_numbers_in_bytes, find_emails, hints, is_card_number_literal,
    may_hold_email, normalize_email, redact_card_numbers,
};

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

/// Where in a document a value was redacted, as counted in summaries and manifests.
pub mod places {
    /// The document sections counted apart; a value counts under the outermost one above it.
    pub const SECTIONS: [&str; 6] = ["annotations", "metadata", "http", "sql", "cause", "aws"];
    /// Anywhere else in a document (names, top-level fields, keys of the root).
    pub const OTHER: &str = "other";
    /// The bytes of a quarantined input.
    pub const QUARANTINE: &str = "quarantine";
}

/// Redactions by kind.
pub type Counts = BTreeMap<String, u64>;

/// Redactions by place, then kind.
pub type PlaceCounts = BTreeMap<String, Counts>;

/// What a policy removed: by kind, and by place and kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// By kind (`card_number`, `email`, `client_ip`).
    pub kinds: Counts,
    /// By place (see [`places`]), then kind.
    pub places: PlaceCounts,
}

impl Tally {
    /// Counts `n` values of `kind` removed at `place`.
    pub fn add(&mut self, kind: &str, place: &str, n: u64) {
        if n == 0 {
            return;
        }
        *self.kinds.entry(kind.into()).or_default() += n;
        *self
            .places
            .entry(place.into())
            .or_default()
            .entry(kind.into())
            .or_default() += n;
    }

    /// True when nothing was removed.
    pub fn is_empty(&self) -> bool {
        self.kinds.is_empty()
    }
}

/// A policy as each manifest records it: the treatments and a fingerprint of the hashing
/// key, never the key. Two exports hash the same address to the same marker only when their
/// records are equal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyRecord {
    /// Card numbers removed.
    pub cards: bool,
    /// Email addresses.
    pub emails: Treatment,
    /// `client_ip` values.
    pub client_ips: Treatment,
    /// HMAC-SHA256 of [`FINGERPRINT_LABEL`] under the key, 32 hex digits; `None` without a key.
    pub key_fingerprint: Option<String>,
}

impl std::fmt::Display for PolicyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let t = |t: Treatment| {
            serde_json::to_value(t)
                .map_or_else(|_| "?".into(), |v| v.as_str().unwrap_or("?").to_owned())
        };
        write!(
            f,
            "cards={} emails={} client_ips={} key={}",
            if self.cards { "redact" } else { "keep" },
            t(self.emails),
            t(self.client_ips),
            self.key_fingerprint
                .as_deref()
                .map_or("none".into(), |k| format!("fingerprint {k}"))
        )
    }
}

/// What the key fingerprint is a MAC of: a fixed label, so the fingerprint tells keys apart
/// without being a hash of any real value.
pub const FINGERPRINT_LABEL: &[u8] = b"xray-archive redaction key fingerprint v1";

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

    /// The policy as manifests record it.
    pub fn record(&self) -> PolicyRecord {
        PolicyRecord {
            cards: self.cards,
            emails: self.emails,
            client_ips: self.client_ips,
            key_fingerprint: self.key.as_ref().map(|key| {
                let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
                mac.update(FINGERPRINT_LABEL);
                hex::encode(&mac.finalize().into_bytes()[..16])
            }),
        }
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

    fn email_marker(&self, spelled: &[u8]) -> String {
        match self.emails {
            Treatment::Hash => self.hash("email", &normalize_email(spelled)),
            _ => None,
        }
        .unwrap_or_else(|| "[redacted:email]".into())
    }

    fn is_off(&self) -> bool {
        !self.cards && self.emails == Treatment::Keep && self.client_ips == Treatment::Keep
    }

    /// Applies the policy to one document's JSON text. Returns the text (the same `String`
    /// when nothing changed) and counts what it removed. Text that is not JSON gets the
    /// rules of [`Policy::apply_bytes`], counted at [`places::OTHER`].
    ///
    /// ```
    /// use exporter::redact::{Policy, Tally};
    /// let mut tally = Tally::default();
    /// let text = r#"{"metadata": {"pan": "4111 1111 1111 1111", "n": 5555555555554444, "t": 1772409600122}}"#;
    /// let out = Policy::default().apply(text.to_owned(), &mut tally);
    /// assert_eq!(
    ///     out,
    ///     r#"{"metadata": {"pan": "[redacted:card-number]", "n": "[redacted:card-number]", "t": 1772409600122}}"#
    /// );
    /// assert_eq!(tally.places["metadata"]["card_number"], 2);
    /// ```
    pub fn apply(&self, text: String, tally: &mut Tally) -> String {
        if self.is_off() {
            return text;
        }
        match self.json_edits(&text) {
            Ok((edits, found)) if edits.is_empty() => {
                debug_assert!(found.is_empty());
                text
            }
            Ok((edits, found)) => {
                for (kind, place, n) in found {
                    tally.add(kind, place, n);
                }
                splice(&text, edits)
            }
            Err(_) => {
                let (edits, found) = self.text_edits(text.as_bytes());
                if edits.is_empty() {
                    return text;
                }
                for (kind, n) in found {
                    tally.add(kind, places::OTHER, n);
                }
                let bytes = splice_bytes(text.as_bytes(), edits);
                String::from_utf8(bytes).expect("ASCII markers replace ASCII spans")
            }
        }
    }

    /// Applies the policy to bytes that are not a valid document (kept in quarantine): JSON
    /// is redacted as [`Policy::apply`] does; other text and bytes that are not UTF-8 get
    /// the same card and email rules on the bytes themselves. Counted at
    /// [`places::QUARANTINE`].
    pub fn apply_bytes(&self, bytes: Vec<u8>, tally: &mut Tally) -> Vec<u8> {
        if self.is_off() {
            return bytes;
        }
        if let Ok(text) = std::str::from_utf8(&bytes)
            && let Ok((edits, found)) = self.json_edits(text)
        {
            if edits.is_empty() {
                return bytes;
            }
            for (kind, _, n) in found {
                tally.add(kind, places::QUARANTINE, n);
            }
            return splice(text, edits).into_bytes();
        }
        let (edits, found) = self.text_edits(&bytes);
        if edits.is_empty() {
            return bytes;
        }
        for (kind, n) in found {
            tally.add(kind, places::QUARANTINE, n);
        }
        splice_bytes(&bytes, edits)
    }

    /// Card numbers and emails anywhere in `b`, as edits of `b`.
    fn text_edits(&self, b: &[u8]) -> (Edits, Vec<(&'static str, u64)>) {
        let mut edits: Edits = Vec::new();
        let mut found = Vec::new();
        if self.cards {
            let cards = find_card_numbers_in_bytes(b);
            found.push((kinds::CARD, cards.len() as u64));
            edits.extend(cards.into_iter().map(|r| (r, CARD_MARKER.to_owned())));
        }
        if self.emails != Treatment::Keep && may_hold_email(b) {
            let mut n = 0;
            for r in find_emails(b) {
                if edits
                    .iter()
                    .any(|(e, _)| e.start < r.end && r.start < e.end)
                {
                    continue;
                }
                edits.push((r.clone(), self.email_marker(&b[r])));
                n += 1;
            }
            found.push((kinds::EMAIL, n));
        }
        (edits, found)
    }

    /// The edits of one JSON document's tokens, and what they remove.
    fn json_edits(&self, text: &str) -> Result<(Edits, Found), schema::pii::json::SyntaxError> {
        let mut walk = Walk {
            policy: self,
            edits: Vec::new(),
            found: Vec::new(),
            sql_objects: Vec::new(),
            names: Vec::new(),
            keys: Vec::new(),
        };
        tokens(text, &mut |t| walk.visit(t))?;
        for name in std::mem::take(&mut walk.names) {
            let (value, cards, emails) = if walk.sql_objects.contains(&name.object) {
                match name.cards_only {
                    Some(v) => (v, name.cards, 0),
                    None => continue,
                }
            } else {
                (name.full, name.cards, name.emails)
            };
            walk.edits.push((name.span, quote(&value)));
            walk.found.push((kinds::CARD, name.place, cards));
            walk.found.push((kinds::EMAIL, name.place, emails));
        }
        walk.found.retain(|(_, _, n)| *n > 0);
        Ok((walk.edits, walk.found))
    }
}

/// Replacements of byte spans.
type Edits = Vec<(Range<usize>, String)>;

/// What a set of edits removes: kind, place, how many.
type Found = Vec<(&'static str, &'static str, u64)>;

/// A `name` value with an email-shaped part: a person's address, unless its object turns out
/// to be a SQL subsegment (its `sql` key may come after the name).
struct PendingName {
    object: usize,
    span: Range<usize>,
    place: &'static str,
    /// With card numbers removed only, when it held any.
    cards_only: Option<String>,
    /// With card numbers and emails removed.
    full: String,
    cards: u64,
    emails: u64,
}

/// One pass over a document's tokens.
struct Walk<'p> {
    policy: &'p Policy,
    edits: Edits,
    found: Found,
    /// Objects with a `sql` key.
    sql_objects: Vec<usize>,
    names: Vec<PendingName>,
    /// Replaced keys, by object: two keys of one object never become the same key.
    keys: Vec<(usize, String)>,
}

impl Walk<'_> {
    fn visit(&mut self, t: &Token<'_, '_>) {
        let policy = self.policy;
        if t.kind == TokenKind::Number {
            if policy.cards && is_card_number_literal(t.raw) {
                self.edits.push((t.span.clone(), quote(CARD_MARKER)));
                self.found.push((kinds::CARD, place_of(t.path), 1));
            }
            return;
        }
        if t.kind == TokenKind::Key && t.raw == "sql" {
            self.sql_objects.push(t.object());
        }
        let hint = hints(t.value.as_bytes());
        let wants_ip = policy.client_ips != Treatment::Keep && t.key() == Some("client_ip");
        if !(hint.card || hint.email || wants_ip) {
            return;
        }
        let mut value: Cow<'_, str> = Cow::Borrowed(&t.value);
        let mut cards = 0;
        if policy.cards
            && hint.card
            && !is_xray_id(t)
            && let Some((out, n)) = redact_card_numbers(&value)
        {
            value = Cow::Owned(out);
            cards = n as u64;
        }
        let mut emails = 0;
        let mut cards_only = None;
        if policy.emails != Treatment::Keep && hint.email && !names_a_database(t) {
            let b = value.as_bytes();
            let found = find_emails(b);
            if !found.is_empty() {
                let mut out = String::with_capacity(b.len());
                let mut at = 0;
                for r in found {
                    out.push_str(&value[at..r.start]);
                    out.push_str(&policy.email_marker(&b[r.clone()]));
                    at = r.end;
                    emails += 1;
                }
                out.push_str(&value[at..]);
                if cards > 0 {
                    cards_only = Some(value.into_owned());
                }
                value = Cow::Owned(out);
            }
        }
        let mut ips = 0;
        if wants_ip && t.kind == TokenKind::String && !t.in_array() {
            let marker = match policy.client_ips {
                Treatment::Hash => policy.hash("ip", &value),
                Treatment::Truncate24 => truncate24(&value),
                _ => None,
            }
            .unwrap_or_else(|| "[redacted:ip]".into());
            if marker != value {
                value = Cow::Owned(marker);
                ips = 1;
            }
        }
        if cards + emails + ips == 0 {
            return;
        }
        let place = place_of(t.path);
        let mut value = value.into_owned();
        if t.kind == TokenKind::Key {
            let object = t.object();
            let same = self
                .keys
                .iter()
                .filter(|(o, k)| *o == object && *k == value)
                .count();
            self.keys.push((object, value.clone()));
            if same > 0 {
                value = format!("{value} #{}", same + 1);
            }
        }
        if emails > 0 && t.kind == TokenKind::String && t.key() == Some("name") && !t.in_array() {
            self.names.push(PendingName {
                object: t.object(),
                span: t.span.clone(),
                place,
                cards_only,
                full: value,
                cards,
                emails,
            });
            return;
        }
        self.edits.push((t.span.clone(), quote(&value)));
        for (kind, n) in [
            (kinds::CARD, cards),
            (kinds::EMAIL, emails),
            (kinds::CLIENT_IP, ips),
        ] {
            if n > 0 {
                self.found.push((kind, place, n));
            }
        }
    }
}

/// The outermost document section above a token (see [`places`]).
fn place_of(path: &[Frame<'_>]) -> &'static str {
    path.iter()
        .filter_map(|f| f.key)
        .find_map(|k| places::SECTIONS.iter().find(|s| **s == k).copied())
        .unwrap_or(places::OTHER)
}

/// True for an X-Ray id in one of X-Ray's own id fields: a segment's (the document's, or a
/// `subsegments` element's) `id`, `parent_id`, `trace_id` and `precursor_ids`, and an
/// exception's `id` and `cause`, holding a 16-hex id or a trace id; and an OpenTelemetry
/// span record's `traceId`, `spanId` and `parentSpanId`.
fn is_xray_id(t: &Token<'_, '_>) -> bool {
    let v: &str = &t.value;
    if t.kind != TokenKind::String {
        return false;
    }
    // An OpenTelemetry span record's own ids: `traceId` (32 hex), `spanId` and
    // `parentSpanId` (16 hex), at the top of the record.
    if t.path.len() == 1 {
        match t.key() {
            Some("traceId") => return schema::otel::is_w3c_trace_id(v),
            Some("spanId" | "parentSpanId") => return schema::is_segment_id(v),
            _ => {}
        }
    }
    if !(schema::is_segment_id(v) || schema::is_trace_id(v)) {
        return false;
    }
    let n = t.path.len();
    let object_at = if t.in_array() {
        n.checked_sub(2)
    } else {
        n.checked_sub(1)
    };
    let Some(object_at) = object_at else {
        return false;
    };
    let holder = object_at.checked_sub(1).map(|i| t.path[i]);
    let held_in = |key: &str| holder.is_some_and(|h| !h.is_object && h.key == Some(key));
    let segment = object_at == 0 || held_in("subsegments");
    match (t.key(), t.in_array()) {
        (Some("id" | "parent_id" | "trace_id"), false) => segment || held_in("exceptions"),
        (Some("precursor_ids"), true) => segment,
        (Some("cause"), false) => held_in("exceptions"),
        _ => false,
    }
}

/// Values where `user@host` names a database, not a person: `sql.url`,
/// `sql.connection_string` and `sql.user` (a SQL subsegment's `name` is decided when its
/// object is known to have `sql`).
fn names_a_database(t: &Token<'_, '_>) -> bool {
    let n = t.path.len();
    t.kind == TokenKind::String
        && !t.in_array()
        && matches!(t.key(), Some("url" | "connection_string" | "user"))
        && n >= 2
        && t.path[n - 2].key == Some("sql")
}

fn splice_bytes(b: &[u8], mut edits: Edits) -> Vec<u8> {
    edits.sort_by_key(|(r, _)| r.start);
    let mut out = Vec::with_capacity(b.len());
    let mut at = 0;
    for (r, replacement) in edits {
        out.extend_from_slice(&b[at..r.start]);
        out.extend_from_slice(replacement.as_bytes());
        at = r.end;
    }
    out.extend_from_slice(&b[at..]);
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
        let mut counts = Tally::default();
        let out = keyed().apply(text, &mut counts);
        assert_eq!(out, copy);
        assert_eq!(out.as_ptr(), ptr, "the same allocation: no copy was made");
        assert!(counts.is_empty());
    }

    #[test]
    fn cards_go_everywhere_and_the_json_stays_valid() {
        let text = r#"{"annotations":{"note":"card 4242 4242 4242 4242"},"metadata":{"n":4000056655665556,"s":"x\n5555-5555-5555-4444"},"http":{"request":{"url":"https://x/p?pan=378282246310005","user_agent":"UA 4222222222222"}},"sql":{"sanitized_query":"WHERE pan='6011111111111117'"}}"#;
        let mut counts = Tally::default();
        let out = keyed().apply(text.to_owned(), &mut counts);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert!(schema::pii::find_card_numbers(&out).is_empty(), "{out}");
        assert_eq!(v["metadata"]["n"], "[redacted:card-number]");
        assert_eq!(counts.kinds[kinds::CARD], 6);
        assert!(out.starts_with(r#"{"annotations":{"note":"card [redacted:card-number]"}"#));
    }

    #[test]
    fn ids_of_decimal_digits_are_not_card_numbers() {
        let text = r#"{"id":"4242424242424242","parent_id":"5555555555554444","trace_id":"1-69a4d300-4242424242424242aaaaaaaa","precursor_ids":["0000000000000000","4000056655665556"],"metadata":{"pan":"4242424242424242"}}"#;
        let mut counts = Tally::default();
        let out = keyed().apply(text.to_owned(), &mut counts);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["id"], "4242424242424242");
        assert_eq!(v["parent_id"], "5555555555554444");
        assert_eq!(v["precursor_ids"][1], "4000056655665556");
        assert_eq!(v["metadata"]["pan"], "[redacted:card-number]");
        assert_eq!(counts.kinds[kinds::CARD], 1);
    }

    #[test]
    fn span_record_ids_of_decimal_digits_are_not_card_numbers() {
        // Transaction Search's own id fields; the same digits elsewhere are a card.
        let text = r#"{"traceId":"4242424242424242aaaaaaaaaaaaaaaa","spanId":"4242424242424242","parentSpanId":"5555555555554444","attributes":{"spanId":"4242424242424242"},"events":[{"attributes":{"parentSpanId":"5555555555554444"}}]}"#;
        let mut counts = Tally::default();
        let out = keyed().apply(text.to_owned(), &mut counts);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["traceId"], "4242424242424242aaaaaaaaaaaaaaaa");
        assert_eq!(v["spanId"], "4242424242424242");
        assert_eq!(v["parentSpanId"], "5555555555554444");
        assert_eq!(v["attributes"]["spanId"], "[redacted:card-number]");
        assert_eq!(
            v["events"][0]["attributes"]["parentSpanId"],
            "[redacted:card-number]"
        );
        assert_eq!(counts.kinds[kinds::CARD], 2);
    }

    #[test]
    fn emails_are_hashed_dropped_or_kept() {
        let text =
            r#"{"metadata":{"who":"Jane.Doe+x@Example.com","again":"jane.doe+x@example.com"}}"#;
        let mut counts = Tally::default();
        let out = keyed().apply(text.to_owned(), &mut counts);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["metadata"]["who"], v["metadata"]["again"]);
        assert!(
            v["metadata"]["who"]
                .as_str()
                .unwrap()
                .starts_with("[email:")
        );
        assert_eq!(counts.kinds[kinds::EMAIL], 2);
        let no_key = Policy::default().apply(text.to_owned(), &mut Tally::default());
        assert!(no_key.contains("[redacted:email]") && !no_key.contains('@'));
        let keep = Policy {
            emails: Treatment::Keep,
            ..keyed()
        };
        assert_eq!(keep.apply(text.to_owned(), &mut Tally::default()), text);
    }

    #[test]
    fn database_names_are_not_emails() {
        let text = r#"{"name":"ebdb@db.example.com","sql":{"url":"jdbc:postgresql://app@db.example.com:5432/ebdb"},"metadata":{"to":"jane@example.com"}}"#;
        let mut counts = Tally::default();
        let out = keyed().apply(text.to_owned(), &mut counts);
        assert!(out.starts_with(r#"{"name":"ebdb@db.example.com","sql":{"url":"jdbc:postgresql://app@db.example.com"#), "{out}");
        assert!(!out.contains("jane@"));
        assert_eq!(counts.kinds[kinds::EMAIL], 1);
    }

    #[test]
    fn client_ips_are_kept_by_default_and_truncated_one_setting_away() {
        let text =
            r#"{"http":{"request":{"client_ip": "203.0.113.77","url":"https://203.0.113.77/"}}}"#;
        assert_eq!(keyed().apply(text.to_owned(), &mut Tally::default()), text);
        let mut counts = Tally::default();
        let p = Policy {
            client_ips: Treatment::Truncate24,
            ..keyed()
        };
        let out = p.apply(text.to_owned(), &mut counts);
        assert!(out.contains(r#""client_ip": "203.0.113.0/24""#), "{out}");
        assert_eq!(counts.kinds[kinds::CLIENT_IP], 1);
        let dropped = Policy {
            client_ips: Treatment::Drop,
            ..keyed()
        }
        .apply(text.to_owned(), &mut Tally::default());
        assert!(dropped.contains(r#""client_ip": "[redacted:ip]""#));
    }

    #[test]
    fn keys_that_were_cards_stay_distinct_and_places_are_counted() {
        let text = r#"{"metadata":{"4111111111111111":1,"5555555555554444":2},"annotations":{"n":4111111111111111},"cause":{"exceptions":[{"message":"pan 4111 1111 1111 1111"}]}}"#;
        let mut counts = Tally::default();
        let out = keyed().apply(text.to_owned(), &mut counts);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let keys: Vec<&String> = v["metadata"].as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 2, "{out}");
        assert!(keys.iter().all(|k| k.starts_with(CARD_MARKER)), "{out}");
        assert_eq!(v["annotations"]["n"], CARD_MARKER);
        assert_eq!(counts.kinds[kinds::CARD], 4);
        assert_eq!(counts.places["metadata"][kinds::CARD], 2);
        assert_eq!(counts.places["annotations"][kinds::CARD], 1);
        assert_eq!(counts.places["cause"][kinds::CARD], 1);
    }

    #[test]
    fn a_name_is_an_email_unless_its_subsegment_is_sql() {
        let text = r#"{"name":"jane@example.com","subsegments":[{"name":"ebdb@db.example.com","sql":{"user":"app@db.example.com"}},{"name":"bob%40example.com 4111111111111111"}]}"#;
        let mut counts = Tally::default();
        let out = keyed().apply(text.to_owned(), &mut counts);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert!(v["name"].as_str().unwrap().starts_with("[email:"), "{out}");
        assert_eq!(v["subsegments"][0]["name"], "ebdb@db.example.com");
        assert_eq!(v["subsegments"][0]["sql"]["user"], "app@db.example.com");
        let second = v["subsegments"][1]["name"].as_str().unwrap();
        assert!(
            second.starts_with("[email:") && second.ends_with(CARD_MARKER),
            "{out}"
        );
        assert_eq!(counts.kinds[kinds::EMAIL], 2);
        assert_eq!(counts.kinds[kinds::CARD], 1);
        // The same address in both spellings hashes the same.
        let plain = keyed().apply(r#"{"a":"bob@example.com"}"#.into(), &mut Tally::default());
        assert!(
            second.starts_with(
                &serde_json::from_str::<serde_json::Value>(&plain).unwrap()["a"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            )
        );
    }
}
