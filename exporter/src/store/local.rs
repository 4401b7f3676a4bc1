//! The local-directory store: the embedded default, no AWS account needed.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use tracing::instrument;

use super::{ArchiveStore, ObjectMeta, ObjectVersion, Stored, check_key, check_mutable};
use crate::error::{Error, Result};

/// Staging directory for atomic writes. Athena and Hive skip names starting with `_`, and
/// staging inside the root keeps the final rename on one filesystem.
const STAGING_DIR: &str = "_tmp";

/// An archive in a local directory: keys map to relative paths.
#[derive(Debug)]
pub struct LocalDirStore {
    root: PathBuf,
    counter: AtomicU64,
}

impl LocalDirStore {
    /// Opens (creating if needed) an archive rooted at `root`.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        std::fs::create_dir_all(root.join(STAGING_DIR)).map_err(|source| Error::ArchiveRoot {
            path: root.clone(),
            source,
        })?;
        Ok(Self {
            root,
            counter: AtomicU64::new(0),
        })
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path_of(&self, key: &str) -> Result<PathBuf> {
        check_key(key)?;
        Ok(self.root.join(key))
    }

    /// A new, empty staging file and its path.
    fn staging_file(&self, key: &str) -> Result<(std::fs::File, PathBuf)> {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let tmp = self
            .root
            .join(STAGING_DIR)
            .join(format!("{}-{n}.tmp", std::process::id()));
        let f = std::fs::File::create(&tmp).map_err(|source| Error::Put {
            key: key.to_owned(),
            source,
        })?;
        Ok((f, tmp))
    }

    /// Writes `bytes` to a durable staging file and returns its path.
    fn stage(&self, key: &str, bytes: &[u8]) -> Result<PathBuf> {
        let err = |source| Error::Put {
            key: key.to_owned(),
            source,
        };
        let (mut f, tmp) = self.staging_file(key)?;
        f.write_all(bytes).map_err(err)?;
        // Durable before visible: a crash after the link must not expose an empty file.
        f.sync_all().map_err(err)?;
        Ok(tmp)
    }

    /// The path of `key`, its directory created.
    fn target(&self, key: &str) -> Result<PathBuf> {
        let path = self.path_of(key)?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| Error::Put {
                key: key.to_owned(),
                source,
            })?;
        }
        Ok(path)
    }

    /// The path of `key`, its directory created, and a durable staging file of `bytes`.
    fn prepare(&self, key: &str, bytes: &[u8]) -> Result<(PathBuf, PathBuf)> {
        let path = self.target(key)?;
        Ok((path, self.stage(key, bytes)?))
    }

    /// Creates `key` only if absent: a hard link from the staging file fails when the name
    /// exists, atomically, so two writers can never both create it and nothing is replaced.
    fn create_sync(&self, key: &str, bytes: &[u8]) -> Result<()> {
        let (path, tmp) = self.prepare(key, bytes)?;
        link_new(key, &tmp, &path)
    }

    /// Replaces a `_state/` file atomically (staging file, then rename).
    fn replace_sync(&self, key: &str, bytes: &[u8]) -> Result<()> {
        let (path, tmp) = self.prepare(key, bytes)?;
        std::fs::rename(&tmp, &path).map_err(|source| Error::Put {
            key: key.to_owned(),
            source,
        })?;
        Ok(())
    }

    fn list_sync(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        let err = |source| Error::List {
            prefix: prefix.to_owned(),
            source,
        };
        // Walk from the deepest directory the prefix names, then filter by the full prefix.
        let dir_part = prefix.rsplit_once('/').map_or("", |(d, _)| d);
        let start = if dir_part.is_empty() {
            self.root.clone()
        } else {
            self.path_of(dir_part)?
        };
        let mut out = Vec::new();
        let mut stack = vec![start];
        while let Some(dir) = stack.pop() {
            let entries = match std::fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(err(e)),
            };
            for entry in entries {
                let entry = entry.map_err(err)?;
                let path = entry.path();
                let meta = entry.metadata().map_err(err)?;
                let rel = path
                    .strip_prefix(&self.root)
                    .expect("under root")
                    .to_string_lossy()
                    .replace('\\', "/");
                if rel == STAGING_DIR {
                    continue;
                }
                if meta.is_dir() {
                    stack.push(path);
                } else if rel.starts_with(prefix) {
                    out.push(ObjectMeta {
                        key: rel,
                        size: meta.len(),
                    });
                }
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }
}

