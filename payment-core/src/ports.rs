//! The ports of the payment flow: the payment store, the queue, Stripe and Prism. AWS and
//! HTTP adapters live in [`crate::adapters`], embedded stand-ins in [`crate::standins`].
//!
//! Every call answers with a [`Call`] (or a [`PortError`]) that carries what the X-Ray
//! subsegment needs: the request id and the HTTP status.

use std::future::Future;

use serde::{Deserialize, Serialize};

/// What a successful downstream call reports for its subsegment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Call {
    /// The service's request id.
    pub request_id: Option<String>,
    /// HTTP status.
    pub status: u16,
}

impl Call {
    /// A 200 with `request_id`.
    pub fn ok(request_id: impl Into<String>) -> Self {
        Self {
            request_id: Some(request_id.into()),
            status: 200,
        }
    }
}

/// A failed downstream call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{service} {kind} ({status}): {message}")]
pub struct PortError {
    /// `DynamoDB`, `SQS`, `Stripe`, `Prism`.
    pub service: &'static str,
    /// The error's type, such as `InternalServerError` or `card_error`.
    pub kind: String,
    /// Its message.
    pub message: String,
    /// HTTP status (0 when the call never got an answer).
    pub status: u16,
    /// The service's request id.
    pub request_id: Option<String>,
}

impl PortError {
    /// True for 5xx, throttling and no answer: worth retrying.
    pub fn is_fault(&self) -> bool {
        self.status == 0 || self.status >= 500 || self.status == 429
    }

    /// A failure with no HTTP answer (connection refused, timeout).
    pub fn transport(service: &'static str, message: impl Into<String>) -> Self {
        Self {
            service,
            kind: "TransportError".into(),
            message: message.into(),
            status: 0,
            request_id: None,
        }
    }
}

/// The status of a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Written, waiting for Stripe.
    Pending,
    /// Stripe charged it.
    Succeeded,
    /// Stripe declined or failed it.
    Failed,
}

impl Status {
    /// `pending`, `succeeded`, `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    /// Parses [`Status::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "succeeded" => Some(Self::Succeeded),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// A payment record. Holds no card data and only the keyed hash of the customer id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payment {
    /// `pay_` and 24 hex digits, derived from the idempotency key.
    pub payment_id: String,
    /// The client's idempotency key.
    pub idempotency_key: String,
    /// Minor units.
    pub amount: i64,
    /// ISO 4217, lower case.
    pub currency: String,
    /// HMAC of the customer id.
    pub customer_hash: String,
    /// The request's correlation id.
    pub correlation_id: String,
    /// The current status.
    pub status: Status,
    /// Stripe's PaymentIntent id, once known.
    pub intent_id: Option<String>,
    /// Creation time, epoch seconds.
    pub created_at: f64,
}

/// Outcome of writing a new payment.
#[derive(Debug, Clone, PartialEq)]
pub enum Created {
    /// It is new.
    New,
    /// The idempotency key was seen before; the stored payment is returned.
    Existing(Payment),
}

/// The payments table.
pub trait PaymentStore: Send + Sync {
    /// Writes a `pending` payment unless its id exists (conditional put).
    fn create(
        &self,
        payment: &Payment,
    ) -> impl Future<Output = Result<(Created, Call), PortError>> + Send;
    /// Reads a payment.
    fn get(
        &self,
        payment_id: &str,
    ) -> impl Future<Output = Result<(Option<Payment>, Call), PortError>> + Send;
    /// Moves a payment from `pending` to `status`, recording the intent id. Answers false
    /// when it was not pending any more (already updated).
    fn settle(
        &self,
        payment_id: &str,
        status: Status,
        intent_id: &str,
    ) -> impl Future<Output = Result<(bool, Call), PortError>> + Send;
    /// True when the Stripe event id was already processed.
    fn seen_event(
        &self,
        event_id: &str,
    ) -> impl Future<Output = Result<(bool, Call), PortError>> + Send;
    /// Records a processed Stripe event id.
    fn record_event(
        &self,
        event_id: &str,
        payment_id: &str,
    ) -> impl Future<Output = Result<Call, PortError>> + Send;
}

