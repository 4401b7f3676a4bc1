//! A store chosen at run time from an `--archive` argument.

use bytes::Bytes;

use super::local::LocalUpload;
use super::s3::S3Upload;
use super::{
    ArchiveStore, LocalDirStore, ObjectMeta, ObjectUpload, ObjectVersion, S3Options, S3Store,
    Stored,
};
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

/// Calls the same method on whichever store this is.
macro_rules! each {
    ($self:ident, $s:ident => $call:expr) => {
        match $self {
            AnyStore::Local($s) => $call,
            AnyStore::S3($s) => $call,
        }
    };
}

/// An upload into whichever store this is.
pub enum AnyUpload<'a> {
    /// Into a local directory.
    Local(LocalUpload),
    /// Into S3.
    S3(S3Upload<'a>),
}

impl ObjectUpload for AnyUpload<'_> {
    async fn append(&mut self, piece: Bytes) -> Result<()> {
        match self {
            AnyUpload::Local(u) => u.append(piece).await,
            AnyUpload::S3(u) => u.append(piece).await,
        }
    }

    async fn finish(self, years: Option<u32>) -> Result<Option<String>> {
        match self {
            AnyUpload::Local(u) => u.finish(years).await,
            AnyUpload::S3(u) => u.finish(years).await,
        }
    }
}

impl ArchiveStore for AnyStore {
    type Upload<'a> = AnyUpload<'a>;

    fn location(&self) -> String {
        each!(self, s => s.location())
    }

    fn begin(&self, key: &str, years: Option<u32>) -> Result<AnyUpload<'_>> {
        Ok(match self {
            AnyStore::Local(s) => AnyUpload::Local(s.begin(key, years)?),
            AnyStore::S3(s) => AnyUpload::S3(s.begin(key, years)?),
        })
    }

    async fn create(&self, key: &str, bytes: Bytes, years: Option<u32>) -> Result<Option<String>> {
        each!(self, s => s.create(key, bytes, years).await)
    }

    async fn read(&self, key: &str, version_id: Option<&str>) -> Result<Option<Stored>> {
        each!(self, s => s.read(key, version_id).await)
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        each!(self, s => s.list(prefix).await)
    }

    async fn list_versions(&self, prefix: &str) -> Result<Vec<ObjectVersion>> {
        each!(self, s => s.list_versions(prefix).await)
    }

    async fn put_if(&self, key: &str, bytes: Bytes, expect: Option<&str>) -> Result<String> {
        each!(self, s => s.put_if(key, bytes, expect).await)
    }

    async fn delete_state(&self, key: &str) -> Result<()> {
        each!(self, s => s.delete_state(key).await)
    }

    async fn set_legal_hold(&self, key: &str, version_id: Option<&str>, on: bool) -> Result<()> {
        each!(self, s => s.set_legal_hold(key, version_id, on).await)
    }
}
