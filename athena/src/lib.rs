//! Athena DDL generated from the archive schema, the saved compliance queries (one SQL text
//! for Athena and DataFusion), and the local DataFusion engine that runs them over an
//! archive directory.

pub mod client;
pub mod ddl;
pub mod error;
pub mod evidence;
pub mod local;
pub mod lookup;
pub mod output;
pub mod saved;

pub use client::{Athena, QueryResult, Registered, Workgroup};
pub use ddl::{DEFAULT_DATABASE, DEFAULT_SINCE, DdlOptions, ddl};
pub use error::{Error, Result};
pub use evidence::render_html;
pub use local::LocalEngine;
pub use lookup::{Citation, PaymentStory, cite_manifests, lookup, render_tree};
pub use output::{Format, format};
pub use saved::{SavedQuery, saved_queries, saved_query};
