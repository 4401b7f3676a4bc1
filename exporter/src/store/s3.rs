//! The S3 store: the archive in a bucket under Object Lock, through `aws-sdk-s3`.
//!
//! Evidence is created with `If-None-Match: *` (on PutObject, and on
//! CompleteMultipartUpload for large parts), so S3 itself refuses a second version of a
//! key; the bucket policy in `infra/` denies any PutObject there without it. Every object
//! carries a SHA-256 checksum that S3 verifies, and Object Lock retention: retain-until is
//! the day of the data (the `dt=` or `day=` of the key) plus the retention period, so a
//! trace is kept for the full period after it happened however late it was archived.
//! `_state/` records are written with `If-Match` / `If-None-Match` and never locked.

use aws_sdk_s3::Client;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::{ByteStream, DateTime};
use aws_sdk_s3::types::{
    ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart, ObjectLockMode,
    ObjectLockRetention, ObjectLockRetentionMode, ServerSideEncryption,
};
use base64_sha::sha256_base64;
use bytes::Bytes;
use chrono::{Months, NaiveDate, Utc};
use tracing::instrument;

use super::{ArchiveStore, ObjectMeta, ObjectVersion, Stored, check_key, check_mutable};
use crate::error::{Error, Result};
use crate::retry::{PaceConfig, Pacer, aws_error};

/// Object Lock retention mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    /// Nobody, not even the root user, can shorten or remove the retention.
    Compliance,
    /// Users with `s3:BypassGovernanceRetention` can; for testing a setup.
    Governance,
}

impl std::str::FromStr for LockMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_uppercase().as_str() {
            "COMPLIANCE" => Ok(Self::Compliance),
            "GOVERNANCE" => Ok(Self::Governance),
            _ => Err(Error::Config(format!(
                "lock mode {s:?} is not COMPLIANCE, GOVERNANCE or OFF"
            ))),
        }
    }
}

/// Retention set on every object written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectLock {
    /// The mode.
    pub mode: LockMode,
    /// Years kept after the day of the data.
    pub years: u32,
}

impl ObjectLock {
    /// Seven years in COMPLIANCE mode: the longest common record-keeping rule.
    pub const DEFAULT: ObjectLock = ObjectLock {
        mode: LockMode::Compliance,
        years: 7,
    };

    /// Retain-until for `key`: the day of its data plus the retention years.
    pub fn retain_until(&self, key: &str) -> chrono::DateTime<Utc> {
        let day = schema::v1::day_of_key(key).unwrap_or_else(|| Utc::now().date_naive());
        let until = day
            .checked_add_months(Months::new(12 * self.years))
            .unwrap_or(NaiveDate::MAX);
        until.and_hms_opt(0, 0, 0).expect("midnight").and_utc()
    }
}

/// Settings of an S3 archive.
#[derive(Debug, Clone)]
pub struct S3Options {
    /// Object Lock retention; `None` for a bucket without Object Lock.
    pub lock: Option<ObjectLock>,
    /// SSE-KMS key id or ARN; `None` for the bucket's default encryption.
    pub kms_key_id: Option<String>,
    /// Objects at least this big go up as multipart uploads; it is also what an upload
    /// holds in memory before its first part goes.
    pub multipart_threshold: usize,
    /// Size of each multipart part (S3's minimum is 5 MiB).
    pub part_size: usize,
}

impl Default for S3Options {
    fn default() -> Self {
        Self {
            lock: Some(ObjectLock::DEFAULT),
            kms_key_id: None,
            multipart_threshold: 16 << 20,
            part_size: 16 << 20,
        }
    }
}

/// Splits `s3://bucket/prefix` into the bucket and a prefix without slashes at either end.
pub fn parse_s3_url(url: &str) -> Result<(String, String)> {
    let rest = url.strip_prefix("s3://").ok_or_else(|| {
        Error::Config(format!("{url:?} is not an s3:// URL (s3://bucket/prefix)"))
    })?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(Error::Config(format!(
            "{url:?} names no bucket; write s3://bucket/prefix"
        )));
    }
    Ok((bucket.to_owned(), prefix.trim_matches('/').to_owned()))
}

