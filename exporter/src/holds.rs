//! Legal holds for disputes, and the payment-index read they (and the lookup) start from.
//!
//! `hold` puts an S3 legal hold on the one version of every object that holds a payment's
//! traces: the `segments`, `spans` and `traces` parts of each trace's day, and the
//! `payment_index` parts that name the payment. Every key is written once, so that version
//! is the one everybody reads. Each hold and release is recorded, with who, when and why and
//! the exact versions, as its own object under `_holds/`, written only if absent: an
//! append-only log. `--release` releases exactly the versions the last hold recorded.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::parquet_io::decode;
use crate::store::ArchiveStore;
use schema::v1::{
    HOLDS_PREFIX, PaymentIndexReader, Period, RollupKey, Table, day_prefix, payment_bucket,
};

/// What `payment_index` says about one payment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PaymentHit {
    /// Its traces, sorted.
    pub trace_ids: BTreeSet<String>,
    /// Each trace's day, as the index row gives it (a W3C trace id carries none).
    pub days: std::collections::BTreeMap<String, chrono::NaiveDate>,
    /// The `payment_index` parts holding its rows.
    pub index_keys: BTreeSet<String>,
    /// Files read.
    pub files: u64,
    /// Bytes read.
    pub bytes: u64,
}

impl PaymentHit {
    /// The day a trace of the payment is archived under: its index row's, else its id's.
    pub fn day_of(&self, trace_id: &str) -> Option<chrono::NaiveDate> {
        self.days
            .get(trace_id)
            .copied()
            .or_else(|| schema::TracePlacement::of(trace_id).map(|p| p.dt))
    }
}

/// Finds the payment's trace ids with no date given, reading the largest roll-up tier of
/// each period ([`crate::rollup`]): the payment's bucket of every year part, of every month
/// part of a year not rolled up, then every `payment_index` day part no roll-up covers.
pub async fn find_payment(store: &impl ArchiveStore, payment_id: &str) -> Result<PaymentHit> {
    let mut hit = PaymentHit::default();
    let bucket = payment_bucket(payment_id);
    let mut covered: BTreeSet<String> = BTreeSet::new();
    let mut years: BTreeSet<i32> = BTreeSet::new();
    for year_tier in [true, false] {
        for meta in store
            .list(&RollupKey::bucket_prefix(year_tier, bucket))
            .await?
        {
            let Some(rollup) = RollupKey::parse(&meta.key) else {
                continue;
            };
            match rollup.period {
                Period::Year(y) => {
                    years.insert(y);
                }
                Period::Month(y, _) if years.contains(&y) => continue,
                Period::Month(..) => {}
            }
            if let Some(bytes) = read_index_part(store, &meta.key, payment_id, &mut hit).await? {
                covered.extend(crate::rollup::covers(&bytes));
            }
        }
    }
    let prefix = schema::v1::table_prefix(Table::PaymentIndex);
    for meta in store.list(&prefix).await? {
        if !covered.contains(&meta.key) {
            read_index_part(store, &meta.key, payment_id, &mut hit).await?;
        }
    }
    Ok(hit)
}

/// Reads one payment-index part (a day part or a roll-up) for the payment's rows.
async fn read_index_part(
    store: &impl ArchiveStore,
    key: &str,
    payment_id: &str,
    hit: &mut PaymentHit,
) -> Result<Option<bytes::Bytes>> {
    let Some(bytes) = crate::store::get(store, key).await? else {
        return Ok(None);
    };
    hit.files += 1;
    hit.bytes += bytes.len() as u64;
    for batch in decode(key, bytes.clone())? {
        let read = PaymentIndexReader::new(&batch);
        let (Ok(ids), Ok(traces)) = (read.payment_id(), read.trace_id()) else {
            return Err(Error::CorruptPart {
                key: key.to_owned(),
                reason: "no payment_id / trace_id column".into(),
            });
        };
        let days = read.dt().ok();
        let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date");
        for i in 0..batch.num_rows() {
            if ids.value(i) == payment_id {
                hit.trace_ids.insert(traces.value(i).to_owned());
                hit.index_keys.insert(key.to_owned());
                if let Some(days) = days {
                    let day = epoch + chrono::Days::new(days.value(i).max(0) as u64);
                    hit.days.insert(traces.value(i).to_owned(), day);
                }
            }
        }
    }
    Ok(Some(bytes))
}

