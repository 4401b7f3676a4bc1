//! `xray-archive demo`: archive the bundled samples and simulated payment traffic, and
//! explain what happened.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use athena::{Format, LocalEngine, format, lookup, render_tree, saved_query};
use clap::Args;
use exporter::{ArchiveStore, LocalDirStore, WriterConfig, export_inputs};
use payment_core::otel::TraceFormat;
use payment_core::ports::Status;
use payment_core::sim::{Scenario, SimConfig, simulate};
use payment_core::xray::MemoryEmitter;

use crate::output::{print_summary, stdout};

include!(concat!(env!("OUT_DIR"), "/samples.rs"));

/// Run VaultLink's payment flow on simulated traffic, archive its traces, and explain.
///
/// Needs no AWS account and no servers. First archives the bundled real X-Ray samples
/// (some invalid on purpose, to show quarantine). Then simulates PAYMENTS payments over
/// DAYS days through the instrumented payment flow and its embedded stand-ins (Stripe,
/// DynamoDB, SQS, Prism), with the design note's failure scenarios, and archives the
/// traces through the same export path as real X-Ray data. It ends with two saved
/// compliance queries and a chargeback lookup of a failed payment. File imports are
/// sealed at once, one part per table per day. The same seed gives the same archive,
/// byte for byte.
///
/// Examples:
///   xray-archive demo
///   xray-archive demo --archive /tmp/demo --payments 20000 --days 30 --seed 7
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct DemoArgs {
    /// Archive directory (created if missing).
    #[arg(long, value_name = "DIR", default_value = "xray-archive-demo")]
    archive: PathBuf,
    /// Payments to simulate.
    #[arg(long, value_name = "N", default_value_t = 2_000)]
    payments: usize,
    /// Days they spread over, from 2026-03-02.
    #[arg(long, value_name = "D", default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=3650))]
    days: u32,
    /// Seed of the simulation.
    #[arg(long, value_name = "S", default_value_t = 42)]
    seed: u64,
}

pub async fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let sim = SimConfig {
        payments: args.payments,
        days: args.days,
        seed: args.seed,
        ..SimConfig::default()
    };
    let archive = args.archive.as_path();
    let store = LocalDirStore::open(archive)?;
    let mut out = stdout();
    writeln!(
        out,
        "xray-archive demo: archiving {} bundled X-Ray samples (real documents and API \
         responses, some invalid on purpose) into {}\n",
        SAMPLES.len(),
        archive.display()
    )?;
    let summary = export_inputs(SAMPLES, &store, WriterConfig::default()).await?;
    print_summary(&mut out, &summary, &store.location(), &[])?;
    let root = archive.display();
    writeln!(out)?;
    writeln!(out, "What is where:")?;
    writeln!(
        out,
        "  {root}/v1/segments/dt=*/part-NNNN.parquet every document, byte for byte"
    )?;
    writeln!(
        out,
        "  {root}/v1/spans/dt=*/part-NNNN.parquet    segments and subsegments, flattened"
    )?;
    writeln!(
        out,
        "  {root}/v1/traces/dt=*/part-NNNN.parquet   one row per trace"
    )?;
    writeln!(
        out,
        "  {root}/v1/payment_index/day=*/          payment id -> trace ids and days"
    )?;
    writeln!(
        out,
        "  {root}/_manifests/                      one per sealed day, import or roll-up: the commits"
    )?;
    writeln!(
        out,
        "  {root}/_quarantine/                     rejected inputs (.raw) and reasons (.json)"
    )?;
    payments(&mut out, archive, &store, &sim).await?;
    writeln!(out)?;
    writeln!(
        out,
        "Run the demo again: every document is reported unchanged, nothing is written again and no row is duplicated."
    )?;
    writeln!(out, "Archive your own X-Ray data:")?;
    writeln!(
        out,
        "  xray-archive export --source <BatchGetTraces JSON file or dir> --archive <dir>"
    )?;
    Ok(ExitCode::SUCCESS)
}

