//! Athena DDL, saved compliance queries, the Athena client and the local DataFusion engine.
//!
//! Empty until the Athena issue fills it; the crate exists so the workspace layout matches
//! ARCHITECTURE.md.
