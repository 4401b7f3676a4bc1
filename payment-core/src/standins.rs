//! Embedded stand-ins for the local default: an in-process payment store, an in-process
//! queue with redrive to a DLQ, a simulated Stripe that creates PaymentIntents and signs
//! webhooks, and a simulated Prism.
//!
//! Each call moves the shared clock forward by a seeded latency, so a simulated day of
//! traffic has realistic timings and runs in milliseconds. Failures are injected through
//! [`Faults`]: by operation and key (a payment id), a number of times.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::ports::{
    Call, Clock, Created, Intent, IntentRequest, Payment, PaymentStore, PortError, Prism, Queue,
    QueueMessage, Status, Stripe,
};

/// Injected failures and delays, shared by the stand-ins.
#[derive(Debug, Default)]
pub struct Faults {
    fail: Mutex<HashMap<(&'static str, String), u32>>,
    delay: Mutex<HashMap<(&'static str, String), f64>>,
}

impl Faults {
    /// Fails the next `times` calls of `op` (`settle`, `create`, `send`, `deliver`,
    /// `intent`) for `key`.
    pub fn fail(&self, op: &'static str, key: &str, times: u32) {
        self.fail
            .lock()
            .expect("faults lock")
            .insert((op, key.to_owned()), times);
    }

    /// Adds `seconds` to every call of `op` for `key`.
    pub fn delay(&self, op: &'static str, key: &str, seconds: f64) {
        self.delay
            .lock()
            .expect("faults lock")
            .insert((op, key.to_owned()), seconds);
    }

    fn take(&self, op: &'static str, key: &str) -> bool {
        let mut f = self.fail.lock().expect("faults lock");
        match f.get_mut(&(op, key.to_owned())) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        }
    }

    fn extra(&self, op: &'static str, key: &str) -> f64 {
        self.delay
            .lock()
            .expect("faults lock")
            .get(&(op, key.to_owned()))
            .copied()
            .unwrap_or(0.0)
    }
}

/// What the stand-ins share: the clock, a seeded generator and the faults.
#[derive(Clone)]
pub struct Env {
    /// The clock the stand-ins move.
    pub clock: Arc<dyn Clock>,
    /// Injected failures.
    pub faults: Arc<Faults>,
    rng: Arc<Mutex<StdRng>>,
}

impl Env {
    /// A new environment.
    pub fn new(clock: Arc<dyn Clock>, seed: u64) -> Self {
        Self {
            clock,
            faults: Arc::new(Faults::default()),
            rng: Arc::new(Mutex::new(StdRng::seed_from_u64(seed))),
        }
    }

    /// Lets a call of `lo..hi` milliseconds pass, plus any injected delay.
    fn latency(&self, lo: f64, hi: f64, op: &'static str, key: &str) {
        let ms = self.rng.lock().expect("rng lock").random_range(lo..hi);
        self.clock.advance(ms / 1000.0 + self.faults.extra(op, key));
    }

    /// A request id: `n` upper-case hex digits.
    fn request_id(&self, n: usize) -> String {
        let mut r = self.rng.lock().expect("rng lock");
        (0..n)
            .map(|_| char::from_digit(r.random_range(0..16), 16).expect("hex digit"))
            .collect::<String>()
            .to_uppercase()
    }

    /// A Stripe-style id: `prefix_` and 24 letters and digits.
    fn stripe_id(&self, prefix: &str) -> String {
        stripe_like_id(&mut *self.rng.lock().expect("rng lock"), prefix, 24)
    }
}

/// `prefix_` and `len` letters and digits, as Stripe ids (`pi_…`, `evt_…`, `cus_…`) look.
pub fn stripe_like_id(rng: &mut impl Rng, prefix: &str, len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let tail: String = (0..len)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect();
    format!("{prefix}_{tail}")
}

fn dynamo_fault(env: &Env) -> PortError {
    PortError {
        service: "DynamoDB",
        kind: "InternalServerError".into(),
        message: "Internal server error (Service: DynamoDb, Status Code: 500)".into(),
        status: 500,
        request_id: Some(env.request_id(52)),
    }
}

/// The payments table, in memory.
#[derive(Clone)]
pub struct MemoryStore {
    env: Env,
    payments: Arc<Mutex<BTreeMap<String, Payment>>>,
    events: Arc<Mutex<BTreeMap<String, String>>>,
}

impl MemoryStore {
    /// An empty table.
    pub fn new(env: Env) -> Self {
        Self {
            env,
            payments: Arc::default(),
            events: Arc::default(),
        }
    }

