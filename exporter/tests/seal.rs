//! Sealing days from an in-memory trace source into an in-memory versioned store: the
//! sealed-day model without an emulator. Every key is written once; re-runs, failures part
//! way through a day and file imports never add a version; `verify` names every kind of
//! tampering and every lost day.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use chrono::{DateTime, NaiveDate, Utc};
use exporter::seal::{SealOptions, seal_days, status};
use exporter::source::{Fetched, MemorySource, TraceSource};
use exporter::store::MemoryStore;
use exporter::synth::PaymentTraces;
use exporter::verify::{FindingKind, verify};
use exporter::{ArchiveStore, Result, WriterConfig};

/// 2026-03-02T00:00:00Z.
const DAY1: f64 = 1_772_409_600.0;

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// About 400 payment traces over two days from 2026-03-02.
fn two_days() -> Vec<String> {
    let mut g = PaymentTraces::new(7, DAY1);
    let mut docs = Vec::new();
    for _ in 0..400 {
        docs.extend(g.next_trace(400.0));
    }
    docs
}

/// Seal at once, from the first day of the traces.
fn options() -> SealOptions {
    SealOptions {
        seal_after_days: 0,
        from: Some(day("2026-03-02")),
        writer: WriterConfig {
            redaction: Default::default(),
            retention: None,
            ..WriterConfig::default()
        },
        ..SealOptions::default()
    }
}

/// A source that counts the hours asked for, and fails from the `fail_from`th list call.
struct Counting<'a> {
    inner: &'a MemorySource,
    lists: AtomicU64,
    fail_from: Option<u64>,
}

impl TraceSource for Counting<'_> {
    fn name(&self) -> &'static str {
        "memory"
    }

    async fn list(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> Result<Vec<String>> {
        let n = self.lists.fetch_add(1, Ordering::SeqCst);
        if self.fail_from.is_some_and(|f| n >= f) {
            return Err(exporter::Error::Config("the source went away".into()));
        }
        self.inner.list(start, end).await
    }

    async fn fetch(&self, ids: &[String]) -> Result<Fetched> {
        self.inner.fetch(ids).await
    }
}

/// A source that lists every trace but returns nothing for those in `forget`, as X-Ray does
/// for a trace deleted between GetTraceSummaries and BatchGetTraces.
struct Forgetful<'a> {
    inner: &'a MemorySource,
    forget: Vec<String>,
}

impl TraceSource for Forgetful<'_> {
    fn name(&self) -> &'static str {
        "memory"
    }

    async fn list(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> Result<Vec<String>> {
        self.inner.list(start, end).await
    }

    async fn fetch(&self, ids: &[String]) -> Result<Fetched> {
        let asked: Vec<String> = ids
            .iter()
            .filter(|id| !self.forget.contains(id))
            .cloned()
            .collect();
        let items = self.inner.fetch(&asked).await?.items;
        let returned: Vec<String> = items.iter().map(|i| i.location.clone()).collect();
        Ok(Fetched::of(ids, items, returned.iter().map(String::as_str)))
    }
}

/// Every key under the append-only prefixes with its number of versions.
async fn versions(store: &MemoryStore) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for prefix in schema::v1::APPEND_ONLY_PREFIXES {
        for v in store.list_versions(prefix).await.unwrap() {
            *out.entry(v.key).or_default() += 1;
        }
    }
    out
}

async fn all_bytes(store: &MemoryStore) -> BTreeMap<String, Bytes> {
    let mut out = BTreeMap::new();
    for meta in store.list("v1/").await.unwrap() {
        let b = exporter::store::get(store, &meta.key)
            .await
            .unwrap()
            .unwrap();
        out.insert(meta.key, b);
    }
    out
}

