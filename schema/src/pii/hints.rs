//! The cheap test run on every value before the card and email scans: one branch-free pass
//! over the bytes (the compiler vectorizes it), so values that cannot hold either cost a few
//! nanoseconds. It never says no to a value a scan would find something in.

use super::cards::may_hold_card_number;

/// What a value may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hints {
    /// A card number may be in it: 13 ASCII digits at least (an encoded digit spells one
    /// too), then the run test of [`may_hold_card_number`].
    pub card: bool,
    /// An email may be in it: an `@`, or a `%` for `%40`.
    pub email: bool,
}

/// The hints of `b`.
pub fn hints(b: &[u8]) -> Hints {
    let (mut digits, mut at, mut percent) = (0usize, false, false);
    for &c in b {
        digits += usize::from(c.is_ascii_digit());
        at |= c == b'@';
        percent |= c == b'%';
    }
    Hints {
        card: digits >= 13 && may_hold_card_number(b),
        // `a@b.cd` is the shortest address found.
        email: b.len() >= 6 && (at || (percent && memchr::memmem::find(b, b"%40").is_some())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_of_values() {
        assert_eq!(
            hints(b"payments-api"),
            Hints {
                card: false,
                email: false
            }
        );
        assert!(hints(b"card 4242 4242 4242 4242").card);
        assert!(!hints(b"1-69a4d300-a006649127e371903a2de979").card);
        assert!(hints(b"x=jane%40example.com").email);
        assert!(!hints(b"a%20b").email);
    }
}
