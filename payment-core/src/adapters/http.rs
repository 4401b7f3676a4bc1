//! HTTP adapters: Stripe's PaymentIntents API and Prism's notification endpoint, each with a
//! configurable base URL (Stripe's test mode, a local stand-in, or production).

use crate::ports::{Call, Intent, IntentRequest, PortError, Prism, Stripe};

/// Stripe's REST API.
#[derive(Debug, Clone)]
pub struct StripeHttp {
    client: reqwest::Client,
    base: String,
    api_key: String,
}

impl StripeHttp {
    /// At `base` (such as `https://api.stripe.com`) with a secret key.
    pub fn new(base: &str, api_key: &str) -> Self {
        Self {
            client: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(20))
                .build()
                .expect("an HTTP client"),
            base: base.trim_end_matches('/').to_owned(),
            api_key: api_key.to_owned(),
        }
    }
}

fn transport(service: &'static str, e: &reqwest::Error) -> PortError {
    PortError::transport(service, e.to_string())
}

impl Stripe for StripeHttp {
    fn base_url(&self) -> String {
        self.base.clone()
    }

    async fn create_intent(&self, r: &IntentRequest) -> Result<(Intent, Call), PortError> {
        let form = [
            ("amount", r.amount.to_string()),
            ("currency", r.currency.clone()),
            ("payment_method", r.payment_method.clone()),
            ("confirm", "true".into()),
            ("metadata[payment_id]", r.payment_id.clone()),
            ("metadata[correlation_id]", r.correlation_id.clone()),
        ];
        let resp = self
            .client
            .post(format!("{}/v1/payment_intents", self.base))
            .bearer_auth(&self.api_key)
            .header("Idempotency-Key", &r.idempotency_key)
            .form(&form)
            .send()
            .await
            .map_err(|e| transport("Stripe", &e))?;
        let status = resp.status().as_u16();
        let request_id = resp
            .headers()
            .get("request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body: serde_json::Value = resp.json().await.map_err(|e| transport("Stripe", &e))?;
        if (200..300).contains(&status) {
            let id = body["id"].as_str().unwrap_or_default().to_owned();
            let st = body["status"].as_str().unwrap_or_default().to_owned();
            Ok((Intent { id, status: st }, Call { request_id, status }))
        } else {
            let err = &body["error"];
            Err(PortError {
                service: "Stripe",
                kind: err["type"].as_str().unwrap_or("api_error").to_owned(),
                message: err["message"].as_str().unwrap_or("no message").to_owned(),
                status,
                request_id,
            })
        }
    }
}

/// Prism's notification endpoint.
#[derive(Debug, Clone)]
pub struct PrismHttp {
    client: reqwest::Client,
    url: String,
}

impl PrismHttp {
    /// Posting to `url`.
    pub fn new(url: &str) -> Self {
        Self {
            client: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(10))
                .build()
                .expect("an HTTP client"),
            url: url.to_owned(),
        }
    }
}

impl Prism for PrismHttp {
    fn url(&self) -> String {
        self.url.clone()
    }

    async fn deliver(&self, payment_id: &str, body: &str) -> Result<Call, PortError> {
        let resp = self
            .client
            .post(&self.url)
            .header("Idempotency-Key", payment_id)
            .header("Content-Type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .map_err(|e| transport("Prism", &e))?;
        let status = resp.status().as_u16();
        let request_id = resp
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if (200..300).contains(&status) {
            Ok(Call { request_id, status })
        } else {
            let message = resp.text().await.unwrap_or_default();
            Err(PortError {
                service: "Prism",
                kind: "PrismUnavailable".into(),
                message: message.chars().take(200).collect(),
                status,
                request_id,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A one-request HTTP server that answers `response` and hands back what it received.
    async fn one_shot(response: &'static str) -> (String, tokio::task::JoinHandle<String>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            loop {
                let n = sock.read(&mut chunk).await.unwrap();
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let len = text[..end]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap())
                        })
                        .unwrap_or(0);
                    if buf.len() >= end + 4 + len {
                        break;
                    }
                }
                if n == 0 {
                    break;
                }
            }
            sock.write_all(response.as_bytes()).await.unwrap();
            String::from_utf8_lossy(&buf).to_string()
        });
        (format!("http://{addr}"), task)
    }

    fn request() -> IntentRequest {
        IntentRequest {
            amount: 1999,
            currency: "gbp".into(),
            payment_method: "pm_card_visa".into(),
            payment_id: "pay_1".into(),
            correlation_id: "c-1".into(),
            idempotency_key: "idem-1".into(),
        }
    }

    #[tokio::test]
    async fn stripe_client_posts_a_form_and_reads_the_intent() {
        let body = r#"{"id":"pi_123","status":"processing"}"#;
        let resp: &'static str = Box::leak(format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nrequest-id: req_9\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len()).into_boxed_str());
        let (base, server) = one_shot(resp).await;
        let stripe = StripeHttp::new(&base, "sk_test_1");
        let (intent, call) = stripe.create_intent(&request()).await.unwrap();
        assert_eq!(
            intent,
            Intent {
                id: "pi_123".into(),
                status: "processing".into()
            }
        );
        assert_eq!(
            call,
            Call {
                request_id: Some("req_9".into()),
                status: 200
            }
        );
        let seen = server.await.unwrap();
        assert!(
            seen.starts_with("POST /v1/payment_intents HTTP/1.1"),
            "{seen}"
        );
        assert!(
            seen.to_ascii_lowercase()
                .contains("idempotency-key: idem-1")
        );
        assert!(
            seen.contains("authorization: Bearer sk_test_1")
                || seen.contains("Authorization: Bearer sk_test_1")
        );
        assert!(seen.contains("metadata%5Bpayment_id%5D=pay_1"), "{seen}");
    }

    #[tokio::test]
    async fn stripe_decline_is_a_402_port_error() {
        let body = r#"{"error":{"type":"card_error","code":"card_declined","message":"Your card was declined."}}"#;
        let resp: &'static str = Box::leak(format!("HTTP/1.1 402 Payment Required\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len()).into_boxed_str());
        let (base, _server) = one_shot(resp).await;
        let err = StripeHttp::new(&base, "sk")
            .create_intent(&request())
            .await
            .unwrap_err();
        assert_eq!(err.status, 402);
        assert_eq!(err.kind, "card_error");
        assert!(!err.is_fault());
    }

    #[tokio::test]
    async fn prism_failure_is_a_fault() {
        let (url, _server) = one_shot("HTTP/1.1 503 Service Unavailable\r\ncontent-length: 4\r\nconnection: close\r\n\r\nbusy").await;
        let err = PrismHttp::new(&format!("{url}/notifications"))
            .deliver("pay_1", "{}")
            .await
            .unwrap_err();
        assert_eq!((err.status, err.message.as_str()), (503, "busy"));
        assert!(err.is_fault());
        let refused = PrismHttp::new("http://127.0.0.1:9/notifications")
            .deliver("pay_1", "{}")
            .await
            .unwrap_err();
        assert_eq!(refused.status, 0);
    }
}