/// A message for Prism, with the attributes that carry the trace across the hop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueMessage {
    /// The queue's message id (empty before sending).
    pub message_id: String,
    /// JSON body.
    pub body: String,
    /// `CorrelationId` message attribute.
    pub correlation_id: String,
    /// `PaymentId` message attribute.
    pub payment_id: String,
    /// The `AWSTraceHeader` system attribute.
    pub trace_header: String,
    /// Receipt handle, on received messages.
    pub receipt: String,
    /// How many times it was received.
    pub receive_count: u32,
}

/// The Prism queue and its dead-letter queue.
pub trait Queue: Send + Sync {
    /// The queue's URL (for `aws.queue_url`).
    fn url(&self) -> String;
    /// The DLQ's URL.
    fn dlq_url(&self) -> String;
    /// Sends a message; the answer carries its message id.
    fn send(
        &self,
        message: &QueueMessage,
    ) -> impl Future<Output = Result<(String, Call), PortError>> + Send;
    /// Receives up to `max` messages from the DLQ.
    fn receive_dlq(
        &self,
        max: u32,
    ) -> impl Future<Output = Result<(Vec<QueueMessage>, Call), PortError>> + Send;
    /// Deletes a DLQ message by receipt.
    fn delete_dlq(&self, receipt: &str) -> impl Future<Output = Result<Call, PortError>> + Send;
}

/// A PaymentIntent as Stripe answered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intent {
    /// `pi_...`.
    pub id: String,
    /// Stripe's status, such as `requires_capture`, `processing` or `succeeded`.
    pub status: String,
}

/// What the flow asks of Stripe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntentRequest {
    /// Minor units.
    pub amount: i64,
    /// Currency.
    pub currency: String,
    /// The payment method token (`pm_...`); never a card number.
    pub payment_method: String,
    /// Our payment id, as metadata.
    pub payment_id: String,
    /// The correlation id, as metadata, so the webhook carries it back.
    pub correlation_id: String,
    /// Stripe's `Idempotency-Key`.
    pub idempotency_key: String,
}

/// Stripe.
pub trait Stripe: Send + Sync {
    /// The API's base URL, for `http.request.url`.
    fn base_url(&self) -> String;
    /// Creates and confirms a PaymentIntent. A decline is a `PortError` with status 402.
    fn create_intent(
        &self,
        request: &IntentRequest,
    ) -> impl Future<Output = Result<(Intent, Call), PortError>> + Send;
}

/// Prism, the downstream system told about every settled payment.
pub trait Prism: Send + Sync {
    /// The notification endpoint, for `http.request.url`.
    fn url(&self) -> String;
    /// Delivers one notification.
    fn deliver(
        &self,
        payment_id: &str,
        body: &str,
    ) -> impl Future<Output = Result<Call, PortError>> + Send;
}

/// Time: the real clock in Lambda, a simulated one in the simulator (where the stand-ins
/// move it forward by the latency of each call).
pub trait Clock: Send + Sync {
    /// Epoch seconds.
    fn now(&self) -> f64;
    /// Lets `seconds` pass (the simulated clock jumps; the real one ignores it).
    fn advance(&self, seconds: f64);
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> f64 {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        d.as_secs_f64()
    }
    fn advance(&self, _seconds: f64) {}
}

/// A simulated clock, in microseconds.
#[derive(Debug, Default)]
pub struct SimClock(std::sync::atomic::AtomicI64);

impl SimClock {
    /// Starting at `epoch` seconds.
    pub fn new(epoch: f64) -> Self {
        Self(std::sync::atomic::AtomicI64::new((epoch * 1e6) as i64))
    }

    /// Jumps to `epoch` seconds.
    pub fn set(&self, epoch: f64) {
        self.0
            .store((epoch * 1e6) as i64, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for SimClock {
    fn now(&self) -> f64 {
        self.0.load(std::sync::atomic::Ordering::SeqCst) as f64 / 1e6
    }
    fn advance(&self, seconds: f64) {
        self.0
            .fetch_add((seconds * 1e6) as i64, std::sync::atomic::Ordering::SeqCst);
    }
}
