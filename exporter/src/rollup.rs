//! The payment index's roll-up tiers, so a lookup with no date reads a handful of objects
//! over seven years instead of one `payment_index` part per day.
//!
//! Once a month is over, its day parts are rolled up once into 64 month parts, one per
//! payment-id bucket; once a year is over, into 64 year parts. Sealing the last day of a
//! month writes the month's roll-up with the day, committed by the day's own manifest
//! ([`roll_up_sealed_day`]); an archive fed by file imports alone is rolled up when
//! [`roll_up`] is called, for every month and year that ended [`DEFAULT_SEAL_AFTER_DAYS`]
//! ago (the demo does, after its imports). Each roll-up part is written
//! once like everything else, records in its footer (`xray_archive.covers`) the day parts it
//! holds, and is committed by a manifest of its own. The day parts stay: they are the
//! `payment_index` table Athena reads; the roll-ups live beside it and only the lookup
//! ([`crate::holds::find_payment`]) reads them, the largest tier of each period first, then
//! whatever day part no roll-up covers (a day imported after its month was rolled up).
//!
//! [`DEFAULT_SEAL_AFTER_DAYS`]: crate::seal::DEFAULT_SEAL_AFTER_DAYS

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, Utc};
use parquet::file::metadata::KeyValue;

use schema::v1::{
    PAYMENT_BUCKETS, PartKey, PaymentIndexColumns, Period, RollupKey, Table, payment_bucket,
    payment_index_rows,
};

use crate::archive::{ArchiveWriter, WriterConfig};
use crate::error::{Error, Result};
use crate::ledger::{Chain, Manifest, ManifestKind, ManifestLink, commit};
use crate::parquet_io::{batches, encode_with};
use crate::store::{ArchiveStore, get};

/// Parquet key-value metadata key of a roll-up part: the JSON list of the day parts it holds.
pub const COVERS_KEY: &str = "xray_archive.covers";

/// Rolls up every month and year that is over and not rolled up yet, and commits the new
/// parts with one manifest. Returns it, or `None` when nothing was due. Holds no lease:
/// call it where the caller holds one, or on an archive nobody else writes; the manifest
/// fence stops a racing writer either way.
pub async fn roll_up<S: ArchiveStore>(
    store: &S,
    chain: &mut Chain,
    config: &WriterConfig,
    now: DateTime<Utc>,
    settle_days: u32,
) -> Result<Option<ManifestLink>> {
    let mut days: BTreeMap<Period, Vec<(String, chrono::NaiveDate)>> = BTreeMap::new();
    let mut rolled: BTreeSet<Period> = BTreeSet::new();
    for key in chain.committed().keys() {
        if let Some(p) = PartKey::parse(key)
            && p.table == Table::PaymentIndex
        {
            days.entry(Period::month_of(p.dt))
                .or_default()
                .push((key.to_string(), p.dt));
            days.entry(Period::Year(p.dt.year()))
                .or_default()
                .push((key.to_string(), p.dt));
        } else if let Some(r) = RollupKey::parse(key) {
            rolled.insert(r.period);
        }
    }
    let sealed = chain.sealed_days();
    let today = now.date_naive();
    let over = |period: Period| {
        let (_, last) = period.days();
        sealed.contains_key(&last) || last + chrono::Days::new(u64::from(settle_days) + 1) <= today
    };
    let mut out = ArchiveWriter::new(store, config.clone());
    // Months before years: a year's parts are due only when its last month is.
    let mut due: Vec<(&Period, &Vec<(String, chrono::NaiveDate)>)> = days
        .iter()
        .filter(|(p, _)| !rolled.contains(p) && over(**p))
        .collect();
    due.sort_by_key(|(p, _)| matches!(p, Period::Year(_)));
    for (period, parts) in due {
        write_period(&mut out, chain, *period, parts).await?;
    }
    let summary = out.into_summary();
    if summary.objects.is_empty() {
        return Ok(None);
    }
    let link = commit(store, chain, |seq, previous| {
        Manifest::next(seq, previous, ManifestKind::Rollup, "payment_index").with_summary(&summary)
    })
    .await?;
    Ok(Some(link))
}

/// Rolls up the month (and on 31 December the year) that sealing `day` completes, into
/// `out`, so the day's manifest commits the roll-up with the day. Nothing when `day` is not
/// the last day of its month, or the period is rolled up already.
pub async fn roll_up_sealed_day<S: ArchiveStore>(
    out: &mut ArchiveWriter<'_, S>,
    chain: &Chain,
    day: chrono::NaiveDate,
) -> Result<()> {
    let month = Period::month_of(day);
    if month.days().1 != day {
        return Ok(());
    }
    let committed = chain.committed();
    let mut keys: Vec<&str> = committed.keys().copied().collect();
    let written: Vec<String> = out.summary().objects.keys().cloned().collect();
    keys.extend(written.iter().map(String::as_str));
    let rolled: BTreeSet<Period> = keys
        .iter()
        .filter_map(|k| RollupKey::parse(k))
        .map(|r| r.period)
        .collect();
    let periods = [month, Period::Year(day.year())]
        .into_iter()
        .filter(|p| p.days().1 == day && !rolled.contains(p));
    let mut due = Vec::new();
    for period in periods {
        let (first, last) = period.days();
        let parts: Vec<(String, chrono::NaiveDate)> = keys
            .iter()
            .filter_map(|k| PartKey::parse(k).map(|p| (k.to_string(), p)))
            .filter(|(_, p)| p.table == Table::PaymentIndex && p.dt >= first && p.dt <= last)
            .map(|(k, p)| (k, p.dt))
            .collect();
        due.push((period, parts));
    }
    for (period, parts) in due {
        if !parts.is_empty() {
            write_period(out, chain, period, &parts).await?;
        }
    }
    Ok(())
}

