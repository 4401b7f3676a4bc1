//! Parquet encoding of archive parts and staged hours, and reading them back.
//!
//! Settings, per table:
//! - zstd compression on every column;
//! - rows arrive sorted by trace id (payment id for `payment_index`), so row-group and page
//!   statistics let a lookup skip everything but the pages that hold its id;
//! - bloom filters on `trace_id` and `payment_id`, for ids that fall inside a page's min/max;
//! - no dictionary on columns whose values are unique (ids, raw JSON), where it only costs;
//! - the schema version, writer version and table name in the file's key-value metadata.

use arrow::array::{Array, AsArray};
use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterVersion};
use parquet::schema::types::ColumnPath;
use schema::v1::{SCHEMA_VERSION, SCHEMA_VERSION_KEY, TABLE_KEY, Table, WRITER_VERSION_KEY};

use crate::error::{Error, Result};

/// zstd level 1. Measured on 20,000 payment traces (`cargo bench -p exporter`): level 1
/// wrote smaller parts than level 3 (23.6 vs 28.1 MB over four tables, pages of about
/// 1 MB) in 30% less time; levels 6 to 12 shrank the document column by 5-9% for 3 to 9
/// times the CPU.
pub const ZSTD_LEVEL: i32 = 1;

/// The writer's name and version, stored in every file.
pub const WRITER: &str = concat!("xray-archive ", env!("CARGO_PKG_VERSION"));

/// Rows per row group. `segments` rows carry whole documents (about 1 KB each), so fewer of
/// them keep a row group near 8 MB in memory while writing; the other tables are narrow.
pub fn max_row_group_rows(table: Table) -> usize {
    match table {
        Table::Segments => 8 * 1024,
        Table::Spans | Table::Traces | Table::PaymentIndex => 64 * 1024,
    }
}

/// Columns whose values rarely repeat (ids, raw JSON, free text): dictionary encoding
/// would only cost time before falling back.
fn no_dictionary(table: Table) -> &'static [&'static str] {
    match table {
        // Measured on 40,000 payment traces (`examples/column_sizes`): a dictionary made
        // `trace_id` 28% and the spans' `segment_id` 38% larger than plain zstd, since
        // every value repeats only a few times, in adjacent rows that zstd finds anyway.
        Table::Segments => &[
            "trace_id",
            "segment_id",
            "parent_id",
            "document",
            "payment_id",
        ],
        Table::Spans => &[
            "trace_id",
            "id",
            "segment_id",
            "parent_id",
            "aws_request_id",
            "metadata",
            "cause",
            "sql",
            "exception_message",
            "payment_id",
            "correlation_id",
            "customer_id",
        ],
        Table::Traces => &["trace_id", "root_segment_id", "http_url"],
        Table::PaymentIndex => &["payment_id", "trace_id"],
    }
}

/// Integer and timestamp columns that rise with the sort order or stay small: delta
/// encoding stores them in a few bits each instead of 8 bytes.
fn delta_encoded(table: Table) -> &'static [&'static str] {
    match table {
        Table::Segments | Table::Spans => &[
            "start_time",
            "end_time",
            "start_us",
            "end_us",
            "duration_us",
        ],
        Table::Traces => &[
            "start_time",
            "end_time",
            "start_us",
            "end_us",
            "duration_us",
        ],
        Table::PaymentIndex => &["start_time"],
    }
}

/// Long free-text and JSON columns, and random ids no query ranges over: min/max
/// statistics on them cost time and footer space and prune nothing (every page of random
/// ids spans nearly all of them).
fn no_statistics(table: Table) -> &'static [&'static str] {
    match table {
        Table::Segments => &["document", "segment_id", "parent_id"],
        Table::Spans => &[
            "id",
            "segment_id",
            "parent_id",
            "aws_request_id",
            "customer_id",
            "metadata",
            "cause",
            "sql",
            "http_url",
            "http_user_agent",
            "exception_message",
        ],
        Table::Traces => &["root_segment_id"],
        Table::PaymentIndex => &[],
    }
}

/// Columns a lookup probes by equality: bloom filtered.
fn bloom_columns(table: Table) -> &'static [&'static str] {
    match table {
        Table::Segments => &["trace_id", "payment_id"],
        Table::Spans => &["trace_id", "payment_id", "correlation_id"],
        Table::Traces => &["trace_id"],
        Table::PaymentIndex => &["payment_id", "trace_id"],
    }
}

