//! One module per command: its arguments (with their `--help`) and its `run`, which prints
//! its own output, for a person or, with `--json`, for a program.

pub mod backfill;
pub mod ddl;
pub mod demo;
pub mod export;
pub mod hold;
pub mod lookup;
pub mod query;
pub mod reconcile;
pub mod register;
pub mod status;
pub mod verify;
