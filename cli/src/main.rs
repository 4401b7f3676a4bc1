//! The `xray-archive` command: parses the command line and hands it to the library.

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

fn main() -> ExitCode {
    exporter::allocator::bound_resident_memory();
    let cli = cli::Cli::parse();
    cli::init_logging(cli.verbose);
    let result = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
        .and_then(|runtime| runtime.block_on(cli::run(cli)));
    cli::exit_code(result)
}
