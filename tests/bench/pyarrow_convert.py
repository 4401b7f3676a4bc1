"""The converter a user would write first, as the baseline of the conversion benchmark: json plus
pyarrow, BatchGetTraces files in, Hive-partitioned zstd Parquet out.

    python tests/bench/pyarrow_convert.py IN_DIR OUT_DIR

IN_DIR holds BatchGetTraces responses (one JSON value per file, or JSON Lines of them, as
`cargo run --release -p exporter --example gen_payment_traces` writes). OUT_DIR gets two tables,
each partitioned by the trace-id day (`dt=YYYY-MM-DD`):

- `segments`: one row per segment document, with its raw text (the evidence) and its ids,
  name and times;
- `spans`: one row per segment and nested subsegment, flattened: ids, parent, name, times,
  namespace, HTTP method, URL and status, error/fault/throttle, and the annotations as JSON.

Nothing more than a straightforward script does: no validation, no quarantine, no redaction,
no sorting, default pyarrow writer settings with zstd.
"""

import datetime
import json
import pathlib
import sys

import pyarrow as pa
import pyarrow.parquet as pq


def day_of(trace_id: str) -> str:
    epoch = int(trace_id.split("-")[1], 16)
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%d")


def flatten(doc: dict, trace_id: str, dt: str, parent, out: list) -> None:
    http = doc.get("http") or {}
    request, response = http.get("request") or {}, http.get("response") or {}
    out.append({
        "trace_id": trace_id,
        "id": doc.get("id"),
        "parent_id": parent if parent is not None else doc.get("parent_id"),
        "name": doc.get("name"),
        "start_time": doc.get("start_time"),
        "end_time": doc.get("end_time"),
        "namespace": doc.get("namespace"),
        "http_method": request.get("method"),
        "http_url": request.get("url"),
        "http_status": response.get("status"),
        "error": bool(doc.get("error")),
        "fault": bool(doc.get("fault")),
        "throttle": bool(doc.get("throttle")),
        "annotations": json.dumps(doc["annotations"]) if doc.get("annotations") else None,
        "dt": dt,
    })
    for sub in doc.get("subsegments") or []:
        flatten(sub, trace_id, dt, doc.get("id"), out)


def responses(path: pathlib.Path):
    text = path.read_text()
    try:
        yield json.loads(text)
    except json.JSONDecodeError:
        for line in text.splitlines():
            if line.strip():
                yield json.loads(line)


def main() -> None:
    src, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    segments, spans = [], []
    for path in sorted(p for p in src.rglob("*") if p.is_file()):
        for response in responses(path):
            for trace in response.get("Traces", []):
                for seg in trace.get("Segments", []):
                    raw = seg["Document"]
                    doc = json.loads(raw) if isinstance(raw, str) else raw
                    trace_id = doc["trace_id"]
                    dt = day_of(trace_id)
                    segments.append({
                        "trace_id": trace_id,
                        "id": doc.get("id"),
                        "name": doc.get("name"),
                        "start_time": doc.get("start_time"),
                        "end_time": doc.get("end_time"),
                        "document": raw if isinstance(raw, str) else json.dumps(raw),
                        "dt": dt,
                    })
                    flatten(doc, trace_id, dt, None, spans)
    for name, rows in (("segments", segments), ("spans", spans)):
        pq.write_to_dataset(pa.Table.from_pylist(rows), out / name, partition_cols=["dt"],
                            compression="zstd")
    print(f"{len(segments)} segments, {len(spans)} spans -> {out}")


if __name__ == "__main__":
    main()
