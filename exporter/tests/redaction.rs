//! The redaction policy against generated documents:
//! - card numbers of every network, in random spellings (separators, percent-encoding, JSON
//!   escapes, glued to letters, track data) and random places (values, keys, numbers, URLs,
//!   cause messages, SQL, under `id` keys that are not X-Ray's): none survives, the output
//!   parses and validates, so no document is quarantined because of redaction;
//! - look-alikes (millisecond timestamps, floats, order numbers outside the IIN ranges, UUIDs
//!   and X-Ray ids made of digits, digests): every document comes back byte for byte.
//!
//! The survival check is independent of `schema::pii`: it decodes every value of the parsed
//! output, percent-decodes it, drops every non-digit and looks for the generated digits.

use exporter::redact::{Policy, Tally, kinds};
use proptest::prelude::*;
use schema::v1::ArchivedSegment;

/// A PAN of `len` digits starting with `prefix`, with its Luhn check digit.
fn pan(prefix: &str, len: usize, body: &[u8]) -> String {
    let mut digits: Vec<u8> = prefix.bytes().collect();
    let mut k = 0;
    while digits.len() < len - 1 {
        digits.push(b'0' + body[k % body.len()] % 10);
        k += 1;
    }
    let check = (0..=9u8)
        .find(|d| {
            let mut all = digits.clone();
            all.push(b'0' + d);
            luhn(&all)
        })
        .expect("one check digit fits");
    digits.push(b'0' + check);
    String::from_utf8(digits).unwrap()
}

