//! Card numbers (PANs) in text, in the spellings they reach traces in.
//!
//! A card number is, here:
//! - 13 to 19 digits: the PAN lengths of ISO/IEC 7812-1, which PCI DSS (v4.0, "Primary Account
//!   Number") refers to;
//! - written as digit groups joined by any run of the usual separators: space, tab, `-`, `.`,
//!   `/`, `+`, their percent-encodings (`%20`, `%09`, `%2D`, `%2E`, `%2F`, `%2B`) and JSON
//!   escapes (`\t`, `\/`, `\u0020`); a digit may itself be percent-encoded (`%34`) or
//!   JSON-escaped (`\u0034`);
//! - allowed to sit inside a longer token: letters, `_`, `=`, `^`, `;`, `%B` may touch it
//!   (`pan_4111…`, magnetic-stripe track 1 `%B4111…^NAME^…` and track 2 `;4111…=…?`); only
//!   other digits may not, because then it is a longer number;
//! - passing the Luhn check (ISO/IEC 7812-1 annex B, the check digit every network uses);
//! - starting with an IIN a card network issues at that length ([`issued_range`], from the
//!   networks' published IIN tables).
//!
//! Refused, so identifiers keep their bytes: matches overlapping a UUID-shaped token (8-4-4-4-12
//! hex, the shape of AWS request ids), an X-Ray trace id (`1-` 8 hex `-` 24 hex), or a hex
//! token of 32 or more hex digits with at least one letter (ETags, MD5, SHA-1 and SHA-256
//! digests, hex request and message ids). In random hex, 13 digits in a row come up once in
//! about 450 positions, so long hex ids would otherwise lose bytes now and then. 16-hex X-Ray segment ids are not refused here: a 16-digit id is spelled exactly
//! like a card, so only X-Ray's own id fields exempt them (`exporter::redact`).
//!
//! Written by hand: no maintained crate finds card numbers in free text. Used by the payment
//! flow's guard and by the archive's redaction policy.

use std::ops::Range;

/// The marker left in place of a card number.
pub const CARD_MARKER: &str = "[redacted:card-number]";

/// Shortest PAN (ISO/IEC 7812-1 allows 8 to 19; no network issues fewer than 13 today).
const MIN_DIGITS: usize = 13;
/// Longest PAN (ISO/IEC 7812-1, PCI DSS).
const MAX_DIGITS: usize = 19;

/// True when `digits` (ASCII digits only) passes the Luhn check.
pub fn luhn(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(d - b'0');
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    !digits.is_empty() && sum.is_multiple_of(10)
}

/// True when `digits` (13 to 19 ASCII digits) starts with an IIN that a card network issues
/// at that length. Ranges from the networks' IIN tables (as summarised in each network's
/// issuer documentation and ISO/IEC 7812 registrations):
pub fn issued_range(digits: &[u8]) -> bool {
    let len = digits.len();
    if !(MIN_DIGITS..=MAX_DIGITS).contains(&len) {
        return false;
    }
    let prefix = |n: usize| -> u32 {
        digits[..n]
            .iter()
            .fold(0, |acc, d| acc * 10 + u32::from(d - b'0'))
    };
    let p2 = prefix(2);
    let p3 = prefix(3);
    let p4 = prefix(4);
    match digits[0] {
        // Visa: 4, 13 to 19 digits (16 is usual; 13 and 19 are issued too).
        b'4' => true,
        // Mastercard 51-55 and 2221-2720 (the 2-series, since 2017): 16 digits.
        // Maestro (Mastercard debit): 50 and 56-69, 12 to 19 digits.
        // Mir (NSPK): 2200-2204, 16 to 19 digits.
        b'5' => ((51..=55).contains(&p2) && len == 16) || p2 == 50 || (56..=59).contains(&p2),
        b'2' => {
            ((2221..=2720).contains(&p4) && len == 16) || ((2200..=2204).contains(&p4) && len >= 16)
        }
        // American Express 34 and 37: 15 digits.
        // Diners Club International 300-305, 3095, 36, 38-39: 14 to 19 digits.
        // JCB 3528-3589: 16 to 19 digits.
        b'3' => {
            ((p2 == 34 || p2 == 37) && len == 15)
                || (((300..=305).contains(&p3) || p4 == 3095 || p2 == 36 || p2 == 38 || p2 == 39)
                    && len >= 14)
                || ((3528..=3589).contains(&p4) && len >= 16)
        }
        // Discover 6011, 644-649, 65 and UnionPay 62: 16 to 19 digits; Maestro 60-69 (see
        // above) covers every other 6, 13 to 19 digits.
        b'6' => true,
        // UnionPay 8100-8171: 16 to 19 digits.
        b'8' => (8100..=8171).contains(&p4) && len >= 16,
        // 0, 1 (UATP, airline-only), 7 (petroleum), 9 (national use): not payment cards of
        // the networks above. Millisecond timestamps (17…) fall here.
        _ => false,
    }
}

