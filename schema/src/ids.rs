//! X-Ray identifiers: trace ids (`1-<8 hex epoch>-<24 hex>`) and 16-hex segment ids.
//!
//! The trace id's epoch decides where a trace lives in the archive, so every segment of a
//! trace lands in the same `dt` partition and the same hourly part, whenever it arrives.

use chrono::{DateTime, NaiveDate, Utc};

/// Length of a trace id: `1-` + 8 hex + `-` + 24 hex.
pub const TRACE_ID_LEN: usize = 35;

/// Returns true when `s` is an X-Ray trace id: `1-<8 hex digits>-<24 hex digits>`.
///
/// ```
/// assert!(schema::is_trace_id("1-581cf771-a006649127e371903a2de979"));
/// assert!(!schema::is_trace_id("1-581cf771-a00664912"));
/// ```
pub fn is_trace_id(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == TRACE_ID_LEN
        && b[0] == b'1'
        && b[1] == b'-'
        && b[10] == b'-'
        && b[2..10].iter().all(u8::is_ascii_hexdigit)
        && b[11..].iter().all(u8::is_ascii_hexdigit)
}

/// Returns true when `s` is a segment or subsegment id: exactly 16 hex digits.
pub fn is_segment_id(s: &str) -> bool {
    s.len() == 16 && s.bytes().all(|c| c.is_ascii_hexdigit())
}

/// The epoch seconds encoded in a trace id, or `None` when `trace_id` is not one.
pub fn trace_epoch(trace_id: &str) -> Option<i64> {
    if !is_trace_id(trace_id) {
        return None;
    }
    i64::from_str_radix(&trace_id[2..10], 16).ok()
}

/// Where a trace belongs in the archive: its UTC day (`dt`) and hour, from the trace id.
///
/// The hour is the export window a trace belongs to: X-Ray lists traces by trace-id time
/// (`TimeRangeType=TraceId`), so a trace is in exactly one hourly window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TracePlacement {
    /// UTC date of the trace id's epoch: the `dt=YYYY-MM-DD` partition.
    pub dt: NaiveDate,
    /// UTC hour (0-23) of the trace id's epoch: the part file inside the partition.
    pub hour: u8,
}

impl TracePlacement {
    /// Placement of `trace_id`, or `None` when it is not a valid trace id.
    ///
    /// ```
    /// let p = schema::TracePlacement::of("1-581cf771-a006649127e371903a2de979").unwrap();
    /// assert_eq!(p.dt.to_string(), "2016-11-04");
    /// assert_eq!(p.hour, 21);
    /// ```
    pub fn of(trace_id: &str) -> Option<Self> {
        let epoch = trace_epoch(trace_id)?;
        let t: DateTime<Utc> = DateTime::from_timestamp(epoch, 0)?;
        Some(Self {
            dt: t.date_naive(),
            hour: u8::try_from(chrono::Timelike::hour(&t)).ok()?,
        })
    }

    /// The partition directory name, `dt=YYYY-MM-DD`.
    pub fn partition(&self) -> String {
        format!("dt={}", self.dt.format("%Y-%m-%d"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_ids() {
        assert!(is_trace_id("1-5f2aebcc-b475d14618c51eaa28753d37"));
        assert!(!is_trace_id("2-5f2aebcc-b475d14618c51eaa28753d37"));
        assert!(!is_trace_id("1-5f2aebcc_b475d14618c51eaa28753d37"));
        assert!(!is_trace_id("1-5f2aebcg-b475d14618c51eaa28753d37"));
        assert!(!is_trace_id("1-5f2aebcc-b475d14618c51eaa28753d3"));
        assert!(!is_trace_id(""));
        assert!(!is_trace_id("1-67891234-abcdef1234567890"));
    }

    #[test]
    fn segment_ids() {
        assert!(is_segment_id("70de5b6f19ff9a0a"));
        assert!(!is_segment_id("70de5b6f19ff9a0"));
        assert!(!is_segment_id("70de5b6f19ff9a0z"));
    }

    #[test]
    fn placement_uses_the_trace_id_epoch() {
        // 0x5f2aebcc = 1596648396 = 2020-08-05T17:26:36Z
        let p = TracePlacement::of("1-5f2aebcc-b475d14618c51eaa28753d37").unwrap();
        assert_eq!(p.partition(), "dt=2020-08-05");
        assert_eq!(p.hour, 17);
        assert_eq!(TracePlacement::of("not-a-trace"), None);
    }
}