/// Index rows a roll-up holds at once, about 200 MB as [`PaymentIndexColumns`]: a period's
/// buckets are rolled up in as many passes over its sources as keep each pass under this.
/// At VaultLink's volume a year is one pass; at a million payments a day a month takes 15.
pub const ROLLUP_PASS_ROWS: u64 = 2_000_000;

/// Where a period's rows are read from: a day part (every bucket) or a month's roll-up part
/// (one bucket).
struct Source {
    key: String,
    bucket: Option<u32>,
    rows: u64,
}

/// Writes the 64 bucket parts (those with rows) of one period, whose day parts are `parts`.
/// A year is built from the roll-ups of its months where they exist (each read once, in the
/// pass of its bucket), and from the day parts no month roll-up covers.
async fn write_period<S: ArchiveStore>(
    out: &mut ArchiveWriter<'_, S>,
    chain: &Chain,
    period: Period,
    parts: &[(String, chrono::NaiveDate)],
) -> Result<()> {
    let mut rows_of: BTreeMap<String, u64> = chain
        .committed()
        .into_iter()
        .map(|(k, (o, _))| (k.to_owned(), o.rows.unwrap_or(0)))
        .collect();
    for (k, o) in &out.summary().objects {
        rows_of.insert(k.clone(), o.rows.unwrap_or(0));
    }
    let mut sources = Vec::new();
    let mut covered: BTreeSet<String> = BTreeSet::new();
    if let Period::Year(year) = period {
        for month in 1..=12 {
            let month_parts: Vec<(String, u32)> = rows_of
                .keys()
                .filter_map(|k| RollupKey::parse(k).map(|r| (k.clone(), r)))
                .filter(|(_, r)| r.period == Period::Month(year, month))
                .map(|(k, r)| (k, r.bucket))
                .collect();
            let Some((first, _)) = month_parts.first() else {
                continue;
            };
            covered.extend(covers(&read_part(out, first).await?));
            sources.extend(month_parts.into_iter().map(|(key, bucket)| Source {
                rows: rows_of.get(&key).copied().unwrap_or(0),
                key,
                bucket: Some(bucket),
            }));
        }
    }
    sources.extend(
        parts
            .iter()
            .filter(|(k, _)| !covered.contains(k))
            .map(|(key, _)| Source {
                key: key.clone(),
                bucket: None,
                rows: rows_of.get(key).copied().unwrap_or(0),
            }),
    );
    let total: u64 = sources.iter().map(|s| s.rows).sum();
    let per_bucket = (total / u64::from(PAYMENT_BUCKETS)).max(1);
    let buckets_per_pass =
        (out.config().rollup_pass_rows / per_bucket).clamp(1, u64::from(PAYMENT_BUCKETS)) as u32;
    let covers: Vec<&str> = parts.iter().map(|(k, _)| k.as_str()).collect();
    let covers = serde_json::to_string(&covers).expect("keys serialize");
    for lo in (0..PAYMENT_BUCKETS).step_by(buckets_per_pass as usize) {
        let hi = (lo + buckets_per_pass).min(PAYMENT_BUCKETS);
        let mut by_bucket: BTreeMap<u32, PaymentIndexColumns> = BTreeMap::new();
        for source in &sources {
            if source.bucket.is_some_and(|b| b < lo || b >= hi) {
                continue;
            }
            let bytes = read_part(out, &source.key).await?;
            for batch in batches(&source.key, bytes, 8192)? {
                let rows = payment_index_rows(&batch?).map_err(|e| Error::CorruptPart {
                    key: source.key.clone(),
                    reason: e.to_string(),
                })?;
                for row in rows {
                    let bucket = payment_bucket(&row.payment_id);
                    if (lo..hi).contains(&bucket) {
                        by_bucket.entry(bucket).or_default().push(&row);
                    }
                }
            }
        }
        for (bucket, rows) in by_bucket {
            let key = RollupKey { period, bucket }.key();
            let count = rows.len() as u64;
            let batch = rows.finish_sorted().map_err(|source| Error::Convert {
                table: "payment_index roll-up",
                source,
            })?;
            let bytes = encode_with(
                Table::PaymentIndex,
                &key,
                &[batch],
                vec![KeyValue::new(COVERS_KEY.to_owned(), covers.clone())],
            )?;
            out.put(&key, "payment_index_rollup", Some(count), bytes, None)
                .await?;
        }
    }
    Ok(())
}

/// The bytes of a committed (or just written) index part.
async fn read_part<S: ArchiveStore>(out: &ArchiveWriter<'_, S>, key: &str) -> Result<bytes::Bytes> {
    get(out.store(), key)
        .await?
        .ok_or_else(|| Error::CorruptPart {
            key: key.to_owned(),
            reason: "a committed payment_index part is missing; run verify".into(),
        })
}

/// The day parts a roll-up part says it holds.
pub fn covers(bytes: &bytes::Bytes) -> Vec<String> {
    use parquet::file::reader::FileReader;
    let Ok(reader) = parquet::file::serialized_reader::SerializedFileReader::new(bytes.clone())
    else {
        return Vec::new();
    };
    reader
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .and_then(|kv| kv.iter().find(|k| k.key == COVERS_KEY))
        .and_then(|k| k.value.as_deref())
        .and_then(|v| serde_json::from_str(v).ok())
        .unwrap_or_default()
}
