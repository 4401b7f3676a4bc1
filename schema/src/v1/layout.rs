//! The archive layout (a public contract): where every object lives, and what its key says.
//!
//! ```text
//! <root>/v1/<table>/dt=YYYY-MM-DD/part-NNNN.parquet   segments, spans, traces
//! <root>/v1/payment_index/day=YYYY-MM-DD/part-NNNN.parquet
//! <root>/v1/payment_index_month/bucket=NN/month=YYYY-MM/part-0000.parquet   roll-ups
//! <root>/v1/payment_index_year/bucket=NN/year=YYYY/part-0000.parquet
//! <root>/_manifests/NNNNNNNNNN.json                    one per sealed day or import: the commit
//! <root>/_quarantine/<sha256-prefix>.json / .raw       rejected inputs
//! <root>/_holds/<time>-<payment>-<action>.json         the legal-hold log
//! <root>/_state/                                       progress and lease (the only mutable keys)
//! ```
//!
//! Every key outside `_state/` is written exactly once and never replaced. A day is sealed
//! once; a later file import of the same day adds parts with the next free numbers.
//! `dt` comes from the trace id's epoch, so every segment of a trace lands in the same
//! partition whenever it arrives. `payment_index` names its partition `day`: its rows carry
//! `dt` as a DATE column already, and a partition column may not share a data column's name
//! (Athena and DataFusion both refuse the table).

use chrono::NaiveDate;

use super::tables::{SCHEMA_VERSION, Table};

/// Number of payment-id hash buckets (the payment index's roll-up tiers use them).
pub const PAYMENT_BUCKETS: u32 = 64;

/// Prefix of quarantined inputs.
pub const QUARANTINE_PREFIX: &str = "_quarantine/";

/// Prefix of manifests: the commit records, one per sealed day or import.
pub const MANIFEST_PREFIX: &str = "_manifests/";

/// Prefix of the legal-hold log.
pub const HOLDS_PREFIX: &str = "_holds/";

/// Prefix of the mutable progress and lease records: the only keys ever replaced.
pub const STATE_PREFIX: &str = "_state/";

/// Prefixes whose objects are written exactly once and never replaced or deleted.
pub const APPEND_ONLY_PREFIXES: [&str; 4] =
    ["v1/", MANIFEST_PREFIX, QUARANTINE_PREFIX, HOLDS_PREFIX];

/// True when `key` may never be replaced or deleted.
///
/// ```
/// assert!(schema::v1::is_append_only("v1/spans/dt=2026-03-02/part-0000.parquet"));
/// assert!(!schema::v1::is_append_only("_state/progress.json"));
/// ```
pub fn is_append_only(key: &str) -> bool {
    APPEND_ONLY_PREFIXES.iter().any(|p| key.starts_with(p))
}

/// The payment-id bucket: CRC-32 (IEEE) of its UTF-8 bytes, mod 64.
///
/// Athena computes the same value with `crc32(to_utf8(payment_id)) % 64`.
///
/// ```
/// assert_eq!(schema::v1::payment_bucket("pay_abc123"), crc32fast::hash(b"pay_abc123") % 64);
/// ```
pub fn payment_bucket(payment_id: &str) -> u32 {
    crc32fast::hash(payment_id.as_bytes()) % PAYMENT_BUCKETS
}

/// One Parquet part: a table, a day and a part number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PartKey {
    /// The table.
    pub table: Table,
    /// The UTC day of its traces (`dt`).
    pub dt: NaiveDate,
    /// Its number within the day, from 0.
    pub number: u32,
}

impl PartKey {
    /// The part's object key.
    ///
    /// ```
    /// use schema::v1::{PartKey, Table};
    /// let dt = chrono::NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
    /// let p = PartKey { table: Table::Spans, dt, number: 0 };
    /// assert_eq!(p.key(), "v1/spans/dt=2026-03-02/part-0000.parquet");
    /// assert_eq!(PartKey::parse(&p.key()), Some(p));
    /// ```
    pub fn key(&self) -> String {
        format!(
            "{}part-{:04}.parquet",
            day_prefix(self.table, self.dt),
            self.number
        )
    }

    /// Reads a part key back; `None` for anything else.
    pub fn parse(key: &str) -> Option<Self> {
        let rest = key.strip_prefix(SCHEMA_VERSION)?.strip_prefix('/')?;
        let (table, rest) = rest.split_once('/')?;
        let table = Table::ALL.into_iter().find(|t| t.name() == table)?;
        let (dt, file) = rest.split_once('/')?;
        let column = format!("{}=", partition_column(table));
        let dt = NaiveDate::parse_from_str(dt.strip_prefix(&column)?, "%Y-%m-%d").ok()?;
        let number = file.strip_prefix("part-")?.strip_suffix(".parquet")?;
        if number.len() != 4 || !number.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(Self {
            table,
            dt,
            number: number.parse().ok()?,
        })
    }
}

