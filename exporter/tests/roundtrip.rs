//! Randomised round trips: generated segment trees are parsed, flattened, written as Parquet,
//! read back and compared with what was generated. The documents are built as plain
//! `serde_json::Value`s, not with the archive's own model.

use std::collections::BTreeMap;

use arrow::array::{Array, AsArray, MapArray};
use arrow::datatypes::Int64Type;
use bytes::Bytes;
use exporter::parquet_io::{decode, encode};
use exporter::{LocalDirStore, WriterConfig};
use proptest::prelude::*;
use schema::v1::{ArchivedSegment, Table, convert, sort_for_archive};
use serde_json::{Value, json};

/// A generated span: what the archive must give back for it.
#[derive(Debug, Clone)]
struct Span {
    id: String,
    name: String,
    start_us: i64,
    annotations: BTreeMap<String, Value>,
    fault: bool,
    children: Vec<Span>,
}

fn hex16() -> impl Strategy<Value = String> {
    "[0-9a-f]{16}"
}

fn span_tree(depth: u32) -> BoxedStrategy<Span> {
    let leaf = (
        hex16(),
        // Names with quotes, backslashes, unicode and control characters.
        "[a-zA-Z0-9 _\"\\\\é€\u{1F600}\\n.-]{1,24}",
        0i64..3_600_000_000,
        prop::collection::btree_map(
            "[A-Za-z]{1,10}",
            prop_oneof![
                "[a-z0-9_ ]{0,12}".prop_map(Value::from),
                any::<i32>().prop_map(Value::from),
                any::<bool>().prop_map(Value::from),
            ],
            0..4,
        ),
        any::<bool>(),
    );
    if depth == 0 {
        leaf.prop_map(|(id, name, start, annotations, fault)| Span {
            id,
            name,
            start_us: start,
            annotations,
            fault,
            children: vec![],
        })
        .boxed()
    } else {
        (leaf, prop::collection::vec(span_tree(depth - 1), 0..3))
            .prop_map(|((id, name, start, annotations, fault), children)| Span {
                id,
                name,
                start_us: start,
                annotations,
                fault,
                children,
            })
            .boxed()
    }
}

/// Base epoch: 2024-03-01T10:00:00Z; trace ids are placed in that hour or the next.
const BASE: i64 = 1_709_287_200;

fn to_json(s: &Span, trace_id: Option<&str>) -> Value {
    let start = (BASE * 1_000_000 + s.start_us) as f64 / 1e6;
    let mut v = json!({
        "name": s.name,
        "id": s.id,
        "start_time": start,
        "end_time": start + 0.25,
    });
    if let Some(t) = trace_id {
        v["trace_id"] = json!(t);
    }
    if s.fault {
        v["fault"] = json!(true);
    }
    if !s.annotations.is_empty() {
        v["annotations"] = json!(s.annotations);
    }
    if !s.children.is_empty() {
        v["subsegments"] = Value::Array(s.children.iter().map(|c| to_json(c, None)).collect());
    }
    v
}

/// Depth-first (id, parent, depth, name, start_us, annotations-as-text).
type Flat = (
    String,
    Option<String>,
    i32,
    String,
    i64,
    BTreeMap<String, String>,
);

fn flatten(s: &Span, parent: Option<&str>, depth: i32, out: &mut Vec<Flat>) {
    let start = schema::v1::seconds_to_us((BASE * 1_000_000 + s.start_us) as f64 / 1e6);
    let ann = s
        .annotations
        .iter()
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), text)
        })
        .collect();
    out.push((
        s.id.clone(),
        parent.map(str::to_owned),
        depth,
        s.name.clone(),
        start,
        ann,
    ));
    for c in &s.children {
        flatten(c, Some(&s.id), depth + 1, out);
    }
}

fn documents() -> impl Strategy<Value = Vec<(String, Span)>> {
    let trace = (0u32..2, "[0-9a-f]{24}")
        .prop_map(|(h, r)| format!("1-{:08x}-{r}", BASE as u32 + h * 3600 + 7));
    prop::collection::vec((trace, span_tree(2)), 1..8)
}

