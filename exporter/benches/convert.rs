//! Conversion benchmark: BatchGetTraces JSON to Parquet parts, on every core
//! (`XRAY_ARCHIVE_THREADS=1` for one).
//!
//! Prints throughput in segments per second (median of several runs) with a baseline measured
//! in the same run (parsing the same documents into `serde_json::Value`, and nothing else),
//! and the archive size as a fraction of the input JSON, against a plain per-table zstd
//! write (input order, no dictionary, default zstd level). It also prints the redaction
//! policy's cost: conversion with the default policy (keyed) against no redaction, both in
//! the same run, and the same traces as `aws/spans` records (CloudWatch Transaction Search)
//! against the X-Ray path, in spans per second.
//!
//! ```sh
//! cargo bench -p exporter --bench convert            # 20,000 traces
//! cargo bench -p exporter --bench convert -- 50000   # more
//! ```

use exporter::synth as payment_traces;

use std::collections::BTreeMap;
use std::time::Instant;

use exporter::WriterConfig;
use exporter::store::MemoryStore;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use schema::v1::{ArchivedSegment, Table, convert};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// The real import path: read responses, validate, buffer by day, convert, encode.
fn archive(
    responses: &[String],
    redaction: exporter::redact::Policy,
) -> (u64, BTreeMap<String, (u64, u64)>) {
    let store = MemoryStore::default();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let summary = rt.block_on(async {
        let config = WriterConfig {
            redaction,
            ..WriterConfig::default()
        };
        let chain = exporter::Chain::default();
        let mut w = exporter::export::ImportWriter::new(&store, config, &chain);
        for (i, r) in responses.iter().enumerate() {
            w.push_input(&format!("response-{i}"), r.as_bytes())
                .await
                .unwrap();
        }
        w.finish().await.unwrap()
    });
    assert!(summary.quarantined.is_empty(), "{:?}", summary.quarantined);
    // Bytes and objects per table.
    let mut tables: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for o in summary.objects.values() {
        let t = tables
            .entry(o.key.split('/').nth(1).unwrap_or(&o.key).to_owned())
            .or_default();
        t.0 += o.bytes;
        t.1 += 1;
    }
    (summary.segments, tables)
}

/// Baseline for speed: parse every document into a generic JSON value, nothing more.
fn parse_only(responses: &[String]) -> usize {
    let mut n = 0;
    for r in responses {
        let v: serde_json::Value = serde_json::from_str(r).unwrap();
        for t in v["Traces"].as_array().unwrap() {
            for s in t["Segments"].as_array().unwrap() {
                let d: serde_json::Value =
                    serde_json::from_str(s["Document"].as_str().unwrap()).unwrap();
                n += d.as_object().map_or(0, |o| o.len());
            }
        }
    }
    n
}

/// Baseline for size: each table written once, in input order, no dictionary, zstd default.
fn plain_size(docs: &[String]) -> u64 {
    let segments: Vec<ArchivedSegment> = docs
        .iter()
        .map(|d| ArchivedSegment::new(d.clone(), Some(false)).unwrap())
        .collect();
    let batches = convert(&segments).unwrap();
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_dictionary_enabled(false)
        .build();
    let mut index = batches.payment_index.clone();
    let pi = schema::v1::payment_index_batch(&mut index).unwrap();
    let mut total = 0;
    for (table, batch) in [
        (Table::Segments, batches.segments),
        (Table::Spans, batches.spans),
        (Table::Traces, batches.traces),
        (Table::PaymentIndex, pi),
    ] {
        let mut buf = Vec::new();
        let mut w = ArrowWriter::try_new(&mut buf, table.schema(), Some(props.clone())).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        total += buf.len() as u64;
    }
    total
}

