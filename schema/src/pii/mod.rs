//! Personal data in trace text: card numbers, email addresses, and the JSON tokens they are
//! looked for in. The one home of these rules: the archive's redaction policy
//! (`exporter::redact`) and the payment flow's PII guard (`payment-core`) both use them.

mod cards;
mod emails;
mod hints;
pub mod json;

pub use cards::{
    CARD_MARKER, find_card_numbers, find_card_numbers_in_bytes, has_card_number,
    is_card_number_literal, issued_range, luhn, may_hold_card_number, redact_card_numbers,
};
pub use emails::{find_emails, may_hold_email, normalize_email};
pub use hints::{Hints, hints};