/// Adds the Object Lock retention and SSE-KMS headers to a PutObject or
/// CreateMultipartUpload request (two builder types with the same setters).
macro_rules! protect {
    ($req:expr, $lock:expr, $key:expr, $kms:expr) => {{
        let mut req = $req;
        if let Some(lock) = $lock {
            req = req
                .object_lock_mode(lock_mode(lock.mode))
                .object_lock_retain_until_date(to_smithy(lock.retain_until($key)));
        }
        if let Some(kms) = &$kms {
            req = req
                .server_side_encryption(ServerSideEncryption::AwsKms)
                .ssekms_key_id(kms);
        }
        req
    }};
}

/// An archive under `s3://bucket/prefix`.
#[derive(Debug)]
pub struct S3Store {
    client: Client,
    bucket: String,
    prefix: String,
    options: S3Options,
    pacer: Pacer,
}

impl S3Store {
    /// A store at `s3://bucket/prefix` through `client`.
    pub fn new(client: Client, url: &str, options: S3Options) -> Result<Self> {
        let (bucket, prefix) = parse_s3_url(url)?;
        Ok(Self {
            client,
            bucket,
            prefix,
            options,
            pacer: Pacer::new(PaceConfig::S3),
        })
    }

    /// A client from the standard AWS configuration (region, profile, `AWS_ENDPOINT_URL`,
    /// `AWS_ENDPOINT_URL_S3`), with path-style addressing when an endpoint is overridden
    /// (local emulators) and the SDK's own retries off (see [`crate::retry`]).
    pub async fn client_from_env() -> Client {
        let conf = crate::aws::sdk_config().await;
        let path_style = std::env::var_os("AWS_ENDPOINT_URL_S3").is_some()
            || std::env::var_os("AWS_ENDPOINT_URL").is_some();
        let s3 = aws_sdk_s3::config::Builder::from(&conf)
            .force_path_style(path_style)
            .build();
        Client::from_conf(s3)
    }

    /// Attempts, throttles and transient failures seen so far.
    pub fn stats(&self) -> crate::retry::PaceStats {
        self.pacer.stats()
    }

