//! The VaultLink payment flow (API Gateway, Lambda, DynamoDB, Stripe, SQS, Prism) with X-Ray
//! instrumentation and a traffic simulator.

pub mod adapters;
pub mod error;
pub mod flow;
pub mod lambda;
pub mod logs;
pub mod otel;
pub mod pii;
pub mod ports;
pub mod sim;
pub mod standins;
pub mod stripe;
pub mod xray;

pub use error::{Error, Result};