/// The name of `table`'s partition column: `dt`, or `day` for `payment_index`.
pub fn partition_column(table: Table) -> &'static str {
    match table {
        Table::PaymentIndex => "day",
        Table::Segments | Table::Spans | Table::Traces => "dt",
    }
}

/// The partition directory name of a day, `dt=YYYY-MM-DD`.
pub fn partition(dt: NaiveDate) -> String {
    format!("dt={}", dt.format("%Y-%m-%d"))
}

/// The prefix of one day of one table: `v1/<table>/dt=YYYY-MM-DD/` (`day=` for
/// `payment_index`).
pub fn day_prefix(table: Table, dt: NaiveDate) -> String {
    format!(
        "{}{}={}/",
        table_prefix(table),
        partition_column(table),
        dt.format("%Y-%m-%d")
    )
}

/// The day an object's data belongs to: the `dt=` (or `day=`) of a part key. Other objects
/// (manifests, quarantine, holds) have none.
pub fn day_of_key(key: &str) -> Option<NaiveDate> {
    let dt = key
        .split('/')
        .find_map(|p| p.strip_prefix("dt=").or_else(|| p.strip_prefix("day=")))?;
    NaiveDate::parse_from_str(dt, "%Y-%m-%d").ok()
}

/// Prefix of every object of `table`.
pub fn table_prefix(table: Table) -> String {
    format!("{SCHEMA_VERSION}/{}/", table.name())
}

/// A period the payment index is rolled up over, once it is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Period {
    /// A calendar month: year and month (1-12).
    Month(i32, u32),
    /// A calendar year.
    Year(i32),
}

impl Period {
    /// The month or year `dt` is in.
    pub fn month_of(dt: NaiveDate) -> Self {
        use chrono::Datelike;
        Period::Month(dt.year(), dt.month())
    }

    /// The first and last day of the period.
    pub fn days(self) -> (NaiveDate, NaiveDate) {
        let first = match self {
            Period::Month(y, m) => NaiveDate::from_ymd_opt(y, m, 1),
            Period::Year(y) => NaiveDate::from_ymd_opt(y, 1, 1),
        }
        .expect("a valid period");
        let next = match self {
            Period::Month(..) => first.checked_add_months(chrono::Months::new(1)),
            Period::Year(_) => first.checked_add_months(chrono::Months::new(12)),
        }
        .expect("a representable period");
        (first, next.pred_opt().expect("a day before"))
    }

    /// The tier's table directory under `v1/`.
    fn tier(self) -> &'static str {
        match self {
            Period::Month(..) => "payment_index_month",
            Period::Year(_) => "payment_index_year",
        }
    }
}

/// One roll-up part of the payment index: a period and a payment-id bucket. Roll-ups live
/// beside the `payment_index` table, not in it, so Athena never counts a row twice; only
/// the no-date lookup reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RollupKey {
    /// The month or year.
    pub period: Period,
    /// [`payment_bucket`] of every payment id in the part.
    pub bucket: u32,
}

impl RollupKey {
    /// The part's object key.
    ///
    /// ```
    /// use schema::v1::{Period, RollupKey};
    /// let k = RollupKey { period: Period::Month(2026, 3), bucket: 7 };
    /// assert_eq!(k.key(), "v1/payment_index_month/bucket=07/month=2026-03/part-0000.parquet");
    /// assert_eq!(RollupKey::parse(&k.key()), Some(k));
    /// ```
    pub fn key(&self) -> String {
        let period = match self.period {
            Period::Month(y, m) => format!("month={y:04}-{m:02}"),
            Period::Year(y) => format!("year={y:04}"),
        };
        format!("{}/{}/", SCHEMA_VERSION, self.period.tier())
            + &format!("bucket={:02}/{period}/part-0000.parquet", self.bucket)
    }

    /// The prefix of every roll-up of one tier and bucket.
    pub fn bucket_prefix(year_tier: bool, bucket: u32) -> String {
        let tier = if year_tier {
            Period::Year(0).tier()
        } else {
            Period::Month(0, 1).tier()
        };
        format!("{SCHEMA_VERSION}/{tier}/bucket={bucket:02}/")
    }

