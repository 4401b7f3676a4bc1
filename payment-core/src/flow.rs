//! The VaultLink payment flow: `POST /payments`, `POST /webhooks/stripe`, Prism delivery
//! from SQS, the DLQ replay and the health check. Each handler runs over the ports, records
//! its X-Ray subsegment (with one subsegment per downstream call), and logs JSON lines that
//! carry the trace id and correlation id.
//!
//! Handlers return their subsegment; the caller decides where it goes: in Lambda it is sent
//! as an independent subsegment under the function's segment ([`crate::lambda`]); the
//! simulator wraps it in the segments API Gateway and Lambda record ([`crate::sim`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsMessage};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use sha2::Digest;
use tracing::Instrument;

use crate::pii;
use crate::ports::{
    Call, Clock, Created, IntentRequest, Payment, PaymentStore, PortError, Prism, Queue,
    QueueMessage, Status, Stripe,
};
use crate::stripe;
use crate::xray::{Span, TraceHeader};

/// Handler subsegment names (the X-Ray console shows them under the function).
pub mod names {
    /// `POST /payments`.
    pub const CREATE: &str = "CreatePayment";
    /// `POST /webhooks/stripe`.
    pub const WEBHOOK: &str = "HandleStripeWebhook";
    /// SQS -> Prism.
    pub const DELIVER: &str = "DeliverToPrism";
    /// DLQ -> queue.
    pub const REPLAY: &str = "ReplayDlq";
    /// One message of a replay.
    pub const REPLAY_MESSAGE: &str = "ReplayMessage";
}

/// Settings of a deployment.
#[derive(Debug, Clone)]
pub struct Config {
    /// AWS region.
    pub region: String,
    /// AWS account id.
    pub account: String,
    /// The payments table.
    pub table: String,
    /// The key customer ids are hashed under.
    pub customer_key: Vec<u8>,
    /// The Stripe webhook endpoint secret (`whsec_...`).
    pub webhook_secret: String,
    /// The Prism queue's redrive limit.
    pub max_receives: u32,
}

impl Config {
    /// The settings the embedded default and the simulator use.
    pub fn local() -> Self {
        Self {
            region: "us-east-1".into(),
            account: "123456789012".into(),
            table: "vaultlink-payments".into(),
            customer_key: b"local-demo-customer-key".to_vec(),
            webhook_secret: "whsec_local_demo".into(),
            max_receives: 3,
        }
    }
}

/// The outcome of a handler: its response and its finished subsegment.
#[derive(Debug)]
pub struct Handled<T> {
    /// What the handler answers.
    pub response: T,
    /// The handler's subsegment, ended.
    pub span: Span,
    /// The payment it touched.
    pub payment_id: Option<String>,
    /// The correlation id it ran under.
    pub correlation_id: Option<String>,
}

/// The payment flow over its ports.
pub struct VaultLink<S, Q, P, R> {
    /// Payments table.
    pub store: S,
    /// Prism queue.
    pub queue: Q,
    /// Stripe.
    pub stripe: P,
    /// Prism.
    pub prism: R,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Settings.
    pub cfg: Config,
    ids: Mutex<StdRng>,
}

fn response(status: u16, body: &Value) -> ApiGatewayProxyResponse {
    let mut r = ApiGatewayProxyResponse::default();
    r.status_code = i64::from(status);
    r.headers.insert(
        "content-type",
        "application/json".parse().expect("a header value"),
    );
    r.body = Some(Body::Text(body.to_string()));
    r
}

/// An API Gateway proxy request, as API Gateway hands one to the function (for the
/// simulator, tests and benchmarks).
pub fn proxy_request(
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> ApiGatewayProxyRequest {
    let mut r = ApiGatewayProxyRequest::default();
    r.http_method = method.parse().expect("an HTTP method");
    r.path = Some(path.to_owned());
    for (k, v) in headers {
        r.headers.insert(
            aws_lambda_events::http::HeaderName::from_bytes(k.as_bytes()).expect("a header name"),
            v.parse().expect("a header value"),
        );
    }
    r.body = Some(body.to_owned());
    r
}

fn header<'a>(req: &'a ApiGatewayProxyRequest, name: &str) -> Option<&'a str> {
    req.headers
        .iter()
        .find(|(k, _)| k.as_str().eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.to_str().ok())
}