/// One version of one object, as a hold names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct HeldObject {
    /// The key.
    pub key: String,
    /// The version held (S3 on a versioned bucket).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
}

/// Every object holding the payment's traces (each part of their days), at its current
/// version.
pub async fn objects_of_payment(
    store: &impl ArchiveStore,
    hit: &PaymentHit,
) -> Result<Vec<HeldObject>> {
    let mut prefixes: BTreeSet<String> = hit.index_keys.clone();
    for t in &hit.trace_ids {
        if let Some(dt) = hit.day_of(t) {
            for table in Table::ALL {
                prefixes.insert(day_prefix(table, dt));
            }
        }
    }
    let mut out = BTreeSet::new();
    for prefix in prefixes {
        for v in store.list_versions(&prefix).await? {
            if v.is_latest && !v.delete_marker {
                out.insert(HeldObject {
                    key: v.key,
                    version_id: v.version_id,
                });
            }
        }
    }
    Ok(out.into_iter().collect())
}

/// One entry of the holds log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldRecord {
    /// The disputed payment.
    pub payment_id: String,
    /// `hold` or `release`.
    pub action: String,
    /// Who asked.
    pub by: String,
    /// When.
    pub at: DateTime<Utc>,
    /// Why: the dispute, case or order.
    pub reason: String,
    /// The object versions it covers.
    pub objects: Vec<HeldObject>,
}

/// Appends a record to the holds log; never overwrites one. Returns its key.
pub async fn append(store: &impl ArchiveStore, record: &HoldRecord) -> Result<String> {
    let key = format!(
        "{HOLDS_PREFIX}{}-{}-{}.json",
        record.at.format("%Y%m%dT%H%M%S%.6fZ"),
        record.payment_id,
        record.action
    );
    let bytes = Bytes::from(serde_json::to_vec_pretty(record).expect("a hold record serializes"));
    crate::store::put_once(store, &key, bytes, None).await?;
    Ok(key)
}

/// The whole log, oldest first.
pub async fn read_log(store: &impl ArchiveStore) -> Result<Vec<HoldRecord>> {
    let mut out = Vec::new();
    for meta in store.list(HOLDS_PREFIX).await? {
        if let Some(bytes) = crate::store::get(store, &meta.key).await? {
            out.push(
                serde_json::from_slice(&bytes).map_err(|e| Error::CorruptPart {
                    key: meta.key.clone(),
                    reason: format!("not a hold record: {e}"),
                })?,
            );
        }
    }
    Ok(out)
}

/// Objects under a hold now: those of every payment whose last record is a hold.
pub fn held_objects(log: &[HoldRecord]) -> BTreeMap<String, String> {
    let mut last: BTreeMap<&str, &HoldRecord> = BTreeMap::new();
    for r in log {
        last.insert(&r.payment_id, r);
    }
    let mut held = BTreeMap::new();
    for r in last.values().filter(|r| r.action == "hold") {
        for o in &r.objects {
            held.insert(o.key.clone(), r.payment_id.clone());
        }
    }
    held
}

/// Holds (or releases) every object of `payment_id`, and records it in the log.
pub async fn hold(
    store: &impl ArchiveStore,
    payment_id: &str,
    release: bool,
    by: &str,
    reason: &str,
) -> Result<(HoldRecord, String)> {
    let objects = if release {
        // Exactly what the last hold of this payment held.
        let log = read_log(store).await?;
        let last = log.iter().rev().find(|r| r.payment_id == payment_id);
        match last {
            Some(r) if r.action == "hold" => r.objects.clone(),
            _ => {
                return Err(Error::Config(format!(
                    "payment {payment_id:?} is not under a legal hold in this archive: nothing to release"
                )));
            }
        }
    } else {
        let hit = find_payment(store, payment_id).await?;
        if hit.trace_ids.is_empty() {
            return Err(Error::Config(format!(
                "payment id {payment_id:?} is not in this archive ({} payment_index files read): nothing to hold",
                hit.files
            )));
        }
        objects_of_payment(store, &hit).await?
    };
    for o in &objects {
        store
            .set_legal_hold(&o.key, o.version_id.as_deref(), !release)
            .await?;
    }
    let record = HoldRecord {
        payment_id: payment_id.to_owned(),
        action: if release { "release" } else { "hold" }.into(),
        by: by.to_owned(),
        at: Utc::now(),
        reason: reason.to_owned(),
        objects,
    };
    let key = append(store, &record).await?;
    Ok((record, key))
}
