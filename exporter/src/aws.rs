//! The shared AWS SDK configuration.

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;

/// The standard AWS configuration: `AWS_REGION`, profiles, credentials, and
/// `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>` for emulators. The SDK's own retries are
/// off: every call goes through [`crate::retry::Pacer`], which counts throttles and adapts
/// the rate.
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::disabled())
        .load()
        .await
}
