//! `vaultlink`: the VaultLink payment functions for Lambda, and the traffic simulator.
//!
//! In Lambda (`AWS_LAMBDA_RUNTIME_API` set) it serves the function `VAULTLINK_HANDLER`
//! names. Elsewhere, `vaultlink simulate` writes simulated traffic's traces as X-Ray would
//! return them, or sends them to X-Ray with PutTraceSegments.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use payment_core::otel::TraceFormat;
use payment_core::sim::{SimConfig, simulate};
use payment_core::xray::{ApiEmitter, FileEmitter};

#[derive(Parser)]
#[command(name = "vaultlink", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve a VaultLink Lambda function (the default inside Lambda).
    Lambda,
    /// Simulate payments and emit their traces.
    ///
    /// Examples:
    ///   vaultlink simulate --out traces/ --payments 500 --days 2
    ///   vaultlink simulate --out spans/ --format aws-spans     # as Transaction Search stores them
    ///   AWS_ENDPOINT_URL=http://127.0.0.1:5000 vaultlink simulate --xray --payments 50
    #[command(verbatim_doc_comment)]
    Simulate {
        /// Write the traces here as files (read by `xray-archive export --source`), in
        /// `--format`.
        #[arg(
            long,
            value_name = "DIR",
            required_unless_present = "xray",
            conflicts_with = "xray"
        )]
        out: Option<PathBuf>,
        /// Send the documents to X-Ray with PutTraceSegments (honours AWS_ENDPOINT_URL).
        #[arg(long)]
        xray: bool,
        /// What the files hold: X-Ray segment documents (BatchGetTraces responses), the
        /// `aws/spans` records CloudWatch Transaction Search stores once VaultLink traces with
        /// OpenTelemetry, or OTLP/JSON exports.
        #[arg(long, value_enum, default_value = "xray", conflicts_with = "xray")]
        format: TraceFormat,
        /// Payments to simulate.
        #[arg(long, default_value_t = 2_000)]
        payments: usize,
        /// Days they spread over.
        #[arg(long, default_value_t = 7)]
        days: u32,
        /// Seed.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// First day's midnight, epoch seconds (default 2026-03-02).
        #[arg(long)]
        start: Option<f64>,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let in_lambda = std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some();
    let result = match cli.command {
        Some(Command::Lambda) => payment_core::lambda::run().await.map_err(Into::into),
        None if in_lambda => payment_core::lambda::run().await.map_err(Into::into),
        None => {
            eprintln!(
                "vaultlink: say what to do: `vaultlink simulate --help`, or run inside Lambda"
            );
            return ExitCode::from(2);
        }
        Some(Command::Simulate {
            out,
            xray,
            format,
            payments,
            days,
            seed,
            start,
        }) => {
            let mut cfg = SimConfig {
                payments,
                days,
                seed,
                ..SimConfig::default()
            };
            if let Some(s) = start {
                cfg.start = s;
            }
            simulate_to(&cfg, out, xray, format).await
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vaultlink: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn simulate_to(
    cfg: &SimConfig,
    out: Option<PathBuf>,
    xray: bool,
    format: TraceFormat,
) -> anyhow::Result<()> {
    let report = if xray {
        let sdk = payment_core::lambda::aws_defaults().load().await;
        simulate(cfg, &ApiEmitter::new(aws_sdk_xray::Client::new(&sdk))).await?
    } else {
        let dir = out.expect("clap requires --out without --xray");
        let emitter = FileEmitter::new(&dir, 500, format);
        let report = simulate(cfg, &emitter).await?;
        let files = emitter.flush()?;
        eprintln!("wrote {} files to {}", files.len(), dir.display());
        report
    };
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
