//! A deterministic traffic simulator: N payments over D days through the real payment flow
//! and the embedded stand-ins, on a simulated clock, so days of history take seconds.
//!
//! Every request goes through the sampling rules; a sampled one is wrapped in the segments
//! AWS records around a function (the API Gateway stage, the Lambda service and function
//! segments with Initialization/Invocation/Overhead, the segments X-Ray infers for
//! DynamoDB and SQS) and handed to an [`Emitter`]. The mix follows the design note's
//! scenarios: see [`Scenario`].

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::sync::Arc;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use schema::SegmentDocument;
use serde::Serialize;
use serde_json::json;

use crate::error::Result;
use crate::flow::{Config, Handled, VaultLink, proxy_request, sqs_record};
use crate::ports::{Clock, Intent, SimClock, Status};
use crate::standins::{Env, LocalQueue, MemoryStore, SimPrism, SimStripe, cards};
use crate::xray::{Emitter, Sampler, Span, TraceHeader};

/// What happens to a simulated payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scenario {
    /// Created, charged, webhook processed, Prism told.
    Success,
    /// Stripe declines the card (402).
    CardDeclined,
    /// Scenario 1: Stripe's webhook never reaches VaultLink; the payment stays pending.
    WebhookNeverDelivered,
    /// Scenario 2: the webhook arrives but the payment-store update fails, on Stripe's
    /// retry too: charged at Stripe, still pending here.
    WebhookStoreFailure,
    /// Scenario 3: Prism delivery fails until the message lands in the DLQ; the nightly
    /// replay sends it again.
    PrismDeadLetter,
    /// Stripe delivers the same event twice; the second changes nothing.
    DuplicateWebhook,
    /// Stripe takes over 3 s.
    SlowPayment,
}

impl Scenario {
    /// Every scenario, in report order.
    pub const ALL: [Scenario; 7] = [
        Self::Success,
        Self::CardDeclined,
        Self::WebhookNeverDelivered,
        Self::WebhookStoreFailure,
        Self::PrismDeadLetter,
        Self::DuplicateWebhook,
        Self::SlowPayment,
    ];

    /// Share of payments, in percent.
    fn weight(self) -> u32 {
        match self {
            Self::Success => 78,
            Self::CardDeclined => 6,
            Self::WebhookNeverDelivered => 3,
            Self::WebhookStoreFailure => 3,
            Self::PrismDeadLetter => 3,
            Self::DuplicateWebhook => 4,
            Self::SlowPayment => 3,
        }
    }

    /// One line for people.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::CardDeclined => "card declined",
            Self::WebhookNeverDelivered => "webhook never delivered (scenario 1)",
            Self::WebhookStoreFailure => {
                "webhook received, payment-store update failed (scenario 2)"
            }
            Self::PrismDeadLetter => "Prism delivery failed into the DLQ (scenario 3)",
            Self::DuplicateWebhook => "Stripe retried a webhook (duplicate ignored)",
            Self::SlowPayment => "slow payment (over 3 s)",
        }
    }
}

/// What to simulate.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Payments.
    pub payments: usize,
    /// Days they spread over.
    pub days: u32,
    /// Seed: the same seed gives the same bytes.
    pub seed: u64,
    /// First day, epoch seconds at midnight UTC.
    pub start: f64,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            payments: 2_000,
            days: 7,
            seed: 42,
            // 2026-03-02T00:00:00Z
            start: 1_772_409_600.0,
        }
    }
}

/// Counts of one request kind.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Counted {
    /// Requests made.
    pub requests: u64,
    /// Of them, traced.
    pub traced: u64,
}

