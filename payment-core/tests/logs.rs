//! Every log line of a request is JSON and carries its trace id and correlation id, and no
//! line carries a card number or a raw customer id.

use std::io::Write;
use std::sync::{Arc, Mutex};

use payment_core::flow::{Config, VaultLink, proxy_request};
use payment_core::pii;
use payment_core::ports::SimClock;
use payment_core::standins::{Env, LocalQueue, MemoryStore, SimPrism, SimStripe};
use payment_core::xray::TraceHeader;

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Buffer {
    type Writer = Buffer;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[test]
fn every_line_carries_the_trace_and_correlation_ids() {
    let buffer = Buffer::default();
    let subscriber = payment_core::logs::json_subscriber(buffer.clone());
    let _guard = tracing::subscriber::set_default(subscriber);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let clock = Arc::new(SimClock::new(1_772_409_600.0));
    let env = Env::new(clock.clone(), 1);
    let cfg = Config::local();
    let stripe = SimStripe::new(env.clone(), &cfg.webhook_secret);
    let app = VaultLink::new(
        MemoryStore::new(env.clone()),
        LocalQueue::new(env.clone(), 3, "us-east-1", "123456789012"),
        stripe.clone(),
        SimPrism::new(env),
        clock,
        cfg,
        5,
    );
    let trace = TraceHeader::parse(
        "Root=1-69a4d300-aaaaaaaaaaaaaaaaaaaaaaaa;Parent=1111111111111111;Sampled=1",
    )
    .unwrap();
    rt.block_on(async {
        for (key, method) in [("k1", "pm_card_visa"), ("k2", "pm_card_chargeDeclined")] {
            let body = format!(
                r#"{{"amount":2500,"currency":"gbp","customer_id":"cus_NffrFeUfNV2Hib","payment_method":"{method}"}}"#
            );
            app.create_payment(
                &proxy_request("POST", "/payments", &[("Idempotency-Key", key), ("X-Correlation-Id", "corr-42")], &body),
                &trace,
            )
            .await;
        }
        // A bad webhook signature is logged too, under the same trace.
        app.stripe_webhook(&proxy_request("POST", "/webhooks/stripe", &[("Stripe-Signature", "t=1,v1=00")], "{}"), &trace)
            .await;
    });
    let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 5, "{text}");
    for line in lines {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert_eq!(v["span"]["trace_id"], trace.root, "{line}");
        assert!(v["span"].get("correlation_id").is_some(), "{line}");
        assert!(
            pii::find_card_numbers(line).is_empty() && !pii::is_raw_customer_id(line),
            "{line}"
        );
    }
    assert!(text.contains("\"correlation_id\":\"corr-42\""));
    assert!(text.contains("card declined"));
}
