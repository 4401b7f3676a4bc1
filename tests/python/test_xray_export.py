"""The export from the X-Ray API into S3, end to end against the moto emulator: real segment
documents in through PutTraceSegments, the CLI (real aws-sdk clients) sealing their days,
and the archive read back with boto3 and pyarrow. Every object under v1/, _manifests/,
_quarantine/ and _holds/ is written once: on the Object-Lock (so versioned) bucket each key
must have exactly one version after any number of runs. Also fault injection, SIGKILL
crashes, two exporters racing, a file import after a sealed day, expired days, status, the
Lambda binary and its GLIBC floor."""

import collections
import datetime
import hashlib
import io
import json
import random
import re
import signal
import subprocess
import time

from xray_support import (
    RuntimeApi,
    is_rollup,
    S3Archive,
    check_chain,
    check_written_once,
    cli_env,
    day_of,
    day_start,
    locked_bucket,
    payment_traces,
    put_segments,
    run_cli,
    wait_until,
)

import pyarrow.dataset as ds
import pyarrow.parquet as pq

HOUR = 3600
DAY = 86400


def docs_by_key(docs):
    return {(json.loads(d)["trace_id"], json.loads(d)["id"]): d for d in docs}


def archived_by_key(archive):
    rows = archive.rows("segments")
    counts = collections.Counter((r["trace_id"], r["segment_id"]) for r in rows)
    dupes = {k: n for k, n in counts.items() if n > 1}
    assert not dupes, f"duplicated segments: {dupes}"
    return {(r["trace_id"], r["segment_id"]): r["document"] for r in rows}


def seal(binary, endpoint, archive_url, first, last=None, *extra, check=True):
    """`export --source xray --seal-after 0 --from first --to last --json`."""
    return run_cli(binary, endpoint, "export", "--source", "xray", "--archive", archive_url,
                   "--seal-after", "0", "--from", first, "--to", last or first, "--json", *extra, check=check)


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


def shifted(doc: dict, delta: int) -> dict:
    """The document moved by `delta` seconds (a whole number of days): trace id time,
    start and end times, and those of its embedded subsegments."""
    doc = shifted_sub(doc, delta)
    tid = doc["trace_id"]
    doc["trace_id"] = f"1-{int(tid[2:10], 16) + delta:08x}-{tid[11:]}"
    return doc


def shifted_sub(sub: dict, delta: int) -> dict:
    sub = dict(sub)
    for field in ("start_time", "end_time"):
        if field in sub:
            sub[field] = sub[field] + delta
    if "subsegments" in sub:
        sub["subsegments"] = [shifted_sub(s, delta) for s in sub["subsegments"]]
    return sub


