//! The local query engine: DataFusion over an archive directory, with the same tables,
//! partition columns and types that the Athena DDL declares, so saved queries run unchanged.

use std::path::Path;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use schema::v1::Table;

/// Errors of the local engine.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The archive directory is missing or holds no v1 tables.
    #[error("{0} is not an xray-archive archive (no v1/ directory); export into it first")]
    NotAnArchive(String),
    /// DataFusion refused or failed the statement.
    #[error("query failed: {0}")]
    Query(#[from] datafusion::error::DataFusionError),
}

/// The partition column of `table`, as Athena declares it.
pub fn partition_column(table: Table) -> (&'static str, DataType) {
    match table {
        Table::PaymentIndex => ("bucket", DataType::Int32),
        _ => ("dt", DataType::Utf8),
    }
}

/// DataFusion with the archive's four tables registered.
pub struct LocalEngine {
    ctx: SessionContext,
}

impl LocalEngine {
    /// Registers the tables of the archive at `root`. A table with no parts yet is empty.
    pub async fn open(root: &Path) -> Result<Self, EngineError> {
        let v1 = root.join("v1");
        if !v1.is_dir() {
            return Err(EngineError::NotAnArchive(root.display().to_string()));
        }
        let ctx = SessionContext::new();
        for table in Table::ALL {
            let dir = v1.join(table.name());
            let (part, part_type) = partition_column(table);
            let schema = table.schema();
            if dir.is_dir() {
                let options = ParquetReadOptions::default()
                    .file_extension(".parquet")
                    .schema(&schema)
                    .table_partition_cols(vec![(part.to_owned(), part_type)]);
                ctx.register_parquet(table.name(), dir.to_string_lossy(), options)
                    .await?;
            } else {
                let mut fields: Vec<Field> =
                    schema.fields().iter().map(|f| f.as_ref().clone()).collect();
                fields.push(Field::new(part, part_type, false));
                let empty = MemTable::try_new(Arc::new(Schema::new(fields)), vec![vec![]])?;
                ctx.register_table(table.name(), Arc::new(empty))?;
            }
        }
        Ok(Self { ctx })
    }

    /// Runs one statement and returns every row.
    pub async fn sql(&self, sql: &str) -> Result<Vec<RecordBatch>, EngineError> {
        Ok(self.ctx.sql(sql).await?.collect().await?)
    }
}
