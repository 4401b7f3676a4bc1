//! One conformance test run against every store implementation (the local directory and
//! memory in unit tests, S3 against the emulator in the end-to-end tests).

use bytes::Bytes;

use super::{ArchiveStore, OnceWriter, get, put_once};
use crate::Error;

/// Create-only writes, reads, listing by prefix, versions and key checks: what every store
/// must do alike.
pub async fn put_get_list(store: &impl ArchiveStore) {
    const A0: &str = "v1/a/dt=2024-01-01/part-0000.parquet";
    let put = |key: &'static str, bytes: &'static [u8]| {
        put_once(store, key, Bytes::from_static(bytes), None)
    };
    assert_eq!(get(store, A0).await.unwrap(), None);
    let first = put(A0, b"one").await.unwrap();
    assert!(!first.existed);
    put("v1/a/dt=2024-01-02/part-0005.parquet", b"two!")
        .await
        .unwrap();
    put("v1/b/dt=2024-01-01/part-0000.parquet", b"b")
        .await
        .unwrap();
    assert_eq!(
        get(store, A0).await.unwrap(),
        Some(Bytes::from_static(b"one"))
    );
    // The same bytes again: an idempotent success, nothing written.
    let again = put(A0, b"one").await.unwrap();
    assert!(again.existed);
    assert_eq!(again.version_id, first.version_id);
    // Other bytes: refused, naming the key; the stored object is untouched.
    let other = put(A0, b"uno").await;
    assert!(
        matches!(&other, Err(Error::AlreadyArchived { key, .. }) if key == A0),
        "{other:?}"
    );
    assert_eq!(
        get(store, A0).await.unwrap(),
        Some(Bytes::from_static(b"one"))
    );
    let created = store.create(A0, Bytes::from_static(b"one"), None).await;
    assert!(
        matches!(created, Err(Error::Conflict { .. })),
        "{created:?}"
    );
    let listed: Vec<(String, u64)> = store
        .list("v1/a/")
        .await
        .unwrap()
        .into_iter()
        .map(|o| (o.key, o.size))
        .collect();
    assert_eq!(
        listed,
        vec![
            ("v1/a/dt=2024-01-01/part-0000.parquet".to_string(), 3),
            ("v1/a/dt=2024-01-02/part-0005.parquet".to_string(), 4),
        ]
    );
    assert_eq!(store.list("v1/a/dt=2024-01-02").await.unwrap().len(), 1);
    assert_eq!(store.list("v1/").await.unwrap().len(), 3);
    assert!(store.list("v9/").await.unwrap().is_empty());
    // Exactly one version of each key, none a delete marker.
    let versions = store.list_versions("v1/").await.unwrap();
    assert_eq!(versions.len(), 3, "{versions:?}");
    assert!(versions.iter().all(|v| v.is_latest && !v.delete_marker));
    let v = &versions[0];
    let read = store
        .read(&v.key, v.version_id.as_deref())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.bytes, Bytes::from_static(b"one"));
    for bad in ["", "/abs", "a/../b", "a//b"] {
        assert!(
            store.create(bad, Bytes::new(), None).await.is_err(),
            "{bad:?} accepted"
        );
    }
}