#[tokio::test]
async fn days_are_sealed_once_into_one_part_per_table_and_verify_clean() {
    let source = MemorySource::of(two_days());
    let store = MemoryStore::default();
    let now = at("2026-03-05T00:00:00Z");
    let report = seal_days(&source, &store, &options(), now, &mut |_| {})
        .await
        .unwrap();
    // 2026-03-02 and -03 hold the traces; -04 is sealed as an empty day, never skipped.
    let sealed: Vec<NaiveDate> = report.days.iter().map(|d| d.day).collect();
    assert!(
        sealed.starts_with(&[day("2026-03-02"), day("2026-03-03")]),
        "{sealed:?}"
    );
    assert_eq!(report.traces, 400);
    let keys: Vec<String> = store
        .list("v1/")
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.key)
        .collect();
    for table in ["segments", "spans", "traces"] {
        for d in ["2026-03-02", "2026-03-03"] {
            let want = format!("v1/{table}/dt={d}/part-0000.parquet");
            assert!(keys.contains(&want), "{want} in {keys:?}");
        }
    }
    assert!(keys.contains(&"v1/payment_index/day=2026-03-02/part-0000.parquet".to_string()));
    assert!(
        keys.iter().all(|k| !k.contains("part-0001")),
        "one part per table per day: {keys:?}"
    );
    let check = verify(&store, None).await.unwrap();
    assert!(check.findings.is_empty(), "{:?}", check.findings);
    assert_eq!(check.sealed_days, sealed.len() as u64);
    let head = check.head.clone().unwrap();
    assert!(
        verify(&store, Some(&head.sha256))
            .await
            .unwrap()
            .findings
            .is_empty()
    );
    // A re-run seals nothing and writes nothing.
    let before = versions(&store).await;
    let again = seal_days(&source, &store, &options(), now, &mut |_| {})
        .await
        .unwrap();
    assert!(again.days.is_empty());
    assert_eq!(versions(&store).await, before);
    assert!(before.values().all(|n| *n == 1), "{before:?}");
    // The staging objects are gone once their day is sealed.
    assert!(store.list("_state/staging/").await.unwrap().is_empty());
    // The same content gives the same bytes, in a store of its own.
    let other = MemoryStore::default();
    seal_days(&source, &other, &options(), now, &mut |_| {})
        .await
        .unwrap();
    assert_eq!(all_bytes(&store).await, all_bytes(&other).await);
}

#[tokio::test]
async fn a_run_that_fails_part_way_resumes_at_the_first_unfinished_hour() {
    let source = MemorySource::of(two_days());
    let store = MemoryStore::default();
    let now = at("2026-03-04T00:00:00Z");
    let opts = SealOptions {
        to: Some(day("2026-03-02")),
        ..options()
    };
    let failing = Counting {
        inner: &source,
        lists: AtomicU64::new(0),
        fail_from: Some(10),
    };
    let err = seal_days(&failing, &store, &opts, now, &mut |_| {})
        .await
        .unwrap_err();
    assert!(err.to_string().contains("went away"), "{err}");
    let s = status(&store, now).await.unwrap();
    assert_eq!(s.hours_staged, 10);
    assert_eq!(s.sealed_days, 0);
    assert!(
        store.list("_manifests/").await.unwrap().is_empty(),
        "nothing committed"
    );
    let counting = Counting {
        inner: &source,
        lists: AtomicU64::new(0),
        fail_from: None,
    };
    let report = seal_days(&counting, &store, &opts, now, &mut |_| {})
        .await
        .unwrap();
    assert_eq!(
        counting.lists.load(Ordering::SeqCst),
        14,
        "finished hours are never fetched again"
    );
    assert_eq!(report.days.len(), 1);
    // The result is the archive a run without the failure writes.
    let clean = MemoryStore::default();
    seal_days(&source, &clean, &opts, now, &mut |_| {})
        .await
        .unwrap();
    assert_eq!(all_bytes(&store).await, all_bytes(&clean).await);
    assert!(verify(&store, None).await.unwrap().findings.is_empty());
}

