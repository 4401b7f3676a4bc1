//! Structured JSON logs. Every handler runs inside a `request` span that carries the trace
//! id and the correlation id, and the JSON format prints the current span's fields on every
//! line, so CloudWatch Logs Insights finds a payment's lines by either id:
//!
//! ```text
//! {"timestamp":"…","level":"INFO","fields":{"message":"payment requested","payment_id":"pay_…"},
//!  "span":{"trace_id":"1-…","correlation_id":"…","route":"POST /payments","name":"request"}}
//! ```

use tracing_subscriber::fmt::MakeWriter;

/// The JSON subscriber writing to `writer`.
pub fn json_subscriber<W>(writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_env_filter(filter)
        .with_writer(writer)
        .finish()
}

/// Installs JSON logs on standard output (Lambda sends them to CloudWatch Logs).
pub fn init_json() {
    let _ = tracing::subscriber::set_global_default(json_subscriber(std::io::stdout));
}