def test_real_samples_round_trip_through_the_xray_api(binary, archive, moto):
    samples_archive, _ = archive
    traces = servable_sample_documents(samples_archive)
    assert len(traces) >= 3, traces.keys()
    # X-Ray holds 30 days: move every sample trace to the same hour of a day 3 days ago.
    target = day_start(3)
    docs = []
    for hour, texts in traces.values():
        delta = target - hour // DAY * DAY
        docs += [json.dumps(shifted(json.loads(t), delta)) for t in texts]
    trace_ids = {json.loads(d)["trace_id"] for d in docs}
    assert len(trace_ids) == len(traces)
    put_segments(moto["clean"], docs)

    bucket = locked_bucket(moto["clean"], "samples")
    s3 = S3Archive(moto["clean"], bucket, "prod")
    day = day_of(target)
    report = json.loads(seal(binary, moto["clean"], s3.url, day).stdout)
    assert report["outcome"] == "complete"
    assert report["hours_fetched"] == 24
    assert [d["day"] for d in report["days"]] == [day]
    assert report["days"][0]["status"] == "sealed"
    assert report["days"][0]["traces"] == len(traces) == report["days"][0]["source_traces"]

    # Trace ids and documents equal what went in, byte for byte, each once.
    assert archived_by_key(s3) == docs_by_key(docs)
    assert sorted(r["trace_id"] for r in s3.rows("traces")) == sorted(trace_ids)

    # Every object is under Object Lock; parts until their day plus 7 years.
    keys = s3.keys()
    assert f"v1/segments/dt={day}/part-0000.parquet" in keys
    assert "_manifests/0000000001.json" in keys
    assert not [k for k in keys if k.startswith("_state/staging/")], "staging left behind"
    for key in keys:
        if key.startswith("_state/"):
            continue
        head = s3.head(key)
        assert head["ObjectLockMode"] == "COMPLIANCE", key
        until = head["ObjectLockRetainUntilDate"].date()
        m = re.search(r"(?:dt|day)=(\d{4})-(\d\d)-(\d\d)", key)
        if m:
            y, mo, d = map(int, m.groups())
            assert until == datetime.date(y + 7, mo, d), key
        else:
            assert until > datetime.date.today() + datetime.timedelta(days=365 * 7 - 40), key

    manifests = check_chain(s3)
    assert len(manifests) == 1
    m = manifests[0]
    assert (m["kind"], m["day"], m["status"], m["source"]) == ("day", day, "sealed", "xray")
    assert m["traces"] == len(traces) and m["segments"] == len(docs)
    assert sorted(o["key"] for o in m["objects"]) == sorted(k for k in keys if k.startswith("v1/"))
    # Row counts in the manifest are the rows in the objects.
    for o in m["objects"]:
        assert pq.read_metadata(io.BytesIO(s3.get(o["key"]))).num_rows == o["rows"], o
    versions = check_written_once(s3)
    assert sorted(versions) == sorted(k for k in keys if not k.startswith("_state/"))

    # Sealing the same day again does nothing: no new manifest, no second version.
    again = json.loads(seal(binary, moto["clean"], s3.url, day).stdout)
    assert again["days"] == [] and again["hours_fetched"] == 0
    assert check_written_once(s3) == versions


def test_throttles_errors_pages_and_unprocessed_ids_still_archive_everything(binary, moto):
    base = day_start(4) + 9 * HOUR
    docs = payment_traces(base, hours=3, per_hour=7, tag=0xFA17)
    put_segments(moto["clean"], docs)
    bucket = locked_bucket(moto["clean"], "faults")
    s3 = S3Archive(moto["clean"], bucket, "prod")
    # The exporter talks to the fault-injecting endpoint only: 30% throttled, 5% failed,
    # summaries in pages of 3, at most 2 traces per BatchGetTraces answer.
    report = json.loads(seal(binary, moto["fault"], s3.url, day_of(base)).stdout)
    assert report["outcome"] == "complete"
    assert report["traces"] == 21
    assert report["days"][0]["source_traces"] == 21
    assert report["xray"]["throttles"] > 0
    assert report["api_calls"]["get_trace_summaries"] >= 24 + 3 * 2, "7 traces an hour need 3 pages"
    assert report["api_calls"]["batch_get_traces"] >= 12, "unprocessed ids asked again"
    assert archived_by_key(s3) == docs_by_key(docs)
    check_chain(s3)
    check_written_once(s3)


