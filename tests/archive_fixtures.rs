//! End to end: the real X-Ray samples archived from files, then read back with the plain
//! Parquet reader and checked against the inputs parsed independently with serde_json.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use e2e::{count_spans, read_table, sample_files, strings, testdata_dir};
use exporter::{ExportSummary, FileSource, LocalDirStore, WriterConfig, export_files};
use serde_json::Value;

async fn export(source: &Path, archive: &Path) -> ExportSummary {
    let files = FileSource::open(source).unwrap();
    let store = LocalDirStore::open(archive).unwrap();
    export_files(&files, &store, WriterConfig::default(), &mut |_| {})
        .await
        .unwrap()
}

/// The one sample whose name contains `part`; a test that names a sample fails without it.
fn sample(dir: &Path, part: &str) -> PathBuf {
    let found: Vec<PathBuf> = sample_files(dir)
        .into_iter()
        .filter(|p| p.file_name().unwrap().to_string_lossy().contains(part))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "want exactly one sample named *{part}* in {} (XRAY_TESTDATA), found {found:?}",
        dir.display()
    );
    found.into_iter().next().unwrap()
}

/// Every sample that is invalid on purpose (see SOURCES.md), with the reason it must be
/// quarantined for and how many inputs of it are; every other sample must be archived whole.
const QUARANTINED: [(&str, &str, usize); 19] = [
    (
        "apigateway-understanding-xray-traces.md__L54-125_apigw",
        "subsegments[0]: id must be 16 hex digits",
        1,
    ),
    (
        "getservicegraph-output-truncated.json",
        "not valid JSON: expected value at line 66",
        1,
    ),
    ("lambdaExpectedTrace.mustache", "trace_id is missing", 5),
    ("gettracesummaries-output.json", "GetTraceSummaries", 1),
    ("L34-304_getservicegraph-output.json", "GetServiceGraph", 1),
    (
        "independent-subsegment.json",
        "not valid JSON: expected `,` or `}` at line 8",
        1,
    ),
    (
        "segment-http-ec2.json",
        "not valid JSON: key must be a string at line 16",
        1,
    ),
    ("subsegment-downstream-http", "trace_id is missing", 1),
    ("custom-subsegment-with-metadata", "trace_id is missing", 1),
    (
        "aws-block-with-plugins.json",
        "not valid JSON: expected value at line 1",
        1,
    ),
    (
        "subsegment-dynamodb-update",
        "not valid JSON: key must be a string at line 17",
        1,
    ),
    ("subsegment-sql-query", "trace_id is missing", 1),
    ("puttracesegments-unprocessed", "PutTraceSegments", 1),
    (
        "subsegment-smart-quotes",
        "not valid JSON: expected `,` or `}` at line 6",
        1,
    ),
    (
        "subsegments-fragment.json",
        "not valid JSON: expected value at line 2",
        1,
    ),
    (
        "subsegment-dynamodb-sdk",
        "not valid JSON: key must be a string at line 16",
        1,
    ),
    (
        "indepSubsegmentWithLocalNamespace",
        "namespace must be aws or remote, got \"local\"",
        1,
    ),
    ("segmentValidationFailed", "start_time is missing", 1),
    ("advanced_mw_tracer", "trace_id is missing", 1),
];

/// The `QUARANTINED` entry of a sample file, if it has one.
fn quarantine_entry(file: &Path) -> Option<(&'static str, &'static str, usize)> {
    let name = file.file_name().unwrap().to_string_lossy();
    QUARANTINED
        .iter()
        .copied()
        .find(|(part, ..)| name.contains(part))
}

