//! The `xray-archive` command line: argument definitions and the commands behind them.
//!
//! `main` only parses and calls [`run`]; everything here is testable as a library.

// The export futures nest deeply (store enum, writer, SDK calls); layout needs more depth.
#![recursion_limit = "256"]

mod demo;
mod export;
mod output;
mod query;
mod xray;

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand};
use exporter::{AnyStore, ArchiveStore, S3Options};

/// Keeps AWS X-Ray traces for years: Parquet in S3 or a directory, queryable with SQL.
///
/// X-Ray deletes every trace after 30 days. xray-archive seals each day once, when X-Ray can
/// no longer change it, into a write-once Parquet archive
/// (v1/<table>/dt=YYYY-MM-DD/part-NNNN.parquet, committed by hash-chained manifests) that
/// Athena, DataFusion or any Parquet reader can query, and quarantines whatever it cannot
/// archive, with a reason. Nothing in the archive is ever overwritten or deleted.
#[derive(Debug, Parser)]
#[command(name = "xray-archive", version, propagate_version = true)]
pub struct Cli {
    /// More log output on stderr (-v: info, -vv: debug). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    command: Command,
}

/// Where the archive is, and how S3 objects are locked.
#[derive(Debug, Args)]
pub struct ArchiveArgs {
    /// Archive: a local directory (created if missing) or s3://BUCKET/PREFIX.
    #[arg(long, value_name = "DIR|s3://BUCKET/PREFIX")]
    archive: String,
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
    async fn open(&self) -> anyhow::Result<AnyStore> {
        let options = S3Options {
            lock: exporter::config::object_lock(&self.lock_mode, self.retention_years)?,
            kms_key_id: self.kms_key_id.clone(),
            ..S3Options::default()
        };
        Ok(AnyStore::open(&self.archive, options).await?)
    }
}

