"""OpenTelemetry input read back with pyarrow: the real `aws/spans` samples archived by the
CLI, and every completed span compared with the records parsed by Python's json module."""

import gzip
import json
import pathlib
import subprocess

import pyarrow.dataset as ds

from conftest import ROOT

OTEL = ROOT / "tests" / "fixtures" / "otel"
STEP_FUNCTIONS = OTEL / "coralogix-aws-shipper__tests-fixtures-aws_spans.json__stepfunctions-42-records-with-inprogress.json"


def table(archive_dir: pathlib.Path, name: str):
    return ds.dataset(archive_dir / "v1" / name, format="parquet", partitioning="hive").to_table()


def export(binary, source: pathlib.Path, out: pathlib.Path) -> dict:
    res = subprocess.run(
        [str(binary), "export", "--source", str(source), "--archive", str(out), "--json"],
        capture_output=True, text=True, check=True,
    )
    return json.loads(res.stdout)


def xray_trace_id(trace_id: str, start_ns: int) -> str:
    """AWS's rule: the first 8 hex digits are the epoch second when they are near the start."""
    epoch = int(trace_id[:8], 16)
    if abs(start_ns // 10**9 - epoch) <= 7 * 86400:
        return f"1-{trace_id[:8]}-{trace_id[8:]}"
    return trace_id


def test_spans_match_the_records_parsed_with_json(binary, tmp_path):
    summary = export(binary, STEP_FUNCTIONS, tmp_path / "a")
    records = json.loads(STEP_FUNCTIONS.read_text())
    completed = {r["spanId"]: r for r in records if r.get("endTimeUnixNano") is not None
                 and not r.get("attributes", {}).get("aws.xray.inprogress")}
    assert len(completed) == 24 and len(records) == 42

    segments = table(tmp_path / "a", "segments")
    assert segments.num_rows == 42 == summary["segments"]
    assert set(segments.column("format").to_pylist()) == {"aws-spans"}
    # Every record's text is kept as received: each parses to exactly one record.
    texts = segments.column("document").to_pylist()
    assert sorted(json.dumps(json.loads(t), sort_keys=True) for t in texts) == \
        sorted(json.dumps(r, sort_keys=True) for r in records)

    spans = table(tmp_path / "a", "spans").to_pylist()
    assert len(spans) == 24 == summary["spans"]
    for row in spans:
        r = completed[row["id"]]
        assert row["trace_id"] == xray_trace_id(r["traceId"], r["startTimeUnixNano"])
        # Integer nanoseconds, never through a float: exact to the microsecond.
        assert row["start_us"] == r["startTimeUnixNano"] // 1000
        assert row["end_us"] == r["endTimeUnixNano"] // 1000
        assert row["parent_id"] == r.get("parentSpanId")
        assert row["name"] == r.get("_aws", {}).get("xray", {}).get("name", r["name"])
        status = r["attributes"].get("http.response.status_code") or r["attributes"].get("http.status_code")
        assert row["http_status"] == status
        failed = r.get("status", {}).get("code") == "ERROR"
        assert (row["error"] or row["fault"]) == failed, (row, r)
    traces = table(tmp_path / "a", "traces")
    assert traces.num_rows == 6


def test_a_firehose_delivery_archives_the_same_spans(binary, tmp_path):
    """The subscription filter's payloads as Firehose writes them: gzip members one after
    another, a control message among them."""
    records = json.loads(STEP_FUNCTIONS.read_text())
    raw = json.JSONDecoder()
    text = STEP_FUNCTIONS.read_text()
    # The records' texts exactly as the array holds them.
    texts, i = [], text.index("[") + 1
    while len(texts) < len(records):
        while text[i] in " \n\r\t,":
            i += 1
        _, end = raw.raw_decode(text, i)
        texts.append(text[i:end])
        i = end

    def payload(messages):
        return gzip.compress(json.dumps({
            "messageType": "DATA_MESSAGE", "owner": "123456789012", "logGroup": "aws/spans",
            "logStream": "default", "subscriptionFilters": ["archive"],
            "logEvents": [{"id": str(n), "timestamp": 0, "message": m} for n, m in enumerate(messages)],
        }).encode())

    delivery = tmp_path / "firehose" / "2026" / "08" / "04" / "00"
    delivery.mkdir(parents=True)
    (delivery / "xray-archive-spans-1").write_bytes(
        payload(texts[:30]) + gzip.compress(b'{"messageType":"CONTROL_MESSAGE","logGroup":"","logEvents":[]}')
        + payload(texts[30:]))
    summary = export(binary, tmp_path / "firehose", tmp_path / "b")
    assert summary["segments"] == 42 and summary["spans"] == 24 and summary["control_messages"] == 1
    assert not summary["quarantined"]
    assert sorted(table(tmp_path / "b", "segments").column("document").to_pylist()) == sorted(texts)