/// What a simulation did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SimReport {
    /// Payments by scenario, in creation order.
    pub scenarios: BTreeMap<Scenario, Vec<String>>,
    /// Final status of every payment.
    pub status: BTreeMap<String, Status>,
    /// Traces emitted.
    pub traces: u64,
    /// Segment documents emitted.
    pub documents: u64,
    /// Payment creations.
    pub payments: Counted,
    /// Webhook deliveries that reached VaultLink.
    pub webhooks: Counted,
    /// Prism delivery invocations.
    pub deliveries: Counted,
    /// DLQ replays.
    pub replays: Counted,
    /// Health checks (never traced).
    pub health_checks: Counted,
    /// Background jobs (10% traced).
    pub jobs: Counted,
    /// Values the PII guard kept out of traces.
    pub pii_blocked: u64,
    /// Messages left in the DLQ at the end.
    pub dlq_depth: usize,
    /// Payments Prism was told about.
    pub prism_delivered: usize,
    /// First and last instant simulated, epoch seconds.
    pub span: (f64, f64),
}

#[derive(Debug, Clone, PartialEq)]
enum Event {
    Create(usize),
    Webhook {
        payment_id: String,
        correlation_id: String,
        intent: Intent,
        event_id: String,
        succeeded: bool,
    },
    Deliver,
    Replay,
    Health,
    Job,
}

/// Runs the simulation, emitting every sampled trace.
pub async fn simulate(cfg: &SimConfig, emitter: &impl Emitter) -> Result<SimReport> {
    Simulator::new(cfg).run(cfg, emitter).await
}

type App = VaultLink<MemoryStore, LocalQueue, SimStripe, SimPrism>;

struct Simulator {
    app: App,
    clock: Arc<SimClock>,
    env: Env,
    queue: LocalQueue,
    store: MemoryStore,
    stripe: SimStripe,
    prism: SimPrism,
    rng: StdRng,
    sampler: Sampler,
    heap: BinaryHeap<Reverse<(i64, u64, usize)>>,
    events: Vec<Event>,
    seq: u64,
    report: SimReport,
    scenario_of: Vec<Scenario>,
}

fn micros(t: f64) -> i64 {
    (t * 1e6).round() as i64
}

impl Simulator {
    fn new(cfg: &SimConfig) -> Self {
        let clock = Arc::new(SimClock::new(cfg.start));
        let env = Env::new(clock.clone(), cfg.seed ^ 0x5eed);
        let config = Config::local();
        let store = MemoryStore::new(env.clone());
        let queue = LocalQueue::new(
            env.clone(),
            config.max_receives,
            &config.region,
            &config.account,
        );
        let stripe = SimStripe::new(env.clone(), &config.webhook_secret);
        let prism = SimPrism::new(env.clone());
        let app = VaultLink::new(
            store.clone(),
            queue.clone(),
            stripe.clone(),
            prism.clone(),
            clock.clone(),
            config,
            cfg.seed ^ 0x1d5,
        );
        Self {
            app,
            clock,
            env,
            queue,
            store,
            stripe,
            prism,
            rng: StdRng::seed_from_u64(cfg.seed),
            sampler: Sampler::default(),
            heap: BinaryHeap::new(),
            events: Vec::new(),
            seq: 0,
            report: SimReport::default(),
            scenario_of: Vec::new(),
        }
    }

    fn at(&mut self, t: f64, e: Event) {
        self.seq += 1;
        self.events.push(e);
        self.heap
            .push(Reverse((micros(t), self.seq, self.events.len() - 1)));
    }