fn body_text(req: &ApiGatewayProxyRequest) -> String {
    req.body.clone().unwrap_or_default()
}

/// `pay_` and 24 hex digits of SHA-256 over the idempotency key: a retried request maps to
/// the same payment.
pub fn payment_id_for(idempotency_key: &str) -> String {
    let digest = sha2::Sha256::digest(idempotency_key.as_bytes());
    format!("pay_{}", &hex::encode(digest)[..24])
}

impl<S: PaymentStore, Q: Queue, P: Stripe, R: Prism> VaultLink<S, Q, P, R> {
    /// The flow over its ports; `seed` drives segment and correlation ids.
    pub fn new(
        store: S,
        queue: Q,
        stripe: P,
        prism: R,
        clock: Arc<dyn Clock>,
        cfg: Config,
        seed: u64,
    ) -> Self {
        Self {
            store,
            queue,
            stripe,
            prism,
            clock,
            cfg,
            ids: Mutex::new(StdRng::seed_from_u64(seed)),
        }
    }

    /// A segment id; drawn again in the rare case it reads as a card number.
    pub fn segment_id(&self) -> String {
        let mut r = self.ids.lock().expect("id lock");
        loop {
            let id = crate::xray::new_segment_id(&mut *r);
            if !pii::has_card_number(&id) {
                return id;
            }
        }
    }

    /// A UUID-shaped correlation id.
    pub fn uuid(&self) -> String {
        let mut r = self.ids.lock().expect("id lock");
        loop {
            let v: u128 = r.random();
            let h = format!("{v:032x}");
            let id = format!(
                "{}-{}-4{}-a{}-{}",
                &h[..8],
                &h[8..12],
                &h[13..16],
                &h[17..20],
                &h[20..32]
            );
            if !pii::has_card_number(&id) {
                return id;
            }
        }
    }

    fn now(&self) -> f64 {
        self.clock.now()
    }

    /// A subsegment for an AWS call.
    fn aws_span(&self, service: &str) -> Span {
        Span::new(service, self.segment_id(), self.now()).namespace("aws")
    }

    /// Ends a downstream call's subsegment with its outcome.
    fn close(
        &self,
        mut span: Span,
        aws_op: Option<&str>,
        result: Result<&Call, &PortError>,
    ) -> Span {
        let (status, request_id) = match result {
            Ok(c) => (c.status, c.request_id.as_deref()),
            Err(e) => (e.status, e.request_id.as_deref()),
        };
        if let Some(op) = aws_op {
            span.aws(op, &self.cfg.region, request_id);
        }
        if status > 0 {
            span.http_status(status);
        }
        if let Err(e) = result {
            if status == 0 {
                span.fault();
            }
            span.exception(self.segment_id(), &e.kind, &e.message, true);
        }
        span.end(self.now())
    }

    fn dynamo(&self) -> Span {
        let mut s = self.aws_span("DynamoDB");
        s.aws_table(&self.cfg.table);
        s
    }

    /// Ends an API handler's subsegment with its status and wraps the response.
    fn answered(
        &self,
        mut span: Span,
        status: u16,
        body: &Value,
        payment_id: Option<String>,
        correlation_id: Option<String>,
    ) -> Handled<ApiGatewayProxyResponse> {
        span.http_status(status);
        Handled {
            response: response(status, body),
            span: span.end(self.now()),
            payment_id,
            correlation_id,
        }
    }

    /// `GET /health`: no downstream calls, never traced (the sampling rules say 0%).
    pub fn health(&self) -> ApiGatewayProxyResponse {
        response(200, &json!({"status": "ok"}))
    }

    /// `POST /payments`.
    pub async fn create_payment(
        &self,
        req: &ApiGatewayProxyRequest,
        trace: &TraceHeader,
    ) -> Handled<ApiGatewayProxyResponse> {
        let correlation_id = header(req, "x-correlation-id")
            .filter(|c| !c.is_empty() && c.len() <= 64 && pii::check(c).is_none())
            .map_or_else(|| self.uuid(), str::to_owned);
        let log = tracing::info_span!("request", trace_id = %trace.root, correlation_id = %correlation_id, route = "POST /payments");
        let mut span = Span::new(names::CREATE, self.segment_id(), self.now());
        span.annotate("CorrelationId", correlation_id.as_str());
        span.annotate("PaymentProvider", "Stripe");
        let (status, body, payment_id) = self
            .create_inner(req, &correlation_id, &mut span)
            .instrument(log)
            .await;
        self.answered(span, status, &body, payment_id, Some(correlation_id))
    }

