//! The VaultLink payment flow (API Gateway, Lambda, DynamoDB, Stripe, SQS, Prism) with X-Ray
//! instrumentation and a traffic simulator.
//!
//! Empty until the payment-core issue fills it; the crate exists so the workspace layout
//! matches ARCHITECTURE.md.
