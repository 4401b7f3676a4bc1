//! The archive layout (a public contract): where each table's parts live.
//!
//! ```text
//! <root>/v1/<table>/dt=YYYY-MM-DD/part-HH.parquet          segments, spans, traces
//! <root>/v1/payment_index/bucket=NN/part-YYYY-MM.parquet   payment_index
//! <root>/_quarantine/<sha256-prefix>.json / .raw            rejected inputs
//! ```
//!
//! `dt` and `HH` come from the trace id's epoch, so every segment of a trace lands in the
//! same part whenever it arrives, and re-archiving a window rewrites the same keys.

use chrono::{Datelike, NaiveDate};

use super::tables::{SCHEMA_VERSION, Table};
use crate::ids::TracePlacement;

/// Number of `payment_index` buckets. Part of the layout: changing it is a new version.
pub const PAYMENT_BUCKETS: u32 = 64;

/// Prefix of quarantined inputs.
pub const QUARANTINE_PREFIX: &str = "_quarantine/";

/// The `payment_index` bucket of a payment id: CRC-32 (IEEE) of its UTF-8 bytes, mod 64.
///
/// Athena computes the same value with `crc32(to_utf8(payment_id)) % 64`, so a query can
/// name the one bucket it needs.
///
/// ```
/// assert_eq!(schema::v1::payment_bucket("pay_abc123"), crc32fast::hash(b"pay_abc123") % 64);
/// ```
pub fn payment_bucket(payment_id: &str) -> u32 {
    crc32fast::hash(payment_id.as_bytes()) % PAYMENT_BUCKETS
}

/// Key of the hourly part of `table` (segments, spans or traces) for a placement.
///
/// ```
/// use schema::{TracePlacement, v1::{Table, part_key}};
/// let p = TracePlacement::of("1-5f2aebcc-b475d14618c51eaa28753d37").unwrap();
/// assert_eq!(part_key(Table::Spans, &p), "v1/spans/dt=2020-08-05/part-17.parquet");
/// ```
pub fn part_key(table: Table, placement: &TracePlacement) -> String {
    debug_assert!(table != Table::PaymentIndex, "payment_index is bucketed");
    format!(
        "{SCHEMA_VERSION}/{}/{}/part-{:02}.parquet",
        table.name(),
        placement.partition(),
        placement.hour
    )
}

/// One `payment_index` part: a bucket and the calendar month of the traces' `dt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PaymentIndexPart {
    /// `payment_bucket` of the payment ids in the part.
    pub bucket: u32,
    /// Year of the traces' `dt`.
    pub year: i32,
    /// Month (1-12) of the traces' `dt`.
    pub month: u32,
}

impl PaymentIndexPart {
    /// The part holding `payment_id` for a trace in partition `dt`.
    pub fn of(payment_id: &str, dt: NaiveDate) -> Self {
        Self {
            bucket: payment_bucket(payment_id),
            year: dt.year(),
            month: dt.month(),
        }
    }

    /// The part's object key.
    ///
    /// ```
    /// let p = schema::v1::PaymentIndexPart { bucket: 7, year: 2026, month: 3 };
    /// assert_eq!(p.key(), "v1/payment_index/bucket=07/part-2026-03.parquet");
    /// ```
    pub fn key(&self) -> String {
        format!(
            "{SCHEMA_VERSION}/{}/bucket={:02}/part-{:04}-{:02}.parquet",
            Table::PaymentIndex.name(),
            self.bucket,
            self.year,
            self.month
        )
    }
}

/// Prefix of every object of `table`.
pub fn table_prefix(table: Table) -> String {
    format!("{SCHEMA_VERSION}/{}/", table.name())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_stable_and_in_range() {
        // Values from Python's zlib.crc32, an independent CRC-32: the bucket function is
        // part of the public layout and must never drift.
        assert_eq!(payment_bucket(""), 0);
        assert_eq!(payment_bucket("pay_abc123"), 19);
        assert_eq!(payment_bucket("pay_0001"), 3);
        for i in 0..1000 {
            assert!(payment_bucket(&format!("pay_{i}")) < PAYMENT_BUCKETS);
        }
    }

    #[test]
    fn hourly_parts_share_a_partition_per_day() {
        let a = TracePlacement::of("1-5f2aebcc-b475d14618c51eaa28753d37").unwrap();
        let b = TracePlacement::of("1-5f2a0000-b475d14618c51eaa28753d37").unwrap();
        assert_eq!(a.dt, b.dt);
        assert_ne!(part_key(Table::Segments, &a), part_key(Table::Segments, &b));
        assert!(part_key(Table::Traces, &b).starts_with("v1/traces/dt=2020-08-05/part-"));
    }
}
