//! Archive stores: where parts, manifests and quarantined inputs are kept.
//!
//! Every write says its mode, as object_store names them:
//! - evidence (everything under `v1/`, `_manifests/`, `_quarantine/`, `_holds/`) is written
//!   with [`ArchiveStore::create`], `PutMode::Create`: only if the key is absent. Through
//!   [`put_once`], a key that exists with the same bytes is an idempotent success and one
//!   with other bytes an error naming the key. Nothing ever replaces or deletes evidence.
//! - the progress and lease records under `_state/` are replaced with
//!   [`ArchiveStore::put_if`], `PutMode::Update(tag)`: only if unchanged since read.

mod any;
mod local;
mod memory;
mod s3;

pub use any::{AnyStore, AnyUpload};
pub use local::{LocalDirStore, LocalUpload};
pub use memory::MemoryStore;
pub use s3::{LockMode, ObjectLock, S3Options, S3Store, S3Upload, parse_s3_url};

use std::future::Future;

use bytes::Bytes;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// One object in a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// Key relative to the archive root, with `/` separators.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
}

/// One version of an object, as a version listing shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectVersion {
    /// Key relative to the archive root.
    pub key: String,
    /// The store's version id (S3 on a versioned bucket); `None` where there are none.
    pub version_id: Option<String>,
    /// Size in bytes (0 for a delete marker).
    pub size: u64,
    /// The version a plain read returns.
    pub is_latest: bool,
    /// A delete marker rather than content.
    pub delete_marker: bool,
}

/// An object as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// Its bytes.
    pub bytes: Bytes,
    /// The version read, where the store keeps versions.
    pub version_id: Option<String>,
    /// The tag a later [`ArchiveStore::put_if`] compares against.
    pub tag: String,
}

/// What a create-only write left in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The version now stored, where the store keeps versions.
    pub version_id: Option<String>,
    /// The key already held these very bytes (a re-run): nothing was written.
    pub existed: bool,
}

/// A place that keeps archive objects under `/`-separated keys.
///
/// Shaped to fit object stores: whole-object writes and reads, prefix listing, versions. A
/// write is atomic: a reader sees no object or the whole one, never a half-written one.
pub trait ArchiveStore: Send + Sync {
    /// Where the store is, for messages (`/data/archive`, `s3://bucket/prefix`).
    fn location(&self) -> String;

    /// Creates `key` with `bytes` only if no object is there (`If-None-Match: *` on S3, a
    /// create-new file locally), retained `years` after the day of its data where the store
    /// enforces retention (S3 Object Lock; `None`: the store's default). Returns the version
    /// id, or [`Error::Conflict`] when the key exists.
    fn create(
        &self,
        key: &str,
        bytes: Bytes,
        years: Option<u32>,
    ) -> impl Future<Output = Result<Option<String>>> + Send;

    /// An upload of one evidence object, written piece by piece.
    type Upload<'a>: ObjectUpload + 'a
    where
        Self: 'a;

    /// Starts writing `key` piece by piece (a Parquet part as its row groups are encoded), so
    /// the object is never whole in memory. Nothing is visible until
    /// [`ObjectUpload::finish`], which creates the key only if absent, as [`Self::create`]
    /// does: S3 multipart upload completed with `If-None-Match: *`, a staging file linked
    /// into place locally.
    fn begin(&self, key: &str, years: Option<u32>) -> Result<Self::Upload<'_>>;

    /// Reads `key` (the given version of it), or `None` when there is none.
    fn read(
        &self,
        key: &str,
        version_id: Option<&str>,
    ) -> impl Future<Output = Result<Option<Stored>>> + Send;

    /// Lists objects whose key starts with `prefix`, sorted by key.
    fn list(&self, prefix: &str) -> impl Future<Output = Result<Vec<ObjectMeta>>> + Send;

    /// Lists every version of every object under `prefix`, delete markers included, sorted
    /// by key. A store without versions lists each object once.
    fn list_versions(
        &self,
        prefix: &str,
    ) -> impl Future<Output = Result<Vec<ObjectVersion>>> + Send;

    /// Replaces a `_state/` object only if it is still as the caller saw it: absent when
    /// `expect` is `None`, or carrying the tag `expect`. Returns the new tag, or
    /// [`Error::Conflict`] when someone else wrote first. Refuses append-only keys.
    fn put_if(
        &self,
        key: &str,
        bytes: Bytes,
        expect: Option<&str>,
    ) -> impl Future<Output = Result<String>> + Send;

    /// Deletes a `_state/` object (absent is fine). Refuses append-only keys.
    fn delete_state(&self, key: &str) -> impl Future<Output = Result<()>> + Send;

    /// Turns the legal hold on one version of `key` on or off. Stores without holds of
    /// their own (a local directory, memory) rely on the holds log alone, which
    /// [`crate::holds`] always writes.
    fn set_legal_hold(
        &self,
        key: &str,
        version_id: Option<&str>,
        on: bool,
    ) -> impl Future<Output = Result<()>> + Send {
        let _ = (key, version_id, on);
        async { Ok(()) }
    }
}

/// An evidence object being written piece by piece; see [`ArchiveStore::begin`].
pub trait ObjectUpload: Send {
    /// Adds the next bytes of the object.
    fn append(&mut self, piece: Bytes) -> impl Future<Output = Result<()>> + Send;