/// Luhn, written again here so the generator does not lean on the code under test.
fn luhn(d: &[u8]) -> bool {
    let sum: u32 = d
        .iter()
        .rev()
        .enumerate()
        .map(|(i, c)| {
            let v = u32::from(c - b'0') * if i % 2 == 1 { 2 } else { 1 };
            if v > 9 { v - 9 } else { v }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Network prefixes and lengths (Visa, Mastercard, Amex, Discover, Diners, JCB, UnionPay,
/// Maestro).
const NETWORKS: &[(&str, usize)] = &[
    ("4", 16),
    ("4", 13),
    ("4", 19),
    ("51", 16),
    ("55", 16),
    ("2221", 16),
    ("2720", 16),
    ("34", 15),
    ("37", 15),
    ("6011", 16),
    ("65", 19),
    ("36", 14),
    ("300", 14),
    ("3528", 16),
    ("3589", 19),
    ("62", 17),
    ("6304", 19),
    ("5018", 13),
];

const SEPARATORS: &[&str] = &[
    " ", "  ", "\t", "-", " - ", ".", "/", "+", "%20", "%2D", "%09", "%2F", "%20-%20",
];
const BEFORE: &[&str] = &[
    "",
    "pan_",
    "cc",
    "card ",
    "%B",
    ";",
    "=",
    "^",
    "Card: ",
    "x\n",
    "order 12345 ",
];
const AFTER: &[&str] = &[
    "",
    "^DOE/JANE^2512101000000000000?",
    "=25121010000000000000?",
    " exp 12/30",
    "_x",
    "?",
    "\"",
    " order 7",
];

/// One card number spelled: groups of the given sizes joined by separators.
fn spell(pan: &str, cuts: &[usize], seps: &[usize], encode: &[bool]) -> String {
    let mut out = String::new();
    let mut at = 0;
    for (n, c) in pan.bytes().enumerate() {
        if n > 0 && cuts.contains(&n) {
            out.push_str(SEPARATORS[seps[at % seps.len()] % SEPARATORS.len()]);
            at += 1;
        }
        if encode[n % encode.len()] && n % 5 == 3 {
            out.push_str(&format!("%{:02X}", c));
        } else {
            out.push(c as char);
        }
    }
    out
}

/// A JSON string token for `s`; digits optionally written as `\u00XX` escapes.
fn json_string(s: &str, escape_digits: bool) -> String {
    let plain = serde_json::to_string(s).unwrap();
    if !escape_digits {
        return plain;
    }
    plain
        .chars()
        .map(|c| {
            if c.is_ascii_digit() {
                format!("\\u{:04x}", c as u32)
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// A valid segment document with `value` (a JSON token) or `key` placed at `place`.
fn document(place: usize, token: &str, key_token: &str, number: Option<&str>) -> String {
    let base = |inner: &str| {
        format!(
            r#"{{"name":"payments-api","id":"70de5b6f19ff9a0a","trace_id":"1-69a4d300-a006649127e371903a2de979","start_time":1772409600.123456,"end_time":1772409601.5,{inner}}}"#
        )
    };
    if let Some(n) = number {
        return match place % 3 {
            0 => base(&format!(r#""metadata":{{"default":{{"n":{n}}}}}"#)),
            1 => base(&format!(r#""annotations":{{"amount":{n}}}"#)),
            _ => base(&format!(
                r#""http":{{"response":{{"status":200,"content_length":{n}}}}}"#
            )),
        };
    }
    match place % 11 {
        0 => base(&format!(r#""annotations":{{"Note":{token}}}"#)),
        1 => base(&format!(
            r#""metadata":{{"debug":{{"nested":[1,{token}]}}}}"#
        )),
        2 => base(&format!(r#""metadata":{{"cards":{{{key_token}:true}}}}"#)),
        3 => base(&format!(
            r#""http":{{"request":{{"url":{token},"method":"POST","user_agent":"UA/1"}}}}"#
        )),
        4 => base(&format!(r#""http":{{"request":{{"user_agent":{token}}}}}"#)),
        5 => base(&format!(
            r#""cause":{{"exceptions":[{{"id":"70de5b6f19ff9a0b","message":{token}}}]}}"#
        )),
        6 => base(&format!(
            r#""subsegments":[{{"name":"db","id":"70de5b6f19ff9a0c","start_time":1772409600.2,"end_time":1772409600.3,"sql":{{"sanitized_query":{token}}}}}]"#
        )),
        7 => base(&format!(r#""metadata":{{"card":{{"id":{token}}}}}"#)),
        8 => base(&format!(
            r#""annotations":{{"PaymentId":"pay_1"}},{key_token}:"x""#
        )),
        9 => base(&format!(
            r#""subsegments":[{{"name":{token},"id":"70de5b6f19ff9a0c","start_time":1772409600.2,"end_time":1772409600.3}}]"#
        )),
        _ => base(&format!(r#""aws":{{"request_id":{token}}}"#)),
    }
}

/// Every string, key and number of a JSON value, percent-decoded, digits only.
fn digit_strings(v: &serde_json::Value, out: &mut Vec<String>) {
    let digits = |s: &str| -> String {
        let b = s.as_bytes();
        let mut decoded = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%'
                && i + 2 < b.len()
                && let Ok(c) = u8::from_str_radix(&s[i + 1..i + 3], 16)
            {
                decoded.push(c);
                i += 3;
                continue;
            }
            decoded.push(b[i]);
            i += 1;
        }
        decoded
            .into_iter()
            .filter(u8::is_ascii_digit)
            .map(char::from)
            .collect()
    };
    match v {
        serde_json::Value::String(s) => out.push(digits(s)),
        serde_json::Value::Number(n) => out.push(digits(&n.to_string())),
        serde_json::Value::Array(a) => a.iter().for_each(|x| digit_strings(x, out)),
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                out.push(digits(k));
                digit_strings(x, out);
            }
        }
        _ => {}
    }
}

fn keyed() -> Policy {
    Policy {
        key: Some(b"test-key".to_vec()),
        ..Policy::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn no_card_number_survives_and_every_document_still_archives(
        network in 0..NETWORKS.len(),
        body in proptest::collection::vec(any::<u8>(), 1..20),
        cuts in proptest::collection::btree_set(1usize..19, 0..5),
        seps in proptest::collection::vec(any::<usize>(), 1..5),
        encode in proptest::collection::vec(any::<bool>(), 1..4),
        before in 0..BEFORE.len(),
        after in 0..AFTER.len(),
        escape_digits in any::<bool>(),
        place in 0usize..33,
        as_number in any::<bool>(),
    ) {
        let (prefix, len) = NETWORKS[network];
        let pan = pan(prefix, len, &body);
        let cuts: Vec<usize> = cuts.into_iter().collect();
        let spelled = format!("{}{}{}", BEFORE[before], spell(&pan, &cuts, &seps, &encode), AFTER[after]);
        let token = json_string(&spelled, escape_digits);
        let key_token = json_string(&format!("{}{}", BEFORE[before], spell(&pan, &cuts, &seps, &encode)), escape_digits);
        let text = document(place, &token, &key_token, as_number.then_some(pan.as_str()));
        prop_assert!(serde_json::from_str::<serde_json::Value>(&text).is_ok(), "generated: {}", text);

        let mut tally = Tally::default();
        let out = keyed().apply(text.clone(), &mut tally);
        let parsed: serde_json::Value = serde_json::from_str(&out)
            .map_err(|e| TestCaseError::fail(format!("{e}: {out}")))?;
        let mut values = Vec::new();
        digit_strings(&parsed, &mut values);
        for v in &values {
            prop_assert!(!v.contains(&pan), "{} survives in {}", pan, out);
        }
        prop_assert!(tally.kinds.get(kinds::CARD).copied().unwrap_or(0) >= 1, "{:?}", tally);
        prop_assert!(ArchivedSegment::new(out.clone(), None).is_ok(), "quarantined: {}", out);
    }

    #[test]
    fn look_alikes_survive_byte_for_byte(
        ms in 1_700_000_000_000u64..1_900_000_000_000,
        micros in 1_700_000_000_000_000u64..1_900_000_000_000_000,
        first in prop::sample::select(vec![b'1', b'7', b'9']),
        body in proptest::collection::vec(any::<u8>(), 1..20),
        len in 13usize..=19,
        uuid_digits in proptest::collection::vec(0u8..10, 32),
        id_digits in proptest::collection::vec(0u8..10, 24),
        grouped in any::<bool>(),
        indent in any::<bool>(),
    ) {
        // Luhn-valid on purpose: only the IIN rule keeps these.
        let order = pan(&(first as char).to_string(), len, &body);
        let order_text = if grouped && len <= 16 {
            order.as_bytes().chunks(4).map(|c| std::str::from_utf8(c).unwrap()).collect::<Vec<_>>().join("-")
        } else {
            order.clone()
        };
        let d = |r: std::ops::Range<usize>| -> String { uuid_digits[r].iter().map(|c| char::from(b'0' + c)).collect() };
        let uuid = format!("{}-{}-{}-{}-{}", d(0..8), d(8..12), d(12..16), d(16..20), d(20..32));
        let digits24: String = id_digits.iter().map(|c| char::from(b'0' + c)).collect();
        let segment_id = pan("4", 16, &id_digits); // a card-shaped id, in an id field
        let trace_id = format!("1-69a4d300-{digits24}");
        let doc = serde_json::json!({
            "name": "payments-api",
            "id": segment_id,
            "trace_id": trace_id,
            "start_time": 1772409600.123456,
            "end_time": 1772409601.5,
            "precursor_ids": [pan("5", 16, &body)],
            "annotations": {"created_ms": ms, "OrderNumber": order_text, "order": order.parse::<u64>().ok()},
            "metadata": {"default": {
                "at_ms": format!("{ms}"), "at_us": micros, "ratio": format!("{ms}.5"),
                "request_id": uuid, "header": format!("Root={trace_id};Parent=70de5b6f19ff9a0a;Sampled=1"),
                "etag": format!("d41d8cd98f00b204e980{}", &digits24[..12]),
            }},
            "aws": {"request_id": uuid, "retries": 0},
            "subsegments": [{"name": "db", "id": pan("4", 16, &uuid_digits), "start_time": 1772409600.2, "end_time": 1772409600.3}],
        });
        let mut text = if indent { serde_json::to_string_pretty(&doc).unwrap() } else { doc.to_string() };
        // A float with a Luhn-valid millisecond integer part, as a bare JSON number.
        text = text.replacen("\"retries\": 0", &format!("\"retries\": {ms}.5"), 1);
        text = text.replacen("\"retries\":0", &format!("\"retries\":{ms}.5"), 1);
        let mut tally = Tally::default();
        let out = keyed().apply(text.clone(), &mut tally);
        prop_assert_eq!(&out, &text);
        prop_assert!(tally.is_empty(), "{:?}", tally);
    }
}

#[test]
fn a_float_and_a_luhn_valid_millisecond_timestamp_are_kept() {
    let ms = (1_772_409_600_000u64..)
        .find(|n| luhn(n.to_string().as_bytes()))
        .unwrap();
    let text = format!(
        r#"{{"name":"a","id":"70de5b6f19ff9a0a","trace_id":"1-69a4d300-a006649127e371903a2de979","start_time":1772409600.1,"end_time":1772409600.2,"metadata":{{"t":{ms},"f":{ms}.5,"s":"{ms}"}}}}"#
    );
    let out = keyed().apply(text.clone(), &mut Tally::default());
    assert_eq!(out, text);
}

#[test]
fn quarantined_bytes_lose_their_cards_whatever_they_are() {
    let policy = keyed();
    // Not JSON, not UTF-8, JSON with a syntax error: cards go in every case.
    for bytes in [
        b"garbage 4242 4242 4242 4242 and jane@example.com".to_vec(),
        [
            &b"\xff\xfe pan=4000%200566%205566%205556 "[..],
            &[0xc3, 0x28],
        ]
        .concat(),
        br#"{"a": "4242424242424242", "b": 5555555555554444,"#.to_vec(),
        br#"{"a": "\u0034242424242424242"}"#.to_vec(),
    ] {
        let mut tally = Tally::default();
        let out = policy.apply_bytes(bytes.clone(), &mut tally);
        let lossy = String::from_utf8_lossy(&out);
        assert!(lossy.contains("[redacted:card-number]"), "{lossy}");
        assert!(
            schema::pii::find_card_numbers_in_bytes(&out).is_empty(),
            "{lossy}"
        );
        assert!(!lossy.contains("jane@"), "{lossy}");
        assert!(tally.places.contains_key("quarantine"), "{tally:?}");
    }
}

/// A document with an email, archived under `key` into `store`.
async fn export_with_key(
    store: &exporter::store::MemoryStore,
    key: &[u8],
    n: u32,
    new_policy: bool,
) -> exporter::Result<exporter::ExportSummary> {
    let doc = format!(
        r#"{{"name":"a","id":"70de5b6f19ff9a{n:02x}","trace_id":"1-69a4d300-a006649127e371903a2de9{n:02x}","start_time":1772409600.1,"end_time":1772409600.2,"annotations":{{"who":"jane@example.com"}}}}"#
    );
    let config = exporter::WriterConfig {
        redaction: Policy {
            key: Some(key.to_vec()),
            ..Policy::default()
        },
        new_redaction_policy: new_policy,
        ..exporter::WriterConfig::default()
    };
    exporter::export_inputs(&[("in.json", doc.as_bytes())], store, config).await
}

#[tokio::test]
async fn a_different_key_stops_the_export_until_the_change_is_recorded() {
    let store = exporter::store::MemoryStore::default();
    let first = export_with_key(&store, b"key-1", 1, false).await.unwrap();
    let recorded = first.redaction_policy.clone().unwrap();
    assert_eq!(recorded.key_fingerprint.as_ref().map(String::len), Some(32));
    // The same key again: fine.
    export_with_key(&store, b"key-1", 2, false).await.unwrap();
    let err = export_with_key(&store, b"key-2", 3, false)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("--new-redaction-policy")
            && err.contains(recorded.key_fingerprint.as_deref().unwrap()),
        "{err}"
    );
    let chain = exporter::ledger::read_chain(&store).await.unwrap();
    assert_eq!(
        chain.manifests.len(),
        2,
        "the refused export wrote no manifest"
    );
    // The lease was given back: the explicit change runs at once.
    export_with_key(&store, b"key-2", 3, true).await.unwrap();
    let chain = exporter::ledger::read_chain(&store).await.unwrap();
    let changed: Vec<bool> = chain
        .manifests
        .iter()
        .map(|(_, m, _)| m.redaction_policy_changed)
        .collect();
    assert_eq!(changed, [false, false, true]);
    let last = &chain.manifests[2].1;
    assert_ne!(last.redaction_policy, Some(recorded));
    assert!(!String::from_utf8_lossy(&last.to_bytes()).contains("key-2"));
    // From now on the new key is the recorded one.
    export_with_key(&store, b"key-2", 4, false).await.unwrap();
    assert!(export_with_key(&store, b"key-1", 5, false).await.is_err());
}
