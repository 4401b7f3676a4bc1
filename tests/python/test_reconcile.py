"""`xray-archive reconcile` against moto's X-Ray: after a day is sealed, X-Ray gains a trace
of that day and a late segment of an archived trace; reconcile finds both, and --reexport
archives them as new write-once parts under an import manifest, never rewriting the sealed
day's parts."""

import collections
import json
import subprocess
import time

from xray_support import (
    S3Archive,
    check_chain,
    check_written_once,
    cli_env,
    day_of,
    day_start,
    locked_bucket,
    payment_traces,
    put_segments,
    rfc3339,
    run_cli,
)

HOUR = 3600
DAY = 86400


def test_reconcile_finds_a_new_trace_and_a_late_segment_and_reexports_them(binary, moto):
    base = day_start(10) + 7 * HOUR
    docs = payment_traces(base, hours=2, per_hour=3, tag=0x7E53)
    put_segments(moto["clean"], docs)
    bucket = locked_bucket(moto["clean"], "reconcile")
    s3 = S3Archive(moto["clean"], bucket, "prod")
    day = day_of(base)
    run_cli(binary, moto["clean"], "export", "--source", "xray", "--archive", s3.url, "--seal-after", "0",
            "--from", day, "--to", day)
    sealed = {k: s3.get(k) for k in s3.keys("v1/")}
    assert len(sealed) == 4

    # After the seal, X-Ray gains a new trace of that day and a late segment of an archived one.
    new_docs = payment_traces(base + 3 * HOUR, hours=1, per_hour=1, tag=0x7E54)
    new_trace = json.loads(new_docs[0])["trace_id"]
    late = json.loads(docs[4])
    assert "parent_id" not in late
    late_doc = json.dumps({
        "name": "prism", "id": "0000000000000fa1", "trace_id": late["trace_id"], "parent_id": late["id"],
        "type": "subsegment", "namespace": "remote", "start_time": late["start_time"] + 0.1,
        "end_time": late["start_time"] + 0.2})
    put_segments(moto["clean"], new_docs + [late_doc])

    args = ["--archive", s3.url, "--from", rfc3339(day_start(10)), "--to", rfc3339(day_start(10) + DAY)]
    res = subprocess.run([str(binary), "reconcile", "--source", "xray", *args, "--json"],
                         capture_output=True, text=True, env=cli_env(moto["clean"]))
    assert res.returncode == 1, res.stderr
    report = json.loads(res.stdout)["report"]
    assert report["xray_traces"] == 7 and report["archived_traces"] == 6
    assert report["missing"] == [new_trace]
    assert report["incomplete"] == [{"trace_id": late["trace_id"], "archived_segments": 2, "xray_segments": 3}]

    text = subprocess.run([str(binary), "reconcile", *args], capture_output=True, text=True,
                          env=cli_env(moto["clean"]))
    assert text.returncode == 1 and f"missing     {new_trace}" in text.stdout and "--reexport" in text.stdout

    fixed = subprocess.run([str(binary), "reconcile", *args, "--reexport", "--json"], capture_output=True,
                           text=True, env=cli_env(moto["clean"]))
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    out = json.loads(fixed.stdout)
    assert out["before_reexport"]["missing"] == [new_trace]
    assert out["report"]["missing"] == [] and out["report"]["incomplete"] == []
    assert out["report"]["archived_traces"] == 7

    # The sealed parts are untouched; the repair is part-0001 of the same day, committed by an
    # import manifest; every document is archived once; every key has one version.
    for key, body in sealed.items():
        assert s3.get(key) == body, f"{key} was rewritten"
    added = sorted(set(s3.keys("v1/")) - set(sealed))
    assert f"v1/segments/dt={day}/part-0001.parquet" in added
    assert all(k.endswith("/part-0001.parquet") for k in added), added
    manifests = check_chain(s3)
    assert [(m["kind"], m["source"]) for m in manifests] == [("day", "xray"), ("import", "xray-reconcile")]
    assert sorted(o["key"] for o in manifests[1]["objects"]) == added
    assert manifests[1]["segments"] == 3 and manifests[1]["unchanged"] == 2
    rows = s3.rows("segments")
    counts = collections.Counter((r["trace_id"], r["segment_id"]) for r in rows)
    assert max(counts.values()) == 1, counts
    expected = {(json.loads(d)["trace_id"], json.loads(d)["id"]): d for d in docs + new_docs + [late_doc]}
    assert {(r["trace_id"], r["segment_id"]): r["document"] for r in rows} == expected
    check_written_once(s3)

    # Once more: clean, and nothing is written.
    again = run_cli(binary, moto["clean"], "reconcile", *args, "--reexport", "--json")
    assert json.loads(again.stdout)["report"]["missing"] == []
    assert len(s3.keys("_manifests/")) == 2
    check_written_once(s3)


def test_reconcile_refuses_a_range_x_ray_no_longer_holds(binary, moto, tmp_path):
    old = (int(time.time()) // HOUR - 40 * 24) * HOUR
    res = subprocess.run([str(binary), "reconcile", "--archive", str(tmp_path), "--from", rfc3339(old),
                          "--to", rfc3339(old + HOUR)], capture_output=True, text=True, env=cli_env(moto["clean"]))
    assert res.returncode != 0 and "more than 30 days ago" in res.stderr
