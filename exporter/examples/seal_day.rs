//! Seals one day of synthetic payment traces, generated hour by hour as X-Ray would answer,
//! into a local archive: for measuring the memory and time of sealing a large day.
//!
//! ```sh
//! cargo build --release -p exporter --example seal_day
//! /usr/bin/time -v target/release/examples/seal_day 1000000 /tmp/sealed-day
//! ```
//!
//! The source holds nothing: each hour's traces are generated again from a seed of their
//! own when they are listed and when they are fetched, so what the process holds is what
//! sealing holds (and one hour of fetched documents, as with the X-Ray API).

use std::collections::HashSet;
use std::time::Instant;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use exporter::seal::{SealOptions, seal_days};
use exporter::source::{Fetched, SourceContent, SourceItem, TraceSource};
use exporter::synth::PaymentTraces;
use exporter::{LocalDirStore, Result, WriterConfig};

/// Payment traces of one day, `per_day` of them, generated per hour on demand.
struct SyntheticDay {
    per_day: u64,
}

impl SyntheticDay {
    /// The documents of the traces whose id time is in the hour starting at `start`.
    fn hour(&self, start: DateTime<Utc>) -> Vec<(String, String)> {
        let end = start.timestamp() + 3600;
        let gap = 86_400.0 / self.per_day as f64;
        let mut generator = PaymentTraces::new(start.timestamp() as u64, start.timestamp() as f64);
        let mut out = Vec::new();
        loop {
            let docs = generator.next_trace(gap);
            let trace_id = docs[0]
                .split("\"trace_id\":\"")
                .nth(1)
                .and_then(|r| r.get(..35))
                .expect("generated documents carry a trace id")
                .to_owned();
            if schema::trace_epoch(&trace_id).is_none_or(|t| t >= end) {
                return out;
            }
            out.extend(docs.into_iter().map(|d| (trace_id.clone(), d)));
        }
    }
}

impl TraceSource for SyntheticDay {
    fn name(&self) -> &'static str {
        "synthetic"
    }

    async fn list(&self, start: DateTime<Utc>, _end: DateTime<Utc>) -> Result<Vec<String>> {
        let mut ids: Vec<String> = self.hour(start).into_iter().map(|(t, _)| t).collect();
        ids.dedup();
        Ok(ids)
    }

    async fn fetch(&self, ids: &[String]) -> Result<Fetched> {
        let Some(epoch) = ids.first().and_then(|t| schema::trace_epoch(t)) else {
            return Ok(Fetched::default());
        };
        let start = DateTime::from_timestamp(epoch - epoch.rem_euclid(3600), 0).expect("a time");
        let wanted: HashSet<&str> = ids.iter().map(String::as_str).collect();
        let items: Vec<SourceItem> = self
            .hour(start)
            .into_iter()
            .filter(|(t, _)| wanted.contains(t.as_str()))
            .map(|(t, text)| SourceItem {
                item: SourceContent::Document {
                    text,
                    limit_exceeded: None,
                },
                source: "synthetic".into(),
                location: t,
            })
            .collect();
        let returned: Vec<String> = items.iter().map(|i| i.location.clone()).collect();
        Ok(Fetched::of(ids, items, returned.iter().map(String::as_str)))
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let per_day: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let out = args.next().unwrap_or_else(|| "/tmp/sealed-day".into());
    let _ = std::fs::remove_dir_all(&out);
    let store = LocalDirStore::open(&out)?;
    let day: NaiveDate = "2026-03-02".parse().expect("a day");
    let options = SealOptions {
        seal_after_days: 0,
        from: Some(day),
        to: Some(day),
        writer: WriterConfig {
            redaction: Default::default(),
            retention: None,
            ..WriterConfig::default()
        },
        ..SealOptions::default()
    };
    let now = day.and_hms_opt(0, 0, 0).expect("midnight").and_utc() + Duration::days(9);
    let t0 = Instant::now();
    let report = seal_days(&SyntheticDay { per_day }, &store, &options, now, &mut |m| {
        eprintln!("{:>6.1} s  {m}", t0.elapsed().as_secs_f64())
    })
    .await?;
    let d = &report.days[0];
    println!(
        "sealed {}: {} traces, {} documents, {} objects, {:.1} MiB in {:.1} s",
        d.day,
        d.traces,
        d.segments,
        d.objects,
        d.bytes as f64 / 1048576.0,
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}
