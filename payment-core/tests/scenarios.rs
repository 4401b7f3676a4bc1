//! The simulator's traces, scenario by scenario: the shapes the design note describes, the
//! trace header and correlation id across the SQS hop, idempotent webhooks, sampling, and
//! no PII in any emitted document.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use payment_core::pii;
use payment_core::ports::Status;
use payment_core::sim::{Scenario, SimConfig, SimReport, simulate};
use payment_core::xray::MemoryEmitter;
use schema::SegmentDocument;

struct Run {
    report: SimReport,
    docs: Vec<SegmentDocument>,
    /// trace id -> its documents
    traces: BTreeMap<String, Vec<SegmentDocument>>,
}

fn run() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let emitter = MemoryEmitter::default();
        let cfg = SimConfig {
            payments: 600,
            days: 2,
            seed: 7,
            ..SimConfig::default()
        };
        let report = rt.block_on(simulate(&cfg, &emitter)).unwrap();
        let docs = emitter.take();
        let mut traces: BTreeMap<String, Vec<SegmentDocument>> = BTreeMap::new();
        for d in &docs {
            traces
                .entry(d.trace_id.clone().unwrap())
                .or_default()
                .push(d.clone());
        }
        Run {
            report,
            docs,
            traces,
        }
    })
}

/// Every span of a document tree.
fn spans(doc: &SegmentDocument) -> Vec<&SegmentDocument> {
    let mut out = vec![doc];
    let mut i = 0;
    while i < out.len() {
        let d = out[i];
        out.extend(d.subsegments.iter());
        i += 1;
    }
    out
}

fn all_spans(docs: &[SegmentDocument]) -> Vec<&SegmentDocument> {
    docs.iter().flat_map(spans).collect()
}

fn annotation<'a>(docs: &'a [SegmentDocument], key: &str) -> Option<&'a str> {
    all_spans(docs)
        .into_iter()
        .find_map(|s| s.annotation(key).and_then(|v| v.as_str()))
}

fn named<'a>(docs: &'a [SegmentDocument], name: &str) -> Vec<&'a SegmentDocument> {
    all_spans(docs)
        .into_iter()
        .filter(|s| s.name.as_deref() == Some(name))
        .collect()
}

/// The traces of one payment, in time order.
fn traces_of(payment_id: &str) -> Vec<&'static Vec<SegmentDocument>> {
    let mut out: Vec<_> = run()
        .traces
        .values()
        .filter(|docs| {
            all_spans(docs)
                .iter()
                .any(|s| s.annotation("PaymentId").and_then(|v| v.as_str()) == Some(payment_id))
        })
        .collect();
    out.sort_by(|a, b| a[0].start_time.partial_cmp(&b[0].start_time).unwrap());
    out
}

fn function_name(docs: &[SegmentDocument]) -> &str {
    docs.iter()
        .find(|d| d.origin.as_deref() == Some("AWS::Lambda::Function"))
        .and_then(|d| d.name.as_deref())
        .unwrap()
}

fn op(s: &SegmentDocument) -> Option<&str> {
    s.aws.as_ref().and_then(|a| a.value().operation.as_deref())
}

fn first(scenario: Scenario) -> &'static str {
    &run().report.scenarios[&scenario][0]
}

#[test]
fn every_scenario_occurs() {
    for s in Scenario::ALL {
        assert!(
            run().report.scenarios.get(&s).is_some_and(|v| v.len() >= 3),
            "{s:?}: {:?}",
            run().report.scenarios.get(&s).map(Vec::len)
        );
    }
}

#[test]
fn success_tells_the_whole_story() {
    let pid = first(Scenario::Success);
    let traces = traces_of(pid);
    let names: Vec<&str> = traces.iter().map(|t| function_name(t)).collect();
    assert_eq!(
        names,
        [
            "VaultLink-PaymentService",
            "VaultLink-WebhookService",
            "VaultLink-PrismDelivery"
        ]
    );
    let correlation = annotation(traces[0], "CorrelationId").unwrap();
    for t in &traces {
        assert_eq!(annotation(t, "CorrelationId"), Some(correlation));
        assert_eq!(annotation(t, "PaymentId"), Some(pid));
    }
    let ops: Vec<&str> = all_spans(traces[0]).into_iter().filter_map(op).collect();
    assert!(ops.contains(&"PutItem"), "{ops:?}");
    assert_eq!(run().report.status[pid], Status::Succeeded);
}

#[test]
fn scenario_1_webhook_never_delivered() {
    let pid = first(Scenario::WebhookNeverDelivered);
    let traces = traces_of(pid);
    assert_eq!(traces.len(), 1);
    assert_eq!(function_name(traces[0]), "VaultLink-PaymentService");
    assert_eq!(run().report.status[pid], Status::Pending);
}

#[test]
fn scenario_2_store_fault_and_no_sqs() {
    let pid = first(Scenario::WebhookStoreFailure);
    let hooks: Vec<_> = traces_of(pid)
        .into_iter()
        .filter(|t| function_name(t) == "VaultLink-WebhookService")
        .collect();
    assert_eq!(hooks.len(), 2, "the first delivery and Stripe's retry");
    for t in hooks {
        let update = named(t, "DynamoDB")
            .into_iter()
            .find(|s| op(s) == Some("UpdateItem"))
            .expect("a payment-store subsegment");
        assert_eq!(update.fault, Some(true));
        assert!(update.cause.is_some());
        assert!(
            named(t, "SQS").is_empty(),
            "no SQS subsegment after the failed update"
        );
        let root = t.iter().find(|d| d.parent_id.is_none()).unwrap();
        let status = root
            .http
            .as_ref()
            .unwrap()
            .response
            .as_ref()
            .unwrap()
            .status;
        assert_eq!(status, Some(500));
    }
    assert_eq!(run().report.status[pid], Status::Pending);
}

