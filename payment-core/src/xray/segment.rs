//! Building segment and subsegment documents on the `schema` crate's segment model.
//!
//! A [`Span`] is one segment or subsegment under construction. Children are built as spans
//! of their own and attached with [`Span::push`]. Every annotation and metadata value goes
//! through the PII guard ([`crate::pii`]): a card number or raw customer id is replaced by a
//! marker and counted, so it can never reach X-Ray.

use schema::{
    AnnotationValue, Aws, Cause, CauseDetails, Exception, HttpRequest, HttpResponse, Raw, RawJson,
    SegmentDocument,
};
use serde_json::{Map, Value};

use crate::pii;

/// One segment or subsegment under construction.
#[derive(Debug, Clone)]
pub struct Span {
    doc: SegmentDocument,
    metadata: Map<String, Value>,
    aws: Option<Aws>,
    aws_extra: Map<String, Value>,
    /// PII values the guard replaced, here and in attached children.
    pub pii_blocked: usize,
}

impl Span {
    /// A span named `name` with id `id`, started at `start` (epoch seconds).
    pub fn new(name: &str, id: String, start: f64) -> Self {
        Self {
            doc: SegmentDocument {
                id: Some(id),
                name: Some(name.to_owned()),
                start_time: Some(round_us(start)),
                ..SegmentDocument::default()
            },
            metadata: Map::new(),
            aws: None,
            aws_extra: Map::new(),
            pii_blocked: 0,
        }
    }

    /// The span's id.
    pub fn id(&self) -> &str {
        self.doc.id.as_deref().unwrap_or_default()
    }

    /// Makes it a top-level segment of `trace_id`, under `parent` when given.
    pub fn in_trace(mut self, trace_id: &str, parent: Option<&str>) -> Self {
        self.doc.trace_id = Some(trace_id.to_owned());
        self.doc.parent_id = parent.map(str::to_owned);
        self
    }

    /// Marks a subsegment sent on its own (`type: subsegment`, with trace and parent ids).
    pub fn independent(mut self, trace_id: &str, parent: &str) -> Self {
        self.doc.kind = Some("subsegment".into());
        self.in_trace(trace_id, Some(parent))
    }

    /// `aws` for AWS SDK calls, `remote` for other downstream calls.
    pub fn namespace(mut self, ns: &str) -> Self {
        self.doc.namespace = Some(ns.to_owned());
        self
    }

    /// The resource type, such as `AWS::Lambda::Function`.
    pub fn origin(mut self, origin: &str) -> Self {
        self.doc.origin = Some(origin.to_owned());
        self
    }

    /// Marks a segment X-Ray infers for a downstream AWS resource.
    pub fn inferred(mut self) -> Self {
        self.doc.inferred = Some(true);
        self
    }

    /// The ARN of the resource that ran the work.
    pub fn resource_arn(mut self, arn: &str) -> Self {
        self.doc.resource_arn = Some(arn.to_owned());
        self
    }

    /// Adds an indexed annotation, through the PII guard.
    pub fn annotate(&mut self, key: &str, value: impl Into<AnnotationValue>) {
        let mut value = value.into();
        if let AnnotationValue::String(s) = &value
            && let Some(kind) = pii::check(s)
        {
            self.blocked(kind, key);
            value = AnnotationValue::String(kind.marker().to_owned());
        }
        self.doc.annotations.retain(|(k, _)| k != key);
        self.doc.annotations.push((key.to_owned(), value));
    }