/// What one spelling unit of the input is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Unit {
    Digit(u8),
    Separator,
    Other,
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

fn classify(c: u8) -> Unit {
    match c {
        b'0'..=b'9' => Unit::Digit(c),
        b' ' | b'\t' | b'-' | b'.' | b'/' | b'+' => Unit::Separator,
        _ => Unit::Other,
    }
}

/// The unit at `b[i]` and its length in bytes: a plain byte, a percent-encoding (`%34`,
/// `%20`) or a JSON escape (`\u0034`, `\t`, `\/`). A `%` or `\` that encodes anything else is
/// one byte of `Other`, so `%B4111…` is `%`, `B`, then the digits.
fn unit_at(b: &[u8], i: usize) -> (Unit, usize) {
    let c = b[i];
    match c {
        b'%' => match (
            b.get(i + 1).and_then(|&h| hex_value(h)),
            b.get(i + 2).and_then(|&l| hex_value(l)),
        ) {
            (Some(h), Some(l)) => match classify(h * 16 + l) {
                Unit::Other => (Unit::Other, 1),
                u => (u, 3),
            },
            _ => (Unit::Other, 1),
        },
        b'\\' => match b.get(i + 1) {
            Some(b't') => (Unit::Separator, 2),
            Some(b'/') => (Unit::Separator, 2),
            Some(b'u') if i + 5 < b.len() => {
                let code = b[i + 2..i + 6].iter().try_fold(0u32, |acc, &h| {
                    hex_value(h).map(|v| acc * 16 + u32::from(v))
                });
                match code.and_then(|c| u8::try_from(c).ok()).map(classify) {
                    Some(Unit::Other) | None => (Unit::Other, 1),
                    Some(u) => (u, 6),
                }
            }
            _ => (Unit::Other, 1),
        },
        _ => (classify(c), 1),
    }
}

/// Byte ranges of the card numbers in `text`, in order, not overlapping.
///
/// ```
/// use schema::pii::find_card_numbers;
/// let text = "pan_4111%201111%201111%201111 at 1772409600122, req 96652218-3972-1106-4242-424242424242";
/// let found: Vec<&str> = find_card_numbers(text).into_iter().map(|r| &text[r]).collect();
/// assert_eq!(found, ["4111%201111%201111%201111"]);
/// ```
pub fn find_card_numbers(text: &str) -> Vec<Range<usize>> {
    find_card_numbers_in_bytes(text.as_bytes())
}

/// Byte ranges of the card numbers in `bytes`, which need not be UTF-8: only ASCII digits,
/// separators and their encodings are read.
pub fn find_card_numbers_in_bytes(b: &[u8]) -> Vec<Range<usize>> {
    let mut found: Vec<Range<usize>> = Vec::new();
    // One chain of digit groups: (start, end) in `b`, and digit positions in `digits`.
    let mut groups: Vec<(usize, usize, usize, usize)> = Vec::new();
    let mut digits: Vec<u8> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let (unit, len) = unit_at(b, i);
        if !matches!(unit, Unit::Digit(_)) {
            i += len;
            continue;
        }
        groups.clear();
        digits.clear();
        let mut j = i;
        loop {
            let (start, from) = (j, digits.len());
            while j < b.len() {
                match unit_at(b, j) {
                    (Unit::Digit(d), l) => {
                        digits.push(d);
                        j += l;
                    }
                    _ => break,
                }
            }
            groups.push((start, j, from, digits.len()));
            let mut k = j;
            while k < b.len() {
                match unit_at(b, k) {
                    (Unit::Separator, l) => k += l,
                    _ => break,
                }
            }
            if k > j && k < b.len() && matches!(unit_at(b, k).0, Unit::Digit(_)) {
                j = k;
            } else {
                break;
            }
        }
        if digits.len() >= MIN_DIGITS {
            for first in 0..groups.len() {
                for last in first..groups.len() {
                    let d = &digits[groups[first].2..groups[last].3];
                    if d.len() > MAX_DIGITS {
                        break;
                    }
                    let r = groups[first].0..groups[last].1;
                    if d.len() >= MIN_DIGITS && issued_range(d) && luhn(d) && !is_identifier(b, &r)
                    {
                        match found.last_mut() {
                            Some(prev) if r.start < prev.end => prev.end = prev.end.max(r.end),
                            _ => found.push(r),
                        }
                    }
                }
            }
        }
        i = j;
    }
    found
}