def test_sigkill_at_random_points_loses_and_duplicates_nothing(binary, moto):
    base = day_start(5) + 6 * HOUR
    hours = 12
    docs = payment_traces(base, hours=hours, per_hour=4, tag=0xC0A5)
    put_segments(moto["clean"], docs)
    bucket = locked_bucket(moto["clean"], "crash")
    s3 = S3Archive(moto["clean"], bucket, "prod")
    day = day_of(base)
    args = [str(binary), "export", "--source", "xray", "--archive", s3.url, "--seal-after", "0",
            "--from", day, "--to", day]
    rng = random.Random(20261125)
    kills, staged = 0, set()
    # Up to 12 runs, each killed at a random point unless it finished first; a fast machine
    # finishes the day in fewer runs, so the points are drawn from the first seconds.
    for _ in range(12):
        proc = subprocess.Popen(args, env=cli_env(moto["clean"]), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.3, 2.0))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
        progress = s3.progress()
        if progress and progress.get("sealing"):
            staged.add(len(progress["sealing"]["hours"]))
        if s3.keys("_manifests/"):
            break
    assert kills >= 5, f"only {kills} runs were killed mid-way"
    assert staged, "no kill left a day half fetched"
    out = run_cli(binary, moto["clean"], *args[1:], "--json")
    report = json.loads(out.stdout)
    # The last run resumed: hours finished before a kill were not fetched again.
    assert report["hours_fetched"] <= 24 - min(staged)

    assert archived_by_key(s3) == docs_by_key(docs)
    assert len(s3.rows("traces")) == hours * 4
    manifests = check_chain(s3)
    assert [(m["kind"], m["day"], m["traces"]) for m in manifests] == [("day", day, hours * 4)]
    progress = s3.progress()
    assert progress.get("lease") is None and progress.get("sealing") is None
    assert not s3.keys("_state/staging/")
    versions = check_written_once(s3)

    # The same day sealed in one go into another prefix: the same parts, byte for byte.
    ref = S3Archive(moto["clean"], bucket, "reference")
    seal(binary, moto["clean"], ref.url, day)
    parts = sorted(k for k in versions if k.startswith("v1/") and not is_rollup(k))
    assert parts == ref.parts() and len(parts) == 4
    for key in parts:
        assert s3.get(key) == ref.get(key), f"{key} differs from an uninterrupted run"


def test_two_exporters_racing_seal_a_day_once(binary, moto):
    base = day_start(6) + 3 * HOUR
    docs = payment_traces(base, hours=4, per_hour=3, tag=0x2E4A)
    put_segments(moto["clean"], docs)
    bucket = locked_bucket(moto["clean"], "race")
    s3 = S3Archive(moto["clean"], bucket, "prod")
    day = day_of(base)
    args = [str(binary), "export", "--source", "xray", "--archive", s3.url, "--seal-after", "0",
            "--from", day, "--to", day]
    env = cli_env(moto["clean"])
    procs = [subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(p.wait(), p.stdout.read(), p.stderr.read()) for p in procs]
    codes = sorted(rc for rc, _, _ in results)
    assert codes[0] == 0 and codes[1] != 0, results
    loser = next(err for rc, _, err in results if rc != 0)
    assert re.search(r"another exporter \(\S+:\d+\)|another writer \(\S+:\d+\) committed manifest 1", loser), loser
    manifests = check_chain(s3)
    assert [(m["seq"], m["kind"], m["day"]) for m in manifests] == [(1, "day", day)]
    assert archived_by_key(s3) == docs_by_key(docs)
    assert len(s3.rows("traces")) == 12
    check_written_once(s3)


