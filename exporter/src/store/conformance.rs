//! One conformance test run against every store implementation.

use bytes::Bytes;

use super::ArchiveStore;

/// Put, get, replace, list by prefix, and key checks: what every store must do alike.
pub(crate) async fn put_get_list(store: &impl ArchiveStore) {
    assert_eq!(
        store
            .get("v1/a/dt=2024-01-01/part-00.parquet")
            .await
            .unwrap(),
        None
    );
    store
        .put(
            "v1/a/dt=2024-01-01/part-00.parquet",
            Bytes::from_static(b"one"),
        )
        .await
        .unwrap();
    store
        .put(
            "v1/a/dt=2024-01-02/part-05.parquet",
            Bytes::from_static(b"two!"),
        )
        .await
        .unwrap();
    store
        .put(
            "v1/b/dt=2024-01-01/part-00.parquet",
            Bytes::from_static(b"b"),
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .get("v1/a/dt=2024-01-01/part-00.parquet")
            .await
            .unwrap(),
        Some(Bytes::from_static(b"one"))
    );
    // Replacing is atomic and complete.
    store
        .put(
            "v1/a/dt=2024-01-01/part-00.parquet",
            Bytes::from_static(b"uno"),
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .get("v1/a/dt=2024-01-01/part-00.parquet")
            .await
            .unwrap(),
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