    async fn run(mut self, cfg: &SimConfig, emitter: &impl Emitter) -> Result<SimReport> {
        let end = cfg.start + f64::from(cfg.days.max(1)) * 86_400.0;
        let total: u32 = Scenario::ALL.iter().map(|s| s.weight()).sum();
        let mut times: Vec<f64> = (0..cfg.payments)
            .map(|_| cfg.start + self.rng.random_range(0.0..(end - cfg.start - 600.0)))
            .collect();
        times.sort_by(f64::total_cmp);
        for (n, t) in times.into_iter().enumerate() {
            let mut pick = self.rng.random_range(0..total);
            let scenario = Scenario::ALL
                .into_iter()
                .find(|s| {
                    if pick < s.weight() {
                        true
                    } else {
                        pick -= s.weight();
                        false
                    }
                })
                .unwrap_or(Scenario::Success);
            self.scenario_of.push(scenario);
            self.at(t, Event::Create(n));
        }
        let mut t = cfg.start;
        while t < end {
            self.at(t + 17.0, Event::Health);
            t += 300.0;
        }
        let mut t = cfg.start;
        while t < end {
            self.at(t + 1_800.0, Event::Job);
            self.at(
                t + 23.5 * 3_600.0 - (t - cfg.start) % 86_400.0,
                Event::Replay,
            );
            t += 3_600.0;
        }
        self.report.span = (cfg.start, cfg.start);
        while let Some(Reverse((at, _, idx))) = self.heap.pop() {
            let now = at as f64 / 1e6;
            self.clock.set(now);
            self.report.span.1 = now;
            let event = self.events[idx].clone();
            self.handle(event, now, emitter).await?;
        }
        self.report.dlq_depth = self.queue.dlq_depth();
        self.report.prism_delivered = self.prism.delivered().len();
        self.report.status = self
            .store
            .payments()
            .into_iter()
            .map(|(id, p)| (id, p.status))
            .collect();
        Ok(self.report)
    }

    fn sample(&mut self, service: &str, method: &str, path: &str, now: f64) -> TraceHeader {
        let d = self
            .sampler
            .decide(service, method, path, now, &mut self.rng);
        let mut header = TraceHeader::new_root(now as u64, &mut self.rng, d.sampled);
        while crate::pii::has_card_number(&header.root) {
            header = TraceHeader::new_root(now as u64, &mut self.rng, d.sampled);
        }
        header
    }