    /// Reads a roll-up key back; `None` for anything else.
    pub fn parse(key: &str) -> Option<Self> {
        let rest = key.strip_prefix(SCHEMA_VERSION)?.strip_prefix('/')?;
        let mut parts = rest.split('/');
        let tier = parts.next()?;
        let bucket: u32 = parts.next()?.strip_prefix("bucket=")?.parse().ok()?;
        let period = parts.next()?;
        if parts.next()? != "part-0000.parquet" || parts.next().is_some() {
            return None;
        }
        let period = match tier {
            "payment_index_month" => {
                let (y, m) = period.strip_prefix("month=")?.split_once('-')?;
                let (y, m) = (y.parse().ok()?, m.parse().ok()?);
                NaiveDate::from_ymd_opt(y, m, 1)?;
                Period::Month(y, m)
            }
            "payment_index_year" => Period::Year(period.strip_prefix("year=")?.parse().ok()?),
            _ => return None,
        };
        let k = Self { period, bucket };
        (bucket < PAYMENT_BUCKETS && k.key() == key).then_some(k)
    }
}

/// The key of manifest number `seq` (from 1). The key comes from the number alone, so two
/// writers that both want to commit number `seq` race for one key, and a create-only write
/// lets exactly one of them win.
///
/// ```
/// assert_eq!(schema::v1::manifest_key(42), "_manifests/0000000042.json");
/// assert_eq!(schema::v1::manifest_seq("_manifests/0000000042.json"), Some(42));
/// ```
pub fn manifest_key(seq: u64) -> String {
    format!("{MANIFEST_PREFIX}{seq:010}.json")
}

/// The sequence number a manifest key names; `None` for anything else.
pub fn manifest_seq(key: &str) -> Option<u64> {
    let n = key.strip_prefix(MANIFEST_PREFIX)?.strip_suffix(".json")?;
    (n.len() == 10 && n.bytes().all(|b| b.is_ascii_digit()))
        .then(|| n.parse().ok())
        .flatten()
}

/// Where the fetched documents of one hour of a day being sealed wait for the seal.
pub fn staging_key(dt: NaiveDate, hour: u32) -> String {
    format!(
        "{STATE_PREFIX}staging/{}/hour-{hour:02}.parquet",
        partition(dt)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

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
    fn part_keys_round_trip_for_every_table() {
        for table in Table::ALL {
            for number in [0, 7, 9999] {
                let p = PartKey {
                    table,
                    dt: day("2024-02-29"),
                    number,
                };
                assert_eq!(PartKey::parse(&p.key()), Some(p), "{}", p.key());
                assert_eq!(day_of_key(&p.key()), Some(day("2024-02-29")));
                assert!(p.key().starts_with(&day_prefix(table, p.dt)));
                assert!(is_append_only(&p.key()));
            }
        }
        for bad in [
            "v1/spans/dt=2026-03-02/part-05.parquet",
            "v1/nope/dt=2026-03-02/part-0000.parquet",
            "v1/spans/dt=2026-02-30/part-0000.parquet",
            "v1/payment_index/dt=2026-03-02/part-0000.parquet",
            "v2/spans/dt=2026-03-02/part-0000.parquet",
            "_manifests/0000000001.json",
        ] {
            assert_eq!(PartKey::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn roll_up_keys_round_trip_and_stay_out_of_the_payment_index_table() {
        for period in [
            Period::Month(2024, 2),
            Period::Month(2026, 12),
            Period::Year(2031),
        ] {
            for bucket in [0, 63] {
                let k = RollupKey { period, bucket };
                assert_eq!(RollupKey::parse(&k.key()), Some(k), "{}", k.key());
                assert!(!k.key().starts_with(&table_prefix(Table::PaymentIndex)));
                assert!(is_append_only(&k.key()));
                assert!(k.key().starts_with(&RollupKey::bucket_prefix(
                    matches!(period, Period::Year(_)),
                    bucket
                )));
                assert_eq!(PartKey::parse(&k.key()), None);
            }
        }
        assert_eq!(
            RollupKey::parse("v1/payment_index_month/bucket=64/month=2026-03/part-0000.parquet"),
            None
        );
        assert_eq!(
            RollupKey::parse("v1/payment_index_month/bucket=07/month=2026-13/part-0000.parquet"),
            None
        );
        assert_eq!(
            Period::Month(2024, 2).days(),
            (day("2024-02-01"), day("2024-02-29"))
        );
        assert_eq!(
            Period::Year(2026).days(),
            (day("2026-01-01"), day("2026-12-31"))
        );
        assert_eq!(Period::month_of(day("2026-03-31")), Period::Month(2026, 3));
    }

    #[test]
    fn manifest_keys_round_trip_and_sort_in_chain_order() {
        assert_eq!(manifest_seq(&manifest_key(1)), Some(1));
        assert!(manifest_key(9) < manifest_key(10));
        assert_eq!(manifest_seq("_manifests/42.json"), None);
        assert_eq!(manifest_seq("_state/progress.json"), None);
        assert!(is_append_only(&manifest_key(3)));
        assert!(!is_append_only(&staging_key(day("2026-03-02"), 5)));
        assert_eq!(
            staging_key(day("2026-03-02"), 5),
            "_state/staging/dt=2026-03-02/hour-05.parquet"
        );
    }
}
