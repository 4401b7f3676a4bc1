//! Athena DDL generated from the archive schema; later, saved compliance queries, the
//! Athena client and the local DataFusion engine.

pub mod ddl;

pub use ddl::{DEFAULT_DATABASE, DEFAULT_SINCE, DdlError, DdlOptions, ddl};
