//! Stripe webhooks: the `Stripe-Signature` header and the event payload.
//!
//! The header is `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<payload>">` (more `v1=`
//! entries during secret rotation). A signature is accepted when one `v1` matches under the
//! endpoint secret, compared in constant time, and `t` is within the tolerance (5 minutes).

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::error::{Error, Result};

/// The default tolerance between the signed timestamp and now.
pub const TOLERANCE_SECONDS: i64 = 300;

fn mac(secret: &str, timestamp: i64, payload: &[u8]) -> Hmac<Sha256> {
    let mut m = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    m.update(timestamp.to_string().as_bytes());
    m.update(b".");
    m.update(payload);
    m
}

/// The `Stripe-Signature` header value Stripe would send for `payload` at `timestamp`.
pub fn sign(secret: &str, timestamp: i64, payload: &[u8]) -> String {
    let sig = hex::encode(mac(secret, timestamp, payload).finalize().into_bytes());
    format!("t={timestamp},v1={sig}")
}

/// Verifies a `Stripe-Signature` header against `payload` at `now` (unix seconds).
pub fn verify(header: &str, payload: &[u8], secret: &str, now: i64, tolerance: i64) -> Result<()> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for item in header.split(',') {
        match item.trim().split_once('=') {
            Some(("t", v)) => timestamp = v.parse::<i64>().ok(),
            Some(("v1", v)) => {
                if let Ok(bytes) = hex::decode(v) {
                    signatures.push(bytes);
                }
            }
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(Error::SignatureMalformed)?;
    if signatures.is_empty() {
        return Err(Error::SignatureMalformed);
    }
    let age = now - timestamp;
    if age.abs() > tolerance {
        return Err(Error::SignatureStale { age, tolerance });
    }
    // `verify_slice` compares in constant time.
    let matched = signatures
        .iter()
        .any(|s| mac(secret, timestamp, payload).verify_slice(s).is_ok());
    if matched {
        Ok(())
    } else {
        Err(Error::SignatureMismatch)
    }
}

/// The part of a Stripe event the flow reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// `evt_...`; Stripe retries deliver the same id.
    pub id: String,
    /// `payment_intent.succeeded` or `payment_intent.payment_failed`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Seconds.
    pub created: i64,
    /// The object.
    pub data: EventData,
}

/// `data` of an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventData {
    /// The PaymentIntent.
    pub object: IntentObject,
}

/// A PaymentIntent inside an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntentObject {
    /// `pi_...`.
    pub id: String,
    /// Stripe's status.
    pub status: String,
    /// Our metadata: `payment_id`, `correlation_id`.
    #[serde(default)]
    pub metadata: std::collections::BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_1";
    const BODY: &[u8] = br#"{"id":"evt_1","type":"payment_intent.succeeded"}"#;

    #[test]
    fn accepts_a_fresh_signature() {
        let h = sign(SECRET, 1_700_000_000, BODY);
        verify(&h, BODY, SECRET, 1_700_000_100, TOLERANCE_SECONDS).unwrap();
        // A rotated secret: a second v1 entry is enough.
        let other = sign("whsec_old", 1_700_000_000, BODY);
        let both = format!("{h},{}", other.split_once(',').unwrap().1);
        verify(&both, BODY, "whsec_old", 1_700_000_000, TOLERANCE_SECONDS).unwrap();
    }

    #[test]
    fn rejects_wrong_secret_stale_time_and_tampered_body() {
        let h = sign(SECRET, 1_700_000_000, BODY);
        assert!(matches!(
            verify(&h, BODY, "whsec_wrong", 1_700_000_000, TOLERANCE_SECONDS),
            Err(Error::SignatureMismatch)
        ));
        assert!(matches!(
            verify(&h, BODY, SECRET, 1_700_000_301, TOLERANCE_SECONDS),
            Err(Error::SignatureStale {
                age: 301,
                tolerance: 300
            })
        ));
        let tampered = br#"{"id":"evt_1","type":"payment_intent.payment_failed"}"#;
        assert!(matches!(
            verify(&h, tampered, SECRET, 1_700_000_000, TOLERANCE_SECONDS),
            Err(Error::SignatureMismatch)
        ));
        assert!(matches!(
            verify("v1=abc", BODY, SECRET, 0, 300),
            Err(Error::SignatureMalformed)
        ));
        assert!(matches!(
            verify("", BODY, SECRET, 0, 300),
            Err(Error::SignatureMalformed)
        ));
    }
}
