"""Reads the archive back with pyarrow, an implementation independent of the writer, and
checks it against the X-Ray samples parsed with Python's json module."""

import datetime
import decimal
import json
import pathlib
import re
import shutil
import subprocess

import pyarrow.dataset as ds
import pyarrow.parquet as pq


def table(archive_dir: pathlib.Path, name: str):
    return ds.dataset(archive_dir / "v1" / name, format="parquet", partitioning="hive").to_table()


def count_spans(doc: dict) -> int:
    return 1 + sum(count_spans(s) for s in doc.get("subsegments", []) or [])


def candidate_documents(samples: pathlib.Path):
    """Document texts X-Ray would have returned: escaped Document strings exactly, other
    documents as parsed values."""
    exact, parsed = [], []
    for f in sorted(samples.iterdir()):
        if f.suffix == ".md":
            continue
        try:
            values = [json.loads(f.read_text())]
        except (ValueError, UnicodeDecodeError):
            try:
                values = [json.loads(line) for line in f.read_text().splitlines() if line.strip()]
            except (ValueError, UnicodeDecodeError):
                continue
        for v in values:
            for t in v.get("Traces", []) if isinstance(v, dict) else []:
                for s in t["Segments"]:
                    d = s["Document"]
                    if isinstance(d, str):
                        exact.append(d)
                    else:
                        parsed.append(d)
    return exact, parsed


def test_segments_hold_every_document_byte_for_byte(archive, samples):
    out, summary = archive
    segs = table(out, "segments")
    assert segs.num_rows == summary["segments"] > 0
    docs = segs.column("document").to_pylist()
    exact, _ = candidate_documents(samples)
    assert exact, "the samples include a BatchGetTraces response"
    for text in exact:
        assert text in docs
    # Every archived document is valid JSON whose ids match its row.
    for row in segs.select(["trace_id", "segment_id", "document"]).to_pylist():
        d = json.loads(row["document"])
        assert (d["trace_id"], d["id"]) == (row["trace_id"], row["segment_id"])


def in_progress(d: dict) -> bool:
    return d.get("in_progress") is True and "end_time" not in d


def test_span_count_is_segments_plus_nested_subsegments(archive):
    """Each document's spans count once: an in-progress document whose completed one is
    archived too keeps its segments row but adds no spans."""
    out, summary = archive
    docs = [json.loads(d) for d in table(out, "segments").column("document").to_pylist()]
    completed = {(d["trace_id"], d["id"]) for d in docs if not in_progress(d)}
    counted = [d for d in docs if not (in_progress(d) and (d["trace_id"], d["id"]) in completed)]
    assert len(counted) < len(docs), "the samples hold a snapshot and its completed document"
    spans = table(out, "spans")
    assert spans.num_rows == sum(count_spans(d) for d in counted) == summary["spans"]
    want = {}
    for d in counted:
        key = (d["trace_id"], d["id"])
        want[key] = want.get(key, 0) + count_spans(d)
    got = {}
    for t, s in zip(spans.column("trace_id").to_pylist(), spans.column("segment_id").to_pylist()):
        got[(t, s)] = got.get((t, s), 0) + 1
    assert got == want