    async fn create_inner(
        &self,
        req: &ApiGatewayProxyRequest,
        correlation_id: &str,
        span: &mut Span,
    ) -> (u16, Value, Option<String>) {
        let invalid = |msg: &str| {
            tracing::warn!(reason = msg, "payment request rejected");
            (400, json!({"error": msg}), None)
        };
        let Some(key) = header(req, "idempotency-key").filter(|k| !k.is_empty() && k.len() <= 255)
        else {
            return invalid("the Idempotency-Key header is required (1 to 255 characters)");
        };
        let body: Value = match serde_json::from_str(&body_text(req)) {
            Ok(v) => v,
            Err(_) => {
                return invalid(
                    "the body must be JSON: {amount, currency, customer_id, payment_method}",
                );
            }
        };
        let amount = body["amount"]
            .as_i64()
            .filter(|a| (1..=99_999_999).contains(a));
        let currency = body["currency"]
            .as_str()
            .filter(|c| c.len() == 3 && c.chars().all(|ch| ch.is_ascii_alphabetic()))
            .map(str::to_ascii_lowercase);
        let customer = body["customer_id"].as_str().filter(|c| !c.is_empty());
        let method = body["payment_method"]
            .as_str()
            .filter(|m| m.starts_with("pm_"));
        let (Some(amount), Some(currency), Some(customer), Some(method)) =
            (amount, currency, customer, method)
        else {
            return invalid(
                "amount (1 to 99999999 minor units), currency (3 letters), customer_id and payment_method (pm_...) are required",
            );
        };
        let payment_id = payment_id_for(key);
        let customer_hash = pii::hash_customer_id(&self.cfg.customer_key, customer);
        span.annotate("PaymentId", payment_id.as_str());
        span.annotate("CustomerId", customer_hash.as_str());
        span.metadata(
            "VaultLink",
            "request",
            json!({"amount_minor": amount, "currency": currency, "route": "/payments"}),
        );
        tracing::info!(payment_id, amount, currency, "payment requested");
        let payment = Payment {
            payment_id: payment_id.clone(),
            idempotency_key: key.to_owned(),
            amount,
            currency: currency.clone(),
            customer_hash,
            correlation_id: correlation_id.to_owned(),
            status: Status::Pending,
            intent_id: None,
            created_at: self.now(),
        };
        let ddb = self.dynamo();
        let created = self.store.create(&payment).await;
        span.push(self.close(ddb, Some("PutItem"), created.as_ref().map(|(_, c)| c)));
        match created {
            Err(e) => {
                tracing::error!(error = %e, "writing the payment failed");
                span.exception(self.segment_id(), &e.kind, &e.message, true);
                return (
                    500,
                    json!({"error": "payment store unavailable", "payment_id": payment_id}),
                    Some(payment_id),
                );
            }
            Ok((Created::Existing(p), _)) => {
                tracing::info!(payment_id, "idempotent replay of an earlier request");
                span.annotate("IdempotentReplay", true);
                return (
                    200,
                    json!({"payment_id": p.payment_id, "status": p.status.as_str()}),
                    Some(payment_id),
                );
            }
            Ok((Created::New, _)) => {}
        }
        let mut stripe_span =
            Span::new("api.stripe.com", self.segment_id(), self.now()).namespace("remote");
        stripe_span.http_request(
            "POST",
            &format!("{}/v1/payment_intents", self.stripe.base_url()),
            None,
        );
        let intent = self
            .stripe
            .create_intent(&IntentRequest {
                amount,
                currency,
                payment_method: method.to_owned(),
                payment_id: payment_id.clone(),
                correlation_id: correlation_id.to_owned(),
                idempotency_key: key.to_owned(),
            })
            .await;
        span.push(self.close(stripe_span, None, intent.as_ref().map(|(_, c)| c)));
        match intent {
            Ok((intent, _)) => {
                tracing::info!(payment_id, intent = intent.id, "PaymentIntent created");
                span.metadata(
                    "VaultLink",
                    "intent",
                    json!({"id": intent.id, "status": intent.status}),
                );
                (
                    201,
                    json!({"payment_id": payment_id, "status": "pending", "intent_id": intent.id}),
                    Some(payment_id),
                )
            }
            Err(e) if e.status == 402 => {
                tracing::warn!(payment_id, decline = %e.message, "card declined");
                let ddb = self.dynamo();
                let settled = self.store.settle(&payment_id, Status::Failed, "").await;
                span.push(self.close(ddb, Some("UpdateItem"), settled.as_ref().map(|(_, c)| c)));
                (
                    402,
                    json!({"payment_id": payment_id, "status": "failed", "error": e.message}),
                    Some(payment_id),
                )
            }
            Err(e) => {
                tracing::error!(payment_id, error = %e, "Stripe failed");
                (
                    502,
                    json!({"payment_id": payment_id, "error": "payment provider unavailable"}),
                    Some(payment_id),
                )
            }
        }
    }