/// Simulated VaultLink traffic through the instrumented payment flow, archived through the
/// same export path as X-Ray's own answers, then asked two saved compliance questions and
/// one chargeback lookup.
async fn payments(
    out: &mut impl Write,
    archive: &Path,
    store: &LocalDirStore,
    sim: &SimConfig,
) -> anyhow::Result<()> {
    let first_day = day(sim.start);
    let last_day = day(sim.start + f64::from(sim.days - 1) * 86_400.0);
    writeln!(out)?;
    writeln!(
        out,
        "Simulating VaultLink: {} payments over {} day{} ({first_day} .. {last_day}), seed {}",
        sim.payments,
        sim.days,
        if sim.days == 1 { "" } else { "s" },
        sim.seed
    )?;
    let emitter = MemoryEmitter::default();
    let report = simulate(sim, &emitter).await?;
    // VaultLink moves off the X-Ray SDK half way: the first days' traces are X-Ray segment
    // documents, the rest the `aws/spans` records Transaction Search stores for its
    // OpenTelemetry spans. Both go into the same tables.
    let switch = sim.start + f64::from(sim.days.div_ceil(2)) * 86_400.0;
    let (before, after): (Vec<_>, Vec<_>) = emitter.take().into_iter().partition(|d| {
        schema::trace_epoch(d.trace_id.as_deref().unwrap_or_default())
            .is_some_and(|t| (t as f64) < switch)
    });
    let mut names = Vec::new();
    let mut bodies = Vec::new();
    for (docs, format, stem) in [
        (before, TraceFormat::Xray, "simulated-batch-get-traces"),
        (after, TraceFormat::AwsSpans, "simulated-aws-spans"),
    ] {
        for body in payment_core::otel::bodies(docs, format, 500) {
            names.push(format!("{stem}-{:05}.json", names.len()));
            bodies.push(body);
        }
    }
    let inputs: Vec<(&str, &[u8])> = names
        .iter()
        .zip(&bodies)
        .map(|(n, b)| (n.as_str(), b.as_bytes()))
        .collect();
    let summary = export_inputs(&inputs, store, WriterConfig::default()).await?;
    // The months and years that are over get their payment-index roll-ups, as sealing does.
    let mut chain = exporter::read_chain(store).await?;
    let rolled = exporter::rollup::roll_up(
        store,
        &mut chain,
        &WriterConfig::default(),
        chrono::Utc::now(),
        exporter::seal::DEFAULT_SEAL_AFTER_DAYS,
    )
    .await?;
    let r = &report;
    writeln!(
        out,
        "  requests     {} payment creations, {} Stripe webhooks, {} Prism deliveries, {} DLQ replays",
        r.payments.requests, r.webhooks.requests, r.deliveries.requests, r.replays.requests
    )?;
    writeln!(
        out,
        "  sampling     payments, webhooks and deliveries 100%; health checks {} of {} traced; \
         background jobs {} of {} traced (rule: 10%)",
        r.health_checks.traced, r.health_checks.requests, r.jobs.traced, r.jobs.requests
    )?;
    writeln!(
        out,
        "  emitted      {} traces, {} segment documents; PII values kept out by the guard: {}",
        r.traces, r.documents, r.pii_blocked
    )?;
    if sim.days > 1 {
        writeln!(
            out,
            "  traced via   the X-Ray SDK {first_day} .. {}, then OpenTelemetry with CloudWatch \
             Transaction Search (aws/spans records) from {}: one archive, the same tables",
            day(switch - 86_400.0),
            day(switch)
        )?;
    }
    writeln!(
        out,
        "  archived     {} traces, {} documents, {} spans in {} partitions of {}; {} quarantined",
        summary.traces,
        summary.segments,
        summary.spans,
        summary.partitions.len(),
        archive.display(),
        summary.quarantined.len()
    )?;
    if summary.unchanged > 0 {
        writeln!(
            out,
            "  unchanged    {} documents were already archived byte for byte: not written again",
            summary.unchanged
        )?;
    }
    if let Some(link) = &rolled {
        writeln!(
            out,
            "  rolled up    the payment index of every month and year that is over ({}), so a \
             lookup with no date reads a handful of objects",
            link.key
        )?;
    }
    writeln!(
        out,
        "  outcome      {} payments succeeded, {} failed, {} still pending; Prism told of {}; {} left in the DLQ",
        count(r, Status::Succeeded),
        count(r, Status::Failed),
        count(r, Status::Pending),
        r.prism_delivered,
        r.dlq_depth
    )?;
    writeln!(out)?;
    writeln!(out, "One payment of each scenario (look any of them up):")?;
    for scenario in Scenario::ALL {
        let ids = r
            .scenarios
            .get(&scenario)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let example = ids.first().map_or("-", String::as_str);
        let status = r.status.get(example).map_or("-", |s| s.as_str());
        writeln!(
            out,
            "  {:<62} {:>5}  {example}  {status}",
            scenario.describe(),
            ids.len()
        )?;
    }
    writeln!(
        out,
        "  xray-archive lookup --archive {} --payment-id <id>",
        archive.display()
    )?;

    let engine = LocalEngine::open(archive).await?;
    let params = BTreeMap::from([
        ("since".to_owned(), first_day.clone()),
        ("until".to_owned(), last_day.clone()),
        ("max_receives".to_owned(), "3".to_owned()),
    ]);
    for (name, what) in [
        (
            "charged_but_pending",
            "payments charged at Stripe but still pending in VaultLink (scenario 2)",
        ),
        (
            "prism_dlq",
            "Prism notifications that ended in the DLQ (scenario 3)",
        ),
    ] {
        let q = saved_query(name)?;
        let args = params
            .iter()
            .filter(|(k, _)| q.params.iter().any(|p| &p.name == *k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let rows = engine.sql(&q.render(&args)?).await?;
        let total: usize = rows.iter().map(|b| b.num_rows()).sum();
        let mut shown = Vec::new();
        let mut left = 5;
        for b in &rows {
            let take = left.min(b.num_rows());
            if take > 0 {
                shown.push(b.slice(0, take));
            }
            left -= take;
        }
        writeln!(out)?;
        writeln!(out, "Saved query {name}: {what}; {total} rows, first 5:")?;
        writeln!(out, "{}", format(&shown, Format::Table)?)?;
        if name == "charged_but_pending" && sim.days > 1 {
            let split = engine
                .sql(&format!(
                    "SELECT CAST(SUM(CASE WHEN first_failed_update < TIMESTAMP '{}T00:00:00Z' \
                     THEN 1 ELSE 0 END) AS VARCHAR) || ' from the X-Ray days, ' || \
                     CAST(SUM(CASE WHEN first_failed_update >= TIMESTAMP '{}T00:00:00Z' \
                     THEN 1 ELSE 0 END) AS VARCHAR) || ' from the Transaction Search days' \
                     AS split FROM ({})",
                    day(switch),
                    day(switch),
                    q.render(&args)?
                ))
                .await?;
            let split = format(&split, Format::Csv)?;
            writeln!(
                out,
                "  {}",
                split.lines().nth(1).unwrap_or_default().trim_matches('"')
            )?;
        }
    }
    // The latest such payment: on a week's run, from the days after the switch, so its
    // story is told from Transaction Search's records.
    if let Some(payment) = r
        .scenarios
        .get(&Scenario::WebhookStoreFailure)
        .and_then(|ids| ids.last())
    {
        writeln!(out)?;
        writeln!(
            out,
            "Chargeback lookup of a payment charged but never settled (xray-archive lookup --archive {} --payment-id {payment}):",
            archive.display()
        )?;
        writeln!(out)?;
        write!(out, "{}", render_tree(&lookup(store, payment).await?))?;
        writeln!(out)?;
        writeln!(
            out,
            "The same story as an evidence page to attach to a dispute:"
        )?;
        writeln!(
            out,
            "  xray-archive lookup --archive {} --payment-id {payment} --format html > {payment}.html",
            archive.display()
        )?;
    }
    let check = exporter::verify::verify(store, None).await?;
    writeln!(out)?;
    writeln!(
        out,
        "Integrity (xray-archive verify --archive {}): {} manifests, {} objects, {}",
        archive.display(),
        check.manifests,
        check.objects,
        if check.findings.is_empty() {
            "every object written once, every SHA-256 matches and the chain is whole".to_owned()
        } else {
            format!("{} findings", check.findings.len())
        }
    )?;
    if let Some(head) = &check.head {
        writeln!(
            out,
            "  chain head {} ({}): keep it outside the archive and check later with --expect-head",
            head.sha256, head.key
        )?;
    }
    writeln!(out)?;
    writeln!(out, "Ask your own questions:")?;
    writeln!(out, "  xray-archive query --list")?;
    writeln!(
        out,
        "  xray-archive query --archive {} --sql \"SELECT dt, count(*) FROM traces GROUP BY dt\"",
        archive.display()
    )?;
    Ok(())
}

fn count(r: &payment_core::sim::SimReport, status: Status) -> usize {
    r.status.values().filter(|s| **s == status).count()
}

fn day(epoch: f64) -> String {
    chrono::DateTime::from_timestamp(epoch as i64, 0)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}