    /// Creates the object from everything appended, only if its key is absent, retained
    /// `years` (at least what [`ArchiveStore::begin`] was given: a part's retention is the
    /// longest of its rows', known once they are all written). Returns the version id, or
    /// [`Error::Conflict`] when the key exists. An upload dropped unfinished leaves nothing
    /// visible.
    fn finish(self, years: Option<u32>) -> impl Future<Output = Result<Option<String>>> + Send;
}

/// An upload that holds the pieces and creates the object whole at the end: for a store
/// that is memory already.
pub struct BufferedUpload<'a, S> {
    store: &'a S,
    key: String,
    years: Option<u32>,
    bytes: Vec<u8>,
}

impl<'a, S: ArchiveStore> BufferedUpload<'a, S> {
    /// An upload of `key` into `store`.
    pub fn new(store: &'a S, key: &str, years: Option<u32>) -> Result<Self> {
        check_key(key)?;
        Ok(Self {
            store,
            key: key.to_owned(),
            years,
            bytes: Vec::new(),
        })
    }
}

impl<S: ArchiveStore> ObjectUpload for BufferedUpload<'_, S> {
    async fn append(&mut self, piece: Bytes) -> Result<()> {
        self.bytes.extend_from_slice(&piece);
        Ok(())
    }

    async fn finish(self, years: Option<u32>) -> Result<Option<String>> {
        self.store
            .create(&self.key, Bytes::from(self.bytes), years.max(self.years))
            .await
    }
}

/// Writes one evidence object exactly once, piece by piece, hashing as it goes: what
/// [`put_once`] does for an object given whole.
pub struct OnceWriter<'a, S: ArchiveStore + 'a> {
    store: &'a S,
    key: String,
    upload: S::Upload<'a>,
    sha256: Sha256,
    size: u64,
}

/// What [`OnceWriter::finish`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenObject {
    /// The version, and whether the same bytes were there already.
    pub written: Written,
    /// SHA-256 of the bytes, hex.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
}

impl<'a, S: ArchiveStore> OnceWriter<'a, S> {
    /// Starts writing `key` into `store`, retained `years` (see [`ArchiveStore::create`]).
    pub fn begin(store: &'a S, key: &str, years: Option<u32>) -> Result<Self> {
        Ok(Self {
            store,
            key: key.to_owned(),
            upload: store.begin(key, years)?,
            sha256: Sha256::new(),
            size: 0,
        })
    }

    /// Adds the next bytes.
    pub async fn append(&mut self, piece: Bytes) -> Result<()> {
        if piece.is_empty() {
            return Ok(());
        }
        self.sha256.update(&piece);
        self.size += piece.len() as u64;
        self.upload.append(piece).await
    }

    /// Creates the object, retained `years` (see [`ObjectUpload::finish`]). A key that
    /// exists with the same bytes is an idempotent success (a re-run after a crash); with
    /// other bytes it is [`Error::AlreadyArchived`], naming the key. Never replaces anything.
    pub async fn finish(self, years: Option<u32>) -> Result<WrittenObject> {
        let ours = hex::encode(self.sha256.finalize());
        let written = match self.upload.finish(years).await {
            Ok(version_id) => Written {
                version_id,
                existed: false,
            },
            Err(Error::Conflict { .. }) => {
                let Some(stored) = self.store.read(&self.key, None).await? else {
                    // Created and gone again: only a delete, which our code never does.
                    return Err(Error::Conflict { key: self.key });
                };
                let theirs = sha256_hex(&stored.bytes);
                if ours != theirs {
                    return Err(Error::AlreadyArchived {
                        key: self.key,
                        stored: theirs,
                        ours,
                    });
                }
                Written {
                    version_id: stored.version_id,
                    existed: true,
                }
            }
            Err(e) => return Err(e),
        };
        Ok(WrittenObject {
            written,
            sha256: ours,
            size: self.size,
        })
    }
}

/// Reads the current bytes of `key`.
pub async fn get(store: &impl ArchiveStore, key: &str) -> Result<Option<Bytes>> {
    Ok(store.read(key, None).await?.map(|s| s.bytes))
}

/// Writes evidence exactly once: creates `key`, and when it already exists compares the
/// stored bytes' SHA-256 with ours. Equal is an idempotent success (a re-run after a crash);
/// different is [`Error::AlreadyArchived`], naming the key. Never replaces anything.
pub async fn put_once(
    store: &impl ArchiveStore,
    key: &str,
    bytes: Bytes,
    years: Option<u32>,
) -> Result<Written> {
    let mut w = OnceWriter::begin(store, key, years)?;
    w.append(bytes).await?;
    Ok(w.finish(years).await?.written)
}

/// SHA-256 of `bytes`, hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
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
        return Err(Error::InvalidKey {
            key: key.to_owned(),
        });
    }
    Ok(())
}

/// Rejects keys the mutable paths (`put_if`, `delete_state`) must never touch.
pub(crate) fn check_mutable(key: &str) -> Result<()> {
    check_key(key)?;
    if schema::v1::is_append_only(key) {
        return Err(Error::AppendOnly {
            key: key.to_owned(),
        });
    }
    Ok(())
}

#[doc(hidden)]
pub mod conformance;