#[tokio::test]
async fn a_day_x_ray_no_longer_holds_is_sealed_as_expired_and_reported() {
    let mut source = MemorySource::of(two_days());
    // 40 days later, X-Ray holds only what started after noon on the 2nd.
    let now = at("2026-04-11T00:00:00Z");
    source.holds_since = Some(at("2026-03-02T12:00:00Z"));
    let store = MemoryStore::default();
    let opts = SealOptions {
        from: Some(day("2026-03-02")),
        to: Some(day("2026-03-02")),
        ..options()
    };
    let report = seal_days(&source, &store, &opts, now, &mut |_| {})
        .await
        .unwrap();
    let d = &report.days[0];
    assert_eq!(serde_json::to_value(d.status).unwrap(), "expired");
    assert!(
        d.source_traces > 0 && d.source_traces < 216,
        "{}",
        d.source_traces
    );
    let s = status(&store, now).await.unwrap();
    assert_eq!(s.expired_days, vec![day("2026-03-02")]);
    assert!(s.is_alarming());
    let check = verify(&store, None).await.unwrap();
    let kinds: Vec<FindingKind> = check.findings.iter().map(|f| f.kind).collect();
    assert_eq!(kinds, vec![FindingKind::ExpiredDay], "{:?}", check.findings);
    assert!(check.findings[0].detail.contains("expired"));
}

#[tokio::test]
async fn verify_names_overwrites_deletions_and_missing_days() {
    let source = MemorySource::of(two_days());
    let store = MemoryStore::default();
    let now = at("2026-03-10T00:00:00Z");
    for d in ["2026-03-02", "2026-03-04"] {
        let opts = SealOptions {
            from: Some(day(d)),
            to: Some(day(d)),
            ..options()
        };
        seal_days(&source, &store, &opts, now, &mut |_| {})
            .await
            .unwrap();
    }
    let part = "v1/spans/dt=2026-03-02/part-0000.parquet";
    let manifest = "_manifests/0000000001.json";
    let index = "v1/payment_index/day=2026-03-02/part-0000.parquet";
    // A second version with the very same bytes is still an overwrite.
    let same = exporter::store::get(&store, part).await.unwrap().unwrap();
    store.tamper_put(part, same);
    let m = exporter::store::get(&store, manifest)
        .await
        .unwrap()
        .unwrap();
    store.tamper_put(manifest, m);
    store.tamper_delete(index);
    let check = verify(&store, None).await.unwrap();
    let found: Vec<(FindingKind, &str)> = check
        .findings
        .iter()
        .map(|f| (f.kind, f.key.as_str()))
        .collect();
    for want in [
        (FindingKind::Overwritten, part),
        (FindingKind::Overwritten, manifest),
        (FindingKind::Deleted, index),
        // The listed version is still there behind the marker, but readers get nothing.
        (FindingKind::VersionMismatch, index),
        (FindingKind::VersionMismatch, part),
        (FindingKind::MissingDay, "2026-03-03"),
    ] {
        assert!(found.contains(&want), "{want:?} not in {found:?}");
    }
    let s = status(&store, now).await.unwrap();
    assert_eq!(s.missing_days, vec![day("2026-03-03")]);
}

#[tokio::test]
async fn an_import_adds_parts_and_never_rewrites_a_sealed_day() {
    let docs = two_days();
    let source = MemorySource::of(docs.clone());
    let store = MemoryStore::default();
    let now = at("2026-03-04T00:00:00Z");
    let opts = SealOptions {
        to: Some(day("2026-03-02")),
        ..options()
    };
    seal_days(&source, &store, &opts, now, &mut |_| {})
        .await
        .unwrap();
    let before = versions(&store).await;
    // Everything again, as a file: what the sealed day holds is not written again; the
    // 3rd of March is new and gets its first parts.
    let text = docs.join("\n").into_bytes();
    let config = options().writer;
    let summary = exporter::export_inputs(&[("all.jsonl", &text)], &store, config.clone())
        .await
        .unwrap();
    assert!(summary.unchanged > 0);
    assert!(
        summary.objects.keys().all(|k| !k.contains("dt=2026-03-02")),
        "{:?}",
        summary.objects.keys()
    );
    // One new trace of the sealed day arrives later: it gets part-0001, beside part-0000.
    let mut late = PaymentTraces::new(99, DAY1 + 3600.0);
    let extra = late.next_trace(1.0).join("\n").into_bytes();
    let added = exporter::export_inputs(&[("late.jsonl", &extra)], &store, config)
        .await
        .unwrap();
    assert!(
        added
            .objects
            .contains_key("v1/segments/dt=2026-03-02/part-0001.parquet"),
        "{:?}",
        added.objects.keys()
    );
    let after = versions(&store).await;
    for (k, n) in &before {
        assert_eq!(after.get(k), Some(n), "{k} was written again");
    }
    assert!(after.values().all(|n| *n == 1));
    assert!(verify(&store, None).await.unwrap().findings.is_empty());
}

