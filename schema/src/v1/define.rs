//! [`v1_table!`]: one definition per table gives its Arrow schema, its builder and its reader.
//!
//! A table is a list of columns, each `name: Kind, [not] null, DOC;`, in the table's order.
//! From that one list come
//!
//! - the schema (`static`), with each doc stored in the field metadata under `comment`;
//! - a builder struct with one arrow builder per column, in a field named after the column,
//!   a `with_capacity(n)` and a `finish()` that assembles the arrays in the schema's order;
//! - a reader that finds each column of a batch by its name and type.
//!
//! The kinds are `Utf8`, `Boolean`, `Int32`, `Int64`, `Date32`, `Timestamp` (milliseconds,
//! UTC), `Annotations` (the string to string map) and `StringList`. A `Utf8` column may give
//! its expected bytes per row for `with_capacity`, as `Utf8(35)`; the default is 8.
//!
//! Which value goes into which column stays with the code that appends a row, against the
//! builder's named fields; a column is added by adding its line here and its append.

/// The column name for a column ident: `r#type` is the column `type`.
pub(crate) const fn column_name(ident: &'static str) -> &'static str {
    match ident.as_bytes() {
        [b'r', b'#', rest @ ..] => match std::str::from_utf8(rest) {
            Ok(name) => name,
            Err(_) => panic!("column idents are ASCII"),
        },
        _ => ident,
    }
}

/// The Arrow type of a column kind.
macro_rules! v1_data_type {
    (Utf8) => {
        ::arrow::datatypes::DataType::Utf8
    };
    (Boolean) => {
        ::arrow::datatypes::DataType::Boolean
    };
    (Int32) => {
        ::arrow::datatypes::DataType::Int32
    };
    (Int64) => {
        ::arrow::datatypes::DataType::Int64
    };
    (Date32) => {
        ::arrow::datatypes::DataType::Date32
    };
    (Timestamp) => {
        $crate::v1::timestamp_type()
    };
    (Annotations) => {
        $crate::v1::annotations_type()
    };
    (StringList) => {
        $crate::v1::string_list_type()
    };
}

/// The arrow builder of a column kind.
macro_rules! v1_builder_type {
    (Utf8) => {
        ::arrow::array::StringBuilder
    };
    (Boolean) => {
        ::arrow::array::BooleanBuilder
    };
    (Int32) => {
        ::arrow::array::Int32Builder
    };
    (Int64) => {
        ::arrow::array::Int64Builder
    };
    (Date32) => {
        ::arrow::array::Date32Builder
    };
    (Timestamp) => {
        ::arrow::array::TimestampMillisecondBuilder
    };
    (Annotations) => {
        ::arrow::array::MapBuilder<::arrow::array::StringBuilder, ::arrow::array::StringBuilder>
    };
    (StringList) => {
        ::arrow::array::ListBuilder<::arrow::array::StringBuilder>
    };
}

/// A builder of a column kind with room for `n` rows (and, for text, `bytes` a row).
macro_rules! v1_builder_new {
    (Utf8, $n:expr) => {
        v1_builder_new!(Utf8($crate::v1::define::TEXT_BYTES), $n)
    };
    (Utf8($bytes:expr), $n:expr) => {
        ::arrow::array::StringBuilder::with_capacity($n, $n * $bytes)
    };
    (Boolean, $n:expr) => {
        ::arrow::array::BooleanBuilder::with_capacity($n)
    };
    (Int32, $n:expr) => {
        ::arrow::array::Int32Builder::with_capacity($n)
    };
    (Int64, $n:expr) => {
        ::arrow::array::Int64Builder::with_capacity($n)
    };
    (Date32, $n:expr) => {
        ::arrow::array::Date32Builder::with_capacity($n)
    };
    (Timestamp, $n:expr) => {
        ::arrow::array::TimestampMillisecondBuilder::with_capacity($n).with_timezone("UTC")
    };
    (Annotations, $n:expr) => {
        ::arrow::array::MapBuilder::with_capacity(
            Some(::arrow::array::MapFieldNames {
                entry: "key_value".into(),
                key: "key".into(),
                value: "value".into(),
            }),
            ::arrow::array::StringBuilder::new(),
            ::arrow::array::StringBuilder::new(),
            $n,
        )
    };
    (StringList, $n:expr) => {
        ::arrow::array::ListBuilder::with_capacity(::arrow::array::StringBuilder::new(), $n)
    };
}

/// The array a column kind reads back as.
macro_rules! v1_array_type {
    (Utf8) => {
        ::arrow::array::StringArray
    };
    (Boolean) => {
        ::arrow::array::BooleanArray
    };
    (Int32) => {
        ::arrow::array::Int32Array
    };
    (Int64) => {
        ::arrow::array::Int64Array
    };
    (Date32) => {
        ::arrow::array::Date32Array
    };
    (Timestamp) => {
        ::arrow::array::TimestampMillisecondArray
    };
    (Annotations) => {
        ::arrow::array::MapArray
    };
    (StringList) => {
        ::arrow::array::ListArray
    };
}

/// `null` is a nullable column, `not null` a required one.
macro_rules! v1_nullable {
    (null) => {
        true
    };
    (not null) => {
        false
    };
}

/// Defines one table: its schema, builder and reader. See the [module docs](self).
macro_rules! v1_table {
    (
        $table:expr, $schema:ident,
        $(#[$builder_doc:meta])* $builder_vis:vis struct $builder:ident,
        $(#[$reader_doc:meta])* $reader_vis:vis struct $reader:ident {
            $( $col:ident : $kind:ident $(($bytes:expr))?, $null:ident $($null2:ident)?, $doc:expr; )+
        }
    ) => {
        static $schema: ::std::sync::LazyLock<::arrow::datatypes::SchemaRef> =
            ::std::sync::LazyLock::new(|| {
                ::std::sync::Arc::new(::arrow::datatypes::Schema::new(vec![$(
                    $crate::v1::tables::col(
                        $crate::v1::define::column_name(stringify!($col)),
                        v1_data_type!($kind),
                        v1_nullable!($null $($null2)?),
                        $doc,
                    ),
                )+]))
            });

        $(#[$builder_doc])*
        #[derive(Debug)]
        $builder_vis struct $builder {
            $(
                #[doc = concat!("The `", stringify!($col), "` column.")]
                pub $col: v1_builder_type!($kind),
            )+
        }

        impl $builder {
            /// The column names, in the table's order.
            pub const COLUMNS: &'static [&'static str] =
                &[$($crate::v1::define::column_name(stringify!($col))),+];

            /// Builders with room for `n` rows.
            pub fn with_capacity(n: usize) -> Self {
                Self {
                    $( $col: v1_builder_new!($kind $(($bytes))?, n), )+
                }
            }

            /// The rows appended so far as a batch of the table, the columns in the order
            /// of the table's definition.
            pub fn finish(
                mut self,
            ) -> ::std::result::Result<::arrow::record_batch::RecordBatch, ::arrow::error::ArrowError>
            {
                let columns: Vec<::arrow::array::ArrayRef> = vec![$(
                    ::std::sync::Arc::new(::arrow::array::ArrayBuilder::finish(&mut self.$col)),
                )+];
                ::arrow::record_batch::RecordBatch::try_new($schema.clone(), columns)
            }
        }

        impl Default for $builder {
            fn default() -> Self {
                Self::with_capacity(0)
            }
        }

        $(#[$reader_doc])*
        #[derive(Debug, Clone, Copy)]
        $reader_vis struct $reader<'a> {
            batch: &'a ::arrow::record_batch::RecordBatch,
        }

        impl<'a> $reader<'a> {
            /// Reads `batch`, a batch of the table or of some of its columns.
            pub fn new(batch: &'a ::arrow::record_batch::RecordBatch) -> Self {
                Self { batch }
            }

            /// The batch read.
            pub fn batch(&self) -> &'a ::arrow::record_batch::RecordBatch {
                self.batch
            }

            $(
                #[doc = concat!(
                    "The `", stringify!($col), "` column, found by its name; an error when ",
                    "the batch has no such column or it is of another type."
                )]
                pub fn $col(
                    &self,
                ) -> ::std::result::Result<&'a v1_array_type!($kind), ::arrow::error::ArrowError> {
                    $crate::v1::define::column_by_name(
                        self.batch,
                        $table,
                        $crate::v1::define::column_name(stringify!($col)),
                    )
                }
            )+
        }
    };
}

/// Bytes a row reserved for a text column by `with_capacity` when its definition gives none.
pub(crate) const TEXT_BYTES: usize = 8;

/// The column `name` of `batch`, a batch of `table`, as an array of type `A`.
pub(crate) fn column_by_name<'a, A: 'static>(
    batch: &'a arrow::record_batch::RecordBatch,
    table: super::Table,
    name: &str,
) -> Result<&'a A, arrow::error::ArrowError> {
    use arrow::error::ArrowError;
    let column = batch
        .column_by_name(name)
        .ok_or_else(|| ArrowError::SchemaError(format!("{} has no {name} column", table.name())))?;
    column.as_any().downcast_ref::<A>().ok_or_else(|| {
        ArrowError::SchemaError(format!(
            "{}.{name} is {}, not {}",
            table.name(),
            column.data_type(),
            std::any::type_name::<A>()
                .rsplit("::")
                .next()
                .unwrap_or("?")
        ))
    })
}