    async fn handle(&mut self, event: Event, now: f64, emitter: &impl Emitter) -> Result<()> {
        match event {
            Event::Create(n) => self.create(n, now, emitter).await,
            Event::Webhook {
                payment_id,
                correlation_id,
                intent,
                event_id,
                succeeded,
            } => {
                let (body, sig) = self.stripe.webhook(
                    &event_id,
                    succeeded,
                    &intent,
                    &payment_id,
                    &correlation_id,
                    now,
                );
                let req = proxy_request(
                    "POST",
                    "/webhooks/stripe",
                    &[("Stripe-Signature", &sig)],
                    &body,
                );
                let header =
                    self.sample("VaultLink-WebhookService", "POST", "/webhooks/stripe", now);
                let service = Service::WEBHOOK;
                let trace = self.lambda_trace(&header, service, now);
                let handled = self
                    .app
                    .stripe_webhook(&req, &trace.function_header())
                    .await;
                let status = handled.response.status_code as u16;
                self.report.webhooks.requests += 1;
                if header.is_sampled() {
                    self.report.webhooks.traced += 1;
                }
                if status == 200 && self.queue.next_visible().is_some() {
                    self.at(self.clock.now() + 0.05, Event::Deliver);
                }
                let ua = "Stripe/1.0 (+https://stripe.com/docs/webhooks)";
                let ip = format!("54.187.174.{}", 169 + (now as u64 % 8));
                let client = Client {
                    method: "POST",
                    path: "/webhooks/stripe",
                    ip: &ip,
                    user_agent: ua,
                };
                self.finish_api(trace, handled, client, emitter).await
            }
            Event::Deliver => {
                // A message past its receive limit moves to the DLQ inside `receive`.
                let Some(m) = self.queue.receive(now) else {
                    return Ok(());
                };
                let header = self.sample("VaultLink-PrismDelivery", "*", "*", now);
                let trace = self.lambda_trace(&header, Service::DELIVERY, now);
                let arn = format!(
                    "arn:aws:sqs:{}:{}:vaultlink-prism-delivery",
                    self.app.cfg.region, self.app.cfg.account
                );
                let handled = self
                    .app
                    .deliver(&sqs_record(&m, &arn), &trace.function_header())
                    .await;
                self.report.deliveries.requests += 1;
                if header.is_sampled() {
                    self.report.deliveries.traced += 1;
                }
                if handled.response.batch_item_failures.is_empty() {
                    self.queue.ack(&m.receipt);
                } else {
                    // Visibility timeout 30 s, as the queue is configured.
                    let again = self.clock.now() + 30.0;
                    self.queue.nack(&m.receipt, again);
                    self.at(again + 0.01, Event::Deliver);
                }
                if self
                    .queue
                    .next_visible()
                    .is_some_and(|v| v <= self.clock.now())
                {
                    self.at(self.clock.now() + 0.01, Event::Deliver);
                }
                self.finish_lambda(trace, handled.span, emitter).await
            }
            Event::Replay => {
                if self.queue.dlq_depth() == 0 {
                    return Ok(());
                }
                let header = self.sample("VaultLink-DlqReplay", "*", "/webhooks/replay", now);
                let trace = self.lambda_trace(&header, Service::REPLAY, now);
                let handled = self.app.replay_dlq(&trace.function_header(), 10).await;
                self.report.replays.requests += 1;
                if header.is_sampled() {
                    self.report.replays.traced += 1;
                }
                if !handled.response.is_empty() {
                    self.at(self.clock.now() + 0.05, Event::Deliver);
                }
                if self.queue.dlq_depth() > 0 {
                    self.at(self.clock.now() + 60.0, Event::Replay);
                }
                self.finish_lambda(trace, handled.span, emitter).await
            }
            Event::Health => {
                let header = self.sample("VaultLink-Api", "GET", "/health", now);
                let _ = self.app.health();
                self.report.health_checks.requests += 1;
                if header.is_sampled() {
                    self.report.health_checks.traced += 1;
                }
                Ok(())
            }
            Event::Job => {
                let header = self.sample("VaultLink-Statements", "POST", "/jobs/statements", now);
                let trace = self.lambda_trace(&header, Service::JOB, now);
                self.report.jobs.requests += 1;
                let mut span = Span::new(
                    "GenerateStatements",
                    self.app.segment_id(),
                    self.clock.now(),
                );
                let mut ddb =
                    Span::new("DynamoDB", self.app.segment_id(), self.clock.now()).namespace("aws");
                self.clock.advance(self.rng.random_range(0.02..0.2));
                ddb.aws("Query", &self.app.cfg.region, None);
                ddb.aws_table(&self.app.cfg.table);
                ddb.http_status(200);
                span.push(ddb.end(self.clock.now()));
                if header.is_sampled() {
                    self.report.jobs.traced += 1;
                }
                self.finish_lambda(trace, span.end(self.clock.now()), emitter)
                    .await
            }
        }
    }

