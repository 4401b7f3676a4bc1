//! The PII rules of the tracing design: card numbers never leave the process, and customer
//! ids only as keyed hashes.
//!
//! - [`find_card_numbers`] (from `schema::pii`, the rules the archive's redaction uses too):
//!   13 to 19 digit card numbers in any spelling (separators, percent-encoding, glued to
//!   letters, track data), Luhn-valid and in a card network's IIN range.
//! - [`is_raw_customer_id`]: a Stripe customer id (`cus_` and at least 8 letters or digits).
//! - [`hash_customer_id`]: HMAC-SHA256 under the deployment's key, as 64 hex digits; the same
//!   customer hashes the same way, so queries can still group by customer.
//!

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// What a guard found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PiiKind {
    /// A card number (see `schema::pii`).
    CardNumber,
    /// A raw customer id (`cus_...`).
    CustomerId,
}

impl PiiKind {
    /// The marker left in place of the value.
    pub fn marker(self) -> &'static str {
        match self {
            Self::CardNumber => schema::pii::CARD_MARKER,
            Self::CustomerId => "[redacted:customer-id]",
        }
    }
}

pub use schema::pii::{find_card_numbers, has_card_number, luhn};

/// True when `text` holds a raw Stripe customer id.
pub fn is_raw_customer_id(text: &str) -> bool {
    text.match_indices("cus_").any(|(at, _)| {
        let before_ok = at == 0 || !text.as_bytes()[at - 1].is_ascii_alphanumeric();
        let tail = &text.as_bytes()[at + 4..];
        let n = tail
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric())
            .count();
        before_ok && n >= 8
    })
}

/// The first kind of PII in `text`, if any.
pub fn check(text: &str) -> Option<PiiKind> {
    if has_card_number(text) {
        Some(PiiKind::CardNumber)
    } else if is_raw_customer_id(text) {
        Some(PiiKind::CustomerId)
    } else {
        None
    }
}

/// Replaces every string or number holding PII in `value` with its marker; returns how
/// many were replaced. Object keys are checked too (a key is replaced by its marker).
pub fn scrub_json(value: &mut serde_json::Value) -> usize {
    use serde_json::Value;
    match value {
        Value::String(s) => match check(s) {
            Some(kind) => {
                *s = kind.marker().to_owned();
                1
            }
            None => 0,
        },
        Value::Number(n) => {
            if schema::pii::is_card_number_literal(&n.to_string()) {
                *value = Value::String(PiiKind::CardNumber.marker().to_owned());
                1
            } else {
                0
            }
        }
        Value::Array(items) => items.iter_mut().map(scrub_json).sum(),
        Value::Object(map) => {
            let mut n = 0;
            let keys: Vec<String> = map.keys().cloned().collect();
            for k in keys {
                let mut v = map.remove(&k).expect("key present");
                n += scrub_json(&mut v);
                match check(&k) {
                    Some(kind) => {
                        n += 1;
                        map.insert(kind.marker().to_owned(), v);
                    }
                    None => {
                        map.insert(k, v);
                    }
                }
            }
            n
        }
        Value::Null | Value::Bool(_) => 0,
    }
}

/// The keyed hash of a customer id: HMAC-SHA256 under `key`, as 64 hex digits.
pub fn hash_customer_id(key: &[u8], customer_id: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(customer_id.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The guard uses `schema::pii`'s rules, tested in every spelling there; a few of them,
    /// as VaultLink's values would carry them.
    #[test]
    fn finds_cards_in_every_common_format() {
        for text in [
            "card 4242 4242 4242 4242 exp 12/30",
            "pay_4242424242424242", // glued to a word: `pan_4111…` is how cards reach logs
            "%B4242424242424242^DOE/JANE^2512101",
        ] {
            assert!(has_card_number(text), "{text}");
        }
    }

    #[test]
    fn leaves_ids_times_and_luhn_failures_alone() {
        for text in [
            "4242424242424241",                    // fails Luhn
            "1-69a4d300-4242424242424242aabbccdd", // glued to hex letters
            "1772409600.123456",
            "1772409600123", // Luhn-valid millisecond timestamp
            "42424242",
            "12345678901234567890123", // 23 digits, no 13-19 digit group run passes
        ] {
            assert!(!has_card_number(text), "{text}");
        }
    }

    #[test]
    fn customer_ids_and_hashes() {
        assert!(is_raw_customer_id("cus_NffrFeUfNV2Hib"));
        assert!(is_raw_customer_id("customer=cus_NffrFeUfNV2Hib"));
        assert!(!is_raw_customer_id("cus_1"));
        assert!(!is_raw_customer_id("focus_grouping_session"));
        let h = hash_customer_id(b"k1", "cus_NffrFeUfNV2Hib");
        assert_eq!(h.len(), 64);
        assert_eq!(h, hash_customer_id(b"k1", "cus_NffrFeUfNV2Hib"));
        assert_ne!(h, hash_customer_id(b"k2", "cus_NffrFeUfNV2Hib"));
        assert_eq!(check(&h), None);
    }

    #[test]
    fn scrubs_json_deeply() {
        let mut v = serde_json::json!({"a": ["x", "4242 4242 4242 4242"], "cus_NffrFeUfNV2Hib": 1,
                                       "n": 4_242_424_242_424_242_u64, "ok": "pay_1"});
        assert_eq!(scrub_json(&mut v), 3);
        let text = v.to_string();
        assert!(
            !has_card_number(&text) && !is_raw_customer_id(&text),
            "{text}"
        );
        assert_eq!(v["ok"], "pay_1");
    }
}