def test_a_file_import_after_the_seal_adds_the_next_part(binary, moto, tmp_path):
    base = day_start(7) + 2 * HOUR
    sealed_docs = payment_traces(base, hours=2, per_hour=2, tag=0x1A7E)
    put_segments(moto["clean"], sealed_docs)
    bucket = locked_bucket(moto["clean"], "import")
    s3 = S3Archive(moto["clean"], bucket, "prod")
    day = day_of(base)
    seal(binary, moto["clean"], s3.url, day)
    first = {k: s3.get(k) for k in s3.keys("v1/")}
    assert [k for k in sorted(first) if not is_rollup(k)] == [f"v1/payment_index/day={day}/part-0000.parquet"] + [
        f"v1/{t}/dt={day}/part-0000.parquet" for t in ("segments", "spans", "traces")]

    # Files holding the day again (already archived) and three new traces of the same day.
    new_docs = payment_traces(base + 5 * HOUR, hours=1, per_hour=3, tag=0x1A7F)
    src = tmp_path / "files"
    src.mkdir()
    (src / "a-archived.jsonl").write_text("\n".join(sealed_docs) + "\n")
    (src / "b-new.jsonl").write_text("\n".join(new_docs) + "\n")
    out = run_cli(binary, moto["clean"], "export", "--source", str(src), "--archive", s3.url, "--json")
    summary = json.loads(out.stdout)
    assert summary["unchanged"] == len(sealed_docs)
    assert summary["segments"] == len(new_docs)
    assert summary["traces"] == 3
    assert summary["quarantined"] == []

    keys = s3.keys("v1/")
    added = sorted(set(keys) - set(first))
    assert added == [f"v1/payment_index/day={day}/part-0001.parquet"] + [
        f"v1/{t}/dt={day}/part-0001.parquet" for t in ("segments", "spans", "traces")]
    for key, body in first.items():
        assert s3.get(key) == body, f"{key} was rewritten"
    assert archived_by_key(s3) == docs_by_key(sealed_docs + new_docs)
    manifests = check_chain(s3)
    assert [(m["kind"], m["source"]) for m in manifests] == [("day", "xray"), ("import", "files")]
    assert manifests[1]["unchanged"] == len(sealed_docs)
    assert sorted(o["key"] for o in manifests[1]["objects"]) == added

    # The same files again: nothing new, no manifest, no second version.
    again = json.loads(run_cli(binary, moto["clean"], "export", "--source", str(src), "--archive", s3.url,
                               "--json").stdout)
    assert again["unchanged"] == len(sealed_docs + new_docs) and again["objects_written"] == 0
    assert len(s3.keys("_manifests/")) == 2
    check_written_once(s3)


def test_a_day_sealed_after_x_ray_began_deleting_it_is_expired(binary, moto):
    base = day_start(35) + 4 * HOUR
    docs = payment_traces(base, hours=1, per_hour=2, tag=0xE4B1)
    put_segments(moto["clean"], docs)
    bucket = locked_bucket(moto["clean"], "expired")
    s3 = S3Archive(moto["clean"], bucket, "prod")
    day = day_of(base)
    report = json.loads(seal(binary, moto["clean"], s3.url, day).stdout)
    assert [(d["day"], d["status"]) for d in report["days"]] == [(day, "expired")]
    manifests = check_chain(s3)
    assert [(m["day"], m["status"]) for m in manifests] == [(day, "expired")]
    assert manifests[0]["source_traces"] == report["days"][0]["source_traces"]
    check_written_once(s3)

    res = run_cli(binary, moto["clean"], "status", "--archive", s3.url, "--json", check=False)
    assert res.returncode == 2, res
    assert json.loads(res.stdout)["expired_days"] == [day]
    res = run_cli(binary, moto["clean"], "verify", "--archive", s3.url, check=False)
    assert res.returncode == 1, res
    assert "expired" in res.stdout and day in res.stdout, res.stdout
    res = run_cli(binary, moto["clean"], "verify", "--archive", s3.url, "--json", check=False)
    findings = json.loads(res.stdout)["findings"]
    assert [f["kind"] for f in findings] == ["expired_day"], findings


def test_status_healthy_after_sealing_up_to_yesterday(binary, moto, tmp_path):
    """Into a local directory: sealing the last two days leaves today as the oldest unsealed day."""
    base = day_start(2) + 23 * HOUR
    docs = payment_traces(base, hours=2, per_hour=2, tag=0x10CA)
    put_segments(moto["clean"], docs)
    local = tmp_path / "archive"
    first, last = day_of(day_start(2)), day_of(day_start(1))
    report = json.loads(seal(binary, moto["clean"], str(local), first, last).stdout)
    assert [d["day"] for d in report["days"]] == [first, last]
    assert report["days"][0]["traces"] == 2 and report["days"][1]["traces"] == 2
    rows = ds.dataset(local / "v1" / "segments", format="parquet", partitioning="hive").to_table().to_pylist()
    assert {(r["trace_id"], r["segment_id"]): r["document"] for r in rows} == docs_by_key(docs)
    manifests = check_chain(local)
    assert [m["day"] for m in manifests] == [first, last]
    assert not (local / "_state" / "checkpoint.json").exists()

    res = run_cli(binary, moto["clean"], "status", "--archive", str(local), "--json")
    s = json.loads(res.stdout)
    today = day_start(0)
    expected = (today + 30 * DAY - time.time()) / DAY
    assert s["oldest_unsealed"] == day_of(today)
    assert abs(s["days_until_expiry"] - expected) < 0.01, s
    assert abs(s["lag_hours"] - (time.time() - today) / HOUR) < 0.1, s
    assert (s["sealed_days"], s["first_sealed"], s["last_sealed"]) == (2, first, last)
    assert s["expired_days"] == [] and s["missing_days"] == [] and s["manifests"] == 2
    assert s["last_run"]["outcome"] == "complete"
    text = run_cli(binary, moto["clean"], "status", "--archive", str(local)).stdout
    assert f"oldest unsealed day: {day_of(today)}" in text and "URGENT" not in text, text

    empty = run_cli(binary, moto["clean"], "status", "--archive", str(tmp_path / "none"))
    assert "no day sealed yet" in empty.stdout


