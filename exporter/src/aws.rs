//! The shared AWS SDK configuration.

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;

/// The standard AWS configuration: `AWS_REGION`, profiles, credentials, and
/// `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>` for emulators. The SDK's own retries are
/// off: every call goes through [`crate::retry::Pacer`], which counts throttles and adapts
/// the rate.
pub async fn sdk_config() -> aws_config::SdkConfig {
    defaults()
        .retry_config(RetryConfig::disabled())
        .load()
        .await
}

/// `aws_config::defaults` with [`https_client`].
pub fn defaults() -> aws_config::ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest()).http_client(https_client())
}

/// HTTPS for the SDK clients: hyper 1 and rustls on ring, the stack reqwest and object_store
/// build too (the SDK's default client would add aws-lc's C build).
pub fn https_client() -> aws_sdk_s3::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}
