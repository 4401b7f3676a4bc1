//! Athena DDL for the v1 archive, generated from `schema::v1`: one `CREATE EXTERNAL TABLE`
//! per table, stored as Parquet, with a `COMMENT` on every column taken from the schema's
//! docs and partition projection on every partition column, so no `MSCK REPAIR` or crawler
//! is ever needed. Pure: it never reads the archive.

use std::fmt::Write;

use arrow::datatypes::{DataType, Field};
use chrono::NaiveDate;
use schema::v1::{COMMENT_KEY, SCHEMA_VERSION, Table};

use crate::error::{Error, Result};

/// Glue database name used when none is given.
pub const DEFAULT_DATABASE: &str = "xray_archive";

/// First `dt` the projection covers by default: X-Ray launched in 2016, so no trace is older.
pub const DEFAULT_SINCE: &str = "2016-01-01";

/// What the DDL is generated for.
#[derive(Debug, Clone)]
pub struct DdlOptions {
    /// Glue database, for example `xray_archive`.
    pub database: String,
    /// Archive root, `s3://bucket/prefix` (no trailing slash needed).
    pub location: String,
    /// First day of the `dt` projection range (the range ends at `NOW`).
    pub since: NaiveDate,
}

/// The Hive type Athena uses for an archive column.
fn hive_type(dt: &DataType) -> String {
    match dt {
        DataType::Utf8 => "string".into(),
        DataType::Boolean => "boolean".into(),
        DataType::Int32 => "int".into(),
        DataType::Int64 => "bigint".into(),
        DataType::Timestamp(_, _) => "timestamp".into(),
        DataType::Date32 => "date".into(),
        DataType::List(f) => format!("array<{}>", hive_type(f.data_type())),
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(kv) if kv.len() == 2 => format!(
                "map<{},{}>",
                hive_type(kv[0].data_type()),
                hive_type(kv[1].data_type())
            ),
            other => unreachable!("map entries are key/value structs, got {other}"),
        },
        other => unreachable!("the v1 schema has no {other} column"),
    }
}

/// A string literal for Athena DDL, which Hive's lexer reads: quotes and backslashes are
/// escaped with a backslash (Hive does not accept doubled quotes).
fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

fn column(f: &Field) -> String {
    let doc = f.metadata().get(COMMENT_KEY).map_or("", String::as_str);
    format!(
        "  `{}` {} COMMENT {}",
        f.name(),
        hive_type(f.data_type()),
        literal(doc)
    )
}