    /// `POST /webhooks/stripe`.
    pub async fn stripe_webhook(
        &self,
        req: &ApiGatewayProxyRequest,
        trace: &TraceHeader,
    ) -> Handled<ApiGatewayProxyResponse> {
        let log = tracing::info_span!("request", trace_id = %trace.root, correlation_id = "unverified", route = "POST /webhooks/stripe");
        let mut span = Span::new(names::WEBHOOK, self.segment_id(), self.now());
        span.annotate("PaymentProvider", "Stripe");
        let (status, body, payment_id, correlation_id) = self
            .webhook_inner(req, trace, &mut span)
            .instrument(log)
            .await;
        self.answered(span, status, &body, payment_id, correlation_id)
    }

    async fn webhook_inner(
        &self,
        req: &ApiGatewayProxyRequest,
        trace: &TraceHeader,
        span: &mut Span,
    ) -> (u16, Value, Option<String>, Option<String>) {
        let body = body_text(req);
        let signature = header(req, "stripe-signature").unwrap_or_default();
        if let Err(e) = stripe::verify(
            signature,
            body.as_bytes(),
            &self.cfg.webhook_secret,
            self.now() as i64,
            stripe::TOLERANCE_SECONDS,
        ) {
            tracing::warn!(error = %e, "webhook signature rejected");
            span.exception(
                self.segment_id(),
                "SignatureVerificationError",
                &e.to_string(),
                false,
            );
            return (400, json!({"error": e.to_string()}), None, None);
        }
        let event: stripe::Event = match serde_json::from_str(&body) {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(error = %e, "webhook body is not a Stripe event");
                return (400, json!({"error": "not a Stripe event"}), None, None);
            }
        };
        let meta = &event.data.object.metadata;
        let (Some(payment_id), correlation_id) = (
            meta.get("payment_id").cloned(),
            meta.get("correlation_id").cloned().unwrap_or_default(),
        ) else {
            tracing::info!(event = event.id, "event for no VaultLink payment; ignored");
            return (200, json!({"ignored": true}), None, None);
        };
        tracing::Span::current().record("correlation_id", correlation_id.as_str());
        span.annotate("PaymentId", payment_id.as_str());
        span.annotate("CorrelationId", correlation_id.as_str());
        span.annotate("StripeEventType", event.kind.as_str());
        span.metadata(
            "Stripe",
            "event",
            json!({"id": event.id, "intent": event.data.object.id}),
        );
        let ids = (Some(payment_id.clone()), Some(correlation_id.clone()));