/// Conditional writes of `_state/`: create-if-absent, replace-if-unchanged, refusal
/// otherwise; and no mutable write or delete ever reaches evidence.
pub async fn conditional_put(store: &impl ArchiveStore) {
    const K: &str = "_state/conformance.json";
    assert_eq!(store.read(K, None).await.unwrap(), None);
    let t1 = store
        .put_if(K, Bytes::from_static(b"1"), None)
        .await
        .unwrap();
    let again = store.put_if(K, Bytes::from_static(b"1'"), None).await;
    assert!(
        matches!(again, Err(Error::Conflict { .. })),
        "create-if-absent over an existing object: {again:?}"
    );
    let stored = store.read(K, None).await.unwrap().unwrap();
    assert_eq!(
        (stored.bytes.as_ref(), stored.tag.as_str()),
        (&b"1"[..], t1.as_str())
    );
    let t2 = store
        .put_if(K, Bytes::from_static(b"2"), Some(&t1))
        .await
        .unwrap();
    assert_ne!(t1, t2);
    // A writer still holding the first tag loses.
    let stale = store.put_if(K, Bytes::from_static(b"3"), Some(&t1)).await;
    assert!(
        matches!(stale, Err(Error::Conflict { .. })),
        "replace with a stale tag: {stale:?}"
    );
    assert_eq!(get(store, K).await.unwrap(), Some(Bytes::from_static(b"2")));
    store.delete_state(K).await.unwrap();
    assert_eq!(get(store, K).await.unwrap(), None);
    for evidence in [
        "v1/spans/dt=2024-01-01/part-0000.parquet",
        "_manifests/0000000001.json",
        "_quarantine/x.raw",
        "_holds/x.json",
    ] {
        let put = store.put_if(evidence, Bytes::from_static(b"x"), None).await;
        assert!(matches!(put, Err(Error::AppendOnly { .. })), "{put:?}");
        let del = store.delete_state(evidence).await;
        assert!(matches!(del, Err(Error::AppendOnly { .. })), "{del:?}");
    }
}

/// Objects written piece by piece ([`ArchiveStore::begin`]): invisible until finished,
/// created only if absent with [`put_once`]'s answers, and gone without a trace when dropped
/// unfinished. `piece` is the size of each of the three pieces: give S3 a size above its
/// multipart threshold, so the upload goes in parts.
pub async fn streamed_create(store: &impl ArchiveStore, piece: usize) {
    const KEY: &str = "v1/streamed/dt=2024-01-01/part-0000.parquet";
    const DROPPED: &str = "v1/streamed/dt=2024-01-01/part-0001.parquet";
    let pieces: Vec<Bytes> = (0..3u8)
        .map(|n| Bytes::from(vec![b'a' + n; piece + usize::from(n)]))
        .collect();
    let whole: Vec<u8> = pieces.iter().flat_map(|p| p.to_vec()).collect();
    let write = |pieces: Vec<Bytes>| async move {
        let mut w = OnceWriter::begin(store, KEY, None).unwrap();
        for p in pieces {
            w.append(p).await.unwrap();
        }
        assert_eq!(
            get(store, KEY).await.unwrap(),
            None,
            "nothing before finish"
        );
        w.finish(None).await
    };
    // Before the first write the key is absent, so the read inside `write` holds.
    let first = write(pieces.clone()).await.unwrap();
    assert!(!first.written.existed);
    assert_eq!(first.size, whole.len() as u64);
    assert_eq!(first.sha256, super::sha256_hex(&whole));
    assert_eq!(
        get(store, KEY).await.unwrap(),
        Some(Bytes::from(whole.clone()))
    );
    // Again, with the same bytes: an idempotent success. With others: refused.
    let mut w = OnceWriter::begin(store, KEY, None).unwrap();
    for p in pieces.clone() {
        w.append(p).await.unwrap();
    }
    let again = w.finish(None).await.unwrap();
    assert!(again.written.existed);
    assert_eq!(again.written.version_id, first.written.version_id);
    let mut w = OnceWriter::begin(store, KEY, None).unwrap();
    w.append(Bytes::from_static(b"other")).await.unwrap();
    let refused = w.finish(None).await;
    assert!(
        matches!(&refused, Err(Error::AlreadyArchived { key, .. }) if key == KEY),
        "{refused:?}"
    );
    assert_eq!(get(store, KEY).await.unwrap(), Some(Bytes::from(whole)));
    // An upload dropped before it finished leaves nothing.
    let mut w = OnceWriter::begin(store, DROPPED, None).unwrap();
    for p in pieces {
        w.append(p).await.unwrap();
    }
    drop(w);
    assert_eq!(get(store, DROPPED).await.unwrap(), None);
    let listed: Vec<String> = store
        .list("v1/streamed/")
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.key)
        .collect();
    assert_eq!(listed, vec![KEY.to_owned()]);
    assert_eq!(store.list_versions(KEY).await.unwrap().len(), 1);
}
