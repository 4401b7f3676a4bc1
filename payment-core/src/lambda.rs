//! The payment flow as Lambda functions (`lambda_runtime`, `aws_lambda_events`).
//!
//! One binary serves every function; `VAULTLINK_HANDLER` says which:
//! - `api`: API Gateway proxy events: `POST /payments`, `POST /webhooks/stripe`,
//!   `GET /health`;
//! - `delivery`: SQS events from the Prism queue (report batch item failures on);
//! - `replay`: `{"max": N}` moves up to N messages from the DLQ back to the queue.
//!
//! Configuration, all from the environment: `PAYMENTS_TABLE`, `PRISM_QUEUE_URL`,
//! `PRISM_DLQ_URL`, `PRISM_URL`, `STRIPE_API_BASE` (default `https://api.stripe.com`),
//! `STRIPE_API_KEY`, `STRIPE_WEBHOOK_SECRET`, `CUSTOMER_HASH_KEY`, `PRISM_MAX_RECEIVES`
//! (default 3), and the standard `AWS_REGION` / `AWS_ENDPOINT_URL`. Each handler's
//! subsegment goes to the X-Ray daemon (`AWS_XRAY_DAEMON_ADDRESS`) as an independent
//! subsegment under the function's segment, named by `_X_AMZN_TRACE_ID`.

use std::sync::Arc;

use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::{Value, json};

use crate::adapters::{DynamoStore, PrismHttp, SqsQueue, StripeHttp};
use crate::error::{Error, Result};
use crate::flow::{Config, Handled, VaultLink};
use crate::ports::SystemClock;
use crate::xray::{Emitter, TraceHeader, UdpEmitter};

type App = VaultLink<DynamoStore, SqsQueue, StripeHttp, PrismHttp>;

fn var(name: &'static str) -> Result<String> {
    std::env::var(name).map_err(|_| Error::MissingSetting { name })
}

/// `aws_config::defaults` over hyper 1 and rustls on ring: the HTTPS stack the Stripe and
/// Prism clients (reqwest) use too.
pub fn aws_defaults() -> aws_config::ConfigLoader {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    let https = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(https)
}

/// Builds the flow over the AWS and HTTP adapters from the environment.
pub async fn app_from_env() -> Result<App> {
    let sdk = aws_defaults().load().await;
    let region = sdk
        .region()
        .map_or_else(|| "us-east-1".to_owned(), ToString::to_string);
    let table = var("PAYMENTS_TABLE")?;
    let cfg = Config {
        region,
        account: std::env::var("AWS_ACCOUNT_ID").unwrap_or_else(|_| "000000000000".into()),
        table: table.clone(),
        customer_key: var("CUSTOMER_HASH_KEY")?.into_bytes(),
        webhook_secret: var("STRIPE_WEBHOOK_SECRET")?,
        max_receives: std::env::var("PRISM_MAX_RECEIVES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(3),
    };
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), &table);
    let queue = SqsQueue::new(
        aws_sdk_sqs::Client::new(&sdk),
        &var("PRISM_QUEUE_URL")?,
        &var("PRISM_DLQ_URL")?,
    );
    let stripe = StripeHttp::new(
        &std::env::var("STRIPE_API_BASE").unwrap_or_else(|_| "https://api.stripe.com".into()),
        &var("STRIPE_API_KEY")?,
    );
    let prism = PrismHttp::new(&var("PRISM_URL")?);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
        ^ u64::from(std::process::id());
    Ok(VaultLink::new(
        store,
        queue,
        stripe,
        prism,
        Arc::new(SystemClock),
        cfg,
        seed,
    ))
}

/// The trace this invocation runs in, from the runtime's trace id.
fn trace_of(ctx: &lambda_runtime::Context) -> Option<TraceHeader> {
    ctx.xray_trace_id
        .as_deref()
        .or(std::env::var("_X_AMZN_TRACE_ID").ok().as_deref())
        .and_then(|h| TraceHeader::parse(h).ok())
}

