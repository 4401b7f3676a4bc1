//! A store chosen at run time from an `--archive` argument.

use bytes::Bytes;

use super::{ArchiveStore, LocalDirStore, ObjectMeta, S3Options, S3Store};
use crate::error::Result;

/// A local directory or an S3 prefix.
#[derive(Debug)]
pub enum AnyStore {
    /// A local directory.
    Local(LocalDirStore),
    /// `s3://bucket/prefix`.
    S3(S3Store),
}

impl AnyStore {
    /// Opens `archive`: `s3://bucket/prefix` through the standard AWS configuration, anything
    /// else as a local directory (created if missing).
    pub async fn open(archive: &str, s3: S3Options) -> Result<Self> {
        if archive.starts_with("s3://") {
            let client = S3Store::client_from_env().await;
            Ok(Self::S3(S3Store::new(client, archive, s3)?))
        } else {
            Ok(Self::Local(LocalDirStore::open(archive)?))
        }
    }
}

impl ArchiveStore for AnyStore {
    fn location(&self) -> String {
        match self {
            Self::Local(s) => s.location(),
            Self::S3(s) => s.location(),
        }
    }

    async fn put(&self, key: &str, bytes: Bytes) -> Result<()> {
        match self {
            Self::Local(s) => s.put(key, bytes).await,
            Self::S3(s) => s.put(key, bytes).await,
        }
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        match self {
            Self::Local(s) => s.get(key).await,
            Self::S3(s) => s.get(key).await,
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        match self {
            Self::Local(s) => s.list(prefix).await,
            Self::S3(s) => s.list(prefix).await,
        }
    }

    async fn get_tagged(&self, key: &str) -> Result<Option<(Bytes, String)>> {
        match self {
            Self::Local(s) => s.get_tagged(key).await,
            Self::S3(s) => s.get_tagged(key).await,
        }
    }

    async fn put_if(&self, key: &str, bytes: Bytes, expect: Option<&str>) -> Result<String> {
        match self {
            Self::Local(s) => s.put_if(key, bytes, expect).await,
            Self::S3(s) => s.put_if(key, bytes, expect).await,
        }
    }

    async fn put_retained(&self, key: &str, bytes: Bytes, years: u32) -> Result<()> {
        match self {
            Self::Local(s) => s.put_retained(key, bytes, years).await,
            Self::S3(s) => s.put_retained(key, bytes, years).await,
        }
    }

    async fn set_legal_hold(&self, key: &str, on: bool) -> Result<()> {
        match self {
            Self::Local(s) => s.set_legal_hold(key, on).await,
            Self::S3(s) => s.set_legal_hold(key, on).await,
        }
    }
}