fn main() {
    let traces: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(20_000);
    let runs = 5;
    // 2026-03-02T00:00Z, a trace every 4 s on average: about a day of traffic per 20k.
    let mut generator = payment_traces::PaymentTraces::new(7, 1_772_409_600.0);
    let mut responses = Vec::new();
    let mut segments = 0;
    let mut left = traces;
    while left > 0 {
        let n = left.min(5);
        let (r, s) = generator.batch_get_traces(n, 4.0);
        responses.push(r);
        segments += s;
        left -= n;
    }
    let input_bytes: u64 = responses.iter().map(|r| r.len() as u64).sum();
    let docs: Vec<String> = responses
        .iter()
        .flat_map(|r| {
            let v: serde_json::Value = serde_json::from_str(r).unwrap();
            v["Traces"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|t| {
                    t["Segments"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|s| s["Document"].as_str().unwrap().to_owned())
                        .collect::<Vec<_>>()
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let spans: usize = docs
        .iter()
        .map(|d| schema::SegmentDocument::parse(d).unwrap().span_count())
        .sum();
    println!(
        "input: {traces} payment traces, {segments} segments, {spans} spans ({:.1} spans/trace), {:.1} MiB of BatchGetTraces JSON",
        spans as f64 / traces as f64,
        input_bytes as f64 / (1 << 20) as f64
    );

    let mut ours = Vec::new();
    let mut base = Vec::new();
    let mut unredacted = Vec::new();
    let mut tables = BTreeMap::new();
    let policy = exporter::redact::Policy {
        key: Some(b"bench-key".to_vec()),
        ..exporter::redact::Policy::default()
    };
    for _ in 0..runs {
        let t = Instant::now();
        std::hint::black_box(parse_only(&responses));
        base.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let (n, per_table) = archive(&responses, policy.clone());
        ours.push(t.elapsed().as_secs_f64());
        assert_eq!(n as usize, segments);
        tables = per_table;
        let t = Instant::now();
        std::hint::black_box(archive(&responses, exporter::redact::Policy::off()));
        unredacted.push(t.elapsed().as_secs_f64());
    }
    // The policy alone, over every document (the copy it takes is timed apart).
    let mut alone = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        for d in &docs {
            std::hint::black_box(d.clone());
        }
        let copy = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let mut tally = exporter::redact::Tally::default();
        for d in &docs {
            std::hint::black_box(policy.apply(d.clone(), &mut tally));
        }
        alone.push(t.elapsed().as_secs_f64() - copy);
    }
    let m_ours = median(ours.clone());
    let m_base = median(base.clone());
    println!(
        "convert JSON -> Parquet (parse, validate, flatten, Arrow, zstd Parquet), {} threads: \
         median {m_ours:.3} s of {runs} runs {ours:.3?} = {:.0} segments/s",
        exporter::WriterConfig::default().threads_in_use(),
        segments as f64 / m_ours
    );
    println!(
        "baseline, parse the same documents into serde_json::Value only: median {m_base:.3} s = {:.0} segments/s; ratio convert/baseline = {:.2}x",
        segments as f64 / m_base,
        m_ours / m_base
    );
    let m_off = median(unredacted.clone());
    println!(
        "redaction: conversion with the default policy (cards, keyed email hashes) median {m_ours:.3} s; \
         with no redaction median {m_off:.3} s {unredacted:.3?}; ratio = {:.3}x",
        m_ours / m_off
    );
    let m_alone = median(alone);
    println!(
        "redaction alone (the policy over every document, no conversion): median {m_alone:.3} s = {:.2} µs per document",
        m_alone * 1e6 / docs.len() as f64
    );
    // The same traces as Transaction Search stores them: one `aws/spans` record a span.
    let span_inputs: Vec<String> = responses
        .iter()
        .map(|r| {
            let v: serde_json::Value = serde_json::from_str(r).unwrap();
            let docs: Vec<schema::SegmentDocument> = v["Traces"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|t| t["Segments"].as_array().unwrap().clone())
                .map(|s| schema::SegmentDocument::parse(s["Document"].as_str().unwrap()).unwrap())
                .collect();
            payment_core::otel::aws_spans_lines(&docs)
        })
        .collect();
    let span_bytes: u64 = span_inputs.iter().map(|r| r.len() as u64).sum();
    let mut xray_runs = Vec::new();
    let mut span_runs = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        std::hint::black_box(archive(&responses, policy.clone()));
        xray_runs.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let (records, _) = archive(&span_inputs, policy.clone());
        span_runs.push(t.elapsed().as_secs_f64());
        assert_eq!(records as usize, spans, "one segments row per span record");
    }
    let (m_xray, m_spans) = (median(xray_runs), median(span_runs.clone()));
    println!(
        "aws/spans input ({spans} records, {:.1} MiB of JSON Lines): median {m_spans:.3} s of {runs} runs {span_runs:.3?} = {:.0} spans/s; \
         the X-Ray path in the same run: median {m_xray:.3} s = {:.0} spans/s; ratio aws-spans/X-Ray time = {:.2}x",
        span_bytes as f64 / (1 << 20) as f64,
        spans as f64 / m_spans,
        spans as f64 / m_xray,
        m_spans / m_xray
    );
    let archive_bytes: u64 = tables.values().map(|t| t.0).sum();
    for (name, (bytes, objects)) in &tables {
        println!(
            "  {name}: {:.2} MiB in {objects} objects",
            *bytes as f64 / (1 << 20) as f64
        );
    }
    let plain = plain_size(&docs);
    println!(
        "archive size: {:.2} MiB = {:.3} of the input JSON (4 tables, raw documents kept)",
        archive_bytes as f64 / (1 << 20) as f64,
        archive_bytes as f64 / input_bytes as f64
    );
    println!(
        "baseline, plain per-table zstd write (input order, no dictionary, default level): {:.2} MiB = {:.3} of input; ratio archive/plain = {:.2}",
        plain as f64 / (1 << 20) as f64,
        plain as f64 / input_bytes as f64,
        archive_bytes as f64 / plain as f64
    );
}
