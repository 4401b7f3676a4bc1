//! Writes realistic payment traces as JSON Lines of BatchGetTraces responses, for measuring
//! an export of any size (for example peak memory with `/usr/bin/time -v`).
//!
//! ```sh
//! cargo run --release -p exporter --example gen_payment_traces -- 570000 /tmp/in
//! /usr/bin/time -v target/release/xray-archive export --source /tmp/in --archive /tmp/out
//! ```

use exporter::synth as payment_traces;

use std::io::Write;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let traces: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .expect("usage: gen_payment_traces <traces> <out-dir>");
    let out = std::path::PathBuf::from(
        args.next()
            .expect("usage: gen_payment_traces <traces> <out-dir>"),
    );
    std::fs::create_dir_all(&out)?;
    let mut generator = payment_traces::PaymentTraces::new(11, 1_772_409_600.0);
    let per_file = 50_000;
    let (mut written, mut segments, mut file_no) = (0, 0, 0);
    while written < traces {
        let path = out.join(format!("batch-get-traces-{file_no:04}.jsonl"));
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path)?);
        let end = (written + per_file).min(traces);
        while written < end {
            let n = (end - written).min(5);
            let (line, s) = generator.batch_get_traces(n, 1.0);
            writeln!(f, "{line}")?;
            segments += s;
            written += n;
        }
        file_no += 1;
    }
    println!(
        "{traces} traces, {segments} segments in {file_no} files under {}",
        out.display()
    );
    Ok(())
}