/// Every candidate document in a file, parsed independently: the values of
/// `Traces[].Segments[].Document` (string or object), `Document`, array elements, and each
/// line of a JSON Lines file. `None` when the file is not JSON at all.
fn candidates(path: &Path) -> Option<Vec<Value>> {
    let text = std::fs::read_to_string(path).ok()?;
    let values: Vec<Value> = match serde_json::from_str::<Value>(&text) {
        Ok(v) => vec![v],
        Err(_) => text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(serde_json::from_str)
            .collect::<Result<_, _>>()
            .ok()?,
    };
    let mut out = Vec::new();
    fn walk(v: Value, out: &mut Vec<Value>) {
        match v {
            Value::Array(items) => items.into_iter().for_each(|i| walk(i, out)),
            Value::Object(mut m) if m.contains_key("Traces") => {
                for t in m.remove("Traces").unwrap().as_array().unwrap() {
                    for s in t["Segments"].as_array().unwrap() {
                        walk_doc(s["Document"].clone(), out);
                    }
                }
            }
            Value::Object(mut m) if m.contains_key("Document") => {
                walk_doc(m.remove("Document").unwrap(), out)
            }
            Value::Object(m) if m.contains_key("format") && m.len() == 2 => {} // daemon header
            other => out.push(other),
        }
    }
    fn walk_doc(d: Value, out: &mut Vec<Value>) {
        match d {
            Value::String(s) => out.push(serde_json::from_str(&s).unwrap()),
            other => out.push(other),
        }
    }
    for v in values {
        walk(v, &mut out);
    }
    Some(out)
}

fn quarantined_raw(archive: &Path) -> Vec<Vec<u8>> {
    let dir = archive.join("_quarantine");
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "raw") {
            out.push(std::fs::read(p).unwrap());
        }
    }
    out
}