    async fn create(&mut self, n: usize, now: f64, emitter: &impl Emitter) -> Result<()> {
        let scenario = self.scenario_of[n];
        let key = format!("idem-{:016x}-{n}", self.rng.random::<u64>());
        let payment_id = crate::flow::payment_id_for(&key);
        let customer = crate::standins::stripe_like_id(&mut self.rng, "cus", 14);
        let method = if scenario == Scenario::CardDeclined {
            cards::DECLINED
        } else {
            cards::VISA
        };
        let max = self.app.cfg.max_receives;
        match scenario {
            Scenario::SlowPayment => {
                let extra = self.rng.random_range(3.0..6.0);
                self.env.faults.delay("intent", &payment_id, extra);
            }
            Scenario::WebhookStoreFailure => self.env.faults.fail("settle", &payment_id, 2),
            Scenario::PrismDeadLetter => self.env.faults.fail("deliver", &payment_id, max),
            _ => {}
        }
        let currency = ["gbp", "eur", "usd"][self.rng.random_range(0..3)];
        let body = json!({
            "amount": self.rng.random_range(500..250_000),
            "currency": currency,
            "customer_id": customer,
            "payment_method": method,
        })
        .to_string();
        let req = proxy_request("POST", "/payments", &[("Idempotency-Key", &key)], &body);
        let header = self.sample("VaultLink-PaymentService", "POST", "/payments", now);
        let trace = self.lambda_trace(&header, Service::PAYMENT, now);
        let handled = self
            .app
            .create_payment(&req, &trace.function_header())
            .await;
        let status = handled.response.status_code as u16;
        self.report.payments.requests += 1;
        if header.is_sampled() {
            self.report.payments.traced += 1;
        }
        self.report
            .scenarios
            .entry(scenario)
            .or_default()
            .push(payment_id.clone());
        if status == 201 {
            let body: serde_json::Value = match &handled.response.body {
                Some(aws_lambda_events::encodings::Body::Text(t)) => {
                    serde_json::from_str(t).unwrap_or_default()
                }
                _ => serde_json::Value::Null,
            };
            let intent = Intent {
                id: body["intent_id"].as_str().unwrap_or_default().to_owned(),
                status: "succeeded".into(),
            };
            let correlation_id = handled.correlation_id.clone().unwrap_or_default();
            let event_id = self.stripe.event_id();
            let first = self.clock.now() + self.rng.random_range(2.0..20.0);
            let hook = Event::Webhook {
                payment_id: payment_id.clone(),
                correlation_id,
                intent,
                event_id,
                succeeded: true,
            };
            match scenario {
                Scenario::WebhookNeverDelivered => {}
                Scenario::WebhookStoreFailure => {
                    self.at(first, hook.clone());
                    // Stripe retries with backoff: about an hour later.
                    let retry = first + self.rng.random_range(3_000.0..4_200.0);
                    self.at(retry, hook);
                }
                Scenario::DuplicateWebhook => {
                    self.at(first, hook.clone());
                    let again = first + self.rng.random_range(30.0..300.0);
                    self.at(again, hook);
                }
                _ => self.at(first, hook),
            }
        }
        let ip = format!("203.0.113.{}", 1 + self.rng.random_range(0..254));
        let client = Client {
            method: "POST",
            path: "/payments",
            ip: &ip,
            user_agent: "VaultLinkCheckout/3.2 (iOS 18.1)",
        };
        self.finish_api(trace, handled, client, emitter).await
    }

    /// Starts the Lambda envelope of one invocation at `now`: ids, a cold start now and
    /// then, and the clock moved to where the handler begins.
    fn lambda_trace(&mut self, header: &TraceHeader, service: Service, now: f64) -> LambdaTrace {
        let cold = self.rng.random_bool(0.08);
        let init = if cold {
            self.rng.random_range(0.15..0.45)
        } else {
            0.0
        };
        let t = LambdaTrace {
            header: header.clone(),
            service,
            start: now,
            init,
            apigw: self.app.segment_id(),
            apigw_lambda: self.app.segment_id(),
            lambda: self.app.segment_id(),
            function: self.app.segment_id(),
            request_id: self.app.uuid(),
        };
        self.clock.set(now + 0.004 + init);
        t
    }

