//! The S3 store against a real emulator server (moto, started by tests/run.sh): the same
//! conformance tests as the local directory, multipart uploads, and Object Lock retention
//! read back with HeadObject.

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::types::ObjectLockMode;
use bytes::Bytes;
use e2e::unique;
use exporter::store::{conformance, get};
use exporter::{ArchiveStore, LockMode, ObjectLock, S3Options, S3Store};

/// The emulator's endpoint, from tests/run.sh.
fn moto() -> String {
    std::env::var("XRAY_ARCHIVE_MOTO").expect(
        "XRAY_ARCHIVE_MOTO is not set: run the tests with tests/run.sh, which starts the moto \
         emulator, or start `python tests/moto_server.py --ports-file F` and set it to the \
         \"clean\" URL in F",
    )
}

fn client() -> Client {
    let config = aws_sdk_s3::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .http_client(exporter::aws::https_client())
        .endpoint_url(moto())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "static"))
        .force_path_style(true)
        .build();
    Client::from_conf(config)
}

/// A bucket with Object Lock, and so with versioning: every write is a version that stays.
async fn locked_bucket(name: &str) -> Client {
    let client = client();
    client
        .create_bucket()
        .bucket(name)
        .object_lock_enabled_for_bucket(true)
        .send()
        .await
        .expect("create bucket");
    client
}

fn put(
    store: &S3Store,
    key: &str,
    bytes: Bytes,
) -> impl Future<Output = exporter::Result<exporter::store::Written>> {
    exporter::store::put_once(store, key, bytes, None)
}

#[tokio::test]
async fn s3_store_conforms_against_moto() {
    let bucket = unique("conformance");
    let client = locked_bucket(&bucket).await;
    let store = S3Store::new(
        client,
        &format!("s3://{bucket}/prod/"),
        S3Options::default(),
    )
    .unwrap();
    assert_eq!(store.location(), format!("s3://{bucket}/prod"));
    conformance::put_get_list(&store).await;
    conformance::conditional_put(&store).await;
}

#[tokio::test]
async fn large_parts_go_up_in_parts_with_retention() {
    let bucket = unique("multipart");
    let client = locked_bucket(&bucket).await;
    let options = S3Options {
        lock: Some(ObjectLock {
            mode: LockMode::Governance,
            years: 2,
        }),
        multipart_threshold: 6 << 20,
        part_size: 5 << 20,
        ..S3Options::default()
    };
    let store = S3Store::new(client.clone(), &format!("s3://{bucket}"), options).unwrap();
    // Piece by piece: 3 pieces of 3 MiB, so the upload starts at the second and goes in
    // 5 MiB parts, the last one smaller.
    conformance::streamed_create(&store, 3 << 20).await;
    let big: Bytes = (0..(11u32 << 20)).map(|i| (i * 7 % 251) as u8).collect();
    let key = "v1/segments/dt=2026-01-02/part-0003.parquet";
    let first = put(&store, key, big.clone()).await.unwrap();
    assert_eq!(get(&store, key).await.unwrap(), Some(big.clone()));
    // Create-only on multipart uploads too: the same bytes again are an idempotent success,
    // other bytes are refused, and the key keeps exactly one version.
    let again = put(&store, key, big.clone()).await.unwrap();
    assert!(again.existed);
    assert_eq!(again.version_id, first.version_id);
    let mut other = big.to_vec();
    other[5 << 20] ^= 1;
    let refused = put(&store, key, Bytes::from(other)).await;
    assert!(
        matches!(&refused, Err(exporter::Error::AlreadyArchived { key: k, .. }) if k == key),
        "{refused:?}"
    );
    let versions = store.list_versions(key).await.unwrap();
    assert_eq!(versions.len(), 1, "{versions:?}");
    assert_eq!(get(&store, key).await.unwrap(), Some(big));
    let small = "v1/spans/dt=2026-01-02/part-0003.parquet";
    let kms = S3Store::new(
        client.clone(),
        &format!("s3://{bucket}/kms"),
        S3Options {
            kms_key_id: Some("alias/xray-archive".into()),
            ..S3Options::default()
        },
    )
    .unwrap();
    put(&kms, small, Bytes::from_static(b"sealed"))
        .await
        .unwrap();
    let head = client
        .head_object()
        .bucket(&bucket)
        .key(format!("kms/{small}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        head.server_side_encryption().map(|s| s.as_str()),
        Some("aws:kms")
    );
    assert_eq!(head.ssekms_key_id(), Some("alias/xray-archive"));
    put(&store, small, Bytes::from_static(b"small"))
        .await
        .unwrap();
    for k in [key, small] {
        let head = client
            .head_object()
            .bucket(&bucket)
            .key(k)
            .send()
            .await
            .unwrap();
        assert_eq!(
            head.object_lock_mode(),
            Some(&ObjectLockMode::Governance),
            "{k}"
        );
        let until = head.object_lock_retain_until_date().expect("retain-until");
        assert_eq!(
            until.secs(),
            1_830_384_000,
            "{k}: 2028-01-02, two years after its dt"
        );
    }
    // Nothing half-uploaded is left behind.
    let open = client
        .list_multipart_uploads()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    assert!(open.uploads().is_empty(), "{:?}", open.uploads());
}

#[tokio::test]
async fn a_bucket_without_object_lock_gets_a_clear_error() {
    let client = client();
    client
        .create_bucket()
        .bucket("unlocked-archive")
        .send()
        .await
        .unwrap();
    let store = S3Store::new(client, "s3://unlocked-archive", S3Options::default()).unwrap();
    let err = put(
        &store,
        "v1/spans/dt=2026-01-02/part-0003.parquet",
        Bytes::from_static(b"x"),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("PutObject"), "{err}");
    assert!(err.contains("Object Lock"), "{err}");
}
