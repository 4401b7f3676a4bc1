"""The export from the X-Ray API into S3, end to end against the moto emulator: real segment
documents in through PutTraceSegments, the CLI (real aws-sdk clients) exporting them, and
the archive read back with boto3 and pyarrow. Also fault injection, SIGKILL crashes, two
exporters racing, status, re-sweeps and the GLIBC floor of the Lambda binary."""

import collections
import datetime
import io
import json
import os
import random
import re
import signal
import subprocess
import time

import pytest

from xray_support import (
    RuntimeApi,
    S3Archive,
    check_chain,
    cli_env,
    locked_bucket,
    payment_traces,
    put_segments,
    rfc3339,
    run_cli,
)

import pyarrow.dataset as ds
import pyarrow.parquet as pq

HOUR = 3600


def this_hour() -> int:
    return int(time.time()) // HOUR * HOUR


def docs_by_key(docs):
    return {(json.loads(d)["trace_id"], json.loads(d)["id"]): d for d in docs}


def archived_by_key(archive):
    rows = archive.rows("segments")
    counts = collections.Counter((r["trace_id"], r["segment_id"]) for r in rows)
    dupes = {k: n for k, n in counts.items() if n > 1}
    assert not dupes, f"duplicated segments: {dupes}"
    return {(r["trace_id"], r["segment_id"]): r["document"] for r in rows}


def servable_sample_documents(samples_archive):
    """The valid sample documents whose trace moto can list by an hour window.

    moto lists a trace only when all of its segments start and end inside the queried
    window, and only once its last segment has an end_time; X-Ray's TraceId range has no such
    rule. Traces outside it (segments months apart, in-progress copies) are archived from
    files in test_archive_pyarrow and the Rust end-to-end tests instead. So are two samples
    that hold the same segment id with different text: X-Ray keeps one state per segment,
    moto keeps both, and the export keeps the one it receives last."""
    rows = ds.dataset(samples_archive / "v1" / "segments", format="parquet", partitioning="hive").to_table().to_pylist()
    by_trace = collections.defaultdict(list)
    for r in rows:
        by_trace[r["trace_id"]].append(r["document"])
    out = {}
    for tid, docs in by_trace.items():
        hour = int(tid[2:10], 16) // HOUR * HOUR
        parsed = [json.loads(d) for d in docs]
        if len({p["id"] for p in parsed}) != len(parsed):
            continue
        inside = all(
            "end_time" in p and hour < float(p["start_time"]) and float(p["end_time"]) < hour + HOUR
            for p in parsed
        )
        if inside:
            out[tid] = (hour, docs)
    return out


def test_real_samples_round_trip_through_the_xray_api(binary, archive, moto):
    samples_archive, _ = archive
    traces = servable_sample_documents(samples_archive)
    assert len(traces) >= 3, traces.keys()
    docs = [d for _, ds_ in traces.values() for d in ds_]
    put_segments(moto["clean"], docs)

    bucket = locked_bucket(moto["clean"], "samples")
    s3 = S3Archive(moto["clean"], bucket, "prod")
    for hour in sorted({h for h, _ in traces.values()}):
        out = run_cli(binary, moto["clean"], "backfill", "--archive", s3.url,
                      "--from", rfc3339(hour), "--to", rfc3339(hour + HOUR), "--json")
        report = json.loads(out.stdout)
        assert report["outcome"] == "complete"
        assert report["windows"][0]["traces"] >= 1

    # Trace ids and documents equal what went in, byte for byte, each once.
    assert archived_by_key(s3) == docs_by_key(docs)
    trace_rows = s3.rows("traces")
    assert sorted(r["trace_id"] for r in trace_rows) == sorted(traces)

    # Every object is under Object Lock; parts until their day plus 7 years.
    keys = s3.keys()
    assert any(k.startswith("v1/segments/") for k in keys)
    for key in keys:
        head = s3.head(key)
        assert head["ObjectLockMode"] == "COMPLIANCE", key
        until = head["ObjectLockRetainUntilDate"].date()
        m = re.search(r"dt=(\d{4})-(\d\d)-(\d\d)", key)
        if m:
            y, mo, d = map(int, m.groups())
            assert until == datetime.date(y + 7, mo, d), key
        else:
            assert until > datetime.date.today() + datetime.timedelta(days=365 * 7 - 40), key

    manifests = check_chain(s3)
    assert sorted(t for m in manifests for t in m["trace_ids"]) == sorted(traces)
    # Row counts in the manifests are the rows in the objects.
    for m in manifests:
        for o in m["objects"]:
            if o.get("rows") is not None and o["table"] != "payment_index":
                assert pq.read_metadata(io.BytesIO(s3.get(o["key"]))).num_rows == o["rows"], o


