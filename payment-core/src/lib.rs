//! The VaultLink payment flow (API Gateway, Lambda, DynamoDB, Stripe, SQS, Prism) with X-Ray
//! instrumentation and a traffic simulator.

pub mod pii;
pub mod xray;