#[tokio::test]
async fn months_that_are_over_are_rolled_up_once_and_a_lookup_reads_a_handful_of_parts() {
    // 300 traces from 2026-01-30 over about four days: January and February.
    let mut g = PaymentTraces::new(3, 1_769_731_200.0);
    let mut docs = Vec::new();
    for _ in 0..300 {
        docs.extend(g.next_trace(1200.0));
    }
    let store = MemoryStore::default();
    let text = docs.join("\n").into_bytes();
    exporter::export_inputs(&[("all.jsonl", &text)], &store, options().writer)
        .await
        .unwrap();
    assert!(
        store
            .list("v1/payment_index_month/")
            .await
            .unwrap()
            .is_empty()
    );
    let mut chain = exporter::read_chain(&store).await.unwrap();
    let now = at("2026-03-20T00:00:00Z");
    let link = exporter::rollup::roll_up(&store, &mut chain, &options().writer, now, 8)
        .await
        .unwrap();
    assert!(link.is_some());
    // Once is enough: nothing is due again.
    let again = exporter::rollup::roll_up(&store, &mut chain, &options().writer, now, 8)
        .await
        .unwrap();
    assert!(again.is_none());
    let keys: Vec<String> = store
        .list("v1/payment_index_month/")
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.key)
        .collect();
    assert!(
        keys.iter()
            .any(|k| k.ends_with("month=2026-01/part-0000.parquet"))
    );
    assert!(
        keys.iter()
            .any(|k| k.ends_with("month=2026-02/part-0000.parquet"))
    );
    assert!(
        store
            .list("v1/payment_index_year/")
            .await
            .unwrap()
            .is_empty(),
        "2026 is not over"
    );
    let day_parts = store.list("v1/payment_index/").await.unwrap().len();
    assert!(day_parts >= 4, "{day_parts}");
    // Every payment is found from its bucket's month parts alone, the same traces a scan of
    // the day parts finds.
    for n in [1, 150, 300] {
        let payment = format!("pay_{n:012}");
        let hit = exporter::holds::find_payment(&store, &payment)
            .await
            .unwrap();
        assert!(!hit.trace_ids.is_empty(), "{payment}");
        assert!(hit.files <= 2, "{payment}: {} files", hit.files);
        assert!(
            hit.index_keys
                .iter()
                .all(|k| k.contains("payment_index_month"))
        );
    }
    // A day imported after its month was rolled up is read too: no roll-up covers it.
    // A second generator numbers its payments from 1 again: its first trace is another
    // trace of pay_000000000001.
    let mut late = PaymentTraces::new(4, 1_769_731_200.0 + 7200.0);
    let extra_text = late.next_trace(1.0).join("\n").into_bytes();
    exporter::export_inputs(&[("late.jsonl", &extra_text)], &store, options().writer)
        .await
        .unwrap();
    let hit = exporter::holds::find_payment(&store, "pay_000000000001")
        .await
        .unwrap();
    assert_eq!(
        hit.trace_ids.len(),
        2,
        "the first trace and the late one: {hit:?}"
    );
    assert!(
        hit.index_keys
            .iter()
            .any(|k| k.starts_with("v1/payment_index/day=2026-01-30/"))
    );
    let check = verify(&store, None).await.unwrap();
    assert!(check.findings.is_empty(), "{:?}", check.findings);
}

