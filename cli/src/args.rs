//! Arguments that several commands share, declared once.

use anyhow::Context;
use athena::LocalEngine;
use clap::Args;
use exporter::{AnyStore, S3Options};

/// Where the archive is, and how S3 objects are locked.
///
/// Every command that reads or writes an archive flattens this and opens the archive through
/// [`ArchiveArgs::open`] (or, for SQL, [`ArchiveArgs::engine`]), so each one takes the same
/// flags and environment variables and checks them the same way.
#[derive(Debug, Args)]
pub struct ArchiveArgs {
    /// Archive: a local directory (created if missing) or s3://BUCKET/PREFIX.
    // Required everywhere but `query --list` and `query --athena`, which make it optional
    // with `mut_arg`; hence an `Option` that `location` unwraps.
    #[arg(long, required = true, value_name = "DIR|s3://BUCKET/PREFIX")]
    archive: Option<String>,
    /// S3 Object Lock mode for every object written: COMPLIANCE, GOVERNANCE, or OFF for a
    /// bucket without Object Lock.
    #[arg(
        long,
        env = "XRAY_ARCHIVE_LOCK_MODE",
        default_value = "COMPLIANCE",
        value_name = "MODE"
    )]
    lock_mode: String,
    /// Years each S3 object is locked after the day of its data (PCI DSS asks for 1,
    /// financial records 5 to 7).
    #[arg(
        long,
        env = "XRAY_ARCHIVE_RETENTION_YEARS",
        default_value_t = 7,
        value_name = "YEARS"
    )]
    retention_years: u32,
    /// SSE-KMS key id or ARN for S3 objects (default: the bucket's encryption).
    #[arg(long, env = "XRAY_ARCHIVE_KMS_KEY_ID", value_name = "KEY")]
    kms_key_id: Option<String>,
}

impl ArchiveArgs {
    /// The archive as given with --archive.
    pub fn location(&self) -> anyhow::Result<&str> {
        self.archive.as_deref().context("--archive is required")
    }

    /// Opens the archive store with these S3 options.
    pub async fn open(&self) -> anyhow::Result<AnyStore> {
        Ok(AnyStore::open(self.location()?, self.s3_options()?).await?)
    }

    /// Opens the archive for SQL on the embedded engine (DataFusion). The engine only
    /// reads, through the standard AWS configuration: Object Lock and the KMS key govern
    /// writing (S3 decrypts SSE-KMS objects for any reader allowed to use the key), so they
    /// are checked as for [`ArchiveArgs::open`] and need no more.
    pub async fn engine(&self) -> anyhow::Result<LocalEngine> {
        self.s3_options()?;
        Ok(LocalEngine::open_archive(self.location()?).await?)
    }

    fn s3_options(&self) -> anyhow::Result<S3Options> {
        Ok(S3Options {
            lock: exporter::config::object_lock(&self.lock_mode, self.retention_years)?,
            kms_key_id: self.kms_key_id.clone(),
            ..S3Options::default()
        })
    }
}

/// Which days an export from the X-Ray API seals, and its pacing: `export --source xray`
/// and `backfill` (which requires --from and --to).
#[derive(Debug, Args)]
pub struct RangeArgs {
    /// First day to seal (YYYY-MM-DD). Default: the day after the last sealed one; on a
    /// first run, the oldest day X-Ray still holds whole (30 days ago).
    #[arg(long, value_name = "DAY")]
    pub from: Option<chrono::NaiveDate>,
    /// Last day to seal (YYYY-MM-DD, inclusive). Default: the last day that can no longer
    /// change.
    #[arg(long, value_name = "DAY")]
    pub to: Option<chrono::NaiveDate>,
    /// Seal a day only this many days after it ends. X-Ray accepts late segments for 7
    /// days; 8 leaves a day of margin and 22 days before X-Ray deletes the day. 0 seals at
    /// once (tests, or a source that is known to be complete).
    #[arg(
        long,
        env = "XRAY_ARCHIVE_SEAL_AFTER_DAYS",
        default_value_t = exporter::seal::DEFAULT_SEAL_AFTER_DAYS,
        value_name = "DAYS"
    )]
    pub seal_after: u32,
    /// BatchGetTraces calls in flight.
    #[arg(
        long,
        env = "XRAY_ARCHIVE_CONCURRENCY",
        default_value_t = 4,
        value_name = "N"
    )]
    pub concurrency: usize,
    /// Export under a redaction policy or hashing key other than the one the archive's
    /// manifests record (XRAY_ARCHIVE_HASH_KEY, XRAY_ARCHIVE_EMAILS, XRAY_ARCHIVE_CLIENT_IPS).
    /// Without it such an export stops before writing anything; with it the next manifest
    /// records the new policy and that it changed.
    #[arg(long)]
    pub new_redaction_policy: bool,
    /// Where Firehose stages the aws/spans subscription (s3://bucket/aws-spans/, or a
    /// directory in the same YYYY/MM/DD/HH/ layout). With CloudWatch Transaction Search on,
    /// X-Ray's API sees only the indexed share of spans: days are then sealed from staging
    /// and from X-Ray together, each contributing what it holds (a trace in both is taken
    /// from staging).
    #[arg(long, env = "XRAY_ARCHIVE_STAGING_URL", value_name = "URL")]
    pub staging: Option<String>,
}

/// Where Athena statements run.
#[derive(Debug, Args)]
pub struct WorkgroupArgs {
    /// Athena workgroup.
    #[arg(long, env = "XRAY_ARCHIVE_WORKGROUP", default_value = "primary")]
    workgroup: String,
    /// Glue database of the tables.
    #[arg(long, default_value = athena::DEFAULT_DATABASE)]
    database: String,
    /// s3:// location for query results, when the workgroup sets none.
    #[arg(long, value_name = "s3://BUCKET/PREFIX")]
    output_location: Option<String>,
}

impl WorkgroupArgs {
    pub fn workgroup(&self) -> athena::Workgroup {
        athena::Workgroup {
            name: self.workgroup.clone(),
            database: self.database.clone(),
            output: self.output_location.clone(),
        }
    }
}

/// Where Athena tables point, and the days their dt projection covers: `ddl` and
/// `register`.
#[derive(Debug, Args)]
pub struct TablesArgs {
    /// Archive root in S3.
    #[arg(long, value_name = "s3://BUCKET/PREFIX")]
    archive: String,
    /// First day the dt projection covers (YYYY-MM-DD); X-Ray has no older traces.
    #[arg(long, value_name = "DATE", default_value = athena::DEFAULT_SINCE)]
    since: chrono::NaiveDate,
}

impl TablesArgs {
    /// The DDL for these tables in `database`.
    pub fn ddl(self, database: String) -> anyhow::Result<String> {
        Ok(athena::ddl(&athena::DdlOptions {
            database,
            location: self.archive,
            since: self.since,
        })?)
    }
}