def test_throttles_errors_pages_and_unprocessed_ids_still_archive_everything(binary, moto):
    base = this_hour() - 100 * HOUR
    docs = payment_traces(base, hours=3, per_hour=7, tag=0xFA17)
    put_segments(moto["clean"], docs)
    bucket = locked_bucket(moto["clean"], "faults")
    s3 = S3Archive(moto["clean"], bucket, "prod")
    # The exporter talks to the fault-injecting endpoint only: 30% throttled, 5% failed,
    # summaries in pages of 3, at most 2 traces per BatchGetTraces answer.
    out = run_cli(binary, moto["fault"], "export", "--source", "xray", "--archive", s3.url,
                  "--from", rfc3339(base), "--to", rfc3339(base + 3 * HOUR), "--json")
    report = json.loads(out.stdout)
    assert report["traces"] == 21
    assert report["xray"]["throttles"] > 0
    assert report["api_calls"]["get_trace_summaries"] >= 9, "7 traces a window need 3 pages"
    assert report["api_calls"]["batch_get_traces"] >= 12, "unprocessed ids asked again"
    assert archived_by_key(s3) == docs_by_key(docs)
    check_chain(s3)


def test_sigkill_at_random_points_loses_and_duplicates_nothing(binary, moto):
    base = this_hour() - 200 * HOUR
    hours = 12
    docs = payment_traces(base, hours=hours, per_hour=4, tag=0xC0A5)
    put_segments(moto["clean"], docs)
    bucket = locked_bucket(moto["clean"], "crash")
    s3 = S3Archive(moto["clean"], bucket, "prod")
    args = [str(binary), "export", "--source", "xray", "--archive", s3.url,
            "--from", rfc3339(base), "--to", rfc3339(base + hours * HOUR)]
    rng = random.Random(20261125)
    kills = 0
    for _ in range(22):
        proc = subprocess.Popen(args, env=cli_env(moto["clean"]), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.05, 1.2))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
    assert kills >= 20, f"only {kills} runs were killed mid-way"
    run_cli(binary, moto["clean"], *args[1:])

    assert archived_by_key(s3) == docs_by_key(docs)
    assert len(s3.rows("traces")) == hours * 4
    manifests = check_chain(s3)
    cp = s3.checkpoint()
    assert cp["watermark"].startswith(rfc3339(base + hours * HOUR)[:19])
    assert cp.get("lease") is None
    # Every trace is in a committed manifest.
    assert {t for m in manifests for t in m["trace_ids"]} == {json.loads(d)["trace_id"] for d in docs}


def test_two_exporters_never_both_advance_the_checkpoint(binary, moto):
    base = this_hour() - 300 * HOUR
    docs = payment_traces(base, hours=4, per_hour=3, tag=0x2E4A)
    put_segments(moto["clean"], docs)
    bucket = locked_bucket(moto["clean"], "race")
    s3 = S3Archive(moto["clean"], bucket, "prod")
    args = [str(binary), "export", "--source", "xray", "--archive", s3.url,
            "--from", rfc3339(base), "--to", rfc3339(base + 4 * HOUR)]
    env = cli_env(moto["clean"])
    procs = [subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(p.wait(), p.stdout.read(), p.stderr.read()) for p in procs]
    codes = sorted(rc for rc, _, _ in results)
    assert codes[0] == 0 and codes[1] != 0, results
    loser = next(err for rc, _, err in results if rc != 0)
    assert "another exporter" in loser or "changed by someone else" in loser, loser
    manifests = check_chain(s3)
    assert [m["seq"] for m in manifests] == list(range(1, 5))
    assert archived_by_key(s3) == docs_by_key(docs)


