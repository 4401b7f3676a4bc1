//! Query results as a person or a program reads them: an aligned table, CSV, or JSON.

use arrow::record_batch::RecordBatch;

use crate::error::{Error, Result};

/// Output formats of `xray-archive query`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// An aligned text table.
    Table,
    /// CSV with a header line.
    Csv,
    /// A JSON array of objects.
    Json,
}

/// Formats `batches`.
pub fn format(batches: &[RecordBatch], format: Format) -> Result<String> {
    write(batches, format).map_err(|source| Error::Format { format, source })
}

fn write(
    batches: &[RecordBatch],
    format: Format,
) -> std::result::Result<String, arrow::error::ArrowError> {
    match format {
        Format::Table => Ok(arrow::util::pretty::pretty_format_batches(batches)?.to_string()),
        Format::Csv => {
            let mut out = Vec::new();
            {
                let mut w = arrow::csv::WriterBuilder::new()
                    .with_header(true)
                    .build(&mut out);
                for b in batches {
                    w.write(b)?;
                }
            }
            Ok(String::from_utf8(out).expect("CSV is UTF-8"))
        }
        Format::Json => {
            let mut w = arrow::json::ArrayWriter::new(Vec::new());
            for b in batches {
                w.write(b)?;
            }
            w.finish()?;
            let out = w.into_inner();
            Ok(if out.is_empty() {
                "[]".into()
            } else {
                String::from_utf8(out).expect("JSON is UTF-8")
            })
        }
    }
}