    fn full_key(&self, key: &str) -> Result<String> {
        check_key(key)?;
        Ok(if self.prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{}/{key}", self.prefix)
        })
    }

    /// The key prefix of the archive root in the bucket, with its trailing slash.
    fn root(&self) -> String {
        if self.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.prefix)
        }
    }

    fn target(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    /// The bucket's lock settings, with `years` instead of the default when given (a
    /// retention policy's years for the rows of this object).
    fn lock_for(&self, years: Option<u32>) -> Option<ObjectLock> {
        self.options.lock.map(|l| ObjectLock {
            years: years.unwrap_or(l.years),
            ..l
        })
    }

    /// PutObject (multipart above the threshold for evidence), conditional on `if_match`
    /// or `if_none_match`. `lock`: Object Lock retention for `years` (evidence); `_state/`
    /// records are never locked. Returns the ETag and the version id.
    async fn put_object(
        &self,
        key: &str,
        bytes: Bytes,
        if_match: Option<&str>,
        if_none_match: bool,
        lock: Option<ObjectLock>,
    ) -> Result<(String, Option<String>)> {
        let full = self.full_key(key)?;
        let checksum = sha256_base64(&bytes);
        let out = self
            .pacer
            .call("PutObject", || {
                let req = self
                    .client
                    .put_object()
                    .bucket(&self.bucket)
                    .key(&full)
                    .body(ByteStream::from(bytes.clone()))
                    .checksum_algorithm(ChecksumAlgorithm::Sha256)
                    .checksum_sha256(&checksum)
                    .set_if_match(if_match.map(str::to_owned));
                let req = if if_none_match {
                    req.if_none_match("*")
                } else {
                    req
                };
                protect!(req, lock, key, self.options.kms_key_id).send()
            })
            .await;
        match out {
            Ok(out) => Ok((
                out.e_tag().unwrap_or_default().to_owned(),
                out.version_id().map(str::to_owned),
            )),
            Err(e) if is_precondition(&e) => Err(Error::Conflict {
                key: key.to_owned(),
            }),
            Err(e) => Err(aws_error("S3", "PutObject", self.target(&full), &e)),
        }
    }

    /// Starts a multipart upload of `full` with the lock and encryption of evidence.
    async fn create_upload(
        &self,
        key: &str,
        full: &str,
        lock: Option<ObjectLock>,
    ) -> Result<String> {
        let created = self
            .pacer
            .call("CreateMultipartUpload", || {
                let req = self
                    .client
                    .create_multipart_upload()
                    .bucket(&self.bucket)
                    .key(full)
                    .checksum_algorithm(ChecksumAlgorithm::Sha256);
                protect!(req, lock, key, self.options.kms_key_id).send()
            })
            .await
            .map_err(|e| aws_error("S3", "CreateMultipartUpload", self.target(full), &e))?;
        Ok(created.upload_id().unwrap_or_default().to_owned())
    }

    /// Uploads part `number` with its own SHA-256 checksum.
    async fn upload_part(
        &self,
        full: &str,
        upload_id: &str,
        number: i32,
        chunk: Bytes,
    ) -> Result<CompletedPart> {
        let checksum = sha256_base64(&chunk);
        let out = self
            .pacer
            .call("UploadPart", || {
                self.client
                    .upload_part()
                    .bucket(&self.bucket)
                    .key(full)
                    .upload_id(upload_id)
                    .part_number(number)
                    .checksum_algorithm(ChecksumAlgorithm::Sha256)
                    .checksum_sha256(&checksum)
                    .body(ByteStream::from(chunk.clone()))
                    .send()
            })
            .await
            .map_err(|e| aws_error("S3", "UploadPart", self.target(full), &e))?;
        Ok(CompletedPart::builder()
            .part_number(number)
            .set_e_tag(out.e_tag().map(str::to_owned))
            .checksum_sha256(checksum)
            .build())
    }

    /// Completes a multipart upload, create-only, and sets its retention. Returns the
    /// version id.
    async fn complete_upload(
        &self,
        key: &str,
        full: &str,
        upload_id: &str,
        parts: Vec<CompletedPart>,
        lock: Option<ObjectLock>,
    ) -> Result<Option<String>> {
        let done = CompletedMultipartUpload::builder()
            .set_parts(Some(parts))
            .build();
        let out = self
            .pacer
            .call("CompleteMultipartUpload", || {
                self.client
                    .complete_multipart_upload()
                    .bucket(&self.bucket)
                    .key(full)
                    .upload_id(upload_id)
                    .multipart_upload(done.clone())
                    // Create-only for multipart uploads too: the completion is refused when
                    // the key exists.
                    .if_none_match("*")
                    .send()
            })
            .await;
        let out = match out {
            Ok(out) => out,
            Err(e) if is_precondition(&e) => {
                return Err(Error::Conflict {
                    key: key.to_owned(),
                });
            }
            Err(e) => {
                return Err(aws_error(
                    "S3",
                    "CompleteMultipartUpload",
                    self.target(full),
                    &e,
                ));
            }
        };
        // The retention was requested at CreateMultipartUpload; it is set again on the
        // completed version, so it holds even where a store (moto, some S3-compatible ones)
        // ignores lock headers on multipart uploads. Setting the same retention is a no-op.
        if let Some(lock) = lock {
            let retention = ObjectLockRetention::builder()
                .mode(retention_mode(lock.mode))
                .retain_until_date(to_smithy(lock.retain_until(key)))
                .build();
            self.pacer
                .call("PutObjectRetention", || {
                    self.client
                        .put_object_retention()
                        .bucket(&self.bucket)
                        .key(full)
                        .set_version_id(out.version_id().map(str::to_owned))
                        .retention(retention.clone())
                        .send()
                })
                .await
                .map_err(|e| aws_error("S3", "PutObjectRetention", self.target(full), &e))?;
        }
        Ok(out.version_id().map(str::to_owned))
    }

    /// Abandons a multipart upload so no orphaned parts are billed (best effort: the
    /// bucket's lifecycle rule removes what an interrupted process leaves).
    async fn abort_upload(&self, full: &str, upload_id: &str) {
        let _ = self
            .client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(full)
            .upload_id(upload_id)
            .send()
            .await;
    }
}

