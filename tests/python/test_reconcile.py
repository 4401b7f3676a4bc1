"""`xray-archive reconcile` against moto's X-Ray: it finds a trace deleted from the archive
and a trace that gained a segment after export, and --reexport repairs both."""

import json
import subprocess
import time

import pyarrow.compute as pc
import pyarrow.parquet as pq

from xray_support import cli_env, payment_traces, put_segments, rfc3339, run_cli

HOUR = 3600


def test_reconcile_finds_a_deleted_trace_and_a_late_segment(binary, moto, tmp_path):
    base = (int(time.time()) // HOUR - 330) * HOUR
    docs = payment_traces(base, hours=2, per_hour=3, tag=0x7E53)
    put_segments(moto["clean"], docs)
    archive = tmp_path / "archive"
    args = ["--archive", str(archive), "--from", rfc3339(base), "--to", rfc3339(base + 2 * HOUR)]
    run_cli(binary, moto["clean"], "export", "--source", "xray", *args)

    # Delete one trace from the archive's segments.
    roots = [json.loads(d) for d in docs if "parent_id" not in json.loads(d)]
    gone, late = roots[0], roots[4]
    for part in sorted((archive / "v1" / "segments").rglob("part-*.parquet")):
        table = pq.read_table(part)
        if gone["trace_id"] in table.column("trace_id").to_pylist():
            pq.write_table(table.filter(pc.not_equal(table["trace_id"], gone["trace_id"])), part)
    # A segment arrives in X-Ray after the export.
    put_segments(moto["clean"], [json.dumps({
        "name": "prism", "id": "0000000000000fa1", "trace_id": late["trace_id"], "parent_id": late["id"],
        "type": "subsegment", "namespace": "remote", "start_time": late["start_time"] + 0.1,
        "end_time": late["start_time"] + 0.2})])

    res = subprocess.run([str(binary), "reconcile", "--source", "xray", *args, "--json"],
                         capture_output=True, text=True, env=cli_env(moto["clean"]))
    assert res.returncode == 1, res.stderr
    report = json.loads(res.stdout)["report"]
    assert report["xray_traces"] == 6 and report["archived_traces"] == 5
    assert report["missing"] == [gone["trace_id"]]
    assert report["incomplete"] == [{"trace_id": late["trace_id"], "archived_segments": 2, "xray_segments": 3}]

    text = subprocess.run([str(binary), "reconcile", *args], capture_output=True, text=True,
                          env=cli_env(moto["clean"]))
    assert text.returncode == 1 and f"missing     {gone['trace_id']}" in text.stdout and "--reexport" in text.stdout

    fixed = subprocess.run([str(binary), "reconcile", *args, "--reexport", "--json"], capture_output=True,
                           text=True, env=cli_env(moto["clean"]))
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    out = json.loads(fixed.stdout)
    assert out["before_reexport"]["missing"] == [gone["trace_id"]]
    assert out["report"]["missing"] == [] and out["report"]["incomplete"] == []


def test_reconcile_refuses_a_range_x_ray_no_longer_holds(binary, moto, tmp_path):
    old = (int(time.time()) // HOUR - 40 * 24) * HOUR
    res = subprocess.run([str(binary), "reconcile", "--archive", str(tmp_path), "--from", rfc3339(old),
                          "--to", rfc3339(old + HOUR)], capture_output=True, text=True, env=cli_env(moto["clean"]))
    assert res.returncode != 0 and "more than 30 days ago" in res.stderr