#[tokio::test]
async fn sealing_the_last_day_of_a_month_commits_its_roll_up_with_the_day() {
    // 200 traces from 2026-03-30 over about two days.
    let mut g = PaymentTraces::new(5, 1_774_828_800.0);
    let mut docs = Vec::new();
    for _ in 0..200 {
        docs.extend(g.next_trace(1000.0));
    }
    let source = MemorySource::of(docs);
    let store = MemoryStore::default();
    let opts = SealOptions {
        from: Some(day("2026-03-30")),
        to: Some(day("2026-04-01")),
        ..options()
    };
    seal_days(
        &source,
        &store,
        &opts,
        at("2026-04-05T00:00:00Z"),
        &mut |_| {},
    )
    .await
    .unwrap();
    let chain = exporter::read_chain(&store).await.unwrap();
    let march31 = chain
        .manifests
        .iter()
        .find(|(_, m, _)| m.day == Some(day("2026-03-31")))
        .map(|(_, m, _)| m)
        .unwrap();
    let rollups: Vec<&str> = march31
        .objects
        .iter()
        .map(|o| o.key.as_str())
        .filter(|k| k.contains("payment_index_month"))
        .collect();
    assert!(!rollups.is_empty());
    assert!(
        rollups.iter().all(|k| k.contains("month=2026-03/")),
        "{rollups:?}"
    );
    let stored = store.list("v1/payment_index_month/").await.unwrap().len();
    assert_eq!(
        stored,
        rollups.len(),
        "every roll-up part is committed by that manifest"
    );
    // A March payment comes from its bucket's month part; the first of April's day part is
    // the only day part no roll-up covers.
    let hit = exporter::holds::find_payment(&store, "pay_000000000001")
        .await
        .unwrap();
    assert_eq!(hit.trace_ids.len(), 1);
    assert_eq!(hit.files, 2, "{hit:?}");
    assert!(verify(&store, None).await.unwrap().findings.is_empty());
}

#[tokio::test]
async fn traces_listed_but_never_returned_are_recorded_and_reported_as_lost() {
    let source = MemorySource::of(two_days());
    let now = at("2026-03-05T00:00:00Z");
    let mut listed = source
        .list(at("2026-03-02T00:00:00Z"), at("2026-03-03T00:00:00Z"))
        .await
        .unwrap();
    let forget: Vec<String> = vec![listed.remove(3), listed.remove(40)];
    let forgetful = Forgetful {
        inner: &source,
        forget: forget.clone(),
    };
    let store = MemoryStore::default();
    let opts = SealOptions {
        to: Some(day("2026-03-02")),
        ..options()
    };
    let report = seal_days(&forgetful, &store, &opts, now, &mut |_| {})
        .await
        .unwrap();
    let d = &report.days[0];
    assert_eq!(d.unreturned_traces, 2);
    assert_eq!(d.source_traces, d.traces + 2, "{d:?}");
    let s = status(&store, now).await.unwrap();
    assert_eq!(
        s.unreturned_traces,
        BTreeMap::from([(day("2026-03-02"), 2)])
    );
    assert!(s.is_alarming());
    let check = verify(&store, None).await.unwrap();
    let kinds: Vec<FindingKind> = check.findings.iter().map(|f| f.kind).collect();
    assert_eq!(
        kinds,
        vec![FindingKind::UnreturnedTraces],
        "{:?}",
        check.findings
    );
    for id in &forget {
        assert!(
            check.findings[0].detail.contains(id.as_str()),
            "{}",
            check.findings[0].detail
        );
    }
    // The same day from a source that returns everything has no such finding.
    let whole = MemoryStore::default();
    seal_days(&source, &whole, &opts, now, &mut |_| {})
        .await
        .unwrap();
    assert!(verify(&whole, None).await.unwrap().findings.is_empty());
}

