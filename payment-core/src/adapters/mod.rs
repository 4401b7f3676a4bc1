//! Adapters for real infrastructure: AWS (DynamoDB, SQS) and HTTP (Stripe, Prism).

pub mod aws;
pub mod http;

pub use aws::{DynamoStore, SqsQueue};
pub use http::{PrismHttp, StripeHttp};