/// Links a durable staging file to `path` only if no file is there, then removes the
/// staging name.
fn link_new(key: &str, tmp: &Path, path: &Path) -> Result<()> {
    let linked = std::fs::hard_link(tmp, path);
    let _ = std::fs::remove_file(tmp);
    match linked {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(Error::Conflict {
            key: key.to_owned(),
        }),
        Err(source) => Err(Error::Put {
            key: key.to_owned(),
            source,
        }),
    }
}

/// A part being written to a staging file, linked into place when finished; the staging
/// file goes if it is dropped unfinished.
pub struct LocalUpload {
    key: String,
    path: PathBuf,
    file: Option<(std::fs::File, PathBuf)>,
}

impl super::ObjectUpload for LocalUpload {
    async fn append(&mut self, piece: Bytes) -> Result<()> {
        let (f, _) = self.file.as_mut().expect("open until finished");
        f.write_all(&piece).map_err(|source| Error::Put {
            key: self.key.clone(),
            source,
        })
    }

    async fn finish(mut self, _years: Option<u32>) -> Result<Option<String>> {
        let (f, tmp) = self.file.take().expect("open until finished");
        // Durable before visible: a crash after the link must not expose a partial file.
        f.sync_all().map_err(|source| Error::Put {
            key: self.key.clone(),
            source,
        })?;
        link_new(&self.key, &tmp, &self.path)?;
        Ok(None)
    }
}

impl Drop for LocalUpload {
    fn drop(&mut self) {
        if let Some((_, tmp)) = self.file.take() {
            let _ = std::fs::remove_file(tmp);
        }
    }
}

impl ArchiveStore for LocalDirStore {
    type Upload<'a> = LocalUpload;

    fn begin(&self, key: &str, _years: Option<u32>) -> Result<LocalUpload> {
        let path = self.target(key)?;
        Ok(LocalUpload {
            key: key.to_owned(),
            path,
            file: Some(self.staging_file(key)?),
        })
    }

    fn location(&self) -> String {
        self.root.display().to_string()
    }

    #[instrument(skip(self, bytes), fields(size = bytes.len()))]
    async fn create(&self, key: &str, bytes: Bytes, _years: Option<u32>) -> Result<Option<String>> {
        self.create_sync(key, &bytes)?;
        Ok(None)
    }

    #[instrument(skip(self))]
    async fn read(&self, key: &str, _version_id: Option<&str>) -> Result<Option<Stored>> {
        let path = self.path_of(key)?;
        match std::fs::read(&path) {
            Ok(b) => Ok(Some(Stored {
                tag: content_tag(&b),
                bytes: Bytes::from(b),
                version_id: None,
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(Error::Get {
                key: key.to_owned(),
                source,
            }),
        }
    }

    #[instrument(skip(self))]
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        self.list_sync(prefix)
    }

    /// A directory keeps no versions: each file is its one version.
    async fn list_versions(&self, prefix: &str) -> Result<Vec<ObjectVersion>> {
        Ok(self
            .list_sync(prefix)?
            .into_iter()
            .map(|m| ObjectVersion {
                key: m.key,
                version_id: None,
                size: m.size,
                is_latest: true,
                delete_marker: false,
            })
            .collect())
    }

    async fn delete_state(&self, key: &str) -> Result<()> {
        check_mutable(key)?;
        match std::fs::remove_file(self.path_of(key)?) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(Error::Put {
                key: key.to_owned(),
                source,
            }),
        }
    }

    /// Compare-and-swap under an exclusive lock on `_tmp/conditional.lock`, which every
    /// process writing this archive shares; the tag is the content's SHA-256.
    async fn put_if(&self, key: &str, bytes: Bytes, expect: Option<&str>) -> Result<String> {
        check_mutable(key)?;
        let err = |source| Error::Put {
            key: key.to_owned(),
            source,
        };
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.root.join(STAGING_DIR).join("conditional.lock"))
            .map_err(err)?;
        lock.lock().map_err(err)?;
        let current = self.read(key, None).await?.map(|s| s.tag);
        if current.as_deref() != expect {
            return Err(Error::Conflict {
                key: key.to_owned(),
            });
        }
        self.replace_sync(key, &bytes)?;
        drop(lock);
        Ok(content_tag(&bytes))
    }
}

/// The local store's version tag: the content's SHA-256, hex.
fn content_tag(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn local_store_conforms() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDirStore::open(dir.path()).unwrap();
        crate::store::conformance::put_get_list(&store).await;
        crate::store::conformance::conditional_put(&store).await;
        crate::store::conformance::streamed_create(&store, 1000).await;
    }

    #[tokio::test]
    async fn staging_files_never_show_in_listings() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDirStore::open(dir.path()).unwrap();
        std::fs::write(dir.path().join(STAGING_DIR).join("x.tmp"), b"partial").unwrap();
        assert!(store.list("").await.unwrap().is_empty());
    }
}