    async fn finish_api(
        &mut self,
        trace: LambdaTrace,
        handled: Handled<aws_lambda_events::apigw::ApiGatewayProxyResponse>,
        client: Client<'_>,
        emitter: &impl Emitter,
    ) -> Result<()> {
        let Client {
            method,
            path,
            ip: client_ip,
            user_agent,
        } = client;
        let status = handled.response.status_code as u16;
        if !trace.header.is_sampled() {
            return Ok(());
        }
        let (mut docs, end) =
            self.function_docs(&trace, handled.span, Some(trace.apigw_lambda.clone()));
        let cfg = &self.app.cfg;
        let mut api = Span::new("vaultlink-api/prod", trace.apigw.clone(), trace.start)
            .in_trace(&trace.header.root, None)
            .origin("AWS::ApiGateway::Stage")
            .resource_arn(&format!(
                "arn:aws:apigateway:{}::/restapis/a1b2c3d4e5/stages/prod",
                cfg.region
            ));
        api.http_request(
            method,
            &format!("https://api.vaultlink.example{path}"),
            Some(user_agent),
        );
        api.client_ip(client_ip);
        api.http_status(status);
        api.annotate("aws:api_id", "a1b2c3d4e5");
        api.annotate("aws:api_stage", "prod");
        api.aws_key("api_gateway", json!({"account_id": cfg.account, "rest_api_id": "a1b2c3d4e5", "stage": "prod", "request_id": trace.request_id}));
        let mut invoke =
            Span::new("Lambda", trace.apigw_lambda.clone(), trace.start + 0.001).namespace("aws");
        invoke.aws("Invoke", &cfg.region, Some(&trace.request_id));
        invoke.aws_key("function_name", json!(trace.service.function));
        invoke.http_status(200);
        api.push(invoke.end(end + 0.001));
        docs.insert(0, api.end(end + 0.002).into_doc());
        self.emit(docs, emitter).await
    }

    async fn finish_lambda(
        &mut self,
        trace: LambdaTrace,
        span: Span,
        emitter: &impl Emitter,
    ) -> Result<()> {
        if !trace.header.is_sampled() {
            return Ok(());
        }
        let (docs, _) = self.function_docs(&trace, span, None);
        self.emit(docs, emitter).await
    }

    async fn emit(&mut self, docs: Vec<SegmentDocument>, emitter: &impl Emitter) -> Result<()> {
        self.report.traces += 1;
        self.report.documents += docs.len() as u64;
        emitter.emit(docs).await
    }

    /// The Lambda service and function segments around the handler's subsegment, and the
    /// segments X-Ray infers for its DynamoDB and SQS calls. Returns them and the end time.
    fn function_docs(
        &mut self,
        trace: &LambdaTrace,
        handler: Span,
        parent: Option<String>,
    ) -> (Vec<SegmentDocument>, f64) {
        let cfg = self.app.cfg.clone();
        self.report.pii_blocked += handler.pii_blocked as u64;
        let handler_end = handler.doc().end_time.unwrap_or(trace.start);
        let fn_start = trace.start + 0.003;
        let invoke_start = fn_start + 0.001 + trace.init;
        let overhead_end = handler_end + 0.0005;
        let arn = format!(
            "arn:aws:lambda:{}:{}:function:{}",
            cfg.region, cfg.account, trace.service.function
        );
        let root = &trace.header.root;
        let mut function = Span::new(trace.service.name, trace.function.clone(), fn_start)
            .in_trace(root, Some(&trace.lambda))
            .origin("AWS::Lambda::Function")
            .resource_arn(&arn);
        function.aws_account(&cfg.account);
        function.aws_key("function_arn", json!(arn));
        function.aws_key(
            "xray",
            json!({"sdk": "xray-archive payment-core", "sdk_version": env!("CARGO_PKG_VERSION")}),
        );
        if trace.init > 0.0 {
            function.push(
                Span::new("Initialization", self.app.segment_id(), fn_start)
                    .end(fn_start + trace.init),
            );
        }
        let inferred = inferred_segments(handler.doc(), root, &cfg);
        let mut invocation = Span::new("Invocation", self.app.segment_id(), invoke_start);
        invocation.push(handler);
        function.push(invocation.end(handler_end));
        function.push(Span::new("Overhead", self.app.segment_id(), handler_end).end(overhead_end));
        let mut lambda = Span::new(
            trace.service.function,
            trace.lambda.clone(),
            trace.start + 0.002,
        )
        .in_trace(root, parent.as_deref())
        .origin("AWS::Lambda")
        .resource_arn(&arn);
        lambda.aws_key("request_id", json!(trace.request_id));
        lambda.http_status(200);
        let mut docs = vec![
            lambda.end(overhead_end + 0.0005).into_doc(),
            function.end(overhead_end).into_doc(),
        ];
        docs.extend(inferred);
        (docs, overhead_end + 0.001)
    }
}

