//! Email addresses in text: `local@domain.tld`, with the `@` written plainly or
//! percent-encoded (`%40`, as in query strings), the local part and domain in the characters
//! RFC 5321 allows outside quoted strings.
//!
//! Written by hand for the same reason as the card finder: it runs on every string of every
//! document and must report byte ranges, also on bytes that are not UTF-8.

use std::ops::Range;

fn is_local(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"._%+-".contains(&c)
}

fn is_domain(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'.' || c == b'-'
}

/// The byte a `%XX` ending just before `end` encodes, when there is one.
fn percent_before(b: &[u8], end: usize) -> Option<u8> {
    if end < 3 || b[end - 3] != b'%' {
        return None;
    }
    let h = (b[end - 2] as char).to_digit(16)?;
    let l = (b[end - 1] as char).to_digit(16)?;
    Some((h * 16 + l) as u8)
}

/// Byte ranges of the email addresses in `b` (not overlapping, in order).
pub fn find_emails(b: &[u8]) -> Vec<Range<usize>> {
    let mut out: Vec<Range<usize>> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let at_len = if b[i] == b'@' {
            1
        } else if b[i] == b'%' && b.get(i + 1) == Some(&b'4') && b.get(i + 2) == Some(&b'0') {
            3
        } else {
            i += 1;
            continue;
        };
        let at = i;
        i += at_len;
        let mut start = at;
        while start > 0 && is_local(b[start - 1]) {
            // `a%20jane@…`: the encoded space ends the local part, it is not part of it.
            if let Some(c) = percent_before(b, start)
                && !is_local(c)
            {
                break;
            }
            start -= 1;
        }
        if out.last().is_some_and(|prev| start < prev.end) {
            continue;
        }
        let mut end = at + at_len;
        while end < b.len() && is_domain(b[end]) {
            end += 1;
        }
        while end > at + at_len && b[end - 1] == b'.' {
            end -= 1;
        }
        let domain = &b[at + at_len..end];
        let tld_ok = domain.iter().rposition(|&c| c == b'.').is_some_and(|dot| {
            let tld = &domain[dot + 1..];
            dot > 0 && tld.len() >= 2 && tld.iter().all(u8::is_ascii_alphabetic)
        });
        if start < at && tld_ok {
            out.push(start..end);
            i = end;
        }
    }
    out
}

/// The address in one spelling, for hashing: `%40` as `@`, lowercase, so `Jane@Example.com`
/// and `jane%40example.com` hash the same.
pub fn normalize_email(spelled: &[u8]) -> String {
    String::from_utf8_lossy(spelled)
        .replace("%40", "@")
        .to_lowercase()
}

/// True when `b` may hold an email address: the cheap test before scanning.
pub fn may_hold_email(b: &[u8]) -> bool {
    // `a@b.cd` is the shortest address found.
    b.len() >= 6
        && (memchr::memchr(b'@', b).is_some()
            || memchr::memchr_iter(b'%', b).any(|i| b[i + 1..].starts_with(b"40")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emails(s: &str) -> Vec<&str> {
        find_emails(s.as_bytes())
            .into_iter()
            .map(|r| &s[r])
            .collect()
    }

    #[test]
    fn plain_and_percent_encoded() {
        assert_eq!(
            emails("to Jane.Doe+x@Example.com."),
            ["Jane.Doe+x@Example.com"]
        );
        assert_eq!(
            emails("/u?e=jane%40example.com&q=a%20bob%40example.org"),
            ["jane%40example.com", "bob%40example.org"]
        );
        assert_eq!(normalize_email(b"Jane%40Example.com"), "jane@example.com");
        assert!(emails("a@b").is_empty());
        assert!(emails("@example.com").is_empty());
        assert!(emails("v1.2@3.4").is_empty());
        assert!(may_hold_email(b"jane%40example.com") && !may_hold_email(b"jane.example.com"));
    }
}