#[tokio::test]
async fn every_sample_is_archived_losslessly_or_quarantined_with_a_reason() {
    let data = testdata_dir();
    let tmp = tempfile::tempdir().unwrap();
    let summary = export(&data, tmp.path()).await;

    let segments = read_table(tmp.path(), "segments");
    let documents: Vec<String> = strings(&segments, "document")
        .into_iter()
        .map(Option::unwrap)
        .collect();
    assert_eq!(documents.len() as u64, summary.segments);
    let archived: Vec<Value> = documents
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let raw = quarantined_raw(tmp.path());
    let quarantined: Vec<Value> = raw
        .iter()
        .filter_map(|b| serde_json::from_slice(b).ok())
        .collect();

    // Nothing disappears, and nothing is in the wrong place: a valid sample's documents are
    // archived (none quarantined), an invalid one's are quarantined (none archived), and a
    // file that is not JSON is quarantined byte for byte.
    for (part, ..) in QUARANTINED {
        sample(&data, part);
    }
    let quarantined_from = |file: &Path| {
        summary
            .quarantined
            .iter()
            .filter(|q| Path::new(&q.source) == file)
            .count()
    };
    let mut checked = 0;
    for file in sample_files(&data) {
        let entry = quarantine_entry(&file);
        match (candidates(&file), entry) {
            (Some(docs), None) => {
                assert!(!docs.is_empty(), "{}: no documents", file.display());
                for doc in docs {
                    assert!(
                        archived.contains(&doc),
                        "{}: a valid document was not archived",
                        file.display()
                    );
                    checked += 1;
                }
                assert_eq!(
                    quarantined_from(&file),
                    0,
                    "{}: quarantined",
                    file.display()
                );
            }
            (Some(docs), Some((_, _, n))) => {
                for doc in &docs {
                    assert!(
                        quarantined.contains(doc) && !archived.contains(doc),
                        "{}: an invalid document was not quarantined, or was archived",
                        file.display()
                    );
                }
                assert_eq!(quarantined_from(&file), n, "{}", file.display());
            }
            (None, entry) => {
                let bytes = std::fs::read(&file).unwrap();
                assert!(
                    entry.is_some(),
                    "{}: not JSON, yet not listed",
                    file.display()
                );
                assert!(
                    raw.contains(&bytes),
                    "{} not quarantined whole",
                    file.display()
                );
            }
        }
    }
    assert_eq!(
        checked as u64, summary.segments,
        "every archived document was checked"
    );
    // Every quarantine has a reason that is a sentence, not a code.
    for q in &summary.quarantined {
        assert!(q.reason.len() > 12, "{q:?}");
        let meta: Value = serde_json::from_slice(
            &std::fs::read(tmp.path().join(q.key.replace(".raw", ".json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(meta["reason"], q.reason.as_str());
    }

    // Spans: one per segment plus one per nested subsegment, for each document id; an
    // in-progress document whose completed one is archived too adds none (a span counts
    // once).
    let spans = read_table(tmp.path(), "spans");
    let key_of = |d: &Value| {
        (
            d["trace_id"].as_str().unwrap().to_owned(),
            d["id"].as_str().unwrap().to_owned(),
        )
    };
    let in_progress = |d: &Value| d["in_progress"] == true && d.get("end_time").is_none();
    let completed: HashSet<(String, String)> = archived
        .iter()
        .filter(|d| !in_progress(d))
        .map(key_of)
        .collect();
    let mut expected: HashMap<(String, String), usize> = HashMap::new();
    for d in &archived {
        let key = key_of(d);
        let superseded = in_progress(d) && completed.contains(&key);
        *expected.entry(key).or_default() += if superseded { 0 } else { count_spans(d) };
    }
    expected.retain(|_, n| *n > 0);
    let mut got: HashMap<(String, String), usize> = HashMap::new();
    for (t, s) in strings(&spans, "trace_id")
        .into_iter()
        .zip(strings(&spans, "segment_id"))
    {
        *got.entry((t.unwrap(), s.unwrap())).or_default() += 1;
    }
    assert_eq!(got, expected);
    assert_eq!(
        spans.iter().map(|b| b.num_rows()).sum::<usize>() as u64,
        summary.spans
    );

    // Traces: one row per distinct trace id.
    let traces = read_table(tmp.path(), "traces");
    let mut trace_ids: Vec<String> = strings(&traces, "trace_id")
        .into_iter()
        .map(Option::unwrap)
        .collect();
    trace_ids.sort();
    let mut want: Vec<String> = archived
        .iter()
        .map(|d| d["trace_id"].as_str().unwrap().to_owned())
        .collect();
    want.sort();
    want.dedup();
    assert_eq!(trace_ids, want);
}

#[tokio::test]
async fn known_samples_have_known_outcomes() {
    let data = testdata_dir();
    let tmp = tempfile::tempdir().unwrap();
    let summary = export(&data, tmp.path()).await;
    let documents: Vec<String> = strings(&read_table(tmp.path(), "segments"), "document")
        .into_iter()
        .map(Option::unwrap)
        .collect();

    // BatchGetTraces: each escaped Document string is archived exactly as X-Ray returned it.
    {
        let f = sample(&data, "batchgettraces-output");
        let v: Value = serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap();
        let docs: Vec<&str> = v["Traces"][0]["Segments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["Document"].as_str().unwrap())
            .collect();
        assert_eq!(docs.len(), 5);
        for d in docs {
            assert!(documents.iter().any(|x| x == d), "missing {d}");
        }
    }
    // A pretty-printed single document is kept byte for byte, whitespace and all.
    {
        let f = sample(&data, "minimal-complete-segment");
        let text = std::fs::read_to_string(f).unwrap();
        assert!(documents.iter().any(|d| d == text.trim()));
    }
    // Daemon framing: the header line is skipped, the document archived.
    {
        let f = sample(&data, "daemon-segment");
        let text = std::fs::read_to_string(f).unwrap();
        let line = text.lines().nth(1).unwrap();
        assert!(documents.iter().any(|d| d == line));
    }

    let reasons: BTreeMap<String, Vec<String>> =
        summary
            .quarantined
            .iter()
            .fold(BTreeMap::new(), |mut m, q| {
                let name = Path::new(&q.source)
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                m.entry(name).or_default().push(q.reason.clone());
                m
            });
    for (name, reason, n) in QUARANTINED {
        sample(&data, name);
        let got: Vec<&String> = reasons
            .iter()
            .filter(|(k, _)| k.contains(name))
            .flat_map(|(_, v)| v)
            .collect();
        assert_eq!(got.len(), n, "{name}: {got:?}");
        assert!(
            got.iter().all(|r| r.contains(reason)),
            "{name}: want reasons containing {reason:?}, got {got:?}"
        );
    }
    assert_eq!(
        summary.quarantined.len(),
        QUARANTINED.iter().map(|(.., n)| n).sum::<usize>(),
        "only the invalid samples are quarantined"
    );
}

#[tokio::test]
async fn a_rerun_writes_nothing_and_duplicates_nothing() {
    let data = testdata_dir();
    let tmp = tempfile::tempdir().unwrap();
    let first = export(&data, tmp.path()).await;
    let snapshot = |root: &Path| -> BTreeMap<String, Vec<u8>> {
        let mut out = BTreeMap::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    let k = p.strip_prefix(root).unwrap().display().to_string();
                    out.insert(k, std::fs::read(&p).unwrap());
                }
            }
        }
        out
    };
    let before = snapshot(tmp.path());
    let second = export(&data, tmp.path()).await;
    assert_eq!(second.unchanged, first.segments);
    assert_eq!(second.segments, 0);
    assert!(second.objects.is_empty(), "{:?}", second.objects.keys());
    // Nothing was written: no part, no quarantined object again, no manifest.
    let after = snapshot(tmp.path());
    let state = |m: &BTreeMap<String, Vec<u8>>| {
        m.iter()
            .filter(|(k, _)| !k.starts_with("_state/"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<BTreeMap<_, _>>()
    };
    assert_eq!(
        state(&before).keys().collect::<Vec<_>>(),
        state(&after).keys().collect::<Vec<_>>()
    );
    assert!(
        state(&before) == state(&after),
        "a re-run changed archive bytes"
    );
}

#[tokio::test]
async fn rows_are_sorted_and_partitioned_by_the_trace_id_epoch() {
    let data = testdata_dir();
    let tmp = tempfile::tempdir().unwrap();
    export(&data, tmp.path()).await;
    for table in ["segments", "spans", "traces"] {
        for dir in std::fs::read_dir(tmp.path().join("v1").join(table)).unwrap() {
            let dir = dir.unwrap().path();
            let dt = dir
                .file_name()
                .unwrap()
                .to_string_lossy()
                .replace("dt=", "");
            for part in std::fs::read_dir(&dir).unwrap() {
                let part = part.unwrap().path();
                let stem = part.file_stem().unwrap().to_string_lossy().into_owned();
                assert!(
                    stem.len() == 9 && stem.starts_with("part-"),
                    "{part:?}: parts are part-NNNN"
                );
                let file = std::fs::File::open(&part).unwrap();
                let reader =
                    parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
                        .unwrap();
                let kv = reader
                    .metadata()
                    .file_metadata()
                    .key_value_metadata()
                    .cloned()
                    .unwrap_or_default();
                assert!(
                    kv.iter().any(|k| k.key == "xray_archive.schema_version"
                        && k.value.as_deref() == Some("v1"))
                );
                // trace_id has a bloom filter in every row group, and zstd pages.
                for rg in reader.metadata().row_groups() {
                    let col = rg
                        .columns()
                        .iter()
                        .find(|c| c.column_path().string() == "trace_id")
                        .unwrap();
                    assert!(
                        col.bloom_filter_offset().is_some(),
                        "{part:?}: no bloom filter"
                    );
                    assert!(matches!(
                        col.compression(),
                        parquet::basic::Compression::ZSTD(_)
                    ));
                }
                let batches: Vec<_> = reader.build().unwrap().map(Result::unwrap).collect();
                let ids: Vec<String> = strings(&batches, "trace_id")
                    .into_iter()
                    .map(Option::unwrap)
                    .collect();
                assert!(ids.windows(2).all(|w| w[0] <= w[1]), "{part:?} not sorted");
                for id in ids {
                    let epoch = i64::from_str_radix(&id[2..10], 16).unwrap();
                    let t = chrono_like_utc(epoch);
                    assert_eq!(t.as_str(), dt.as_str(), "{id} in {part:?}");
                }
            }
        }
    }
}

/// UTC date of epoch seconds, computed by hand (civil-from-days) so the test does not
/// share the archive's date code.
fn chrono_like_utc(epoch: i64) -> String {
    let days = epoch.div_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}