/// An evidence object going up piece by piece. Up to [`S3Options::multipart_threshold`]
/// bytes are held; an object that stays under it is one conditional PutObject, a larger
/// one a multipart upload of [`S3Options::part_size`] parts, completed with
/// `If-None-Match: *`. Memory holds one part, whatever the object's size.
pub struct S3Upload<'a> {
    store: &'a S3Store,
    key: String,
    full: String,
    lock: Option<ObjectLock>,
    buffer: Vec<u8>,
    upload_id: Option<String>,
    parts: Vec<CompletedPart>,
}

impl S3Upload<'_> {
    /// Sends the buffer as parts while it holds a full one, and with `last` what remains
    /// too, starting the multipart upload if it has not started. A failed part aborts it.
    async fn send_parts(&mut self, last: bool) -> Result<()> {
        let size = self.store.options.part_size.max(5 << 20);
        while self.buffer.len() >= size || (last && !self.buffer.is_empty()) {
            let upload_id = match &self.upload_id {
                Some(id) => id.clone(),
                None => {
                    let id = self
                        .store
                        .create_upload(&self.key, &self.full, self.lock)
                        .await?;
                    self.upload_id = Some(id.clone());
                    id
                }
            };
            let take = self.buffer.len().min(size);
            let chunk = Bytes::from(self.buffer.drain(..take).collect::<Vec<u8>>());
            let number = self.parts.len() as i32 + 1;
            match self
                .store
                .upload_part(&self.full, &upload_id, number, chunk)
                .await
            {
                Ok(p) => self.parts.push(p),
                Err(e) => {
                    self.store.abort_upload(&self.full, &upload_id).await;
                    self.upload_id = None;
                    return Err(e);
                }
            }
        }
        Ok(())
    }
}

impl Drop for S3Upload<'_> {
    /// An upload dropped before it finished (an error while its part was encoded) is
    /// aborted in the background; one a crash leaves is removed by the bucket's lifecycle
    /// rule (`infra/`). Either way no object appears.
    fn drop(&mut self) {
        let Some(upload_id) = self.upload_id.take() else {
            return;
        };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let request = self
                .store
                .client
                .abort_multipart_upload()
                .bucket(&self.store.bucket)
                .key(&self.full)
                .upload_id(upload_id);
            runtime.spawn(async move {
                let _ = request.send().await;
            });
        }
    }
}

impl super::ObjectUpload for S3Upload<'_> {
    async fn append(&mut self, piece: Bytes) -> Result<()> {
        self.buffer.extend_from_slice(&piece);
        let threshold = self.store.options.multipart_threshold;
        if self.upload_id.is_some() || self.buffer.len() >= threshold {
            self.send_parts(false).await?;
        }
        Ok(())
    }

    async fn finish(mut self, years: Option<u32>) -> Result<Option<String>> {
        // The part's retention, now that all its rows are known (at least the years it was
        // begun with, so a retention set at CreateMultipartUpload only ever grows).
        if years.is_some() {
            self.lock = self.store.lock_for(years);
        }
        let Some(_) = &self.upload_id else {
            let bytes = Bytes::from(std::mem::take(&mut self.buffer));
            let (_, version) = self
                .store
                .put_object(&self.key, bytes, None, true, self.lock)
                .await?;
            return Ok(version);
        };
        // The last part may be smaller than S3's 5 MiB minimum.
        self.send_parts(true).await?;
        let upload_id = self.upload_id.take().expect("started above");
        let parts = std::mem::take(&mut self.parts);
        let done = self
            .store
            .complete_upload(&self.key, &self.full, &upload_id, parts, self.lock)
            .await;
        if done.is_err() {
            self.store.abort_upload(&self.full, &upload_id).await;
        }
        done
    }
}

fn lock_mode(mode: LockMode) -> ObjectLockMode {
    match mode {
        LockMode::Compliance => ObjectLockMode::Compliance,
        LockMode::Governance => ObjectLockMode::Governance,
    }
}

fn retention_mode(mode: LockMode) -> ObjectLockRetentionMode {
    match mode {
        LockMode::Compliance => ObjectLockRetentionMode::Compliance,
        LockMode::Governance => ObjectLockRetentionMode::Governance,
    }
}

fn to_smithy(t: chrono::DateTime<Utc>) -> DateTime {
    DateTime::from_secs(t.timestamp())
}