    /// Every payment, by id.
    pub fn payments(&self) -> BTreeMap<String, Payment> {
        self.payments.lock().expect("store lock").clone()
    }

    fn call(&self, op: &'static str, key: &str) -> Result<Call, PortError> {
        self.env.latency(3.0, 18.0, op, key);
        if self.env.faults.take(op, key) {
            return Err(dynamo_fault(&self.env));
        }
        Ok(Call::ok(self.env.request_id(52)))
    }
}

impl PaymentStore for MemoryStore {
    async fn create(&self, payment: &Payment) -> Result<(Created, Call), PortError> {
        let call = self.call("create", &payment.payment_id)?;
        let mut p = self.payments.lock().expect("store lock");
        match p.get(&payment.payment_id) {
            Some(existing) => Ok((Created::Existing(existing.clone()), call)),
            None => {
                p.insert(payment.payment_id.clone(), payment.clone());
                Ok((Created::New, call))
            }
        }
    }

    async fn get(&self, payment_id: &str) -> Result<(Option<Payment>, Call), PortError> {
        let call = self.call("get", payment_id)?;
        let p = self.payments.lock().expect("store lock");
        Ok((p.get(payment_id).cloned(), call))
    }

    async fn settle(
        &self,
        payment_id: &str,
        status: Status,
        intent_id: &str,
    ) -> Result<(bool, Call), PortError> {
        let call = self.call("settle", payment_id)?;
        let mut p = self.payments.lock().expect("store lock");
        match p.get_mut(payment_id) {
            Some(pay) if pay.status == Status::Pending => {
                pay.status = status;
                pay.intent_id = Some(intent_id.to_owned());
                Ok((true, call))
            }
            _ => Ok((
                false,
                Call {
                    status: 400,
                    ..call
                },
            )),
        }
    }

    async fn seen_event(&self, event_id: &str) -> Result<(bool, Call), PortError> {
        let call = self.call("seen_event", event_id)?;
        let e = self.events.lock().expect("store lock");
        Ok((e.contains_key(event_id), call))
    }

    async fn record_event(&self, event_id: &str, payment_id: &str) -> Result<Call, PortError> {
        let call = self.call("record_event", payment_id)?;
        self.events
            .lock()
            .expect("store lock")
            .insert(event_id.to_owned(), payment_id.to_owned());
        Ok(call)
    }
}

#[derive(Debug, Clone)]
struct Stored {
    message: QueueMessage,
    visible_at: f64,
}

#[derive(Debug, Default)]
struct Queues {
    main: VecDeque<Stored>,
    dlq: VecDeque<Stored>,
    in_flight: BTreeMap<String, Stored>,
    dlq_in_flight: BTreeMap<String, Stored>,
    receipts: u64,
}

/// The Prism queue and its DLQ, in memory, with SQS's redrive: a message received more
/// than `max_receives` times moves to the DLQ.
#[derive(Clone)]
pub struct LocalQueue {
    env: Env,
    max_receives: u32,
    queues: Arc<Mutex<Queues>>,
    region: String,
    account: String,
}

impl LocalQueue {
    /// A queue with the given redrive limit.
    pub fn new(env: Env, max_receives: u32, region: &str, account: &str) -> Self {
        Self {
            env,
            max_receives,
            queues: Arc::default(),
            region: region.to_owned(),
            account: account.to_owned(),
        }
    }

