//! payment-core's AWS adapters against a real emulator server (moto, started by
//! tests/run.sh): the payments table on DynamoDB, the Prism queue with its DLQ on SQS, the
//! whole flow over them (the trace header and correlation id across a real SQS hop, a
//! duplicate webhook), and PutTraceSegments.

use e2e::unique;
use std::sync::Arc;

use aws_lambda_events::encodings::Body;
use payment_core::adapters::{DynamoStore, SqsQueue};
use payment_core::flow::{Config, VaultLink, proxy_request, sqs_record};
use payment_core::ports::{
    Created, Payment, PaymentStore, Queue, QueueMessage, Status, SystemClock,
};
use payment_core::standins::{Env, SimPrism, SimStripe};
use payment_core::xray::{ApiEmitter, Emitter, MemoryEmitter, TraceHeader};

fn moto() -> String {
    std::env::var("XRAY_ARCHIVE_MOTO").expect(
        "XRAY_ARCHIVE_MOTO is not set: run the tests with tests/run.sh, which starts the moto \
         emulator",
    )
}

async fn sdk() -> aws_config::SdkConfig {
    payment_core::lambda::aws_defaults()
        .endpoint_url(moto())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "static",
        ))
        .load()
        .await
}

fn payment(id: &str) -> Payment {
    Payment {
        payment_id: id.into(),
        idempotency_key: "idem-1".into(),
        amount: 1999,
        currency: "gbp".into(),
        customer_hash: "ab".repeat(32),
        correlation_id: "c-1".into(),
        status: Status::Pending,
        intent_id: None,
        created_at: 1_772_409_600.5,
    }
}

#[tokio::test]
async fn dynamodb_store_is_conditional_and_idempotent() {
    let sdk = sdk().await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), &unique("payments"));
    store.ensure_table().await.unwrap();
    let p = payment("pay_1");
    let (created, call) = store.create(&p).await.unwrap();
    assert_eq!(created, Created::New);
    assert!(call.request_id.is_some());
    let (again, _) = store.create(&p).await.unwrap();
    assert_eq!(again, Created::Existing(p.clone()));
    let (moved, _) = store
        .settle("pay_1", Status::Succeeded, "pi_1")
        .await
        .unwrap();
    assert!(moved, "pending -> succeeded");
    let (moved, _) = store.settle("pay_1", Status::Failed, "pi_1").await.unwrap();
    assert!(!moved, "no longer pending");
    let (read, _) = store.get("pay_1").await.unwrap();
    let read = read.unwrap();
    assert_eq!(
        (read.status, read.intent_id.as_deref()),
        (Status::Succeeded, Some("pi_1"))
    );
    assert!(!store.seen_event("evt_1").await.unwrap().0);
    store.record_event("evt_1", "pay_1").await.unwrap();
    assert!(store.seen_event("evt_1").await.unwrap().0);
    // A table that does not exist is a port error with DynamoDB's code and a status.
    let missing = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), "no-such-table");
    let err = missing.get("pay_1").await.unwrap_err();
    assert_eq!(err.service, "DynamoDB");
    assert_eq!(err.kind, "ResourceNotFoundException");
    assert_eq!(err.status, 400);
}

#[tokio::test]
async fn sqs_queue_keeps_attributes_and_redrives_to_the_dlq() {
    let sdk = sdk().await;
    let queue = SqsQueue::ensure(aws_sdk_sqs::Client::new(&sdk), &unique("prism"), 2)
        .await
        .unwrap();
    let header = "Root=1-69a4d300-0123456789abcdef01234567;Parent=0123456789abcdef;Sampled=1";
    let msg = QueueMessage {
        message_id: String::new(),
        body: r#"{"payment_id":"pay_1"}"#.into(),
        correlation_id: "c-1".into(),
        payment_id: "pay_1".into(),
        trace_header: header.into(),
        receipt: String::new(),
        receive_count: 0,
    };
    let (id, _) = queue.send(&msg).await.unwrap();
    for n in 1..=2 {
        let got = queue.receive(10, 0).await.unwrap();
        assert_eq!(got.len(), 1, "receive {n}");
        assert_eq!(got[0].message_id, id);
        assert_eq!(got[0].correlation_id, "c-1");
        assert_eq!(got[0].payment_id, "pay_1");
        assert_eq!(got[0].trace_header, header);
        assert_eq!(got[0].receive_count, n);
    }
    // Over the redrive limit: the next receive moves it to the DLQ.
    assert!(queue.receive(10, 0).await.unwrap().is_empty());
    let (dead, _) = queue.receive_dlq(10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].payment_id, "pay_1");
    queue.delete_dlq(&dead[0].receipt).await.unwrap();
}