fn is_precondition<E: ProvideErrorMetadata>(
    e: &aws_sdk_s3::error::SdkError<E, crate::retry::HttpResponse>,
) -> bool {
    e.code() == Some("PreconditionFailed")
        || e.raw_response().is_some_and(|r| r.status().as_u16() == 412)
}

mod base64_sha {
    use sha2::{Digest, Sha256};

    /// The base64 SHA-256 S3 expects in `x-amz-checksum-sha256`.
    pub fn sha256_base64(bytes: &[u8]) -> String {
        aws_smithy_types::base64::encode(Sha256::digest(bytes))
    }
}

impl ArchiveStore for S3Store {
    type Upload<'a> = S3Upload<'a>;

    fn location(&self) -> String {
        if self.prefix.is_empty() {
            format!("s3://{}", self.bucket)
        } else {
            format!("s3://{}/{}", self.bucket, self.prefix)
        }
    }

    #[instrument(skip(self, bytes), fields(size = bytes.len()))]
    async fn create(&self, key: &str, bytes: Bytes, years: Option<u32>) -> Result<Option<String>> {
        let mut upload = self.begin(key, years)?;
        super::ObjectUpload::append(&mut upload, bytes).await?;
        super::ObjectUpload::finish(upload, years).await
    }

    fn begin(&self, key: &str, years: Option<u32>) -> Result<S3Upload<'_>> {
        Ok(S3Upload {
            store: self,
            key: key.to_owned(),
            full: self.full_key(key)?,
            lock: self.lock_for(years),
            buffer: Vec::new(),
            upload_id: None,
            parts: Vec::new(),
        })
    }

    #[instrument(skip(self))]
    async fn set_legal_hold(&self, key: &str, version_id: Option<&str>, on: bool) -> Result<()> {
        use aws_sdk_s3::types::{ObjectLockLegalHold, ObjectLockLegalHoldStatus};
        let full = self.full_key(key)?;
        let status = if on {
            ObjectLockLegalHoldStatus::On
        } else {
            ObjectLockLegalHoldStatus::Off
        };
        self.pacer
            .call("PutObjectLegalHold", || {
                self.client
                    .put_object_legal_hold()
                    .bucket(&self.bucket)
                    .key(&full)
                    .set_version_id(version_id.map(str::to_owned))
                    .legal_hold(
                        ObjectLockLegalHold::builder()
                            .status(status.clone())
                            .build(),
                    )
                    .send()
            })
            .await
            .map_err(|e| aws_error("S3", "PutObjectLegalHold", self.target(&full), &e))?;
        Ok(())
    }

    #[instrument(skip(self))]
    async fn read(&self, key: &str, version_id: Option<&str>) -> Result<Option<Stored>> {
        let full = self.full_key(key)?;
        let out = self
            .pacer
            .call("GetObject", || {
                self.client
                    .get_object()
                    .bucket(&self.bucket)
                    .key(&full)
                    .set_version_id(version_id.map(str::to_owned))
                    .send()
            })
            .await;
        let out = match out {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => {
                return Ok(None);
            }
            // A read of the current version of a key whose latest version is a delete marker.
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => {
                return Ok(None);
            }
            Err(e) => return Err(aws_error("S3", "GetObject", self.target(&full), &e)),
        };
        let tag = out.e_tag().unwrap_or_default().to_owned();
        let version = out.version_id().map(str::to_owned);
        let bytes = out.body.collect().await.map_err(|e| Error::Aws {
            service: "S3",
            operation: "GetObject",
            target: self.target(&full),
            code: None,
            message: format!("reading the body: {e}"),
            retriable: true,
        })?;
        Ok(Some(Stored {
            bytes: bytes.into_bytes(),
            version_id: version,
            tag,
        }))
    }

    #[instrument(skip(self))]
    async fn list_versions(&self, prefix: &str) -> Result<Vec<ObjectVersion>> {
        let root = self.root();
        let mut out = Vec::new();
        let mut key_marker: Option<String> = None;
        let mut version_marker: Option<String> = None;
        loop {
            let page = self
                .pacer
                .call("ListObjectVersions", || {
                    self.client
                        .list_object_versions()
                        .bucket(&self.bucket)
                        .prefix(format!("{root}{prefix}"))
                        .set_key_marker(key_marker.clone())
                        .set_version_id_marker(version_marker.clone())
                        .send()
                })
                .await
                .map_err(|e| aws_error("S3", "ListObjectVersions", self.target(&root), &e))?;
            for v in page.versions() {
                let Some(key) = v.key().and_then(|k| k.strip_prefix(&root)) else {
                    continue;
                };
                out.push(ObjectVersion {
                    key: key.to_owned(),
                    version_id: v.version_id().map(str::to_owned),
                    size: v.size().unwrap_or(0).max(0) as u64,
                    is_latest: v.is_latest().unwrap_or(false),
                    delete_marker: false,
                });
            }
            for m in page.delete_markers() {
                let Some(key) = m.key().and_then(|k| k.strip_prefix(&root)) else {
                    continue;
                };
                out.push(ObjectVersion {
                    key: key.to_owned(),
                    version_id: m.version_id().map(str::to_owned),
                    size: 0,
                    is_latest: m.is_latest().unwrap_or(false),
                    delete_marker: true,
                });
            }
            if page.is_truncated() != Some(true) {
                break;
            }
            key_marker = page.next_key_marker().map(str::to_owned);
            version_marker = page.next_version_id_marker().map(str::to_owned);
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    #[instrument(skip(self))]
    async fn delete_state(&self, key: &str) -> Result<()> {
        check_mutable(key)?;
        let full = self.full_key(key)?;
        self.pacer
            .call("DeleteObject", || {
                self.client
                    .delete_object()
                    .bucket(&self.bucket)
                    .key(&full)
                    .send()
            })
            .await
            .map_err(|e| aws_error("S3", "DeleteObject", self.target(&full), &e))?;
        Ok(())
    }

    #[instrument(skip(self))]
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        let root = self.root();
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .pacer
                .call("ListObjectsV2", || {
                    self.client
                        .list_objects_v2()
                        .bucket(&self.bucket)
                        .prefix(format!("{root}{prefix}"))
                        .set_continuation_token(token.clone())
                        .send()
                })
                .await
                .map_err(|e| aws_error("S3", "ListObjectsV2", self.target(&root), &e))?;
            for o in page.contents() {
                let Some(key) = o.key().and_then(|k| k.strip_prefix(&root)) else {
                    continue;
                };
                out.push(ObjectMeta {
                    key: key.to_owned(),
                    size: o.size().unwrap_or(0).max(0) as u64,
                });
            }
            token = page.next_continuation_token().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    async fn put_if(&self, key: &str, bytes: Bytes, expect: Option<&str>) -> Result<String> {
        check_mutable(key)?;
        let written = self
            .put_object(key, bytes.clone(), expect, expect.is_none(), None)
            .await
            .map(|(tag, _)| tag);
        match written {
            // A retried write that S3 had in fact applied fails its own precondition the
            // second time: if the object now holds exactly our bytes, the write was ours.
            Err(Error::Conflict { .. }) => match self.read(key, None).await? {
                Some(now) if now.bytes == bytes && self.stats().transient > 0 => Ok(now.tag),
                _ => Err(Error::Conflict {
                    key: key.to_owned(),
                }),
            },
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_runs_from_the_day_of_the_data() {
        let lock = ObjectLock::DEFAULT;
        assert_eq!(
            lock.retain_until("v1/spans/dt=2026-03-04/part-0000.parquet")
                .to_rfc3339(),
            "2033-03-04T00:00:00+00:00"
        );
        assert_eq!(
            lock.retain_until("v1/payment_index/day=2024-02-29/part-0000.parquet")
                .to_rfc3339(),
            // 2024-02-29 plus seven years: no 29 February in 2031.
            "2031-02-28T00:00:00+00:00"
        );
        let manifest = lock.retain_until("_manifests/0000000001.json");
        assert!(manifest > Utc::now() + chrono::Duration::days(365 * 7 - 2));
    }

    #[test]
    fn s3_urls() {
        assert_eq!(
            parse_s3_url("s3://bkt/a/b/").unwrap(),
            ("bkt".into(), "a/b".into())
        );
        assert_eq!(parse_s3_url("s3://bkt").unwrap(), ("bkt".into(), "".into()));
        assert!(parse_s3_url("/tmp/x").is_err());
        assert!(parse_s3_url("s3:///x").is_err());
    }
}
