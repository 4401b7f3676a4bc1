//! The query side over generated archives of payment traces: every saved query returns the
//! rows in its golden file (`tests/golden/queries/<name>.csv`; `UPDATE_GOLDEN=1` rewrites
//! them after a reviewed change), and `lookup` finds exactly what a full scan finds.

use exporter::synth as payment_traces;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use athena::{Format, LocalEngine, format, lookup, saved_queries};
use exporter::{LocalDirStore, WriterConfig, export_inputs};
use payment_core::otel::TraceFormat;
use payment_core::sim::{Scenario, SimConfig, SimReport, simulate};
use payment_core::xray::MemoryEmitter;

/// Two simulated days of VaultLink traffic from 2026-03-02 (1,000 payments, every failure
/// scenario), archived through the export path. With `switch`, the traces from that day on
/// arrive as Transaction Search's `aws/spans` records instead of X-Ray documents: a
/// migration mid-archive. Returns the simulator's report.
async fn archive(dir: &Path, switch: Option<&str>) -> SimReport {
    let emitter = MemoryEmitter::default();
    let cfg = SimConfig {
        payments: 1_000,
        days: 2,
        seed: 7,
        ..SimConfig::default()
    };
    let report = simulate(&cfg, &emitter).await.unwrap();
    let docs = emitter.take();
    let switch = switch.map(|d| {
        let day: chrono::NaiveDate = d.parse().unwrap();
        day.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp()
    });
    let (before, after): (Vec<_>, Vec<_>) = docs.into_iter().partition(|d| {
        switch.is_none_or(|s| {
            schema::trace_epoch(d.trace_id.as_deref().unwrap_or_default()).is_some_and(|t| t < s)
        })
    });
    let mut bodies = payment_core::otel::bodies(before, TraceFormat::Xray, 500);
    bodies.extend(payment_core::otel::bodies(
        after,
        TraceFormat::AwsSpans,
        500,
    ));
    let inputs: Vec<(String, &[u8])> = bodies
        .iter()
        .enumerate()
        .map(|(n, b)| (format!("sim-{n}.json"), b.as_bytes()))
        .collect();
    let inputs: Vec<(&str, &[u8])> = inputs.iter().map(|(n, b)| (n.as_str(), *b)).collect();
    let store = LocalDirStore::open(dir).unwrap();
    let summary = export_inputs(&inputs, &store, WriterConfig::default())
        .await
        .unwrap();
    assert_eq!(summary.traces, report.traces);
    if switch.is_none() {
        assert_eq!(summary.segments, report.documents);
    }
    assert!(summary.quarantined.is_empty(), "{:?}", summary.quarantined);
    report
}

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("golden/queries")
        .join(format!("{name}.csv"))
}

#[tokio::test]
async fn every_saved_query_returns_its_golden_rows() {
    let dir = tempfile::tempdir().unwrap();
    let report = archive(dir.path(), None).await;
    check_goldens(
        dir.path(),
        &report,
        std::env::var_os("UPDATE_GOLDEN").is_some(),
    )
    .await;
}

/// The day VaultLink switched from the X-Ray SDK to OpenTelemetry with Transaction Search:
/// every saved query still returns its golden rows, half of them from `aws/spans` records.
#[tokio::test]
async fn a_mixed_x_ray_and_transaction_search_archive_returns_the_same_golden_rows() {
    let dir = tempfile::tempdir().unwrap();
    let report = archive(dir.path(), Some("2026-03-03")).await;
    let formats = tests_support_formats(dir.path()).await;
    assert_eq!(
        formats.keys().cloned().collect::<Vec<_>>(),
        ["aws-spans", "xray"],
        "{formats:?}"
    );
    check_goldens(dir.path(), &report, false).await;
}