/// Which days an export from the X-Ray API seals, and its pacing.
#[derive(Debug, Args)]
pub struct RangeArgs {
    /// First day to seal (YYYY-MM-DD). Default: the day after the last sealed one; on a
    /// first run, the oldest day X-Ray still holds whole (30 days ago).
    #[arg(long, value_name = "DAY")]
    from: Option<chrono::NaiveDate>,
    /// Last day to seal (YYYY-MM-DD, inclusive). Default: the last day that can no longer
    /// change.
    #[arg(long, value_name = "DAY")]
    to: Option<chrono::NaiveDate>,
    /// Seal a day only this many days after it ends. X-Ray accepts late segments for 7
    /// days; 8 leaves a day of margin and 22 days before X-Ray deletes the day. 0 seals at
    /// once (tests, or a source that is known to be complete).
    #[arg(
        long,
        env = "XRAY_ARCHIVE_SEAL_AFTER_DAYS",
        default_value_t = exporter::seal::DEFAULT_SEAL_AFTER_DAYS,
        value_name = "DAYS"
    )]
    seal_after: u32,
    /// BatchGetTraces calls in flight.
    #[arg(
        long,
        env = "XRAY_ARCHIVE_CONCURRENCY",
        default_value_t = 4,
        value_name = "N"
    )]
    concurrency: usize,
    /// Export under a redaction policy or hashing key other than the one the archive's
    /// manifests record (XRAY_ARCHIVE_HASH_KEY, XRAY_ARCHIVE_EMAILS, XRAY_ARCHIVE_CLIENT_IPS).
    /// Without it such an export stops before writing anything; with it the next manifest
    /// records the new policy and that it changed.
    #[arg(long)]
    new_redaction_policy: bool,
    /// Where Firehose stages the aws/spans subscription (s3://bucket/aws-spans/, or a
    /// directory in the same YYYY/MM/DD/HH/ layout). With CloudWatch Transaction Search on,
    /// X-Ray's API sees only the indexed share of spans: days are then sealed from staging
    /// and from X-Ray together, each contributing what it holds (a trace in both is taken
    /// from staging).
    #[arg(long, env = "XRAY_ARCHIVE_STAGING_URL", value_name = "URL")]
    staging: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Archive X-Ray traces, from the X-Ray API or from files.
    ///
    /// --source xray: seals each UTC day once, when X-Ray can no longer change it (by
    /// default 8 days after it ends: X-Ray accepts segments for 7 days and deletes traces
    /// after 30). A day is fetched hour by hour (GetTraceSummaries, then BatchGetTraces);
    /// each finished hour is recorded under _state/, so an interrupted run resumes at the
    /// first unfinished hour and never fetches a finished one again. When all 24 hours are
    /// in, the day's parts are written once (one per table while under 128 MB) and a
    /// manifest under _manifests/ commits them. A day X-Ray has already begun deleting
    /// (older than 30 days) is sealed as `expired`, and status and verify report it as a
    /// loss. With --staging (CloudWatch Transaction Search), the staged aws/spans records
    /// are sealed into the same tables beside what X-Ray holds. Uses the standard AWS
    /// configuration (AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL
    /// for emulators).
    ///
    /// --source FILE_OR_DIR: imports a file or a directory tree (sorted, skipping *.md and
    /// hidden files). Each file may be a BatchGetTraces response (Document as an escaped
    /// string or an object), a single segment document, JSON Lines of either, or X-Ray
    /// daemon UDP framing. An import never rewrites a sealed day: it adds parts with the
    /// day's next free numbers, and a document already archived is not written again.
    ///
    /// Every object is written once (If-None-Match on S3, create-new files locally); a
    /// re-run after a crash writes the same bytes under the same keys. Invalid documents go
    /// to <archive>/_quarantine/ with the reason, and the run goes on.
    ///
    /// Examples:
    ///   xray-archive export --source xray --archive s3://audit-archive/prod
    ///   xray-archive export --source xray --archive ./archive --from 2026-11-20 --to 2026-11-21
    ///   xray-archive export --source xray --archive s3://audit-archive/prod --staging s3://audit-spans/aws-spans/
    ///   xray-archive export --source ./batch-get-traces/ --archive ./archive
    #[command(verbatim_doc_comment)]
    Export {
        /// `xray` for the X-Ray API, or a file or directory of X-Ray JSON.
        #[arg(long, value_name = "xray|FILE_OR_DIR")]
        source: String,
        #[command(flatten)]
        archive: ArchiveArgs,
        #[command(flatten)]
        range: RangeArgs,
        /// Print the summary as JSON on stdout (for scripts).
        #[arg(long)]
        json: bool,
    },
    /// Seal a past range of days from the X-Ray API, with progress.
    ///
    /// The same as `export --source xray --from --to`: for a first load, or to fill a gap.
    /// X-Ray holds only the last 30 days: an older day is sealed as `expired` with whatever
    /// X-Ray still returns, and reported as a loss.
    ///
    /// Example:
    ///   xray-archive backfill --archive s3://audit-archive/prod --from 2026-10-27 --to 2026-11-20
    #[command(verbatim_doc_comment)]
    Backfill {
        #[command(flatten)]
        archive: ArchiveArgs,
        /// First day (YYYY-MM-DD).
        #[arg(long, value_name = "DAY")]
        from: chrono::NaiveDate,
        /// Last day (YYYY-MM-DD, inclusive).
        #[arg(long, value_name = "DAY")]
        to: chrono::NaiveDate,
        /// Seal a day only this many days after it ends (see `export --help`).
        #[arg(long, env = "XRAY_ARCHIVE_SEAL_AFTER_DAYS", default_value_t = exporter::seal::DEFAULT_SEAL_AFTER_DAYS, value_name = "DAYS")]
        seal_after: u32,
        /// BatchGetTraces calls in flight.
        #[arg(long, default_value_t = 4, value_name = "N")]
        concurrency: usize,
        /// Seal under a redaction policy or hashing key other than the one the archive's
        /// manifests record (see `export --help`).
        #[arg(long)]
        new_redaction_policy: bool,
        /// The aws/spans staging prefix (see `export --help`).
        #[arg(long, env = "XRAY_ARCHIVE_STAGING_URL", value_name = "URL")]
        staging: Option<String>,
        /// Print the summary as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Put (or release) a legal hold on every object that holds a disputed payment's traces.
    ///
    /// Finds the payment's traces through payment_index, then sets an S3 legal hold on the
    /// one version of each segments, spans and traces part of their days and of the
    /// payment_index parts naming the payment, so the evidence cannot expire while the
    /// dispute runs, even after Object Lock retention ends. Every hold and release is
    /// recorded, with who, when, why and the exact versions, in the archive's append-only
    /// log under _holds/; --release releases exactly what the last hold held.
    ///
    /// Examples:
    ///   xray-archive hold --archive s3://audit-archive/prod --payment-id pay_abc123 --reason "chargeback du_1Nx, Visa 10.4"
    ///   xray-archive hold --archive s3://audit-archive/prod --payment-id pay_abc123 --release --reason "dispute won"
    #[command(verbatim_doc_comment)]
    Hold {
        #[command(flatten)]
        archive: ArchiveArgs,
        /// The disputed payment (its PaymentId annotation).
        #[arg(long, value_name = "ID")]
        payment_id: String,
        /// Release the hold instead of placing it.
        #[arg(long)]
        release: bool,
        /// Why: the dispute, case or order (recorded in the log).
        #[arg(long, value_name = "TEXT")]
        reason: String,
        /// Who asks (recorded in the log). Default: $USER.
        #[arg(long, value_name = "NAME", env = "USER", default_value = "unknown")]
        by: String,
        /// Print the log record as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Compare the archive with X-Ray for a range X-Ray still holds (the last 30 days).
    ///
    /// Lists every trace X-Ray has in the range and fetches its segments, then reads the
    /// same days of the archive. Reports traces missing from the archive, and traces the
    /// archive holds with fewer segments than X-Ray has now (late segments). With
    /// --reexport, archives those traces as new write-once parts (a sealed day is never
    /// rewritten, nothing is duplicated), then compares once more. Exits 0 when the archive
    /// is complete, 1 otherwise.
    ///
    /// Example:
    ///   xray-archive reconcile --source xray --archive s3://audit-archive/prod --from 2026-11-20T00:00:00Z --to 2026-11-21T00:00:00Z
    #[command(verbatim_doc_comment)]
    Reconcile {
        /// Where to compare with: only `xray` (the X-Ray API).
        #[arg(long, default_value = "xray", value_parser = ["xray"])]
        source: String,
        #[command(flatten)]
        archive: ArchiveArgs,
        /// Start of the range (RFC 3339), within the last 30 days.
        #[arg(long, value_name = "TIME")]
        from: DateTime<Utc>,
        /// End of the range (RFC 3339, exclusive).
        #[arg(long, value_name = "TIME")]
        to: DateTime<Utc>,
        /// Export the range again when something is missing, then compare again.
        #[arg(long)]
        reexport: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show the sealed days, the oldest unsealed day and the days left before X-Ray deletes
    /// it, and every day lost.
    ///
    /// Exits 0 when healthy, 2 when fewer than 7 days are left, or a day was sealed as
    /// `expired` (X-Ray had begun deleting it), or a day is missing between sealed days, so
    /// it can gate a cron job or a pager.
    ///
    /// Example:
    ///   xray-archive status --archive s3://audit-archive/prod
    #[command(verbatim_doc_comment)]
    Status {
        #[command(flatten)]
        archive: ArchiveArgs,
        /// Print the status as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Prove an archive is what its manifests say: every object written once, nothing
    /// altered, missing or added, no day skipped or lost.
    ///
    /// Lists every object version under v1/, _manifests/, _quarantine/ and _holds/: a
    /// second version of a key is `overwritten` (even with the same bytes) and a delete
    /// marker `deleted`. Walks the manifest chain (every number, every link to the previous
    /// manifest's SHA-256) and prints its head, checked against --expect-head when given (a
    /// value kept outside the bucket, such as the exporter's log line). Recomputes the
    /// SHA-256 and version of every object a manifest lists and checks Parquet row counts,
    /// lists objects no manifest lists, and names every day missing between sealed days and
    /// every day sealed as `expired`. Exits 0 when clean and 1 with the findings otherwise.
    ///
    /// Examples:
    ///   xray-archive verify --archive s3://audit-archive/prod
    ///   xray-archive verify --archive ./archive --expect-head 3f2a... --json
    #[command(verbatim_doc_comment)]
    Verify {
        #[command(flatten)]
        archive: ArchiveArgs,
        /// The chain head's SHA-256 as recorded earlier outside the archive.
        #[arg(long, value_name = "SHA256")]
        expect_head: Option<String>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run SQL over a local archive with the embedded engine (DataFusion): a saved compliance
    /// query or your own statement.
    ///
    /// Tables: segments, spans, traces (partitioned by dt, a 'YYYY-MM-DD' string) and
    /// payment_index (partitioned by bucket), exactly as the Athena DDL declares them, so a
    /// statement that runs here runs on Athena too. Name a dt range to read only those days.
    ///
    /// Examples:
    ///   xray-archive query --list
    ///   xray-archive query --archive ./archive --saved failed_webhooks --param since=2026-03-01 --param until=2026-03-31
    ///   xray-archive query --archive ./archive --sql "SELECT dt, count(*) FROM traces GROUP BY dt" --format csv
    ///   xray-archive query --athena --workgroup xray-archive --saved slow_payments --param since=... --param until=... --param min_ms=3000
    #[command(verbatim_doc_comment)]
    Query {
        /// Archive: a local directory or s3://BUCKET/PREFIX (read with the embedded engine).
        #[arg(long, value_name = "DIR|s3://BUCKET/PREFIX", required_unless_present_any = ["list", "athena"])]
        archive: Option<String>,
        /// Run on Athena instead, in --workgroup and --database (after `register`).
        #[arg(long, conflicts_with = "archive")]
        athena: bool,
        #[command(flatten)]
        workgroup: WorkgroupArgs,
        /// A saved query by name (see --list).
        #[arg(long, value_name = "NAME", conflicts_with = "sql", required_unless_present_any = ["sql", "list"])]
        saved: Option<String>,
        /// A parameter of the saved query, as name=value (repeat for each).
        #[arg(long = "param", value_name = "NAME=VALUE", requires = "saved")]
        params: Vec<String>,
        /// Your own SQL statement.
        #[arg(long, value_name = "SQL")]
        sql: Option<String>,
        /// List the saved queries with what they answer and their parameters.
        #[arg(long)]
        list: bool,
        /// Output: an aligned table, CSV or JSON.
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
    /// The whole story of one payment, for a chargeback investigator: every trace that carries
    /// its PaymentId, as one timeline, with the first failure marked.
    ///
    /// No date is needed: payment_index (one small part per sealed day) names its traces
    /// and days, and only the spans parts of those days are read. Exits 1 with a clear
    /// message when the payment id is not in the archive.
    ///
    /// Examples:
    ///   xray-archive lookup --archive ./archive --payment-id pay_000000000042
    ///   xray-archive lookup --archive s3://audit-archive/prod --payment-id pay_abc123 --format json
    ///   xray-archive lookup --archive ./archive --payment-id pay_000000000042 --format html > evidence.html
    #[command(verbatim_doc_comment)]
    Lookup {
        #[command(flatten)]
        archive: ArchiveArgs,
        /// The PaymentId annotation to look up.
        #[arg(long, value_name = "ID")]
        payment_id: String,
        /// tree: for the terminal; json: every trace id and span, for programs; html: one
        /// self-contained evidence page with a waterfall, to attach to a dispute.
        #[arg(long, value_enum, default_value_t = LookupFormat::Tree)]
        format: LookupFormat,
    },
    /// Create the Athena tables and the saved queries for an archive in S3.
    ///
    /// Runs the DDL (the same as `ddl` prints) in the workgroup, then creates every saved
    /// query as an Athena named query, so compliance officers find them in the console.
    ///
    /// Example:
    ///   xray-archive register --archive s3://audit-archive/prod --workgroup xray-archive
    #[command(verbatim_doc_comment)]
    Register {
        /// Archive root in S3.
        #[arg(long, value_name = "s3://BUCKET/PREFIX")]
        archive: String,
        #[command(flatten)]
        workgroup: WorkgroupArgs,
        /// First day the dt projection covers (YYYY-MM-DD).
        #[arg(long, value_name = "DATE", default_value = athena::DEFAULT_SINCE)]
        since: chrono::NaiveDate,
    },
    /// Print the Athena DDL for an archive in S3: the database and one table per v1 table.
    ///
    /// Every column carries a COMMENT, and partitions use projection (dt as a date from
    /// --since to NOW; payment_index's bucket as 0-63), so no MSCK REPAIR or crawler is ever
    /// needed. Pure: the archive is not read.
    ///
    /// Example:
    ///   xray-archive ddl --archive s3://audit-archive/prod > tables.sql
    #[command(verbatim_doc_comment)]
    Ddl {
        /// Archive root in S3.
        #[arg(long, value_name = "s3://BUCKET/PREFIX")]
        archive: String,
        /// Glue database for the tables.
        #[arg(long, default_value = athena::DEFAULT_DATABASE)]
        database: String,
        /// First day the dt projection covers (YYYY-MM-DD); X-Ray has no older traces.
        #[arg(long, value_name = "DATE", default_value = athena::DEFAULT_SINCE)]
        since: chrono::NaiveDate,
    },
    /// Run VaultLink's payment flow on simulated traffic, archive its traces, and explain.
    ///
    /// Needs no AWS account and no servers. First archives the bundled real X-Ray samples
    /// (some invalid on purpose, to show quarantine). Then simulates PAYMENTS payments over
    /// DAYS days through the instrumented payment flow and its embedded stand-ins (Stripe,
    /// DynamoDB, SQS, Prism), with the design note's failure scenarios, and archives the
    /// traces through the same export path as real X-Ray data. It ends with two saved
    /// compliance queries and a chargeback lookup of a failed payment. File imports are
    /// sealed at once, one part per table per day. The same seed gives the same archive,
    /// byte for byte.
    ///
    /// Examples:
    ///   xray-archive demo
    ///   xray-archive demo --archive /tmp/demo --payments 20000 --days 30 --seed 7
    #[command(verbatim_doc_comment)]
    Demo {
        /// Archive directory (created if missing).
        #[arg(long, value_name = "DIR", default_value = "xray-archive-demo")]
        archive: PathBuf,
        /// Payments to simulate.
        #[arg(long, value_name = "N", default_value_t = 2_000)]
        payments: usize,
        /// Days they spread over, from 2026-03-02.
        #[arg(long, value_name = "D", default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=3650))]
        days: u32,
        /// Seed of the simulation.
        #[arg(long, value_name = "S", default_value_t = 42)]
        seed: u64,
    },
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
    fn workgroup(&self) -> athena::Workgroup {
        athena::Workgroup {
            name: self.workgroup.clone(),
            database: self.database.clone(),
            output: self.output_location.clone(),
        }
    }
}

/// Output formats of `query`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum OutputFormat {
    /// An aligned text table.
    Table,
    /// CSV with a header line.
    Csv,
    /// A JSON array of objects.
    Json,
}

/// Output formats of `lookup`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LookupFormat {
    /// A tree for the terminal.
    Tree,
    /// JSON with every trace id and span.
    Json,
    /// One self-contained HTML evidence page with a waterfall chart.
    Html,
}

/// Sets up logging to stderr. `RUST_LOG` wins over `-v`.
pub fn init_logging(verbose: u8) {
    // The demo's simulated payment flow logs every simulated failure; those lines show
    // from -vv on.
    let default = match verbose {
        0 => "warn,payment_core=off",
        1 => "info,payment_core=off",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    exporter::config::check_policy_env()?;
    match cli.command {
        Command::Export {
            source,
            archive,
            range,
            json,
        } => {
            let store = archive.open().await?;
            if source == "xray" {
                xray::export(&store, &range, json).await
            } else {
                if range.from.is_some() || range.to.is_some() {
                    anyhow::bail!(
                        "--from and --to choose days to seal from --source xray; a file import takes every document in its files"
                    );
                }
                export::run(
                    PathBuf::from(source).as_path(),
                    &store,
                    range.new_redaction_policy,
                    json,
                )
                .await
            }
        }
        Command::Backfill {
            archive,
            from,
            to,
            seal_after,
            concurrency,
            new_redaction_policy,
            staging,
            json,
        } => {
            if from > to {
                anyhow::bail!("--from {from} must not be after --to {to}");
            }
            let store = archive.open().await?;
            let range = RangeArgs {
                from: Some(from),
                to: Some(to),
                seal_after,
                concurrency,
                new_redaction_policy,
                staging,
            };
            xray::export(&store, &range, json).await
        }
        Command::Hold {
            archive,
            payment_id,
            release,
            reason,
            by,
            json,
        } => {
            if reason.trim().is_empty() {
                anyhow::bail!(
                    "--reason must say why (the dispute or case): it goes into the holds log"
                );
            }
            let store = archive.open().await?;
            let (record, key) =
                exporter::holds::hold(&store, &payment_id, release, &by, &reason).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&record)?);
            } else {
                println!(
                    "{} {} objects of payment {payment_id} in {}; recorded in {key}",
                    if release {
                        "Released the legal hold on"
                    } else {
                        "Placed a legal hold on"
                    },
                    record.objects.len(),
                    store.location()
                );
                for o in &record.objects {
                    match &o.version_id {
                        Some(v) => println!("  {} (version {v})", o.key),
                        None => println!("  {}", o.key),
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Reconcile {
            source: _,
            archive,
            from,
            to,
            reexport,
            json,
        } => {
            let store = archive.open().await?;
            xray::reconcile(&store, from, to, reexport, json).await
        }
        Command::Verify {
            archive,
            expect_head,
            json,
        } => {
            let store = archive.open().await?;
            let report = exporter::verify::verify(&store, expect_head.as_deref()).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!(
                    "Checked {} object versions, {} manifests, {} objects ({}), {} sealed days in {}",
                    report.versions,
                    report.manifests,
                    report.objects,
                    output::human_bytes(report.bytes),
                    report.sealed_days,
                    store.location()
                );
                match &report.head {
                    Some(h) => println!("Chain head: {} ({})", h.sha256, h.key),
                    None => println!("Chain head: none (no manifest yet)"),
                }
                if report.findings.is_empty() {
                    println!(
                        "OK: every object written once and as its manifest says, the chain is whole, no day missing or expired."
                    );
                } else {
                    println!("{} findings:", report.findings.len());
                    for f in &report.findings {
                        let kind = serde_json::to_value(f.kind)?;
                        println!(
                            "  {:<16} {}: {}",
                            kind.as_str().unwrap_or_default(),
                            f.key,
                            f.detail
                        );
                    }
                }
            }
            Ok(if report.findings.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Status { archive, json } => {
            let store = archive.open().await?;
            xray::status(&store, json).await
        }
        Command::Ddl {
            archive,
            database,
            since,
        } => {
            let opts = athena::DdlOptions {
                database,
                location: archive,
                since,
            };
            print!("{}", athena::ddl(&opts)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo {
            archive,
            payments,
            days,
            seed,
        } => {
            let sim = payment_core::sim::SimConfig {
                payments,
                days,
                seed,
                ..payment_core::sim::SimConfig::default()
            };
            demo::run(&archive, &sim).await
        }
        Command::Lookup {
            archive,
            payment_id,
            format,
        } => {
            let store = archive.open().await?;
            let mut story = athena::lookup(&store, &payment_id).await?;
            if format != LookupFormat::Tree {
                athena::cite_manifests(&store, &mut story).await?;
            }
            match format {
                LookupFormat::Tree => print!("{}", athena::render_tree(&story)),
                LookupFormat::Json => println!("{}", serde_json::to_string_pretty(&story)?),
                LookupFormat::Html => {
                    let generated = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S UTC");
                    print!(
                        "{}",
                        athena::render_html(&story, &archive.archive, &generated.to_string())
                    )
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Query {
            archive,
            athena: on_athena,
            workgroup,
            saved,
            params,
            sql,
            list,
            format,
        } => {
            if list {
                query::list();
                return Ok(ExitCode::SUCCESS);
            }
            let format = match format {
                OutputFormat::Table => athena::Format::Table,
                OutputFormat::Csv => athena::Format::Csv,
                OutputFormat::Json => athena::Format::Json,
            };
            let statement = query::statement(saved.as_deref(), &params, sql.as_deref())?;
            if on_athena {
                query::run_athena(&workgroup.workgroup(), &statement, format).await
            } else {
                let archive = archive.expect("clap requires --archive");
                query::run(&archive, &statement, format).await
            }
        }
        Command::Register {
            archive,
            workgroup,
            since,
        } => {
            let wg = workgroup.workgroup();
            let ddl = athena::ddl(&athena::DdlOptions {
                database: wg.database.clone(),
                location: archive,
                since,
            })?;
            let client = athena::Athena::from_env().await;
            let done = client.register(&wg, &ddl).await?;
            println!(
                "Registered in workgroup {}: {} DDL statements (database {} and its tables), {} saved queries as named queries: {}",
                wg.name,
                done.statements,
                wg.database,
                done.named_queries.len(),
                done.named_queries.join(", ")
            );
            eprintln!("{}", query::athena_calls(client.stats()));
            Ok(ExitCode::SUCCESS)
        }
    }
}