/// The statements, each ending in `;`: the database, then one table per v1 table.
///
/// ```
/// let opts = athena::DdlOptions {
///     database: "xray_archive".into(),
///     location: "s3://audit-archive/prod".into(),
///     since: chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
/// };
/// let sql = athena::ddl(&opts).unwrap();
/// assert!(sql.contains("CREATE EXTERNAL TABLE IF NOT EXISTS `xray_archive`.`spans`"));
/// assert!(sql.contains("'projection.dt.range'='2024-01-01,NOW'"));
/// ```
///
/// Fails with [`Error::NotS3`] for a location outside S3 and [`Error::BadDatabase`] for a
/// database name Glue would not take.
pub fn ddl(opts: &DdlOptions) -> Result<String> {
    let root = opts
        .location
        .strip_prefix("s3://")
        .filter(|r| !r.is_empty())
        .ok_or_else(|| Error::NotS3 {
            location: opts.location.clone(),
        })?
        .trim_end_matches('/');
    let db = &opts.database;
    if db.is_empty()
        || !db
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(Error::BadDatabase {
            database: db.clone(),
        });
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "CREATE DATABASE IF NOT EXISTS `{db}`\n  COMMENT 'xray-archive: X-Ray traces kept for years ({SCHEMA_VERSION})';\n"
    );
    for table in Table::ALL {
        let location = format!("s3://{root}/{SCHEMA_VERSION}/{}", table.name());
        let schema = table.schema();
        let columns: Vec<String> = schema.fields().iter().map(|f| column(f)).collect();
        let (partition, projection) = match table {
            Table::PaymentIndex => (
                "  `day` string COMMENT 'UTC day of the traces, YYYY-MM-DD (the rows carry it as dt too)'"
                    .to_string(),
                vec![
                    ("projection.day.type", "date".to_string()),
                    ("projection.day.format", "yyyy-MM-dd".to_string()),
                    ("projection.day.range", format!("{},NOW", opts.since.format("%Y-%m-%d"))),
                    ("projection.day.interval", "1".to_string()),
                    ("projection.day.interval.unit", "DAYS".to_string()),
                    ("storage.location.template", format!("{location}/day=${{day}}")),
                ],
            ),
            _ => (
                "  `dt` string COMMENT 'UTC day of the trace id epoch, YYYY-MM-DD'".to_string(),
                vec![
                    ("projection.dt.type", "date".to_string()),
                    ("projection.dt.format", "yyyy-MM-dd".to_string()),
                    ("projection.dt.range", format!("{},NOW", opts.since.format("%Y-%m-%d"))),
                    ("projection.dt.interval", "1".to_string()),
                    ("projection.dt.interval.unit", "DAYS".to_string()),
                    ("storage.location.template", format!("{location}/dt=${{dt}}")),
                ],
            ),
        };
        let mut props = vec![
            ("projection.enabled", "true".to_string()),
            ("parquet.compression", "ZSTD".to_string()),
            ("xray_archive.schema_version", SCHEMA_VERSION.to_string()),
        ];
        props.extend(projection);
        let props: Vec<String> = props
            .iter()
            .map(|(k, v)| format!("  {}={}", literal(k), literal(v)))
            .collect();
        let _ = writeln!(
            out,
            "CREATE EXTERNAL TABLE IF NOT EXISTS `{db}`.`{name}` (\n{cols}\n)\nCOMMENT {comment}\nPARTITIONED BY (\n{partition}\n)\nSTORED AS PARQUET\nLOCATION {loc}\nTBLPROPERTIES (\n{props}\n);\n",
            name = table.name(),
            cols = columns.join(",\n"),
            comment = literal(table.description()),
            loc = literal(&format!("{location}/")),
            props = props.join(",\n"),
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> DdlOptions {
        DdlOptions {
            database: DEFAULT_DATABASE.into(),
            location: "s3://audit-archive/prod/".into(),
            since: NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
        }
    }

    #[test]
    fn matches_the_snapshot() {
        let sql = ddl(&opts()).unwrap();
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/ddl.sql");
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(path, &sql).unwrap();
        }
        let want = std::fs::read_to_string(path).expect("golden DDL; run with UPDATE_GOLDEN=1");
        assert_eq!(
            sql, want,
            "DDL changed; review and rerun with UPDATE_GOLDEN=1"
        );
    }

    #[test]
    fn every_column_has_a_comment_and_every_partition_a_projection() {
        let sql = ddl(&opts()).unwrap();
        for table in Table::ALL {
            for f in table.schema().fields() {
                let line = sql
                    .lines()
                    .find(|l| l.starts_with(&format!("  `{}` ", f.name())))
                    .unwrap();
                assert!(
                    line.contains(" COMMENT '") && !line.ends_with("COMMENT ''"),
                    "{line}"
                );
            }
        }
        assert_eq!(sql.matches("PARTITIONED BY").count(), 4);
        assert_eq!(sql.matches("'projection.dt.type'='date'").count(), 3);
        assert_eq!(sql.matches("'projection.day.type'='date'").count(), 1);
        assert!(sql.contains(
            "'storage.location.template'='s3://audit-archive/prod/v1/payment_index/day=${day}'"
        ));
        assert!(
            sql.contains("'storage.location.template'='s3://audit-archive/prod/v1/spans/dt=${dt}'")
        );
    }

    #[test]
    fn refuses_what_athena_cannot_read() {
        let mut o = opts();
        o.location = "/data/archive".into();
        assert!(matches!(ddl(&o), Err(Error::NotS3 { .. })));
        let mut o = opts();
        o.database = "Bad-Name".into();
        assert!(matches!(ddl(&o), Err(Error::BadDatabase { .. })));
    }

    #[test]
    fn literals_escape_quotes() {
        assert_eq!(literal("it's a \\ path"), "'it\\'s a \\\\ path'");
    }
}