/// Who called the API, as API Gateway records it.
struct Client<'a> {
    method: &'a str,
    path: &'a str,
    ip: &'a str,
    user_agent: &'a str,
}

/// The function a trace runs in.
#[derive(Debug, Clone, Copy)]
struct Service {
    function: &'static str,
    name: &'static str,
}

impl Service {
    const PAYMENT: Self = Self {
        function: "vaultlink-create-payment",
        name: "VaultLink-PaymentService",
    };
    const WEBHOOK: Self = Self {
        function: "vaultlink-stripe-webhook",
        name: "VaultLink-WebhookService",
    };
    const DELIVERY: Self = Self {
        function: "vaultlink-prism-delivery",
        name: "VaultLink-PrismDelivery",
    };
    const REPLAY: Self = Self {
        function: "vaultlink-dlq-replay",
        name: "VaultLink-DlqReplay",
    };
    const JOB: Self = Self {
        function: "vaultlink-statements",
        name: "VaultLink-Statements",
    };
}

struct LambdaTrace {
    header: TraceHeader,
    service: Service,
    start: f64,
    init: f64,
    apigw: String,
    apigw_lambda: String,
    lambda: String,
    function: String,
    request_id: String,
}

impl LambdaTrace {
    /// What `_X_AMZN_TRACE_ID` says inside the function: the root, under the function's
    /// segment.
    fn function_header(&self) -> TraceHeader {
        self.header.child(&self.function)
    }
}

/// The segments X-Ray infers for DynamoDB tables and SQS queues called in `doc`.
fn inferred_segments(doc: &SegmentDocument, trace_id: &str, cfg: &Config) -> Vec<SegmentDocument> {
    let mut out = Vec::new();
    let mut stack: Vec<&SegmentDocument> = doc.subsegments.iter().collect();
    let mut n = 0u64;
    while let Some(d) = stack.pop() {
        stack.extend(d.subsegments.iter());
        if d.namespace.as_deref() != Some("aws") {
            continue;
        }
        let aws = d.aws.as_ref().map(|a| a.value());
        let (name, origin) = match (d.name.as_deref(), aws) {
            (Some("DynamoDB"), Some(a)) => (
                a.table_name.clone().unwrap_or_else(|| cfg.table.clone()),
                "AWS::DynamoDB::Table",
            ),
            (Some("SQS"), Some(a)) => (
                a.queue_url
                    .as_deref()
                    .and_then(|u| u.rsplit('/').next())
                    .unwrap_or("queue")
                    .to_owned(),
                "AWS::SQS::Queue",
            ),
            _ => continue,
        };
        n += 1;
        // Inferred ids are derived from the call's id, so they stay deterministic.
        let parent = d.id.clone().unwrap_or_default();
        let id = format!(
            "{:016x}",
            u64::from_str_radix(&parent, 16)
                .unwrap_or(n)
                .rotate_left(17)
                ^ n
        );
        let mut s = Span::new(&name, id, d.start_time.unwrap_or_default())
            .in_trace(trace_id, Some(&parent))
            .origin(origin)
            .inferred();
        if let (Some(a), Some(op)) = (aws, aws.and_then(|a| a.operation.as_deref())) {
            s.aws(op, a.region.as_deref().unwrap_or(&cfg.region), None);
            if let Some(t) = &a.table_name {
                s.aws_table(t);
            }
            if let Some(q) = &a.queue_url {
                s.aws_queue(q);
            }
        }
        if let Some(status) = d
            .http
            .as_ref()
            .and_then(|h| h.response.as_ref())
            .and_then(|r| r.status)
        {
            s.http_status(status as u16);
        }
        out.push(s.end(d.end_time.unwrap_or_default()).into_doc());
    }
    out.sort_by(|a, b| {
        a.start_time
            .partial_cmp(&b.start_time)
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    out
}