fn map_entries(map: &MapArray, row: usize) -> BTreeMap<String, String> {
    if map.is_null(row) {
        return BTreeMap::new();
    }
    let entries = map.value(row);
    let keys = entries.column(0).as_string::<i32>();
    let values = entries.column(1).as_string::<i32>();
    (0..entries.len())
        .map(|i| (keys.value(i).to_owned(), values.value(i).to_owned()))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn parse_flatten_write_read_compare(docs in documents()) {
        let mut segments = Vec::new();
        for (trace, span) in &docs {
            let text = to_json(span, Some(trace)).to_string();
            segments.push(ArchivedSegment::new(text, None).expect("generated document is valid"));
        }
        sort_for_archive(&mut segments);
        let batches = convert(&segments).unwrap();

        let seg_back = decode("s", encode(Table::Segments, "s", &[batches.segments]).unwrap()).unwrap();
        let spans_back = decode("p", encode(Table::Spans, "p", &[batches.spans]).unwrap()).unwrap();

        // segments: the documents, byte for byte, in archive order.
        let texts: Vec<String> = seg_back.iter()
            .flat_map(|b| (0..b.num_rows()).map(|i| b.column_by_name("document").unwrap().as_string::<i32>().value(i).to_owned()).collect::<Vec<_>>())
            .collect();
        prop_assert_eq!(texts, segments.iter().map(|s| s.text().to_owned()).collect::<Vec<_>>());

        // spans: every generated span, depth first per document, in archive order.
        let mut want = Vec::new();
        for s in &segments {
            let v: Value = serde_json::from_str(s.text()).unwrap();
            let (_, span) = docs
                .iter()
                .find(|(t, sp)| {
                    t == v["trace_id"].as_str().unwrap()
                        && sp.id == v["id"].as_str().unwrap()
                        && sp.name == v["name"].as_str().unwrap()
                })
                .unwrap();
            flatten(span, None, 0, &mut want);
        }
        let mut got = Vec::new();
        for b in &spans_back {
            let id = b.column_by_name("id").unwrap().as_string::<i32>();
            let parent = b.column_by_name("parent_id").unwrap().as_string::<i32>();
            let depth = b.column_by_name("depth").unwrap().as_primitive::<arrow::datatypes::Int32Type>();
            let name = b.column_by_name("name").unwrap().as_string::<i32>();
            let start = b.column_by_name("start_us").unwrap().as_primitive::<Int64Type>();
            let ann = b.column_by_name("annotations").unwrap().as_map();
            for i in 0..b.num_rows() {
                got.push((
                    id.value(i).to_owned(),
                    (!parent.is_null(i)).then(|| parent.value(i).to_owned()),
                    depth.value(i),
                    name.value(i).to_owned(),
                    start.value(i),
                    map_entries(ann, i),
                ));
            }
        }
        prop_assert_eq!(got, want);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    /// Importing documents in two runs, and then all of them again, archives the same
    /// documents and spans as one run: each exactly once, nothing rewritten.
    #[test]
    fn two_imports_and_a_rerun_hold_what_one_import_holds(docs in documents(), split in 0usize..8) {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let lines: Vec<String> = docs.iter().map(|(t, s)| to_json(s, Some(t)).to_string()).collect();
        let split = split.min(lines.len());
        let join = |l: &[String]| l.join("\n").into_bytes();
        let (all, first, second) = (join(&lines), join(&lines[..split]), join(&lines[split..]));
        let once = tempfile::tempdir().unwrap();
        let twice = tempfile::tempdir().unwrap();
        let config = || WriterConfig { buffer_bytes: 1, batch_documents: 2, ..Default::default() };
        rt.block_on(async {
            let store = LocalDirStore::open(once.path()).unwrap();
            exporter::export_inputs(&[("all", &all)], &store, WriterConfig::default()).await.unwrap();
            let store = LocalDirStore::open(twice.path()).unwrap();
            // A tiny buffer forces a part per flush.
            exporter::export_inputs(&[("first", &first)], &store, config()).await.unwrap();
            exporter::export_inputs(&[("second", &second)], &store, config()).await.unwrap();
            let rerun = exporter::export_inputs(&[("all", &all)], &store, config()).await.unwrap();
            assert_eq!(rerun.segments, 0, "a re-run writes nothing new");
            assert!(rerun.objects.is_empty());
        });
        let read_all = |root: &std::path::Path| {
            let mut docs: Vec<String> = Vec::new();
            let mut spans = 0usize;
            for table in ["segments", "spans"] {
                let dir = root.join("v1").join(table);
                let Ok(days) = std::fs::read_dir(&dir) else { continue };
                for day in days {
                    for part in std::fs::read_dir(day.unwrap().path()).unwrap() {
                        let p = part.unwrap().path();
                        let batches = decode("x", Bytes::from(std::fs::read(&p).unwrap())).unwrap();
                        if table == "spans" {
                            spans += batches.iter().map(|b| b.num_rows()).sum::<usize>();
                        }
                        docs.extend(batches.iter().filter_map(|b| b.column_by_name("document")).flat_map(|c| {
                            let c = c.as_string::<i32>();
                            (0..c.len()).map(|i| c.value(i).to_owned()).collect::<Vec<_>>()
                        }));
                    }
                }
            }
            docs.sort();
            (docs, spans)
        };
        prop_assert_eq!(read_all(once.path()), read_all(twice.path()));
    }
}
