//! The local query engine: DataFusion over an archive directory or an `s3://` prefix, with
//! the same tables, partition columns and types that the Athena DDL declares, so saved
//! queries run unchanged.

use std::path::Path;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use schema::v1::Table;

use crate::error::{Error, Result};

/// The partition column of `table`, as Athena declares it.
pub fn partition_column(table: Table) -> (&'static str, DataType) {
    match table {
        Table::PaymentIndex => ("day", DataType::Utf8),
        _ => ("dt", DataType::Utf8),
    }
}

/// Registers `table` over the parts under `location` (a path or URL ending in `/`).
async fn register(ctx: &SessionContext, table: Table, location: &str) -> Result<()> {
    let (part, part_type) = partition_column(table);
    let schema = table.schema();
    let options = ParquetReadOptions::default()
        .file_extension(".parquet")
        .schema(&schema)
        .table_partition_cols(vec![(part.to_owned(), part_type)]);
    ctx.register_parquet(table.name(), location, options)
        .await
        .map_err(|source| Error::Engine {
            what: format!("registering the {} table over {location}", table.name()),
            source,
        })
}

/// DataFusion with the archive's four tables registered.
pub struct LocalEngine {
    ctx: SessionContext,
}

impl LocalEngine {
    /// Registers the tables of `archive`: a local directory, or `s3://bucket/prefix` read
    /// through the standard AWS environment (`AWS_REGION`, credentials, `AWS_ENDPOINT_URL`).
    pub async fn open_archive(archive: &str) -> Result<Self> {
        let Some(rest) = archive.strip_prefix("s3://") else {
            return Self::open(Path::new(archive)).await;
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let prefix = prefix.trim_matches('/');
        let endpoint = std::env::var("AWS_ENDPOINT_URL_S3")
            .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
            .ok();
        let mut builder = object_store::aws::AmazonS3Builder::from_env().with_bucket_name(bucket);
        if let Ok(region) = std::env::var("AWS_REGION") {
            builder = builder.with_region(region);
        }
        if let Some(endpoint) = endpoint {
            builder = builder
                .with_allow_http(endpoint.starts_with("http://"))
                .with_endpoint(endpoint)
                .with_virtual_hosted_style_request(false);
        }
        let store = builder.build().map_err(|e| Error::ArchiveStore {
            archive: archive.to_owned(),
            reason: e.to_string(),
        })?;
        let ctx = SessionContext::new();
        let url = url::Url::parse(&format!("s3://{bucket}")).map_err(|e| Error::ArchiveStore {
            archive: archive.to_owned(),
            reason: format!("bucket {bucket:?} is not a valid host name ({e})"),
        })?;
        ctx.register_object_store(&url, Arc::new(store));
        let root = if prefix.is_empty() {
            format!("s3://{bucket}/v1")
        } else {
            format!("s3://{bucket}/{prefix}/v1")
        };
        for table in Table::ALL {
            register(&ctx, table, &format!("{root}/{}/", table.name())).await?;
        }
        Ok(Self { ctx })
    }

    /// Registers the tables of the archive at `root`. A table with no parts yet is empty.
    pub async fn open(root: &Path) -> Result<Self> {
        let v1 = root.join("v1");
        if !v1.is_dir() {
            return Err(Error::NotAnArchive {
                archive: root.display().to_string(),
            });
        }
        let ctx = SessionContext::new();
        for table in Table::ALL {
            let dir = v1.join(table.name());
            if dir.is_dir() {
                register(&ctx, table, &format!("{}/", dir.to_string_lossy())).await?;
            } else {
                let (part, part_type) = partition_column(table);
                let mut fields: Vec<Field> = table
                    .schema()
                    .fields()
                    .iter()
                    .map(|f| f.as_ref().clone())
                    .collect();
                fields.push(Field::new(part, part_type, false));
                let engine = |source| Error::Engine {
                    what: format!("registering the empty {} table", table.name()),
                    source,
                };
                let empty = MemTable::try_new(Arc::new(Schema::new(fields)), vec![vec![]])
                    .map_err(engine)?;
                ctx.register_table(table.name(), Arc::new(empty))
                    .map_err(engine)?;
            }
        }
        Ok(Self { ctx })
    }

    /// Runs one statement and returns every row.
    pub async fn sql(&self, sql: &str) -> Result<Vec<RecordBatch>> {
        let query = |source| Error::Engine {
            what: "query".into(),
            source,
        };
        self.ctx
            .sql(sql)
            .await
            .map_err(query)?
            .collect()
            .await
            .map_err(query)
    }
}