/// True when `r` overlaps an identifier-shaped token: a UUID, an X-Ray trace id, or a hex
/// digest (see the module docs).
fn is_identifier(b: &[u8], r: &Range<usize>) -> bool {
    let token_byte = |c: u8| c.is_ascii_alphanumeric() || c == b'-';
    let mut start = r.start;
    while start > 0 && token_byte(b[start - 1]) {
        start -= 1;
    }
    let mut end = r.end;
    while end < b.len() && token_byte(b[end]) {
        end += 1;
    }
    let overlaps = |s: usize, e: usize| s < r.end && r.start < e;
    let hex_run =
        |at: usize, n: usize| at + n <= end && b[at..at + n].iter().all(u8::is_ascii_hexdigit);
    let bounded = |s: usize, e: usize| {
        (s == 0 || !b[s - 1].is_ascii_alphanumeric())
            && (e >= b.len() || !b[e].is_ascii_alphanumeric())
    };
    for at in start..end {
        // UUID, 8-4-4-4-12 (RFC 9562), as AWS request ids are written.
        let uuid = hex_run(at, 8)
            && b.get(at + 8) == Some(&b'-')
            && hex_run(at + 9, 4)
            && b.get(at + 13) == Some(&b'-')
            && hex_run(at + 14, 4)
            && b.get(at + 18) == Some(&b'-')
            && hex_run(at + 19, 4)
            && b.get(at + 23) == Some(&b'-')
            && hex_run(at + 24, 12);
        if uuid && bounded(at, at + 36) && overlaps(at, at + 36) {
            return true;
        }
        // X-Ray trace id: `1-`, 8 hex digits of epoch seconds, `-`, 24 hex digits.
        let trace = b[at] == b'1'
            && b.get(at + 1) == Some(&b'-')
            && hex_run(at + 2, 8)
            && b.get(at + 10) == Some(&b'-')
            && hex_run(at + 11, 24);
        if trace && bounded(at, at + 35) && overlaps(at, at + 35) {
            return true;
        }
    }
    // Long hex ids and digests: a maximal run of letters and digits, all hex, 32 or more.
    let mut s = start;
    while s < end {
        let mut e = s;
        while e < end && b[e].is_ascii_alphanumeric() {
            e += 1;
        }
        let part = &b[s..e];
        if overlaps(s, e)
            && part.len() >= 32
            && part.iter().all(u8::is_ascii_hexdigit)
            && part.iter().any(u8::is_ascii_alphabetic)
        {
            return true;
        }
        s = e + 1;
    }
    false
}

/// True when a JSON number literal is a card number: its integer digits (before any fraction
/// or exponent) are one. A number is a value, not a spelling: `1772409600123.5` is the
/// timestamp `1772409600123` and a half, not digit groups joined by a dot.
pub fn is_card_number_literal(number: &str) -> bool {
    let digits = number.strip_prefix('-').unwrap_or(number);
    let int = digits
        .as_bytes()
        .iter()
        .position(|c| !c.is_ascii_digit())
        .map_or(digits.as_bytes(), |end| &digits.as_bytes()[..end]);
    issued_range(int) && luhn(int)
}

/// True when `text` holds a card number.
pub fn has_card_number(text: &str) -> bool {
    !find_card_numbers(text).is_empty()
}

/// `text` with each card number replaced by [`CARD_MARKER`], and how many there were; `None`
/// when there were none.
pub fn redact_card_numbers(text: &str) -> Option<(String, usize)> {
    let found = find_card_numbers(text);
    if found.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for r in &found {
        out.push_str(&text[at..r.start]);
        out.push_str(CARD_MARKER);
        at = r.end;
    }
    out.push_str(&text[at..]);
    Some((out, found.len()))
}