    /// Adds metadata `namespace.key = value`, through the PII guard.
    pub fn metadata(&mut self, namespace: &str, key: &str, mut value: Value) {
        let n = pii::scrub_json(&mut value);
        if n > 0 {
            self.pii_blocked += n;
            tracing::warn!(
                namespace,
                key,
                blocked = n,
                "PII kept out of X-Ray metadata"
            );
        }
        let ns = self
            .metadata
            .entry(namespace.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(map) = ns {
            map.insert(key.to_owned(), value);
        }
    }

    fn blocked(&mut self, kind: pii::PiiKind, key: &str) {
        self.pii_blocked += 1;
        tracing::warn!(annotation = key, kind = ?kind, "PII kept out of an X-Ray annotation");
    }

    /// The HTTP request served or made. The url and user agent pass the PII guard.
    pub fn http_request(&mut self, method: &str, url: &str, user_agent: Option<&str>) {
        let clean = |s: &str, span: &mut Self| match pii::check(s) {
            Some(kind) => {
                span.pii_blocked += 1;
                kind.marker().to_owned()
            }
            None => s.to_owned(),
        };
        let url = clean(url, self);
        let user_agent = user_agent.map(|u| clean(u, self));
        let http = self.doc.http.get_or_insert_with(Box::default);
        http.request = Some(HttpRequest {
            method: Some(method.to_owned()),
            url: Some(url),
            user_agent,
            ..HttpRequest::default()
        });
    }

    /// Sets the client IP of a served request (kept: dispute evidence matches on it).
    pub fn client_ip(&mut self, ip: &str) {
        let http = self.doc.http.get_or_insert_with(Box::default);
        let req = http.request.get_or_insert_with(HttpRequest::default);
        req.client_ip = Some(ip.to_owned());
        req.x_forwarded_for = Some(true);
    }

    /// The response status, which also sets `error` (4xx), `throttle` (429) or `fault` (5xx).
    pub fn http_status(&mut self, status: u16) {
        let http = self.doc.http.get_or_insert_with(Box::default);
        let resp = http.response.get_or_insert_with(HttpResponse::default);
        resp.status = Some(i64::from(status));
        match status {
            429 => {
                self.doc.error = Some(true);
                self.doc.throttle = Some(true);
            }
            400..=499 => self.doc.error = Some(true),
            500..=599 => self.doc.fault = Some(true),
            _ => {}
        }
    }

    /// Marks a server error.
    pub fn fault(&mut self) {
        self.doc.fault = Some(true);
    }

    /// Marks a client error.
    pub fn error(&mut self) {
        self.doc.error = Some(true);
    }

    /// The AWS call: operation, region and request id; more keys through [`Span::aws_key`].
    pub fn aws(&mut self, operation: &str, region: &str, request_id: Option<&str>) {
        let aws = self.aws.get_or_insert_with(Aws::default);
        aws.operation = Some(operation.to_owned());
        aws.region = Some(region.to_owned());
        aws.request_id = request_id.map(str::to_owned);
        aws.retries = Some(0);
    }

    /// `aws.table_name`.
    pub fn aws_table(&mut self, table: &str) {
        self.aws.get_or_insert_with(Aws::default).table_name = Some(table.to_owned());
    }

    /// `aws.queue_url`.
    pub fn aws_queue(&mut self, queue_url: &str) {
        self.aws.get_or_insert_with(Aws::default).queue_url = Some(queue_url.to_owned());
    }

    /// `aws.account_id`.
    pub fn aws_account(&mut self, account: &str) {
        self.aws.get_or_insert_with(Aws::default).account_id = Some(account.to_owned());
    }

    /// Any other key of the `aws` block (`function_arn`, `message_id`, `api_gateway`).
    pub fn aws_key(&mut self, key: &str, value: Value) {
        self.aws_extra.insert(key.to_owned(), value);
    }

    /// The exception behind an error or fault; `remote` when a downstream service raised it.
    /// The message passes the PII guard.
    pub fn exception(&mut self, id: String, kind: &str, message: &str, remote: bool) {
        let message = match pii::check(message) {
            Some(k) => {
                self.pii_blocked += 1;
                k.marker().to_owned()
            }
            None => message.to_owned(),
        };
        let cause = Cause::Details(CauseDetails {
            working_directory: Some("/var/task".into()),
            paths: Vec::new(),
            exceptions: vec![Exception {
                id: Some(id),
                message: Some(message),
                kind: Some(kind.to_owned()),
                remote: remote.then_some(true),
                ..Exception::default()
            }],
        });
        self.doc.cause = Some(Box::new(Raw::new(cause).expect("a cause serializes")));
    }

    /// Adds a raw top-level field this model has no slot for, such as `links`.
    pub fn extra(&mut self, key: &str, value: &Value) {
        let raw = RawJson::from_string(value.to_string()).expect("JSON value");
        self.doc.extra.push((key.to_owned(), raw));
    }

    /// Attaches a finished child.
    pub fn push(&mut self, child: Span) {
        self.pii_blocked += child.pii_blocked;
        self.doc.subsegments.push(child.doc);
    }

    /// Ends the span at `end` (epoch seconds).
    pub fn end(mut self, end: f64) -> Self {
        self.doc.end_time = Some(round_us(end.max(self.doc.start_time.unwrap_or(end))));
        if !self.metadata.is_empty() {
            let raw =
                RawJson::from_string(Value::Object(std::mem::take(&mut self.metadata)).to_string())
                    .expect("JSON object");
            self.doc.metadata = Some(raw);
        }
        if let Some(mut aws) = self.aws.take() {
            if !self.aws_extra.is_empty() {
                let mut v = serde_json::to_value(&aws).expect("aws block serializes");
                if let Value::Object(map) = &mut v {
                    map.extend(std::mem::take(&mut self.aws_extra));
                }
                self.doc.aws = Some(Box::new(raw_aws(v)));
            } else {
                aws.retries = aws.retries.or(Some(0));
                self.doc.aws = Some(Box::new(Raw::new(aws).expect("aws block serializes")));
            }
        } else if !self.aws_extra.is_empty() {
            self.doc.aws = Some(Box::new(raw_aws(Value::Object(std::mem::take(
                &mut self.aws_extra,
            )))));
        }
        self
    }

    /// The finished document.
    pub fn into_doc(self) -> SegmentDocument {
        self.doc
    }

    /// The document built so far.
    pub fn doc(&self) -> &SegmentDocument {
        &self.doc
    }
}

fn raw_aws(v: Value) -> Raw<Aws> {
    // Parsed back so the typed view and the raw text agree, as for documents read from X-Ray.
    serde_json::from_value(v).expect("an aws block parses")
}

/// X-Ray times carry microseconds.
fn round_us(t: f64) -> f64 {
    (t * 1e6).round() / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_a_valid_document_with_guarded_annotations() {
        let mut root = Span::new("VaultLink-PaymentService", "0123456789abcdef".into(), 1.5e9)
            .in_trace("1-5759e988-bd862e3fe1be46a994272793", None);
        root.annotate("PaymentId", "pay_1");
        root.annotate("Note", "card 4242 4242 4242 4242");
        root.annotate("Customer", "cus_NffrFeUfNV2Hib");
        let mut ddb =
            Span::new("DynamoDB", "1123456789abcdef".into(), 1.5e9 + 0.01).namespace("aws");
        ddb.aws("PutItem", "us-east-1", Some("REQ1"));
        ddb.aws_table("vaultlink-payments");
        ddb.http_status(500);
        ddb.exception(
            "2123456789abcdef".into(),
            "InternalServerError",
            "boom",
            true,
        );
        ddb.metadata(
            "debug",
            "body",
            serde_json::json!({"pan": "4000-0566-5566-5556"}),
        );
        root.push(ddb.end(1.5e9 + 0.02));
        let root = root.end(1.5e9 + 0.05);
        assert_eq!(root.pii_blocked, 3);
        let doc = root.into_doc();
        schema::validate_document(&doc).unwrap();
        let text = serde_json::to_string(&doc).unwrap();
        assert!(
            !pii::has_card_number(&text) && !pii::is_raw_customer_id(&text),
            "{text}"
        );
        let back = SegmentDocument::parse(&text).unwrap();
        let sub = &back.subsegments[0];
        assert_eq!(sub.fault, Some(true));
        assert_eq!(
            sub.aws.as_ref().unwrap().value().table_name.as_deref(),
            Some("vaultlink-payments")
        );
        assert_eq!(
            back.annotation("Note").unwrap().as_str(),
            Some("[redacted:card-number]")
        );
    }
}