def test_times_are_utc_milliseconds_with_exact_microseconds(archive):
    out, _ = archive
    for name in ("segments", "spans", "traces"):
        t = table(out, name)
        assert str(t.schema.field("start_time").type) == "timestamp[ms, tz=UTC]"
        for row in t.select(["start_time", "start_us"]).to_pylist():
            us = row["start_us"]
            expect = datetime.datetime.fromtimestamp((us // 1000) / 1000, tz=datetime.timezone.utc)
            assert row["start_time"] == expect
    # start_us is the document's decimal seconds, rounded half up to the microsecond.
    segs = table(out, "segments").select(["document", "start_us"]).to_pylist()
    for row in segs:
        start = json.loads(row["document"], parse_float=decimal.Decimal)["start_time"]
        us = (decimal.Decimal(start) * 1_000_000).quantize(decimal.Decimal(1), rounding=decimal.ROUND_HALF_UP)
        assert row["start_us"] == int(us)


def test_partitions_follow_the_trace_id_epoch(archive):
    out, _ = archive
    t = table(out, "segments").select(["trace_id", "dt"]).to_pylist()
    for row in t:
        epoch = int(row["trace_id"][2:10], 16)
        day = datetime.datetime.fromtimestamp(epoch, tz=datetime.timezone.utc).date()
        assert str(row["dt"]) == day.isoformat()


def test_layout_is_days_and_numbered_parts_and_a_reexport_is_unchanged(binary, archive, samples, tmp_path):
    out, summary = archive
    parts = sorted(str(p.relative_to(out)) for p in (out / "v1").rglob("*") if p.is_file())
    assert parts and all(re.fullmatch(r"v1/(segments|spans|traces)/dt=\d{4}-\d{2}-\d{2}/part-0000\.parquet", p)
                         for p in parts), parts
    days = {p.split("/")[2] for p in parts}
    assert days == set(summary["partitions"]) and len(parts) == 3 * len(days)
    assert [p.name for p in (out / "_manifests").iterdir()] == ["0000000001.json"]
    manifest = json.loads((out / "_manifests" / "0000000001.json").read_text())
    assert manifest["kind"] == "import" and manifest["seq"] == 1 and manifest["previous"] is None
    assert {o["key"] for o in manifest["objects"] if o["key"].startswith("v1/")} == set(parts)
    # The archive is written once: the same samples again change nothing.
    copy = tmp_path / "again"
    shutil.copytree(out, copy)
    res = subprocess.run([str(binary), "export", "--source", str(samples), "--archive", str(copy), "--json"],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    again = json.loads(res.stdout)
    assert again["unchanged"] == summary["segments"] and again["segments"] == 0 and again["traces"] == 0, again
    assert again["objects_written"] == 0 and again["partitions"] == [], again
    assert sorted(str(p.relative_to(copy)) for p in (copy / "v1").rglob("*") if p.is_file()) == parts
    assert [p.name for p in (copy / "_manifests").iterdir()] == ["0000000001.json"]


def test_files_carry_versions_and_sorted_row_group_statistics(archive):
    out, _ = archive
    files = sorted((out / "v1").rglob("*.parquet"))
    assert files
    for f in files:
        meta = pq.ParquetFile(f).metadata
        kv = {k.decode(): v.decode() for k, v in (meta.metadata or {}).items()}
        assert kv["xray_archive.schema_version"] == "v1"
        assert kv["xray_archive.writer"].startswith("xray-archive ")
        rg = meta.row_group(0)
        col = next(rg.column(i) for i in range(rg.num_columns) if rg.column(i).path_in_schema == "trace_id")
        assert col.compression == "ZSTD"
        assert col.statistics is not None and col.statistics.has_min_max
        ids = pq.read_table(f, columns=["trace_id"]).column("trace_id").to_pylist()
        assert ids == sorted(ids)


def test_traces_and_annotations(archive):
    out, _ = archive
    traces = table(out, "traces").to_pylist()
    segs = [json.loads(d) for d in table(out, "segments").column("document").to_pylist()]
    assert {t["trace_id"] for t in traces} == {d["trace_id"] for d in segs}
    for t in traces:
        mine = [d for d in segs if d["trace_id"] == t["trace_id"]]
        assert t["segment_count"] == len(mine)
        assert t["services"] == sorted({d["name"] for d in mine})
    spans = table(out, "spans").select(["annotations"]).to_pylist()
    ann = [dict(r["annotations"]) for r in spans if r["annotations"]]
    assert {"UserID": "5M388M1E", "Name": "Ola"} in ann


def test_quarantine_keeps_bytes_and_reasons(archive, samples):
    out, summary = archive
    assert summary["quarantined"], "the samples include invalid documents"
    for q in summary["quarantined"]:
        meta = json.loads((out / q["key"].replace(".raw", ".json")).read_text())
        assert meta["reason"] == q["reason"]
        raw = (out / q["key"]).read_bytes()
        assert len(raw) == meta["bytes"]
    broken = [q for q in summary["quarantined"] if "not valid JSON" in q["reason"] and not q["location"]]
    for q in broken:
        assert (out / q["key"]).read_bytes() == pathlib.Path(q["source"]).read_bytes()


def test_cli_errors_say_what_to_do(binary, tmp_path):
    res = subprocess.run(
        [str(binary), "export", "--source", str(tmp_path / "nope"), "--archive", str(tmp_path / "a")],
        capture_output=True,
        text=True,
    )
    assert res.returncode != 0
    assert "--source" in res.stderr and "nope" in res.stderr
    helptext = subprocess.run([str(binary), "export", "--help"], capture_output=True, text=True).stdout
    assert "BatchGetTraces" in helptext and "Example" in helptext