/// Sends a handler's subsegment under the function's segment, when the trace is sampled.
async fn send<T>(emitter: &UdpEmitter, trace: Option<&TraceHeader>, handled: Handled<T>) -> T {
    if let Some(t) = trace.filter(|t| t.is_sampled())
        && let Some(parent) = &t.parent
    {
        let doc = handled.span.independent(&t.root, parent).into_doc();
        match emitter.emit(vec![doc]).await {
            Ok(()) => tracing::debug!(
                trace_id = t.root,
                parent,
                "subsegment sent to the X-Ray daemon"
            ),
            Err(e) => {
                tracing::warn!(error = %e, "could not send the subsegment to the X-Ray daemon")
            }
        }
    }
    handled.response
}

async fn api(
    app: &App,
    emitter: &UdpEmitter,
    event: LambdaEvent<ApiGatewayProxyRequest>,
) -> std::result::Result<ApiGatewayProxyResponse, lambda_runtime::Error> {
    let trace = trace_of(&event.context);
    let req = event.payload;
    let path = req.path.clone().unwrap_or_default();
    let method = req.http_method.as_str().to_owned();
    let header = trace
        .clone()
        .unwrap_or_else(|| TraceHeader::new_root(0, &mut rand::rng(), false));
    Ok(match (method.as_str(), path.as_str()) {
        ("GET", "/health") => app.health(),
        ("POST", "/payments") => {
            send(
                emitter,
                trace.as_ref(),
                app.create_payment(&req, &header).await,
            )
            .await
        }
        ("POST", "/webhooks/stripe") => {
            send(
                emitter,
                trace.as_ref(),
                app.stripe_webhook(&req, &header).await,
            )
            .await
        }
        _ => {
            let mut r = ApiGatewayProxyResponse::default();
            r.status_code = 404;
            r.body = Some(aws_lambda_events::encodings::Body::Text(
                json!({"error": format!("no route {method} {path}; routes: POST /payments, POST /webhooks/stripe, GET /health")}).to_string(),
            ));
            r
        }
    })
}

async fn delivery(
    app: &App,
    emitter: &UdpEmitter,
    event: LambdaEvent<SqsEvent>,
) -> std::result::Result<SqsBatchResponse, lambda_runtime::Error> {
    let trace = trace_of(&event.context);
    let header = trace
        .clone()
        .unwrap_or_else(|| TraceHeader::new_root(0, &mut rand::rng(), false));
    let mut out = SqsBatchResponse::default();
    for record in &event.payload.records {
        let r = send(emitter, trace.as_ref(), app.deliver(record, &header).await).await;
        out.batch_item_failures.extend(r.batch_item_failures);
    }
    Ok(out)
}

async fn replay(
    app: &App,
    emitter: &UdpEmitter,
    event: LambdaEvent<Value>,
) -> std::result::Result<Value, lambda_runtime::Error> {
    let trace = trace_of(&event.context);
    let header = trace
        .clone()
        .unwrap_or_else(|| TraceHeader::new_root(0, &mut rand::rng(), false));
    let max = event.payload["max"].as_u64().unwrap_or(10).clamp(1, 10) as u32;
    let replayed = send(emitter, trace.as_ref(), app.replay_dlq(&header, max).await).await;
    Ok(json!({"replayed": replayed}))
}

/// Runs the function `VAULTLINK_HANDLER` names until the runtime stops it.
pub async fn run() -> Result<()> {
    crate::logs::init_json();
    let handler = var("VAULTLINK_HANDLER")?;
    let app = app_from_env().await?;
    let emitter = UdpEmitter::from_env()?;
    let (app, emitter) = (&app, &emitter);
    match handler.as_str() {
        "api" => lambda_runtime::run(service_fn(move |e| api(app, emitter, e))).await,
        "delivery" => lambda_runtime::run(service_fn(move |e| delivery(app, emitter, e))).await,
        "replay" => lambda_runtime::run(service_fn(move |e| replay(app, emitter, e))).await,
        other => {
            return Err(Error::UnknownHandler {
                handler: other.to_owned(),
            });
        }
    }
    .map_err(|source| Error::Runtime { source })
}
