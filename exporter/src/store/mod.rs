//! Archive stores: where parts, manifests and quarantined inputs are kept.

mod any;
mod local;
mod memory;
mod s3;

pub use any::AnyStore;
pub use local::LocalDirStore;
pub use memory::MemoryStore;
pub use s3::{LockMode, ObjectLock, S3Options, S3Store, data_day, parse_s3_url};

use std::future::Future;

use bytes::Bytes;

use crate::error::Result;

/// One object in a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// Key relative to the archive root, with `/` separators.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
}

/// A place that keeps archive objects under `/`-separated keys.
///
/// Shaped to fit object stores: whole-object put and get, prefix listing. A put is atomic:
/// a reader sees the old object or the new one, never a half-written one.
pub trait ArchiveStore: Send + Sync {
    /// Where the store is, for messages (`/data/archive`, `s3://bucket/prefix`).
    fn location(&self) -> String;

    /// Writes `bytes` at `key`, replacing any object there, atomically.
    fn put(&self, key: &str, bytes: Bytes) -> impl Future<Output = Result<()>> + Send;

    /// Reads the object at `key`, or `None` when there is none.
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<Bytes>>> + Send;

    /// Lists objects whose key starts with `prefix`, sorted by key.
    fn list(&self, prefix: &str) -> impl Future<Output = Result<Vec<ObjectMeta>>> + Send;

    /// Reads the object at `key` with its version tag, for a later [`put_if`](Self::put_if).
    fn get_tagged(&self, key: &str)
    -> impl Future<Output = Result<Option<(Bytes, String)>>> + Send;

    /// Writes `bytes` at `key` only if the object is still as the caller saw it: absent when
    /// `expect` is `None`, or carrying the tag `expect`. Returns the new tag, or
    /// [`Error::Conflict`](crate::Error::Conflict) when someone else wrote first. Two
    /// writers racing from the same state can never both succeed.
    fn put_if(
        &self,
        key: &str,
        bytes: Bytes,
        expect: Option<&str>,
    ) -> impl Future<Output = Result<String>> + Send;

    /// Writes `bytes` at `key` like [`put`](Self::put), retained `years` after the day of
    /// its data where the store enforces retention (S3 Object Lock); a retention policy
    /// decides the years from the rows inside.
    fn put_retained(
        &self,
        key: &str,
        bytes: Bytes,
        years: u32,
    ) -> impl Future<Output = Result<()>> + Send {
        let _ = years;
        self.put(key, bytes)
    }

    /// Turns the legal hold on the object at `key` on or off. Stores without holds of their
    /// own (a local directory, memory) rely on the holds log alone, which
    /// [`crate::holds`] always writes.
    fn set_legal_hold(&self, key: &str, on: bool) -> impl Future<Output = Result<()>> + Send {
        let _ = (key, on);
        async { Ok(()) }
    }
}

/// Rejects keys that are empty, absolute, or climb out of the root.
pub(crate) fn check_key(key: &str) -> Result<()> {
    let bad = key.is_empty()
        || key.starts_with('/')
        || key.contains('\\')
        || key
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == "..");
    if bad {
        return Err(crate::error::Error::InvalidKey {
            key: key.to_owned(),
        });
    }
    Ok(())
}

#[doc(hidden)]
pub mod conformance;
