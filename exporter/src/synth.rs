//! Synthetic VaultLink payment traces, as X-Ray's BatchGetTraces returns them: for the
//! benchmarks, the query tests and the demo's payment history.
//!
//! Each trace is one VaultLink request: an API Gateway stage segment, the Lambda service and
//! function segments with Initialization/Invocation/Overhead and DynamoDB, Stripe and SQS
//! subsegments, and the segments X-Ray infers for DynamoDB and SQS: 3 to 5 documents and 6
//! to 15 spans. About 8% fail (a DynamoDB fault with a cause, or a Stripe decline). Seeded,
//! so every run sees the same bytes.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

/// Deterministic generator of payment traces.
pub struct PaymentTraces {
    rng: StdRng,
    /// Epoch seconds of the next trace.
    clock: f64,
    seq: u64,
}

fn hex(rng: &mut StdRng, digits: usize) -> String {
    (0..digits)
        .map(|_| char::from_digit(rng.random_range(0..16), 16).unwrap())
        .collect()
}

/// A random UUID-shaped id, as AWS request ids and correlation ids look.
fn uuid(rng: &mut StdRng) -> String {
    let parts = [8, 4, 4, 4, 12].map(|n| hex(rng, n));
    parts.join("-")
}

impl PaymentTraces {
    /// Traces starting at `start` epoch seconds, one every `gap` seconds on average.
    pub fn new(seed: u64, start: f64) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
            clock: start,
            seq: 0,
        }
    }

    /// The next trace's segment documents, as JSON text.
    pub fn next_trace(&mut self, gap: f64) -> Vec<String> {
        let r = &mut self.rng;
        self.clock += r.random_range(0.0..2.0 * gap);
        self.seq += 1;
        let t0 = (self.clock * 1e6).round() / 1e6;
        let trace_id = format!("1-{:08x}-{}", t0 as u64, hex(r, 24));
        let payment_id = format!("pay_{:012}", self.seq);
        let correlation = uuid(r);
        let customer = hex(r, 64);
        let webhook = r.random_bool(0.5);
        let failure = r.random_range(0..100);
        let (apigw, lambda_svc, func, ddb_sub, stripe_sub, sqs_sub, init) = (
            hex(r, 16),
            hex(r, 16),
            hex(r, 16),
            hex(r, 16),
            hex(r, 16),
            hex(r, 16),
            hex(r, 16),
        );
        let request_id = uuid(r);
        let ddb_ms = r.random_range(3.0..25.0) / 1000.0;
        let stripe_ms = r.random_range(80.0..900.0) / 1000.0;
        let sqs_ms = r.random_range(5.0..30.0) / 1000.0;
        let cold = r.random_bool(0.1);
        let (route, function, service) = if webhook {
            (
                "/webhooks/stripe",
                "vaultlink-stripe-webhook",
                "VaultLink-WebhookService",
            )
        } else {
            (
                "/payments",
                "vaultlink-create-payment",
                "VaultLink-PaymentService",
            )
        };
        let ddb_fault = failure < 4;
        let declined = !webhook && (4..8).contains(&failure);
        let status = if ddb_fault {
            500
        } else if declined {
            402
        } else if webhook {
            200
        } else {
            201
        };
        let init_s = if cold { r.random_range(0.15..0.4) } else { 0.0 };
        let func_start = t0 + 0.004 + init_s;
        let ddb_start = func_start + 0.002;
        let stripe_start = ddb_start + ddb_ms + 0.001;
        let sqs_start = stripe_start + if webhook { 0.0 } else { stripe_ms } + 0.001;
        let func_end = sqs_start + sqs_ms + 0.002;
        let end = func_end + 0.003;
        let account = "123456789012";
        let region = "us-east-1";
        let table = "vaultlink-payments";
        let queue =
            format!("https://sqs.{region}.amazonaws.com/{account}/vaultlink-prism-delivery");

        let mut ddb = json!({
            "id": ddb_sub, "name": "DynamoDB", "start_time": ddb_start, "end_time": ddb_start + ddb_ms,
            "namespace": "aws",
            "http": {"response": {"status": if ddb_fault { 500 } else { 200 }, "content_length": 2}},
            "aws": {"operation": if webhook { "UpdateItem" } else { "PutItem" }, "region": region,
                    "request_id": hex(r, 52).to_uppercase(), "table_name": table, "retries": 0,
                    "resource_names": [table]}
        });
        if ddb_fault {
            ddb["fault"] = json!(true);
            ddb["cause"] = json!({"working_directory": "/var/task", "exceptions": [{
                "id": hex(r, 16), "type": "InternalServerError",
                "message": "Internal server error (Service: DynamoDb, Status Code: 500)",
                "remote": true,
                "stack": [{"path": "payment-core/src/store.rs", "line": 88, "label": "put_payment"},
                          {"path": "payment-core/src/handler.rs", "line": 41, "label": "handle"}]}]});
        }
        let mut subsegments = vec![ddb];
        if !webhook && !ddb_fault {
            let mut stripe = json!({
                "id": stripe_sub, "name": "api.stripe.com", "start_time": stripe_start,
                "end_time": stripe_start + stripe_ms, "namespace": "remote",
                "http": {"request": {"method": "POST", "url": "https://api.stripe.com/v1/payment_intents"},
                         "response": {"status": if declined { 402 } else { 200 }, "content_length": r.random_range(900..1800)}},
                "annotations": {"PaymentProvider": "Stripe"}
            });
            if declined {
                stripe["error"] = json!(true);
                stripe["cause"] = json!({"exceptions": [{"id": hex(r, 16), "type": "card_error",
                    "message": "Your card was declined.", "remote": true}]});
            }
            subsegments.push(stripe);
        }
        if !ddb_fault && !declined && (webhook || r.random_bool(0.3)) {
            subsegments.push(json!({
                "id": sqs_sub, "name": "SQS", "start_time": sqs_start, "end_time": sqs_start + sqs_ms,
                "namespace": "aws",
                "http": {"response": {"status": 200}},
                "aws": {"operation": "SendMessage", "region": region, "request_id": request_id,
                        "queue_url": queue, "retries": 0, "message_id": hex(r, 32)}
            }));
        }
        let mut function_subs = vec![];
        if cold {
            function_subs.push(json!({"id": init, "name": "Initialization", "start_time": t0 + 0.003,
                "end_time": t0 + 0.003 + init_s, "aws": {"function_arn": format!("arn:aws:lambda:{region}:{account}:function:{function}")}}));
        }
        function_subs.push(json!({
            "id": hex(r, 16), "name": "Invocation", "start_time": func_start, "end_time": func_end,
            "annotations": {"PaymentId": payment_id, "CorrelationId": correlation,
                            "CustomerId": customer, "PaymentProvider": "Stripe"},
            "metadata": {"VaultLink": {"route": route, "amount_minor": r.random_range(500..250_000),
                                       "currency": "gbp", "idempotency_key": hex(r, 32)}},
            "subsegments": subsegments
        }));
        function_subs.push(
            json!({"id": hex(r, 16), "name": "Overhead", "start_time": func_end,
            "end_time": func_end + 0.0005}),
        );

        let mut docs: Vec<Value> = vec![
            json!({
                "id": apigw, "trace_id": trace_id, "name": format!("vaultlink-api/prod"),
                "origin": "AWS::ApiGateway::Stage", "start_time": t0, "end_time": end,
                "http": {"request": {"url": format!("https://api.vaultlink.example{route}"), "method": "POST",
                                     "client_ip": format!("203.0.113.{}", r.random_range(1..255)), "x_forwarded_for": true,
                                     "user_agent": if webhook { "Stripe/1.0 (+https://stripe.com/docs/webhooks)" } else { "VaultLinkCheckout/3.2 (iOS 18.1)" }},
                         "response": {"status": status, "content_length": 0}},
                "aws": {"api_gateway": {"account_id": account, "rest_api_id": "a1b2c3d4e5", "stage": "prod", "request_id": request_id}},
                "annotations": {"aws:api_id": "a1b2c3d4e5", "aws:api_stage": "prod"},
                "metadata": {"default": {"extended_request_id": hex(r, 16), "request_id": request_id}},
                "fault": status >= 500, "error": (400..500).contains(&status),
                "subsegments": [{"id": hex(r, 16), "name": "Lambda", "start_time": t0 + 0.001, "end_time": end - 0.001,
                    "namespace": "aws",
                    "http": {"request": {"url": format!("https://lambda.{region}.amazonaws.com/2015-03-31/functions/arn:aws:lambda:{region}:{account}:function:{function}/invocations"), "method": "POST"},
                             "response": {"status": 200, "content_length": 120}},
                    "aws": {"function_name": function, "region": region, "operation": "Invoke", "resource_names": [function]}}]
            }),
            json!({
                "id": lambda_svc, "trace_id": trace_id, "name": function, "origin": "AWS::Lambda",
                "parent_id": apigw, "start_time": t0 + 0.002, "end_time": end - 0.001,
                "http": {"response": {"status": 200}},
                "aws": {"request_id": request_id},
                "resource_arn": format!("arn:aws:lambda:{region}:{account}:function:{function}")
            }),
            json!({
                "id": func, "trace_id": trace_id, "name": service, "origin": "AWS::Lambda::Function",
                "parent_id": lambda_svc, "start_time": t0 + 0.003, "end_time": func_end + 0.0005,
                "aws": {"account_id": account, "function_arn": format!("arn:aws:lambda:{region}:{account}:function:{function}"),
                        "resource_names": [function], "xray": {"sdk": "xray-archive payment-core", "sdk_version": "0.1.0"}},
                "fault": ddb_fault, "error": declined,
                "subsegments": function_subs
            }),
            json!({
                "id": hex(r, 16), "trace_id": trace_id, "name": table, "origin": "AWS::DynamoDB::Table",
                "parent_id": ddb_sub, "inferred": true, "start_time": ddb_start, "end_time": ddb_start + ddb_ms,
                "http": {"response": {"status": if ddb_fault { 500 } else { 200 }}},
                "aws": {"operation": if webhook { "UpdateItem" } else { "PutItem" }, "region": region, "table_name": table},
                "fault": ddb_fault
            }),
        ];
        if webhook && !ddb_fault {
            docs.push(json!({
                "id": hex(r, 16), "trace_id": trace_id, "name": "vaultlink-prism-delivery", "origin": "AWS::SQS::Queue",
                "parent_id": sqs_sub, "inferred": true, "start_time": sqs_start, "end_time": sqs_start + sqs_ms,
                "http": {"response": {"status": 200}},
                "aws": {"operation": "SendMessage", "region": region, "queue_url": queue}
            }));
        }
        docs.into_iter().map(|d| d.to_string()).collect()
    }

    /// One BatchGetTraces response (the API returns at most 5 traces per call).
    pub fn batch_get_traces(&mut self, traces: usize, gap: f64) -> (String, usize) {
        let mut segments = 0;
        let traces: Vec<Value> = (0..traces)
            .map(|_| {
                let docs = self.next_trace(gap);
                segments += docs.len();
                let trace_id: Value =
                    serde_json::from_str::<Value>(&docs[0]).unwrap()["trace_id"].clone();
                json!({
                    "Id": trace_id,
                    "Duration": 0.5,
                    "LimitExceeded": false,
                    "Segments": docs.iter().map(|d| {
                        let id = serde_json::from_str::<Value>(d).unwrap()["id"].clone();
                        json!({"Id": id, "Document": d})
                    }).collect::<Vec<_>>()
                })
            })
            .collect();
        (
            json!({"Traces": traces, "UnprocessedTraceIds": []}).to_string(),
            segments,
        )
    }
}