#[test]
fn scenario_3_delivery_ends_in_the_dlq_with_the_payments_correlation_id() {
    let pid = first(Scenario::PrismDeadLetter);
    let traces = traces_of(pid);
    let correlation = annotation(traces[0], "CorrelationId").unwrap();
    let deliveries: Vec<_> = traces
        .iter()
        .filter(|t| function_name(t) == "VaultLink-PrismDelivery")
        .collect();
    // Three failed receives, then the one after the replay.
    assert_eq!(deliveries.len(), 4, "{}", deliveries.len());
    let last_failed = deliveries[2];
    let span = named(last_failed, "DeliverToPrism")[0];
    assert_eq!(span.fault, Some(true));
    assert_eq!(
        span.annotation("DeadLettered"),
        Some(&schema::AnnotationValue::Bool(true))
    );
    assert_eq!(
        span.annotation("ApproximateReceiveCount")
            .unwrap()
            .to_string(),
        "3"
    );
    assert_eq!(annotation(last_failed, "CorrelationId"), Some(correlation));
    let replay = traces
        .iter()
        .find(|t| function_name(t) == "VaultLink-DlqReplay")
        .expect("a replay trace carries the payment id");
    assert_eq!(annotation(replay, "CorrelationId"), Some(correlation));
    let after = named(deliveries[3], "DeliverToPrism")[0];
    assert_ne!(after.fault, Some(true));
    assert_eq!(run().report.dlq_depth, 0);
}

#[test]
fn the_trace_header_and_correlation_id_survive_the_sqs_hop() {
    let pid = first(Scenario::Success);
    let traces = traces_of(pid);
    let webhook = traces[1];
    let sqs = named(webhook, "SQS")[0];
    let delivery = named(traces[2], "DeliverToPrism")[0];
    let links = delivery
        .extra
        .iter()
        .find(|(k, _)| k == "links")
        .map(|(_, v)| serde_json::from_str::<serde_json::Value>(v.get()).unwrap())
        .unwrap();
    assert_eq!(
        links[0]["trace_id"],
        webhook[0].trace_id.clone().unwrap().as_str()
    );
    assert_eq!(links[0]["id"], sqs.id.clone().unwrap().as_str());
    assert_eq!(
        annotation(traces[2], "CorrelationId"),
        annotation(webhook, "CorrelationId")
    );
}

#[test]
fn a_duplicate_webhook_changes_nothing() {
    for pid in &run().report.scenarios[&Scenario::DuplicateWebhook] {
        let hooks: Vec<_> = traces_of(pid)
            .into_iter()
            .filter(|t| function_name(t) == "VaultLink-WebhookService")
            .collect();
        assert_eq!(hooks.len(), 2);
        let second = hooks[1];
        assert!(
            named(second, "HandleStripeWebhook")[0]
                .annotation("DuplicateEvent")
                .is_some()
        );
        assert!(named(second, "SQS").is_empty());
        assert!(
            all_spans(second)
                .into_iter()
                .all(|s| op(s) != Some("UpdateItem"))
        );
        let deliveries = traces_of(pid)
            .into_iter()
            .filter(|t| function_name(t) == "VaultLink-PrismDelivery")
            .count();
        assert_eq!(deliveries, 1, "Prism is told once");
        assert_eq!(run().report.status[pid.as_str()], Status::Succeeded);
    }
}

#[test]
fn slow_payments_take_over_three_seconds_and_declines_are_402() {
    let slow = traces_of(first(Scenario::SlowPayment))[0];
    let root = slow.iter().find(|d| d.parent_id.is_none()).unwrap();
    assert!(root.end_time.unwrap() - root.start_time.unwrap() > 3.0);
    let declined = traces_of(first(Scenario::CardDeclined));
    assert_eq!(declined.len(), 1);
    let stripe = named(declined[0], "api.stripe.com")[0];
    assert_eq!(stripe.error, Some(true));
    assert_eq!(
        stripe
            .http
            .as_ref()
            .unwrap()
            .response
            .as_ref()
            .unwrap()
            .status,
        Some(402)
    );
}

#[test]
fn sampling_follows_the_rules() {
    let r = &run().report;
    assert_eq!(r.payments.traced, r.payments.requests);
    assert_eq!(r.webhooks.traced, r.webhooks.requests);
    assert_eq!(r.health_checks.traced, 0);
    assert!(r.health_checks.requests > 500);
    assert!(r.jobs.traced < r.jobs.requests / 3, "{:?}", r.jobs);
}

#[test]
fn every_document_is_valid_and_free_of_pii() {
    let docs = &run().docs;
    assert!(docs.len() > 2_000);
    for d in docs {
        schema::validate_document(d).unwrap();
        let text = serde_json::to_string(d).unwrap();
        assert!(pii::find_card_numbers(&text).is_empty(), "{text}");
        assert!(!pii::is_raw_customer_id(&text), "{text}");
    }
    let hashed = docs
        .iter()
        .flat_map(spans)
        .filter_map(|s| s.annotation("CustomerId").and_then(|v| v.as_str()))
        .count();
    assert!(hashed >= 600);
}

#[test]
fn the_same_seed_gives_the_same_bytes() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let cfg = SimConfig {
        payments: 50,
        days: 1,
        seed: 3,
        ..SimConfig::default()
    };
    let texts = |seed: u64| {
        let e = MemoryEmitter::default();
        rt.block_on(simulate(
            &SimConfig {
                seed,
                ..cfg.clone()
            },
            &e,
        ))
        .unwrap();
        e.take()
            .iter()
            .map(|d| serde_json::to_string(d).unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(texts(3), texts(3));
    assert_ne!(texts(3), texts(4));
}
