"""`xray-archive lookup` through the CLI: tree and JSON output, and a clear failure for an
unknown payment id."""

import hashlib
import json
import subprocess

import pyarrow.dataset as ds

from xray_support import payment_traces


def test_lookup_tells_the_story_of_a_payment(binary, tmp_path):
    docs = payment_traces(1_772_409_600, hours=3, per_hour=4, tag=0x100C)
    # A second, failing trace for one payment, a day later.
    failing = json.loads(docs[0])
    failing.update(trace_id="1-69a62a81-0000000000000000000000aa", id="00000000000000aa",
                   start_time=1_772_497_537.5, end_time=1_772_497_538.0, fault=True,
                   cause={"exceptions": [{"id": "00000000000000ab", "message": "ProvisionedThroughputExceeded"}]})
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(docs + [json.dumps(failing)]) + "\n")
    archive = tmp_path / "archive"
    subprocess.run([str(binary), "export", "--source", str(src), "--archive", str(archive)], check=True,
                   capture_output=True)
    pid = failing["annotations"]["PaymentId"]

    res = subprocess.run([str(binary), "lookup", "--archive", str(archive), "--payment-id", pid, "--format", "json"],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    story = json.loads(res.stdout)
    rows = ds.dataset(archive / "v1" / "spans", format="parquet", partitioning="hive").to_table().to_pylist()
    want = {r["trace_id"] for r in rows if r["payment_id"] == pid}
    assert {t["trace_id"] for t in story["traces"]} == want and len(want) == 2
    assert story["first_failure"]["span_id"] == "00000000000000aa"
    assert story["first_failure"]["exception"] == "ProvisionedThroughputExceeded"
    assert story["read"]["files"] >= 2 and story["read"]["bytes"] > 0
    # Every trace cites the objects it was read from, with their SHA-256 and the manifest
    # that commits them: checked here against the files and the manifests themselves.
    for t in story["traces"]:
        assert t["sources"], t["trace_id"]
        for c in t["sources"]:
            assert c["key"].startswith(f"v1/spans/dt={t['dt']}/part-")
            assert hashlib.sha256((archive / c["key"]).read_bytes()).hexdigest() == c["sha256"]
            manifest = (archive / c["manifest"]["key"]).read_bytes()
            assert hashlib.sha256(manifest).hexdigest() == c["manifest"]["sha256"]
            listed = {o["key"]: o["sha256"] for o in json.loads(manifest)["objects"]}
            assert listed[c["key"]] == c["sha256"]

    tree = subprocess.run([str(binary), "lookup", "--archive", str(archive), "--payment-id", pid],
                          capture_output=True, text=True)
    assert tree.returncode == 0
    assert "<-- FIRST FAILURE" in tree.stdout and "ProvisionedThroughputExceeded" in tree.stdout

    unknown = subprocess.run([str(binary), "lookup", "--archive", str(archive), "--payment-id", "pay_unknown"],
                             capture_output=True, text=True)
    assert unknown.returncode != 0
    assert "pay_unknown" in unknown.stderr and "not in this archive" in unknown.stderr
