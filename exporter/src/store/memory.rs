//! An in-memory store that keeps versions like a versioned S3 bucket: for benchmarks, for
//! tests that measure conversion rather than a disk, and for tests of `verify`, which can
//! tamper with it the way a writer with `s3:PutObject` could.

use std::collections::BTreeMap;
use std::sync::Mutex;

use bytes::Bytes;

use super::{
    ArchiveStore, BufferedUpload, ObjectMeta, ObjectVersion, Stored, check_key, check_mutable,
};
use crate::error::{Error, Result};

/// One stored version; `None` bytes for a delete marker.
#[derive(Debug, Clone)]
struct Version {
    id: u64,
    bytes: Option<Bytes>,
}

/// Every version of every key, and the last version number handed out.
type Objects = (BTreeMap<String, Vec<Version>>, u64);

/// Objects in a map, every write a new version numbered by a counter.
#[derive(Debug, Default)]
pub struct MemoryStore(Mutex<Objects>);

impl MemoryStore {
    /// Total bytes of the current versions.
    pub fn total_bytes(&self) -> u64 {
        let map = self.0.lock().expect("memory store lock");
        map.0
            .values()
            .filter_map(|v| v.last()?.bytes.as_ref())
            .map(|b| b.len() as u64)
            .sum()
    }

    /// Adds a version of `key` whatever is there, as an unconditional PutObject would: only
    /// for tests that show `verify` catching it.
    pub fn tamper_put(&self, key: &str, bytes: Bytes) {
        self.push(key, Some(bytes));
    }

    /// Adds a delete marker to `key`, as an unversioned DeleteObject would: only for tests
    /// that show `verify` catching it.
    pub fn tamper_delete(&self, key: &str) {
        self.push(key, None);
    }

    fn push(&self, key: &str, bytes: Option<Bytes>) -> u64 {
        let mut map = self.0.lock().expect("memory store lock");
        map.1 += 1;
        let id = map.1;
        map.0
            .entry(key.to_owned())
            .or_default()
            .push(Version { id, bytes });
        id
    }
}

impl ArchiveStore for MemoryStore {
    type Upload<'a> = BufferedUpload<'a, MemoryStore>;

    fn location(&self) -> String {
        "memory".into()
    }

    fn begin(&self, key: &str, years: Option<u32>) -> Result<Self::Upload<'_>> {
        BufferedUpload::new(self, key, years)
    }

    async fn create(&self, key: &str, bytes: Bytes, _years: Option<u32>) -> Result<Option<String>> {
        check_key(key)?;
        let mut map = self.0.lock().expect("memory store lock");
        if map
            .0
            .get(key)
            .and_then(|v| v.last())
            .is_some_and(|v| v.bytes.is_some())
        {
            return Err(Error::Conflict {
                key: key.to_owned(),
            });
        }
        map.1 += 1;
        let id = map.1;
        map.0.entry(key.to_owned()).or_default().push(Version {
            id,
            bytes: Some(bytes),
        });
        Ok(Some(id.to_string()))
    }

    async fn read(&self, key: &str, version_id: Option<&str>) -> Result<Option<Stored>> {
        check_key(key)?;
        let map = self.0.lock().expect("memory store lock");
        let Some(versions) = map.0.get(key) else {
            return Ok(None);
        };
        let v = match version_id {
            None => versions.last(),
            Some(id) => versions.iter().find(|v| v.id.to_string() == id),
        };
        Ok(v.and_then(|v| {
            Some(Stored {
                bytes: v.bytes.clone()?,
                version_id: Some(v.id.to_string()),
                tag: v.id.to_string(),
            })
        }))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        let map = self.0.lock().expect("memory store lock");
        Ok(map
            .0
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .filter_map(|(k, v)| {
                Some(ObjectMeta {
                    key: k.clone(),
                    size: v.last()?.bytes.as_ref()?.len() as u64,
                })
            })
            .collect())
    }

    async fn list_versions(&self, prefix: &str) -> Result<Vec<ObjectVersion>> {
        let map = self.0.lock().expect("memory store lock");
        let mut out = Vec::new();
        for (k, versions) in map
            .0
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
        {
            for (i, v) in versions.iter().enumerate() {
                out.push(ObjectVersion {
                    key: k.clone(),
                    version_id: Some(v.id.to_string()),
                    size: v.bytes.as_ref().map_or(0, |b| b.len() as u64),
                    is_latest: i + 1 == versions.len(),
                    delete_marker: v.bytes.is_none(),
                });
            }
        }
        Ok(out)
    }

    async fn put_if(&self, key: &str, bytes: Bytes, expect: Option<&str>) -> Result<String> {
        check_mutable(key)?;
        let mut map = self.0.lock().expect("memory store lock");
        let current = map
            .0
            .get(key)
            .and_then(|v| v.last())
            .filter(|v| v.bytes.is_some())
            .map(|v| v.id.to_string());
        if current.as_deref() != expect {
            return Err(Error::Conflict {
                key: key.to_owned(),
            });
        }
        // `_state/` keeps no history: the record is replaced.
        map.1 += 1;
        let id = map.1;
        map.0.insert(
            key.to_owned(),
            vec![Version {
                id,
                bytes: Some(bytes),
            }],
        );
        Ok(id.to_string())
    }

    async fn delete_state(&self, key: &str) -> Result<()> {
        check_mutable(key)?;
        self.0.lock().expect("memory store lock").0.remove(key);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn memory_store_conforms() {
        let store = super::MemoryStore::default();
        crate::store::conformance::put_get_list(&store).await;
        crate::store::conformance::conditional_put(&store).await;
        crate::store::conformance::streamed_create(&store, 1000).await;
    }
}