def test_status_exits_2_when_the_oldest_unsealed_day_nears_expiry(binary, moto):
    bucket = locked_bucket(moto["clean"], "late")
    s3 = S3Archive(moto["clean"], bucket, "prod")
    day = day_of(day_start(25))
    seal(binary, moto["clean"], s3.url, day)
    res = run_cli(binary, moto["clean"], "status", "--archive", s3.url, "--json", check=False)
    assert res.returncode == 2, res
    s = json.loads(res.stdout)
    unsealed = day_start(24)
    assert s["oldest_unsealed"] == day_of(unsealed)
    assert abs(s["days_until_expiry"] - (unsealed + 30 * DAY - time.time()) / DAY) < 0.01, s
    assert s["days_until_expiry"] < 7
    assert s["expired_days"] == [] and s["missing_days"] == []
    text = run_cli(binary, moto["clean"], "status", "--archive", s3.url, check=False).stdout
    assert "URGENT" in text, text


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
        "XRAY_ARCHIVE_SEAL_AFTER_DAYS": "0",
        **extra,
    }


EMF_METRICS = {"TracesExported", "DaysSealed", "LagHours", "ExpiredDays", "DaysUntilExpiry", "Throttles",
               "QuarantinedDocuments", "UnreturnedTraces", "Failed"}


def emf_lines(stdout):
    lines = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    emf = [line for line in lines if "_aws" in line]
    for line in emf:
        assert {m["Name"] for m in line["_aws"]["CloudWatchMetrics"][0]["Metrics"]} == EMF_METRICS, line
    return emf, [line for line in lines if "_aws" not in line]


def test_lambda_seals_stops_before_its_deadline_resumes_and_emits_metrics(lambda_binary, moto):
    base = day_start(8) + 10 * HOUR
    docs = payment_traces(base, hours=2, per_hour=3, tag=0x1A3B)
    put_segments(moto["clean"], docs)
    bucket = locked_bucket(moto["clean"], "lambda")
    s3 = S3Archive(moto["clean"], bucket, "prod")
    day = day_of(base)
    payload = {"from": day, "to": day}
    api = RuntimeApi([
        # 20.5 s left, of which 20 s is kept back: no time for an hour.
        ("req-none", 20.5, payload),
        # 1.5 s more than the margins (20 s kept back, 5 s per hour): a few hours, not 24.
        ("req-some", 26.5, payload),
        ("req-rest", 120, payload),
    ])
    results, out, err = api.run(lambda_binary, lambda_env(moto["clean"], bucket), 3)
    assert [what for _, what, _ in results] == ["response"] * 3, results
    none, some, rest = (body["export"] for _, _, body in results)
    assert none["outcome"] == "deadline" and none["hours_fetched"] == 0 and none["days"] == []
    assert some["outcome"] == "deadline" and 1 <= some["hours_fetched"] < 24 and some["days"] == []
    assert some["status"]["hours_staged"] == some["hours_fetched"]
    assert rest["outcome"] == "complete"
    # No hour fetched twice: the third run fetched exactly the hours the second left.
    assert some["hours_fetched"] + rest["hours_fetched"] == 24
    assert [(d["day"], d["traces"]) for d in rest["days"]] == [(day, 6)]
    assert archived_by_key(s3) == docs_by_key(docs)
    manifests = check_chain(s3)
    assert [(m["day"], m["status"]) for m in manifests] == [(day, "sealed")]
    check_written_once(s3)
    # Every stdout line is JSON: structured logs, and one Embedded Metric Format line a run.
    emf, logs = emf_lines(out)
    assert [line["outcome"] for line in emf] == ["deadline", "deadline", "complete"], out
    assert emf[2]["TracesExported"] == 6 and emf[2]["DaysSealed"] == 1 and emf[2]["Failed"] == 0
    assert emf[2]["chain_head"] == hashlib.sha256(s3.get("_manifests/0000000001.json")).hexdigest()
    assert emf[0]["TracesExported"] == 0 and emf[0]["DaysSealed"] == 0
    assert any(line["fields"]["message"] == "day sealed" for line in logs), logs


