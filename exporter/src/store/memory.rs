//! An in-memory store, for benchmarks and tests that measure conversion, not a disk.

use std::collections::BTreeMap;
use std::sync::Mutex;

use bytes::Bytes;

use super::{ArchiveStore, ObjectMeta, check_key};
use crate::error::{Error, Result};

/// Objects with the write number that last set each, and the last write number.
type Objects = (BTreeMap<String, (Bytes, u64)>, u64);

/// Objects in a map; the version tag is a write counter.
#[derive(Debug, Default)]
pub struct MemoryStore(Mutex<Objects>);

impl MemoryStore {
    /// Total bytes held.
    pub fn total_bytes(&self) -> u64 {
        let map = self.0.lock().expect("memory store lock");
        map.0.values().map(|(b, _)| b.len() as u64).sum()
    }
}

impl ArchiveStore for MemoryStore {
    fn location(&self) -> String {
        "memory".into()
    }

    async fn put(&self, key: &str, bytes: Bytes) -> Result<()> {
        check_key(key)?;
        let mut map = self.0.lock().expect("memory store lock");
        map.1 += 1;
        let version = map.1;
        map.0.insert(key.to_owned(), (bytes, version));
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        Ok(self.get_tagged(key).await?.map(|(b, _)| b))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        let map = self.0.lock().expect("memory store lock");
        Ok(map
            .0
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, (v, _))| ObjectMeta {
                key: k.clone(),
                size: v.len() as u64,
            })
            .collect())
    }

    async fn get_tagged(&self, key: &str) -> Result<Option<(Bytes, String)>> {
        check_key(key)?;
        let map = self.0.lock().expect("memory store lock");
        Ok(map.0.get(key).map(|(b, v)| (b.clone(), v.to_string())))
    }

    async fn put_if(&self, key: &str, bytes: Bytes, expect: Option<&str>) -> Result<String> {
        check_key(key)?;
        let mut map = self.0.lock().expect("memory store lock");
        let current = map.0.get(key).map(|(_, v)| v.to_string());
        if current.as_deref() != expect {
            return Err(Error::Conflict {
                key: key.to_owned(),
            });
        }
        map.1 += 1;
        let version = map.1;
        map.0.insert(key.to_owned(), (bytes, version));
        Ok(version.to_string())
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn memory_store_conforms() {
        let store = super::MemoryStore::default();
        crate::store::conformance::put_get_list(&store).await;
        crate::store::conformance::conditional_put(&store).await;
    }
}