#[tokio::test]
async fn a_day_read_back_in_small_batches_never_splits_a_trace() {
    let source = MemorySource::of(two_days());
    let now = at("2026-03-05T00:00:00Z");
    let mut opts = SealOptions {
        to: Some(day("2026-03-02")),
        ..options()
    };
    let store = MemoryStore::default();
    seal_days(&source, &store, &opts, now, &mut |_| {})
        .await
        .unwrap();
    // Three documents a batch: most traces have more, so most straddle a batch boundary.
    opts.writer.batch_documents = 3;
    let small = MemoryStore::default();
    let report = seal_days(&source, &small, &opts, now, &mut |_| {})
        .await
        .unwrap();
    let rows = |bytes: Bytes| -> Vec<String> {
        let batches = exporter::parquet_io::decode("traces", bytes).unwrap();
        batches
            .iter()
            .flat_map(|b| {
                let ids = b.column_by_name("trace_id").unwrap();
                let ids = arrow::array::AsArray::as_string::<i32>(ids);
                (0..b.num_rows())
                    .map(|i| ids.value(i).to_owned())
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let key = "v1/traces/dt=2026-03-02/part-0000.parquet";
    let traces = rows(all_bytes(&small).await[key].clone());
    let mut distinct = traces.clone();
    distinct.dedup();
    assert_eq!(traces, distinct, "one traces row per trace");
    assert_eq!(traces.len() as u64, report.days[0].traces);
    assert_eq!(traces, rows(all_bytes(&store).await[key].clone()));
}

/// Every `payment_index` row of the parts under `prefix` whose key contains `part`, sorted.
async fn index_rows(
    store: &MemoryStore,
    prefix: &str,
    part: &str,
) -> Vec<schema::v1::PaymentIndexRow> {
    let mut rows = Vec::new();
    for meta in store.list(prefix).await.unwrap() {
        if !meta.key.contains(part) {
            continue;
        }
        let bytes = exporter::store::get(store, &meta.key)
            .await
            .unwrap()
            .unwrap();
        for batch in exporter::parquet_io::decode(&meta.key, bytes).unwrap() {
            rows.extend(schema::v1::payment_index_rows(&batch).unwrap());
        }
    }
    rows.sort();
    rows
}

#[tokio::test]
async fn a_year_is_rolled_up_from_its_months_and_passes_change_no_byte() {
    // 300 traces from 2025-12-30 over about four days: the end of 2025 and January 2026.
    let mut g = PaymentTraces::new(5, 1_767_052_800.0);
    let mut docs = Vec::new();
    for _ in 0..300 {
        docs.extend(g.next_trace(1200.0));
    }
    let text = docs.join("\n").into_bytes();
    let now = at("2026-03-20T00:00:00Z");
    let mut rolled = Vec::new();
    // One pass for all 64 buckets, and one pass per bucket.
    for pass_rows in [exporter::rollup::ROLLUP_PASS_ROWS, 1] {
        let config = WriterConfig {
            rollup_pass_rows: pass_rows,
            ..options().writer
        };
        let store = MemoryStore::default();
        exporter::export_inputs(&[("all.jsonl", &text)], &store, config.clone())
            .await
            .unwrap();
        let mut chain = exporter::read_chain(&store).await.unwrap();
        exporter::rollup::roll_up(&store, &mut chain, &config, now, 8)
            .await
            .unwrap()
            .unwrap();
        let mut parts = BTreeMap::new();
        for prefix in ["v1/payment_index_month/", "v1/payment_index_year/"] {
            for meta in store.list(prefix).await.unwrap() {
                let b = exporter::store::get(&store, &meta.key)
                    .await
                    .unwrap()
                    .unwrap();
                parts.insert(meta.key, b);
            }
        }
        rolled.push((store, parts));
    }
    let (store, one_pass) = &rolled[0];
    assert_eq!(one_pass, &rolled[1].1, "the same parts, byte for byte");
    assert!(
        one_pass.keys().any(|k| k.contains("/year=2025/")),
        "{:?}",
        one_pass.keys()
    );
    assert!(
        !one_pass.keys().any(|k| k.contains("year=2026")),
        "2026 is not over"
    );
    // The year holds every 2025 row of the day parts, each once.
    let days: Vec<_> = index_rows(store, "v1/payment_index/", "")
        .await
        .into_iter()
        .filter(|r| r.dt < day("2026-01-01"))
        .collect();
    assert!(!days.is_empty());
    assert_eq!(index_rows(store, "v1/payment_index_year/", "").await, days);
    assert_eq!(
        index_rows(store, "v1/payment_index_month/", "month=2025-12").await,
        days,
        "December's month parts hold the same rows"
    );
    let check = verify(store, None).await.unwrap();
    assert!(check.findings.is_empty(), "{:?}", check.findings);
}