    /// The next visible message at `now`, as the Lambda event source receives it. A
    /// message over its receive limit moves to the DLQ instead.
    pub fn receive(&self, now: f64) -> Option<QueueMessage> {
        let mut q = self.queues.lock().expect("queue lock");
        loop {
            let at = q.main.iter().position(|s| s.visible_at <= now)?;
            let mut stored = q.main.remove(at).expect("position is valid");
            if stored.message.receive_count >= self.max_receives {
                stored.message.receive_count = 0;
                q.dlq.push_back(stored);
                continue;
            }
            stored.message.receive_count += 1;
            q.receipts += 1;
            stored.message.receipt = format!("rcpt-{}", q.receipts);
            q.in_flight
                .insert(stored.message.receipt.clone(), stored.clone());
            return Some(stored.message);
        }
    }

    /// The earliest time a message becomes visible.
    pub fn next_visible(&self) -> Option<f64> {
        let q = self.queues.lock().expect("queue lock");
        q.main.iter().map(|s| s.visible_at).reduce(f64::min)
    }

    /// Deletes a processed message.
    pub fn ack(&self, receipt: &str) {
        self.queues
            .lock()
            .expect("queue lock")
            .in_flight
            .remove(receipt);
    }

    /// Returns a failed message after its visibility timeout.
    pub fn nack(&self, receipt: &str, visible_at: f64) {
        let mut q = self.queues.lock().expect("queue lock");
        if let Some(mut s) = q.in_flight.remove(receipt) {
            s.visible_at = visible_at;
            q.main.push_back(s);
        }
    }

    /// Messages in the DLQ.
    pub fn dlq_depth(&self) -> usize {
        self.queues.lock().expect("queue lock").dlq.len()
    }
}

impl Queue for LocalQueue {
    fn url(&self) -> String {
        format!(
            "https://sqs.{}.amazonaws.com/{}/vaultlink-prism-delivery",
            self.region, self.account
        )
    }

    fn dlq_url(&self) -> String {
        format!("{}-dlq", self.url())
    }

    async fn send(&self, message: &QueueMessage) -> Result<(String, Call), PortError> {
        self.env.latency(4.0, 25.0, "send", &message.payment_id);
        if self.env.faults.take("send", &message.payment_id) {
            return Err(PortError {
                service: "SQS",
                kind: "InternalError".into(),
                message: "We encountered an internal error. Please try again.".into(),
                status: 500,
                request_id: Some(self.env.request_id(32)),
            });
        }
        let id = self.env.request_id(32).to_lowercase();
        let mut m = message.clone();
        m.message_id.clone_from(&id);
        m.receive_count = 0;
        let now = self.env.clock.now();
        self.queues
            .lock()
            .expect("queue lock")
            .main
            .push_back(Stored {
                message: m,
                visible_at: now,
            });
        Ok((id, Call::ok(self.env.request_id(32))))
    }

    async fn receive_dlq(&self, max: u32) -> Result<(Vec<QueueMessage>, Call), PortError> {
        self.env.latency(4.0, 20.0, "receive_dlq", "");
        let mut q = self.queues.lock().expect("queue lock");
        let mut out = Vec::new();
        while out.len() < max as usize {
            let Some(mut s) = q.dlq.pop_front() else {
                break;
            };
            q.receipts += 1;
            s.message.receipt = format!("dlq-rcpt-{}", q.receipts);
            s.message.receive_count += 1;
            q.dlq_in_flight.insert(s.message.receipt.clone(), s.clone());
            out.push(s.message);
        }
        Ok((out, Call::ok(self.env.request_id(32))))
    }

    async fn delete_dlq(&self, receipt: &str) -> Result<Call, PortError> {
        self.env.latency(4.0, 20.0, "delete_dlq", receipt);
        self.queues
            .lock()
            .expect("queue lock")
            .dlq_in_flight
            .remove(receipt);
        Ok(Call::ok(self.env.request_id(32)))
    }
}

/// Stripe test-mode payment methods the simulated Stripe understands.
pub mod cards {
    /// Succeeds.
    pub const VISA: &str = "pm_card_visa";
    /// Declined with `card_declined`.
    pub const DECLINED: &str = "pm_card_chargeDeclined";
}

/// A simulated Stripe: PaymentIntents, and signed webhook events for them.
#[derive(Clone)]
pub struct SimStripe {
    env: Env,
    secret: String,
}

impl SimStripe {
    /// Signing webhooks with the endpoint secret `secret`.
    pub fn new(env: Env, secret: &str) -> Self {
        Self {
            env,
            secret: secret.to_owned(),
        }
    }