def test_resweep_adds_late_segments_without_duplicates(binary, moto):
    base = this_hour() - 400 * HOUR
    docs = payment_traces(base, hours=1, per_hour=2, tag=0x1A7E)
    put_segments(moto["clean"], docs)
    bucket = locked_bucket(moto["clean"], "resweep")
    s3 = S3Archive(moto["clean"], bucket, "prod")
    window = ["--from", rfc3339(base), "--to", rfc3339(base + HOUR)]
    run_cli(binary, moto["clean"], "export", "--source", "xray", "--archive", s3.url, *window)

    first = json.loads(docs[0])
    late = json.dumps({
        "name": "webhook", "id": "7a7e000000000001", "trace_id": first["trace_id"],
        "start_time": first["start_time"] + 5, "end_time": first["start_time"] + 6,
        "annotations": {"PaymentId": first["annotations"]["PaymentId"]},
    })
    put_segments(moto["clean"], [late])
    out = run_cli(binary, moto["clean"], "export", "--source", "xray", "--resweep", "--archive", s3.url, *window, "--json")
    report = json.loads(out.stdout)
    assert report["mode"] == "re-sweep"
    assert report["traces"] == 2
    assert archived_by_key(s3) == docs_by_key(docs + [late])
    manifests = check_chain(s3)
    assert [m["kind"] for m in manifests] == ["window", "resweep"]
    assert manifests[1]["unchanged"] == len(docs)
    # The watermark is where the window left it; the re-sweep mark moved.
    cp = s3.checkpoint()
    assert cp["watermark"].startswith(rfc3339(base + HOUR)[:19])
    assert cp["resweep_mark"].startswith(rfc3339(base + HOUR)[:19])


def crafted_checkpoint(path, watermark: datetime.datetime):
    state = path / "_state"
    state.mkdir(parents=True)
    (state / "checkpoint.json").write_text(json.dumps({
        "format": "xray-archive-checkpoint/1",
        "watermark": watermark.isoformat().replace("+00:00", "Z"),
        "seq": 42,
        "manifest": {"key": "_manifests/0000000042-x.json", "sha256": "00"},
        "updated_at": watermark.isoformat().replace("+00:00", "Z"),
        "last_run": {"started_at": "2026-11-01T00:00:00Z", "finished_at": "2026-11-01T00:01:00Z",
                     "outcome": "failed", "windows": 0, "traces": 0, "error": "AccessDenied"},
    }))


def test_status_shows_lag_and_deadline(binary, tmp_path, moto):
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    late = tmp_path / "late"
    crafted_checkpoint(late, now - datetime.timedelta(days=26))
    res = run_cli(binary, moto["clean"], "status", "--archive", str(late), "--json", check=False)
    assert res.returncode == 2, res
    s = json.loads(res.stdout)
    assert abs(s["lag_hours"] - 26 * 24) < 0.1
    assert abs(s["days_until_expiry"] - 4) < 0.01
    assert s["manifests"] == 42
    assert s["last_run"]["outcome"] == "failed"
    text = run_cli(binary, moto["clean"], "status", "--archive", str(late), check=False).stdout
    assert "URGENT" in text and "624.0 hours" in text, text

    fine = tmp_path / "fine"
    crafted_checkpoint(fine, now - datetime.timedelta(hours=3))
    res = run_cli(binary, moto["clean"], "status", "--archive", str(fine), "--json")
    assert abs(json.loads(res.stdout)["days_until_expiry"] - (30 - 3 / 24)) < 0.01

    empty = run_cli(binary, moto["clean"], "status", "--archive", str(tmp_path / "none"))
    assert "no export yet" in empty.stdout


def glibc_versions(binary) -> list[tuple[int, ...]]:
    out = subprocess.run(["objdump", "-T", str(binary)], capture_output=True, text=True, check=True).stdout
    return sorted({tuple(map(int, v.split("."))) for v in re.findall(r"GLIBC_(\d+(?:\.\d+)+)", out)})


