//! Card numbers in free text: 13 to 19 digits, optionally grouped by single spaces or
//! dashes, not glued to letters, digits or underscores, passing the Luhn check. Every run of
//! groups is checked, so `order 12345 4242 4242 4242 4242` is found too.
//!
//! Written by hand: no maintained crate finds card numbers in free text. Used by the payment
//! flow's guard and by the archive's redaction policy.

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

fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Byte ranges of the card numbers in `text`.
pub fn find_card_numbers(text: &str) -> Vec<std::ops::Range<usize>> {
    let b = text.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < b.len() {
        // In JSON text, `\n4242…` is a newline before the digits, not the word `n4242…`.
        let glued_before = i > 0 && is_word(b[i - 1]) && !(i > 1 && b[i - 2] == b'\\');
        if !b[i].is_ascii_digit() || glued_before {
            i += 1;
            continue;
        }
        // A maximal run of digit groups joined by single spaces or dashes.
        let mut groups: Vec<(usize, usize)> = Vec::new();
        let mut j = i;
        loop {
            let start = j;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            groups.push((start, j));
            if j + 1 < b.len() && (b[j] == b' ' || b[j] == b'-') && b[j + 1].is_ascii_digit() {
                j += 1;
            } else {
                break;
            }
        }
        let glued = j < b.len() && is_word(b[j]);
        if !glued {
            for first in 0..groups.len() {
                let mut digits = Vec::with_capacity(19);
                for &(s, e) in &groups[first..] {
                    digits.extend_from_slice(&b[s..e]);
                    if digits.len() > 19 {
                        break;
                    }
                    if digits.len() >= 13 && luhn(&digits) {
                        found.push(groups[first].0..e);
                    }
                }
            }
        }
        i = j.max(i + 1);
    }
    found
}

/// True when `text` holds a card number.
pub fn has_card_number(text: &str) -> bool {
    !find_card_numbers(text).is_empty()
}