/// Writer properties for one table.
pub fn writer_properties(table: Table) -> WriterProperties {
    let rows = max_row_group_rows(table);
    let mut b = WriterProperties::builder()
        .set_writer_version(WriterVersion::PARQUET_1_0)
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(ZSTD_LEVEL).expect("valid zstd level"),
        ))
        .set_max_row_group_row_count(Some(rows))
        .set_created_by(WRITER.to_owned())
        .set_key_value_metadata(Some(vec![
            KeyValue::new(SCHEMA_VERSION_KEY.to_owned(), SCHEMA_VERSION.to_owned()),
            KeyValue::new(WRITER_VERSION_KEY.to_owned(), WRITER.to_owned()),
            KeyValue::new(TABLE_KEY.to_owned(), table.name().to_owned()),
        ]));
    for col in no_dictionary(table) {
        b = b.set_column_dictionary_enabled(ColumnPath::from(*col), false);
    }
    for col in delta_encoded(table) {
        let path = ColumnPath::from(*col);
        b = b
            .set_column_dictionary_enabled(path.clone(), false)
            .set_column_encoding(path, Encoding::DELTA_BINARY_PACKED);
    }
    for col in no_statistics(table) {
        b = b.set_column_statistics_enabled(ColumnPath::from(*col), EnabledStatistics::None);
    }
    for col in bloom_columns(table) {
        let path = ColumnPath::from(*col);
        b = b
            .set_column_bloom_filter_enabled(path.clone(), true)
            .set_column_bloom_filter_fpp(path.clone(), 0.01)
            // Distinct ids per row group: a trace has several rows, so fewer ids than rows.
            // The filter is folded down to the ids actually seen.
            .set_column_bloom_filter_max_ndv(path, (rows / 2) as u64);
    }
    b.build()
}

/// Encodes batches of one table as one Parquet file in memory.
pub fn encode(table: Table, key: &str, batches: &[RecordBatch]) -> Result<Bytes> {
    encode_with(table, key, batches, Vec::new())
}

/// Encodes batches of one table as one Parquet file in memory, with more key-value metadata.
pub fn encode_with(
    table: Table,
    key: &str,
    batches: &[RecordBatch],
    metadata: Vec<KeyValue>,
) -> Result<Bytes> {
    let err = |source| Error::Encode {
        key: key.to_owned(),
        source,
    };
    let mut props = writer_properties(table);
    if !metadata.is_empty() {
        let mut kv = props.key_value_metadata().cloned().unwrap_or_default();
        kv.extend(metadata);
        props = props
            .into_builder()
            .set_key_value_metadata(Some(kv))
            .build();
    }
    let mut buf = Vec::new();
    let mut w = ArrowWriter::try_new(&mut buf, table.schema(), Some(props)).map_err(err)?;
    for b in batches {
        w.write(b).map_err(err)?;
    }
    w.close().map_err(err)?;
    Ok(Bytes::from(buf))
}

/// Rows per row group of a staged hour. Each row is a whole document (about 1 KB), so the
/// writer buffers a few MiB at a time, not the hour.
pub const STAGING_ROW_GROUP_ROWS: usize = 4096;

/// Encodes documents waiting for their day's seal: `document`, `limit_exceeded`, and for
/// an OpenTelemetry span its `format` and (OTLP) `context`, which [`staged_batches`] reads
/// back. Staging lives under `_state/`, not in a table.
pub fn encode_staging<'a>(
    key: &str,
    docs: impl IntoIterator<Item = StagedRef<'a>>,
) -> Result<Bytes> {
    use arrow::array::{BooleanArray, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;
    let schema = Arc::new(Schema::new(vec![
        Field::new("document", DataType::Utf8, false),
        Field::new("limit_exceeded", DataType::Boolean, true),
        Field::new("format", DataType::Utf8, true),
        Field::new("context", DataType::Utf8, true),
    ]));
    let err = |source| Error::Encode {
        key: key.to_owned(),
        source,
    };
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(ZSTD_LEVEL).expect("valid zstd level"),
        ))
        .set_max_row_group_row_count(Some(STAGING_ROW_GROUP_ROWS))
        .build();
    let mut buf = Vec::new();
    let mut w = ArrowWriter::try_new(&mut buf, schema.clone(), Some(props)).map_err(err)?;
    let mut docs = docs.into_iter().peekable();
    while docs.peek().is_some() {
        let chunk: Vec<StagedRef<'_>> = docs.by_ref().take(STAGING_ROW_GROUP_ROWS).collect();
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from_iter_values(chunk.iter().map(|d| d.text))),
                Arc::new(BooleanArray::from_iter(
                    chunk.iter().map(|d| d.limit_exceeded),
                )),
                Arc::new(StringArray::from_iter(chunk.iter().map(|d| d.format))),
                Arc::new(StringArray::from_iter(chunk.iter().map(|d| d.context))),
            ],
        )
        .map_err(|source| Error::Convert {
            table: "staging",
            source,
        })?;
        w.write(&batch).map_err(err)?;
    }
    w.close().map_err(err)?;
    Ok(Bytes::from(buf))
}

