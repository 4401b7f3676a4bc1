//! Archive format version 1: tables, layout and conversion.

#[macro_use]
mod define;

#[cfg(test)]
mod columns_test;
mod convert;
mod layout;
mod tables;

pub use convert::{
    ArchivedSegment, CORRELATION_ID, CUSTOMER_ID, PAYMENT_ID, PAYMENT_PROVIDER, PROMOTED,
    PaymentIndexColumns, PaymentIndexRow, RejectedDocument, Rejection, WindowBatches, XRAY_FORMAT,
    convert, payment_index_batch, payment_index_rows, seconds_to_us, sort_for_archive,
};
pub use layout::{
    APPEND_ONLY_PREFIXES, HOLDS_PREFIX, MANIFEST_PREFIX, PAYMENT_BUCKETS, PartKey, Period,
    QUARANTINE_PREFIX, RollupKey, STATE_PREFIX, day_of_key, day_prefix, is_append_only,
    manifest_key, manifest_seq, partition, partition_column, payment_bucket, staging_key,
    table_prefix,
};
pub use tables::{
    COMMENT_KEY, PaymentIndexBuilder, PaymentIndexReader, SCHEMA_VERSION, SCHEMA_VERSION_KEY,
    SegmentsBuilder, SegmentsReader, SpansBuilder, SpansReader, TABLE_KEY, Table, TracesBuilder,
    TracesReader, WRITER_VERSION_KEY, annotations_type, string_list_type, timestamp_type,
};
