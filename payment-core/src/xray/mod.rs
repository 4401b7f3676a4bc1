//! The small part of an X-Ray SDK the payment flow needs, on the `schema` crate's segment
//! model: the trace header, ids, segment building with the PII guard, sampling rules and
//! emitters.

pub mod emit;
pub mod header;
pub mod sampling;
pub mod segment;

pub use emit::{ApiEmitter, Emitter, FileEmitter, MemoryEmitter, UdpEmitter};
pub use header::{Sampled, TraceHeader, new_segment_id, new_trace_id};
pub use sampling::{Decision, Rule, Sampler, vaultlink_rules};
pub use segment::Span;
