//! One conformance test run against every store implementation (the local directory in
//! unit tests, S3 against the emulator in the end-to-end tests).

use bytes::Bytes;

use super::ArchiveStore;

/// Put, get, replace, list by prefix, and key checks: what every store must do alike.
pub async fn put_get_list(store: &impl ArchiveStore) {
    const A0: &str = "v1/a/dt=2024-01-01/part-00.parquet";
    let put = |key: &'static str, bytes: &'static [u8]| store.put(key, Bytes::from_static(bytes));
    assert_eq!(store.get(A0).await.unwrap(), None);
    put(A0, b"one").await.unwrap();
    put("v1/a/dt=2024-01-02/part-05.parquet", b"two!")
        .await
        .unwrap();
    put("v1/b/dt=2024-01-01/part-00.parquet", b"b")
        .await
        .unwrap();
    assert_eq!(
        store.get(A0).await.unwrap(),
        Some(Bytes::from_static(b"one"))
    );
    // Replacing is atomic and complete.
    put(A0, b"uno").await.unwrap();
    assert_eq!(
        store.get(A0).await.unwrap(),
        Some(Bytes::from_static(b"uno"))
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
            ("v1/a/dt=2024-01-01/part-00.parquet".to_string(), 3),
            ("v1/a/dt=2024-01-02/part-05.parquet".to_string(), 4),
        ]
    );
    assert_eq!(store.list("v1/a/dt=2024-01-02").await.unwrap().len(), 1);
    assert_eq!(store.list("v1/").await.unwrap().len(), 3);
    assert!(store.list("v9/").await.unwrap().is_empty());
    for bad in ["", "/abs", "a/../b", "a//b"] {
        assert!(
            store.put(bad, Bytes::new()).await.is_err(),
            "{bad:?} accepted"
        );
    }
}

/// Conditional writes: create-if-absent, replace-if-unchanged, and refusal otherwise.
pub async fn conditional_put(store: &impl ArchiveStore) {
    const K: &str = "_state/conformance.json";
    assert_eq!(store.get_tagged(K).await.unwrap(), None);
    let t1 = store
        .put_if(K, Bytes::from_static(b"1"), None)
        .await
        .unwrap();
    let again = store.put_if(K, Bytes::from_static(b"1'"), None).await;
    assert!(
        matches!(again, Err(crate::Error::Conflict { .. })),
        "create-if-absent over an existing object: {again:?}"
    );
    let (bytes, tag) = store.get_tagged(K).await.unwrap().unwrap();
    assert_eq!((bytes.as_ref(), tag.as_str()), (&b"1"[..], t1.as_str()));
    let t2 = store
        .put_if(K, Bytes::from_static(b"2"), Some(&t1))
        .await
        .unwrap();
    assert_ne!(t1, t2);
    // A writer still holding the first tag loses.
    let stale = store.put_if(K, Bytes::from_static(b"3"), Some(&t1)).await;
    assert!(
        matches!(stale, Err(crate::Error::Conflict { .. })),
        "replace with a stale tag: {stale:?}"
    );
    assert_eq!(store.get(K).await.unwrap(), Some(Bytes::from_static(b"2")));
}