        let ddb = self.dynamo();
        let seen = self.store.seen_event(&event.id).await;
        span.push(self.close(ddb, Some("GetItem"), seen.as_ref().map(|(_, c)| c)));
        match seen {
            Err(e) => {
                tracing::error!(error = %e, "reading processed events failed");
                return (
                    500,
                    json!({"error": "payment store unavailable"}),
                    ids.0,
                    ids.1,
                );
            }
            Ok((true, _)) => {
                tracing::info!(event = event.id, payment_id, "duplicate webhook ignored");
                span.annotate("DuplicateEvent", true);
                return (200, json!({"duplicate": true}), ids.0, ids.1);
            }
            Ok((false, _)) => {}
        }
        let status = if event.kind == "payment_intent.succeeded" {
            Status::Succeeded
        } else {
            Status::Failed
        };
        let ddb = self.dynamo();
        let settled = self
            .store
            .settle(&payment_id, status, &event.data.object.id)
            .await;
        let settled_span = self.close(ddb, Some("UpdateItem"), settled.as_ref().map(|(_, c)| c));
        span.push(settled_span);
        if let Err(e) = settled {
            tracing::error!(payment_id, error = %e, "updating the payment failed; Stripe will retry");
            span.exception(self.segment_id(), &e.kind, &e.message, true);
            return (
                500,
                json!({"error": "payment store unavailable"}),
                ids.0,
                ids.1,
            );
        }
        let mut sqs = self.aws_span("SQS");
        sqs.aws_queue(&self.queue.url());
        let message = QueueMessage {
            message_id: String::new(),
            body: json!({"payment_id": payment_id, "status": status.as_str(), "intent_id": event.data.object.id}).to_string(),
            correlation_id: correlation_id.clone(),
            payment_id: payment_id.clone(),
            trace_header: trace.child(sqs.id()).to_string(),
            receipt: String::new(),
            receive_count: 0,
        };
        let sent = self.queue.send(&message).await;
        if let Ok((id, _)) = &sent {
            sqs.aws_key("message_id", json!(id));
        }
        span.push(self.close(sqs, Some("SendMessage"), sent.as_ref().map(|(_, c)| c)));
        if let Err(e) = sent {
            tracing::error!(payment_id, error = %e, "queueing the Prism notification failed");
            span.exception(self.segment_id(), &e.kind, &e.message, true);
            return (500, json!({"error": "queue unavailable"}), ids.0, ids.1);
        }
        let ddb = self.dynamo();
        let recorded = self.store.record_event(&event.id, &payment_id).await;
        span.push(self.close(ddb, Some("PutItem"), recorded.as_ref()));
        tracing::info!(
            payment_id,
            status = status.as_str(),
            "payment settled and Prism notification queued"
        );
        (
            200,
            json!({"payment_id": payment_id, "status": status.as_str()}),
            ids.0,
            ids.1,
        )
    }

    /// Prism delivery for one SQS record. A failure is reported as a batch item failure,
    /// so SQS retries it and, after the redrive limit, moves it to the DLQ.
    pub async fn deliver(
        &self,
        record: &SqsMessage,
        trace: &TraceHeader,
    ) -> Handled<SqsBatchResponse> {
        let attr = |k: &str| {
            record
                .message_attributes
                .get(k)
                .and_then(|v| v.string_value.clone())
                .unwrap_or_default()
        };
        let correlation_id = attr("CorrelationId");
        let payment_id = attr("PaymentId");
        let receive_count: i64 = record
            .attributes
            .get("ApproximateReceiveCount")
            .and_then(|v| v.parse().ok())
            .unwrap_or(1);
        let upstream = record
            .attributes
            .get("AWSTraceHeader")
            .and_then(|h| TraceHeader::parse(h).ok());
        let log = tracing::info_span!("request", trace_id = %trace.root, correlation_id = %correlation_id, upstream_trace_id = upstream.as_ref().map_or("", |h| h.root.as_str()), route = "sqs vaultlink-prism-delivery");
        let mut span = Span::new(names::DELIVER, self.segment_id(), self.now());
        span.annotate("PaymentId", payment_id.as_str());
        span.annotate("CorrelationId", correlation_id.as_str());
        span.annotate("ApproximateReceiveCount", receive_count);
        if let Some(up) = &upstream {
            // Trace linking: the delivery is its own trace, linked to the webhook's.
            span.extra("links", &json!([{"trace_id": up.root, "id": up.parent}]));
            span.metadata("sqs", "upstream_trace_header", json!(up.to_string()));
        }
        let message_id = record.message_id.clone().unwrap_or_default();
        let failed = async {
            let mut prism = Span::new("Prism", self.segment_id(), self.now()).namespace("remote");
            prism.http_request("POST", &self.prism.url(), None);
            let body = record.body.clone().unwrap_or_default();
            let res = self.prism.deliver(&payment_id, &body).await;
            span.push(self.close(prism, None, res.as_ref()));
            match res {
                Ok(_) => {
                    tracing::info!(payment_id, receive_count, "delivered to Prism");
                    false
                }
                Err(e) => {
                    let last = receive_count >= i64::from(self.cfg.max_receives);
                    span.fault();
                    span.exception(self.segment_id(), &e.kind, &e.message, true);
                    if last {
                        span.annotate("DeadLettered", true);
                        span.metadata("sqs", "dead_letter_queue", json!(self.queue.dlq_url()));
                        tracing::error!(payment_id, receive_count, error = %e, "Prism delivery failed for the last time; the message goes to the DLQ");
                    } else {
                        tracing::warn!(payment_id, receive_count, error = %e, "Prism delivery failed; SQS will retry");
                    }
                    true
                }
            }
        }
        .instrument(log)
        .await;
        let mut response = SqsBatchResponse::default();
        if failed {
            let mut f = BatchItemFailure::default();
            f.item_identifier = message_id;
            response.batch_item_failures.push(f);
        }
        Handled {
            response,
            span: span.end(self.now()),
            payment_id: Some(payment_id),
            correlation_id: Some(correlation_id),
        }
    }

    /// Moves up to `max` messages from the DLQ back to the Prism queue. Each message gets a
    /// `ReplayMessage` subsegment with its payment's annotations; the resent message carries
    /// this trace's header.
    pub async fn replay_dlq(&self, trace: &TraceHeader, max: u32) -> Handled<Vec<String>> {
        let log = tracing::info_span!("request", trace_id = %trace.root, correlation_id = "", route = "replay vaultlink-prism-delivery-dlq");
        let mut span = Span::new(names::REPLAY, self.segment_id(), self.now());
        let replayed = async {
            let mut sqs = self.aws_span("SQS");
            sqs.aws_queue(&self.queue.dlq_url());
            let received = self.queue.receive_dlq(max).await;
            span.push(self.close(
                sqs,
                Some("ReceiveMessage"),
                received.as_ref().map(|(_, c)| c),
            ));
            let Ok((messages, _)) = received else {
                span.fault();
                return Vec::new();
            };
            let mut replayed = Vec::new();
            for m in messages {
                let mut one = Span::new(names::REPLAY_MESSAGE, self.segment_id(), self.now());
                one.annotate("PaymentId", m.payment_id.as_str());
                one.annotate("CorrelationId", m.correlation_id.as_str());
                let mut send = self.aws_span("SQS");
                send.aws_queue(&self.queue.url());
                let resend = QueueMessage {
                    trace_header: trace.child(send.id()).to_string(),
                    ..m.clone()
                };
                let sent = self.queue.send(&resend).await;
                one.push(self.close(send, Some("SendMessage"), sent.as_ref().map(|(_, c)| c)));
                if sent.is_ok() {
                    let mut del = self.aws_span("SQS");
                    del.aws_queue(&self.queue.dlq_url());
                    let deleted = self.queue.delete_dlq(&m.receipt).await;
                    one.push(self.close(del, Some("DeleteMessage"), deleted.as_ref()));
                    tracing::info!(
                        payment_id = m.payment_id,
                        correlation_id = m.correlation_id,
                        "replayed from the DLQ"
                    );
                    replayed.push(m.payment_id.clone());
                } else {
                    one.fault();
                }
                span.push(one.end(self.now()));
            }
            replayed
        }
        .instrument(log)
        .await;
        span.annotate("Replayed", replayed.len() as i64);
        Handled {
            response: replayed,
            span: span.end(self.now()),
            payment_id: None,
            correlation_id: None,
        }
    }
}

/// An SQS record as the Lambda event source delivers a queue message.
pub fn sqs_record(m: &QueueMessage, queue_arn: &str) -> SqsMessage {
    let mut r = SqsMessage::default();
    r.message_id = Some(m.message_id.clone());
    r.receipt_handle = Some(m.receipt.clone());
    r.body = Some(m.body.clone());
    r.event_source = Some("aws:sqs".into());
    r.event_source_arn = Some(queue_arn.to_owned());
    r.attributes = HashMap::from([
        (
            "ApproximateReceiveCount".to_owned(),
            m.receive_count.to_string(),
        ),
        ("AWSTraceHeader".to_owned(), m.trace_header.clone()),
    ]);
    for (k, v) in [
        ("CorrelationId", &m.correlation_id),
        ("PaymentId", &m.payment_id),
    ] {
        let mut a = aws_lambda_events::sqs::SqsMessageAttribute::default();
        a.data_type = Some("String".into());
        a.string_value = Some(v.clone());
        r.message_attributes.insert(k.to_owned(), a);
    }
    r
}