fn body(r: &aws_lambda_events::apigw::ApiGatewayProxyResponse) -> serde_json::Value {
    match &r.body {
        Some(Body::Text(t)) => serde_json::from_str(t).unwrap(),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn the_flow_over_dynamodb_and_sqs_carries_the_trace_across_the_hop() {
    let sdk = sdk().await;
    let cfg = Config {
        table: unique("payments"),
        ..Config::local()
    };
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), &cfg.table);
    store.ensure_table().await.unwrap();
    let queue = SqsQueue::ensure(aws_sdk_sqs::Client::new(&sdk), &unique("prism"), 3)
        .await
        .unwrap();
    let clock = Arc::new(SystemClock);
    let env = Env::new(clock.clone(), 1);
    let stripe = SimStripe::new(env.clone(), &cfg.webhook_secret);
    let prism = SimPrism::new(env);
    let app = VaultLink::new(
        store,
        queue.clone(),
        stripe.clone(),
        prism.clone(),
        clock,
        cfg,
        9,
    );

    let trace = TraceHeader::parse(
        "Root=1-69a4d300-aaaaaaaaaaaaaaaaaaaaaaaa;Parent=1111111111111111;Sampled=1",
    )
    .unwrap();
    let created = app
        .create_payment(
            &proxy_request("POST", 
                "/payments",
                &[("Idempotency-Key", "k-moto-1"), ("X-Correlation-Id", "corr-moto-1")],
                r#"{"amount":2500,"currency":"GBP","customer_id":"cus_NffrFeUfNV2Hib","payment_method":"pm_card_visa"}"#,
            ),
            &trace,
        )
        .await;
    assert_eq!(
        created.response.status_code, 201,
        "{:?}",
        created.response.body
    );
    let payment_id = body(&created.response)["payment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let intent = payment_core::ports::Intent {
        id: body(&created.response)["intent_id"]
            .as_str()
            .unwrap()
            .to_owned(),
        status: "succeeded".into(),
    };

    let hook_trace = TraceHeader::parse(
        "Root=1-69a4d301-bbbbbbbbbbbbbbbbbbbbbbbb;Parent=2222222222222222;Sampled=1",
    )
    .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let (event, signature) =
        stripe.webhook("evt_moto_1", true, &intent, &payment_id, "corr-moto-1", now);
    let hook = proxy_request(
        "POST",
        "/webhooks/stripe",
        &[("Stripe-Signature", &signature)],
        &event,
    );
    let handled = app.stripe_webhook(&hook, &hook_trace).await;
    assert_eq!(
        handled.response.status_code, 200,
        "{:?}",
        handled.response.body
    );
    let sqs_span = handled
        .span
        .doc()
        .subsegments
        .iter()
        .find(|s| s.name.as_deref() == Some("SQS"))
        .unwrap()
        .clone();

    // The message, as SQS hands it to the delivery function.
    let received = queue.receive(10, 30).await.unwrap();
    assert_eq!(received.len(), 1);
    let m = &received[0];
    assert_eq!(m.correlation_id, "corr-moto-1");
    assert_eq!(m.payment_id, payment_id);
    let carried = TraceHeader::parse(&m.trace_header).unwrap();
    assert_eq!(carried.root, hook_trace.root);
    assert_eq!(carried.parent.as_deref(), sqs_span.id.as_deref());

    let arn = "arn:aws:sqs:us-east-1:123456789012:prism";
    let delivery_trace = TraceHeader::parse(
        "Root=1-69a4d302-cccccccccccccccccccccccc;Parent=3333333333333333;Sampled=1",
    )
    .unwrap();
    let delivered = app.deliver(&sqs_record(m, arn), &delivery_trace).await;
    assert!(delivered.response.batch_item_failures.is_empty());
    let span = delivered.span.doc();
    assert_eq!(
        span.annotation("CorrelationId").and_then(|v| v.as_str()),
        Some("corr-moto-1")
    );
    let links = span
        .extra
        .iter()
        .find(|(k, _)| k == "links")
        .unwrap()
        .1
        .get()
        .to_owned();
    assert!(
        links.contains(&hook_trace.root) && links.contains(sqs_span.id.as_deref().unwrap()),
        "{links}"
    );
    queue.delete(&m.receipt).await.unwrap();
    assert_eq!(prism.delivered(), vec![payment_id.clone()]);

    // Stripe delivers the same event again: 200, nothing changes, nothing is queued.
    let again = app.stripe_webhook(&hook, &hook_trace).await;
    assert_eq!(again.response.status_code, 200);
    assert_eq!(body(&again.response)["duplicate"], true);
    assert!(queue.receive(10, 0).await.unwrap().is_empty());
    let (stored, _) = app.store.get(&payment_id).await.unwrap();
    assert_eq!(stored.unwrap().status, Status::Succeeded);

    // A tampered body is rejected before anything is read.
    let tampered = proxy_request(
        "POST",
        "/webhooks/stripe",
        &[("Stripe-Signature", &signature)],
        &event.replace("succeeded", "payment_failed"),
    );
    assert_eq!(
        app.stripe_webhook(&tampered, &hook_trace)
            .await
            .response
            .status_code,
        400
    );
}

#[tokio::test]
async fn put_trace_segments_reaches_xray() {
    let sdk = sdk().await;
    let client = aws_sdk_xray::Client::new(&sdk);
    let memory = MemoryEmitter::default();
    let start = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 86_400
        * 86_400) as f64;
    let cfg = payment_core::sim::SimConfig {
        payments: 5,
        days: 1,
        // A seed no earlier run against the same emulator used: fresh trace ids.
        seed: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64,
        start,
    };
    payment_core::sim::simulate(&cfg, &memory).await.unwrap();
    let docs = memory.take();
    let mut traces: Vec<String> = docs.iter().filter_map(|d| d.trace_id.clone()).collect();
    traces.sort();
    traces.dedup();
    ApiEmitter::new(client.clone())
        .emit(docs.clone())
        .await
        .unwrap();
    let mut found = 0;
    for chunk in traces.chunks(5) {
        let out = client
            .batch_get_traces()
            .set_trace_ids(Some(chunk.to_vec()))
            .send()
            .await
            .unwrap();
        found += out
            .traces()
            .iter()
            .map(|t| t.segments().len())
            .sum::<usize>();
    }
    assert_eq!(found, docs.len());
}