/// True when `text` may hold a card number: the cheap test before scanning, no allocation. It never says no to a text [`find_card_numbers_in_bytes`] finds a card in:
/// without encodings, a card is a run of at least 13 digits that only separators interrupt;
/// with `%` or `\` anywhere, every encoded digit still spells at least one ASCII digit, so 13
/// ASCII digits in all are needed.
pub fn may_hold_card_number(text: &[u8]) -> bool {
    if text.len() < MIN_DIGITS || text.iter().filter(|c| c.is_ascii_digit()).count() < MIN_DIGITS {
        return false;
    }
    let (mut run, mut encoded) = (0, false);
    for &c in text {
        match c {
            b'0'..=b'9' => {
                run += 1;
                if run >= MIN_DIGITS {
                    return true;
                }
            }
            b' ' | b'\t' | b'-' | b'.' | b'/' | b'+' => {}
            b'%' | b'\\' => encoded = true,
            _ => run = 0,
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_cards_in_every_spelling() {
        for text in [
            "4242424242424242",
            "card 4242 4242 4242 4242 exp 12/30",
            "pan=4000-0566-5566-5556;",
            "amex 378282246310005",
            "diners 30569309025904",
            "order 12345 4242424242424242",
            "{\"n\":5555555555554444}",
            "4242.4242.4242.4242",
            "4242/4242/4242/4242",
            "4242+4242+4242+4242",
            "4242%204242%204242%204242",
            "4242\t4242  4242 - 4242",
            "pan_4242424242424242",
            "cc4242424242424242x",
            "%B4242424242424242^DOE/JANE^2512101000000000000?",
            ";4242424242424242=25121010000000000000?",
            "\\u0034242424242424242",
            "%34%32%34%32424242424242",
            "2223003122003222",    // Mastercard 2-series
            "6304000000000000018", // Maestro, 19 digits
            "3530111333300000",    // JCB
            "6200000000000005",    // UnionPay
        ] {
            assert!(has_card_number(text), "{text}");
        }
    }

    #[test]
    fn leaves_ids_times_and_luhn_failures_alone() {
        for text in [
            "4242424242424241", // fails Luhn
            "1-69a4d300-4242424242424242aabbccdd",
            "1772409600.123456",
            "1772409600122", // Luhn-valid millisecond timestamp: 1 is no network's IIN
            "1772409600122.5", // and as a float
            "42424242",
            "12345678901234567890123", // 23 digits glued together
            "96652218-3972-1106-4242-424242424242",
            "req 42424242-4242-4242-4242-424242424242 ok",
            "d41d8cd98f00b204e9800998ecf8427e4242424242424242aaaaaaaaaaaaaaaa",
            "8ED410824A4426832741725E1A93A47FCC0A4944DCEEF67145B5", // a hex request id
            "7000000000000005",                                     // Luhn-valid, 7: no network
            "3400000000000000", // Luhn-valid Amex prefix at 16 digits: not issued
        ] {
            assert!(!has_card_number(text), "{text}");
        }
        for luhn_valid in ["1772409600122", "7000000000000005", "3400000000000000"] {
            assert!(luhn(luhn_valid.as_bytes()), "{luhn_valid}");
        }
    }

    #[test]
    fn ranges_cover_the_whole_spelling_and_nothing_else() {
        let text = "x %B4242 4242%204242-4242^NAME";
        let r = find_card_numbers(text);
        assert_eq!(r.len(), 1);
        assert_eq!(&text[r[0].clone()], "4242 4242%204242-4242");
        let (out, n) = redact_card_numbers("a 4242424242424242 b 5555555555554444").unwrap();
        assert_eq!(out, format!("a {CARD_MARKER} b {CARD_MARKER}"));
        assert_eq!(n, 2);
        // A card beside a UUID is still found.
        let text = "96652218-3972-1106-4242-424242424242 4242424242424242";
        assert_eq!(
            &text[find_card_numbers(text)[0].clone()],
            "4242424242424242"
        );
    }

    #[test]
    fn iin_ranges_by_length() {
        assert!(issued_range(b"378282246310005"));
        assert!(!issued_range(b"3782822463100050"));
        assert!(issued_range(b"5555555555554444"));
        assert!(!issued_range(b"555555555555444"));
        assert!(issued_range(b"2720990000000007"));
        assert!(!issued_range(b"2721000000000000"));
        assert!(!issued_range(b"1772409600123"));
        assert!(!issued_range(b"9000000000000000"));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4000))]

        /// The cheap test never skips a text the scan finds a card in.
        #[test]
        fn the_cheap_test_never_skips_a_card(text in "[0-9]{0,6}([0-9 %\\\\.+/u-]{0,3}[0-9a-fB^_]{0,8}){0,6}") {
            if !find_card_numbers(&text).is_empty() {
                proptest::prop_assert!(may_hold_card_number(text.as_bytes()), "{}", text);
            }
        }
    }

    #[test]
    fn number_literals() {
        assert!(is_card_number_literal("4242424242424242"));
        assert!(is_card_number_literal("4242424242424242.0"));
        assert!(is_card_number_literal("-4242424242424242"));
        assert!(!is_card_number_literal("1772409600122"));
        assert!(!is_card_number_literal("1772409600122.5"));
        assert!(!is_card_number_literal("1772409600.123456"));
        assert!(!is_card_number_literal("4242424242424241"));
        assert!(!is_card_number_literal("4.242424242424242e15"));
    }
}