def test_lambda_prints_metrics_on_a_failed_run(lambda_binary, moto):
    api = RuntimeApi([("req-fail", 60, {"from": day_of(day_start(9)), "to": day_of(day_start(9))})])
    env = lambda_env(moto["clean"], "no-such-bucket-for-xray-archive")
    results, out, _ = api.run(lambda_binary, env, 1)
    (_, what, body), = results
    assert what == "error", body
    assert body["errorType"] in ("XrayArchive.Retryable", "XrayArchive.NonRetryable")
    emf, _ = emf_lines(out)
    assert len(emf) == 1, out
    assert emf[0]["outcome"] == "failed" and emf[0]["Failed"] == 1 and emf[0]["TracesExported"] == 0


def test_lambda_reports_bad_configuration_as_non_retryable(lambda_binary, moto):
    api = RuntimeApi([("req-bad", 60, {})])
    env = lambda_env(moto["clean"], "some-bucket", XRAY_ARCHIVE_LOCK_MODE="forever")
    results, _, _ = api.run(lambda_binary, env, 1)
    (_, what, body), = results
    assert what == "error", body
    assert body["errorType"] == "XrayArchive.NonRetryable"
    assert "forever" in body["errorMessage"]

    api = RuntimeApi([("req-bad-day", 60, {"from": "yesterday"})])
    results, _, _ = api.run(lambda_binary, lambda_env(moto["clean"], "some-bucket"), 1)
    (_, what, body), = results
    assert what == "error" and body["errorType"] == "XrayArchive.NonRetryable", body
    assert "yesterday" in body["errorMessage"]


def test_a_second_exporter_is_refused_while_the_first_holds_the_lease(binary, moto):
    base = day_start(11) + 3 * HOUR
    docs = payment_traces(base, hours=2, per_hour=2, tag=0x2E4B)
    put_segments(moto["clean"], docs)
    bucket = locked_bucket(moto["clean"], "lease")
    s3 = S3Archive(moto["clean"], bucket, "prod")
    day = day_of(base)
    args = [str(binary), "export", "--source", "xray", "--archive", s3.url, "--seal-after", "0",
            "--from", day, "--to", day]
    env = cli_env(moto["clean"])
    first = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_until(lambda: (s3.progress() or {}).get("lease") is not None, timeout=20)
        second = subprocess.run(args, env=env, capture_output=True, text=True)
    finally:
        first.wait()
    assert first.returncode == 0, first.stderr.read()
    assert second.returncode != 0
    assert re.search(rf"another exporter \(\S+:{first.pid}\) is working on this archive", second.stderr), second.stderr
    manifests = check_chain(s3)
    assert [(m["seq"], m["day"], m["traces"]) for m in manifests] == [(1, day, 4)]
    assert archived_by_key(s3) == docs_by_key(docs)
    check_written_once(s3)