    /// A webhook event for `intent`, and its `Stripe-Signature` header signed at `at`.
    pub fn webhook(
        &self,
        event_id: &str,
        succeeded: bool,
        intent: &Intent,
        payment_id: &str,
        correlation_id: &str,
        at: f64,
    ) -> (String, String) {
        let event = crate::stripe::Event {
            id: event_id.to_owned(),
            kind: if succeeded {
                "payment_intent.succeeded"
            } else {
                "payment_intent.payment_failed"
            }
            .into(),
            created: at as i64,
            data: crate::stripe::EventData {
                object: crate::stripe::IntentObject {
                    id: intent.id.clone(),
                    status: if succeeded {
                        "succeeded"
                    } else {
                        "requires_payment_method"
                    }
                    .into(),
                    metadata: [
                        ("payment_id".to_owned(), payment_id.to_owned()),
                        ("correlation_id".to_owned(), correlation_id.to_owned()),
                    ]
                    .into(),
                },
            },
        };
        let body = serde_json::to_string(&event).expect("an event serializes");
        let sig = crate::stripe::sign(&self.secret, at as i64, body.as_bytes());
        (body, sig)
    }

    /// A new event id.
    pub fn event_id(&self) -> String {
        self.env.stripe_id("evt")
    }
}

impl Stripe for SimStripe {
    fn base_url(&self) -> String {
        "https://api.stripe.com".into()
    }

    async fn create_intent(&self, r: &IntentRequest) -> Result<(Intent, Call), PortError> {
        self.env.latency(180.0, 900.0, "intent", &r.payment_id);
        let request_id = self.env.stripe_id("req");
        if r.payment_method == cards::DECLINED {
            return Err(PortError {
                service: "Stripe",
                kind: "card_error".into(),
                message: "Your card was declined.".into(),
                status: 402,
                request_id: Some(request_id),
            });
        }
        if self.env.faults.take("intent", &r.payment_id) {
            return Err(PortError {
                service: "Stripe",
                kind: "api_error".into(),
                message: "An unknown error occurred".into(),
                status: 500,
                request_id: Some(request_id),
            });
        }
        Ok((
            Intent {
                id: self.env.stripe_id("pi"),
                status: "processing".into(),
            },
            Call {
                request_id: Some(request_id),
                status: 200,
            },
        ))
    }
}

/// A simulated Prism.
#[derive(Clone)]
pub struct SimPrism {
    env: Env,
    delivered: Arc<Mutex<Vec<String>>>,
}

impl SimPrism {
    /// A healthy Prism (failures come from [`Faults`]).
    pub fn new(env: Env) -> Self {
        Self {
            env,
            delivered: Arc::default(),
        }
    }

    /// Payment ids delivered, in order.
    pub fn delivered(&self) -> Vec<String> {
        self.delivered.lock().expect("prism lock").clone()
    }
}

impl Prism for SimPrism {
    fn url(&self) -> String {
        "https://prism.vaultlink.example/v2/notifications".into()
    }

    async fn deliver(&self, payment_id: &str, _body: &str) -> Result<Call, PortError> {
        self.env.latency(40.0, 250.0, "deliver", payment_id);
        let request_id = self.env.request_id(16).to_lowercase();
        if self.env.faults.take("deliver", payment_id) {
            return Err(PortError {
                service: "Prism",
                kind: "PrismUnavailable".into(),
                message: "503 Service Unavailable: upstream connect error".into(),
                status: 503,
                request_id: Some(request_id),
            });
        }
        self.delivered
            .lock()
            .expect("prism lock")
            .push(payment_id.to_owned());
        Ok(Call {
            request_id: Some(request_id),
            status: 200,
        })
    }
}