def test_lambda_binary_loads_on_provided_al2023(lambda_binary):
    versions = glibc_versions(lambda_binary)
    assert versions, "no GLIBC symbols found: is it dynamically linked?"
    assert max(versions) <= (2, 34), f"needs GLIBC {max(versions)}, provided.al2023 has 2.34"


def lambda_env(endpoint, bucket, **extra):
    return {
        **cli_env(endpoint),
        "AWS_LAMBDA_FUNCTION_NAME": "xray-archive-exporter",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_STREAM_NAME": "test",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/xray-archive-exporter",
        "XRAY_ARCHIVE_BUCKET": bucket,
        "XRAY_ARCHIVE_PREFIX": "prod",
        "XRAY_ARCHIVE_RESWEEP": "false",
        **extra,
    }


def test_lambda_exports_stops_before_its_deadline_and_emits_metrics(lambda_binary, moto):
    base = this_hour() - 500 * HOUR
    docs = payment_traces(base, hours=2, per_hour=3, tag=0x1A3B)
    put_segments(moto["clean"], docs)
    bucket = locked_bucket(moto["clean"], "lambda")
    s3 = S3Archive(moto["clean"], bucket, "prod")
    payload = {"from": rfc3339(base), "to": rfc3339(base + 2 * HOUR)}
    api = RuntimeApi([
        # 20.5 s left, of which 20 s is kept back: no time for a window.
        ("req-deadline", 20.5, payload),
        ("req-full", 120, payload),
    ])
    results, out, err = api.run(lambda_binary, lambda_env(moto["clean"], bucket), 2)
    (_, what1, short), (_, what2, full) = results
    assert what1 == "response", short
    assert short["export"]["outcome"] == "deadline" and short["export"]["windows"] == []
    assert what2 == "response", full
    assert full["export"]["outcome"] == "complete"
    assert full["export"]["traces"] == 6
    assert archived_by_key(s3) == docs_by_key(docs)
    check_chain(s3)
    # Every stdout line is JSON: structured logs, and one Embedded Metric Format line a run.
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    emf = [line for line in lines if "_aws" in line]
    assert len(emf) == 2, out
    names = {m["Name"] for m in emf[1]["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert names == {"TracesExported", "Windows", "LagHours", "DaysUntilExpiry", "Throttles", "QuarantinedDocuments"}
    assert emf[1]["TracesExported"] == 6 and emf[1]["Windows"] == 2
    assert emf[0]["TracesExported"] == 0
    logs = [line for line in lines if "_aws" not in line]
    assert any(line["fields"]["message"] == "window committed" for line in logs), logs


def test_lambda_reports_bad_configuration_as_non_retryable(lambda_binary, moto):
    api = RuntimeApi([("req-bad", 60, {})])
    env = lambda_env(moto["clean"], "some-bucket", XRAY_ARCHIVE_LOCK_MODE="forever")
    results, _, _ = api.run(lambda_binary, env, 1)
    (_, what, body), = results
    assert what == "error", body
    assert body["errorType"] == "XrayArchive.NonRetryable"
    assert "forever" in body["errorMessage"]


def test_export_from_xray_into_a_local_directory(binary, moto, tmp_path):
    base = this_hour() - 450 * HOUR
    docs = payment_traces(base, hours=2, per_hour=2, tag=0x10CA)
    put_segments(moto["clean"], docs)
    out = run_cli(binary, moto["clean"], "export", "--source", "xray", "--archive", str(tmp_path),
                  "--from", rfc3339(base), "--to", rfc3339(base + 2 * HOUR), "--json")
    assert json.loads(out.stdout)["traces"] == 4
    rows = ds.dataset(tmp_path / "v1" / "segments", format="parquet", partitioning="hive").to_table().to_pylist()
    assert {(r["trace_id"], r["segment_id"]): r["document"] for r in rows} == docs_by_key(docs)
    assert len(list((tmp_path / "_manifests").iterdir())) == 2
    cp = json.loads((tmp_path / "_state" / "checkpoint.json").read_text())
    assert cp["seq"] == 2 and cp.get("lease") is None
    text = run_cli(binary, moto["clean"], "status", "--archive", str(tmp_path)).stdout
    assert "2 manifests" in text, text