/// One document to stage, borrowed.
#[derive(Debug, Clone, Copy)]
pub struct StagedRef<'a> {
    /// The exact text.
    pub text: &'a str,
    /// X-Ray's `LimitExceeded` for its trace.
    pub limit_exceeded: Option<bool>,
    /// `aws-spans` or `otlp` for a span record; `None` for an X-Ray document.
    pub format: Option<&'a str>,
    /// An OTLP span's resource and scope ([`schema::otel::context_of`]).
    pub context: Option<&'a str>,
}

/// Reads every batch of a part.
pub fn decode(key: &str, bytes: Bytes) -> Result<Vec<RecordBatch>> {
    batches(key, bytes, 8192)?.collect()
}

/// The batches of a part, `rows` at a time, decoded as they are read: memory holds the
/// file's bytes and one batch, not every batch.
pub fn batches(
    key: &str,
    bytes: Bytes,
    rows: usize,
) -> Result<impl Iterator<Item = Result<RecordBatch>> + use<>> {
    let corrupt = |key: &str, reason: String| Error::CorruptPart {
        key: key.to_owned(),
        reason,
    };
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
        .map_err(|e| corrupt(key, e.to_string()))?
        .with_batch_size(rows.max(1))
        .build()
        .map_err(|e| corrupt(key, e.to_string()))?;
    let key = key.to_owned();
    Ok(reader.map(move |batch| batch.map_err(|e| corrupt(&key, e.to_string()))))
}

/// A document as staged or archived: its text, X-Ray's `LimitExceeded` for its trace, and
/// for a span its format and context (see [`StagedRef`]; absent in older staged hours and in
/// X-Ray rows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedRow {
    /// The exact text.
    pub text: String,
    /// X-Ray's `LimitExceeded` for its trace.
    pub limit_exceeded: Option<bool>,
    /// `aws-spans` or `otlp`; `None` (or `xray`) for an X-Ray document.
    pub format: Option<String>,
    /// An OTLP span's resource and scope.
    pub context: Option<String>,
}

/// The `document` and `limit_exceeded` of every row of a `segments` part.
pub fn read_segment_documents(key: &str, bytes: Bytes) -> Result<Vec<StagedRow>> {
    let mut out = Vec::new();
    for batch in staged_batches(key, bytes, 8192)? {
        out.extend(batch?);
    }
    Ok(out)
}

/// The rows of a `segments` part or a staged hour, `rows` at a time, decoded as they are
/// read: memory holds one batch of documents, not the file.
pub fn staged_batches(
    key: &str,
    bytes: Bytes,
    rows: usize,
) -> Result<impl Iterator<Item = Result<Vec<StagedRow>>>> {
    let key = key.to_owned();
    Ok(batches(&key, bytes, rows)?.map(move |batch| {
        let batch = batch?;
        let missing = |name: &str| Error::CorruptPart {
            key: key.clone(),
            reason: format!("no {name} column"),
        };
        let docs = batch
            .column_by_name("document")
            .ok_or_else(|| missing("document"))?
            .as_string_opt::<i32>()
            .ok_or_else(|| missing("utf8 document"))?;
        let limit = batch
            .column_by_name("limit_exceeded")
            .ok_or_else(|| missing("limit_exceeded"))?
            .as_boolean_opt()
            .ok_or_else(|| missing("boolean limit_exceeded"))?;
        let text = |name: &str| {
            batch
                .column_by_name(name)
                .and_then(|c| c.as_string_opt::<i32>())
        };
        let (format, context) = (text("format"), text("context"));
        let at = |c: Option<&arrow::array::StringArray>, i: usize| {
            c.filter(|c| !c.is_null(i)).map(|c| c.value(i).to_owned())
        };
        Ok((0..batch.num_rows())
            .map(|i| StagedRow {
                text: docs.value(i).to_owned(),
                limit_exceeded: (!limit.is_null(i)).then(|| limit.value(i)),
                format: at(format, i),
                context: at(context, i),
            })
            .collect())
    }))
}