/// Rows of `segments` by `format`.
async fn tests_support_formats(dir: &Path) -> BTreeMap<String, String> {
    let engine = LocalEngine::open(dir).await.unwrap();
    let rows = engine
        .sql("SELECT format, CAST(COUNT(*) AS VARCHAR) AS n FROM segments GROUP BY format ORDER BY format")
        .await
        .unwrap();
    let csv = format(&rows, Format::Csv).unwrap();
    csv.lines()
        .skip(1)
        .filter_map(|l| l.split_once(','))
        .map(|(f, n)| (f.to_owned(), n.to_owned()))
        .collect()
}

/// Runs every saved query over the archive in `dir` against its golden rows (or rewrites
/// them with `update`).
async fn check_goldens(dir: &Path, report: &SimReport, update: bool) {
    let engine = LocalEngine::open(dir).await.unwrap();
    // A payment whose Prism notification went to the DLQ and was replayed: five traces.
    let payment = report.scenarios[&Scenario::PrismDeadLetter][0].clone();
    let correlation = format(
        &engine
            .sql(&format!("SELECT correlation_id FROM spans WHERE payment_id = '{payment}' AND correlation_id IS NOT NULL LIMIT 1"))
            .await
            .unwrap(),
        Format::Csv,
    )
    .unwrap();
    let correlation = correlation
        .lines()
        .nth(1)
        .expect("a correlation id")
        .to_owned();
    let params: BTreeMap<&str, String> = BTreeMap::from([
        ("since", "2026-03-02".into()),
        ("until", "2026-03-03".into()),
        ("payment_id", payment),
        ("correlation_id", correlation),
        ("min_ms", "3000".into()),
        ("max_receives", "3".into()),
    ]);
    let mut failures = Vec::new();
    for q in saved_queries() {
        let args = q
            .params
            .iter()
            .map(|p| (p.name.clone(), params[p.name.as_str()].clone()))
            .collect();
        let sql = q.render(&args).unwrap();
        let rows = engine
            .sql(&sql)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}\n{sql}", q.name));
        let csv = format(&rows, Format::Csv).unwrap();
        let path = golden(q.name);
        if update {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &csv).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&path).unwrap_or_else(|_| {
            panic!(
                "{} missing; run with UPDATE_GOLDEN=1 and review it",
                path.display()
            )
        });
        if want != csv {
            failures.push(format!("{}: got\n{csv}\nwant\n{want}", q.name));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Two generators with the same seed, 40 days apart: every payment id has two traces, on
/// different days and in different months.
async fn two_visit_archive(dir: &Path) {
    let mut lines = Vec::new();
    for start in [1_772_409_600.0, 1_772_409_600.0 + 40.0 * 86_400.0] {
        let mut generator = payment_traces::PaymentTraces::new(3, start);
        for _ in 0..60 {
            lines.push(generator.batch_get_traces(5, 30.0).0);
        }
    }
    let input = lines.join("\n");
    let store = LocalDirStore::open(dir).unwrap();
    export_inputs(
        &[("generated.jsonl", input.as_bytes())],
        &store,
        WriterConfig::default(),
    )
    .await
    .unwrap();
}

/// Looks `id` up and checks it found the same spans a full-scan SQL query finds.
async fn lookup_matches_full_scan(
    store: &LocalDirStore,
    engine: &LocalEngine,
    id: &str,
) -> athena::PaymentStory {
    let story = lookup(store, id).await.unwrap();
    let mut got: Vec<String> = story
        .traces
        .iter()
        .flat_map(|t| {
            t.spans
                .iter()
                .map(move |s| format!("{},{}", t.trace_id, s.id))
        })
        .collect();
    got.sort();
    let scan = engine
        .sql(&format!(
            "SELECT trace_id, id FROM spans WHERE trace_id IN \
             (SELECT trace_id FROM spans WHERE payment_id = '{id}') ORDER BY trace_id, id"
        ))
        .await
        .unwrap();
    let want: Vec<String> = format(&scan, Format::Csv)
        .unwrap()
        .lines()
        .skip(1)
        .map(str::to_owned)
        .collect();
    assert_eq!(got, want, "{id}");
    story
}

#[tokio::test]
async fn lookup_finds_what_a_full_scan_finds() {
    let dir = tempfile::tempdir().unwrap();
    two_visit_archive(dir.path()).await;
    let store = LocalDirStore::open(dir.path()).unwrap();
    let engine = LocalEngine::open(dir.path()).await.unwrap();
    for n in [1, 7, 42, 150, 299, 300] {
        let id = format!("pay_{n:012}");
        let story = lookup_matches_full_scan(&store, &engine, &id).await;
        assert_eq!(story.traces.len(), 2, "{id}: one trace in each visit");
        let days: std::collections::BTreeSet<&str> =
            story.traces.iter().map(|t| t.dt.as_str()).collect();
        assert_eq!(days.len(), 2, "{id}");
        // One payment_index file per month holding the bucket, one spans part per trace.
        assert!(story.read.files <= 4, "{id}: {:?}", story.read);
        assert!(
            story
                .traces
                .windows(2)
                .all(|w| w[0].start_us <= w[1].start_us)
        );
    }
    let unknown = lookup(&store, "pay_nope").await;
    assert!(
        matches!(unknown, Err(athena::Error::UnknownPayment { .. })),
        "{unknown:?}"
    );
}

/// On simulated traffic: every scenario's payment is found whole (the same spans a full scan
/// finds), in the stages its scenario has, with the failure where the scenario puts it.
#[tokio::test]
async fn lookup_tells_each_scenarios_story() {
    lookup_tells_each_scenarios_story_in(None).await;
}

/// The same stories from an archive whose second day came from Transaction Search.
#[tokio::test]
async fn lookup_tells_each_scenarios_story_across_the_switch_to_transaction_search() {
    lookup_tells_each_scenarios_story_in(Some("2026-03-03")).await;
}

async fn lookup_tells_each_scenarios_story_in(switch: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let report = archive(dir.path(), switch).await;
    let store = LocalDirStore::open(dir.path()).unwrap();
    let engine = LocalEngine::open(dir.path()).await.unwrap();
    for (scenario, ids) in &report.scenarios {
        let id = &ids[0];
        let story = lookup_matches_full_scan(&store, &engine, id).await;
        let stages: Vec<&str> = story.traces.iter().map(|t| t.stage.as_str()).collect();
        let failure = story.first_failure.as_ref().map(|f| f.name.as_str());
        match scenario {
            Scenario::Success | Scenario::SlowPayment => {
                assert_eq!(
                    stages,
                    ["creation", "webhook", "prism delivery"],
                    "{scenario:?}"
                );
                assert_eq!(failure, None);
            }
            Scenario::CardDeclined => {
                assert_eq!(stages, ["creation"]);
                assert_eq!(failure, Some("api.stripe.com"));
            }
            Scenario::WebhookNeverDelivered => {
                assert_eq!(stages, ["creation"]);
                assert!(story.missing.iter().any(|m| m.starts_with("webhook")));
            }
            Scenario::WebhookStoreFailure => {
                assert_eq!(stages, ["creation", "webhook", "webhook"]);
                // The table X-Ray infers under the failing UpdateItem call.
                assert_eq!(failure, Some("vaultlink-payments"));
            }
            Scenario::PrismDeadLetter => {
                assert_eq!(
                    stages,
                    [
                        "creation",
                        "webhook",
                        "prism delivery",
                        "prism delivery",
                        "prism delivery",
                        "dlq replay",
                        "prism delivery"
                    ]
                );
                assert_eq!(failure, Some("Prism"));
            }
            Scenario::DuplicateWebhook => {
                assert_eq!(stages, ["creation", "webhook", "prism delivery", "webhook"]);
                assert_eq!(failure, None);
            }
        }
    }
}
