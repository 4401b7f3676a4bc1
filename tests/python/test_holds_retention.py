"""Legal holds (S3 in moto, and a local directory) and the retention policy: the hold
sets GetObjectLegalHold ON on the exact versions it records, the release turns exactly
those OFF; the policy, judged per trace on its root segment and its annotations (the
longest matching rule wins), keeps jobs one year, payments seven and health checks not
at all, and sets each S3 part's Object Lock retain-until date."""

import datetime
import json
import os
import subprocess
import time

import pyarrow.dataset as ds

from xray_support import cli_env, client, locked_bucket, payment_traces, put_segments, run_cli

HOUR = 3600
DAY = 86400


def test_hold_and_release_in_s3(binary, moto, tmp_path):
    day_a = 1_772_409_600  # 2026-03-02
    day_b = day_a + DAY
    docs = payment_traces(day_a, hours=2, per_hour=2, tag=0x7E54) + payment_traces(day_b, hours=1, per_hour=2, tag=0x7E64)
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(docs) + "\n")
    bucket = locked_bucket(moto["clean"], "holds")
    archive = f"s3://{bucket}/prod"
    run_cli(binary, moto["clean"], "export", "--source", str(src), "--archive", archive)
    payment = f"pay_{0x7E54}_1_0"
    held = json.loads(run_cli(binary, moto["clean"], "hold", "--archive", archive, "--payment-id", payment,
                              "--reason", "chargeback du_1Nx (Visa 10.4)", "--by", "alice", "--json").stdout)
    assert held["action"] == "hold" and held["by"] == "alice" and held["reason"].startswith("chargeback")
    keys = sorted(o["key"] for o in held["objects"])
    # The payment's day, every table, part-0000 (one import wrote one part per day).
    assert keys == sorted([f"v1/{t}/dt=2026-03-02/part-0000.parquet" for t in ("segments", "spans", "traces")]
                          + ["v1/payment_index/day=2026-03-02/part-0000.parquet"]), held["objects"]
    s3 = client("s3", moto["clean"])
    for o in held["objects"]:
        assert o.get("version_id"), o
        versions = s3.list_object_versions(Bucket=bucket, Prefix=f"prod/{o['key']}")["Versions"]
        assert [v["VersionId"] for v in versions] == [o["version_id"]], (o, versions)
        status = s3.get_object_legal_hold(Bucket=bucket, Key=f"prod/{o['key']}",
                                          VersionId=o["version_id"])["LegalHold"]["Status"]
        assert status == "ON", o
    # The other day's parts are not held.
    other = "prod/v1/spans/dt=2026-03-03/part-0000.parquet"
    assert other[len("prod/"):] not in keys
    status = s3.get_object_legal_hold(Bucket=bucket, Key=other).get("LegalHold", {}).get("Status", "OFF")
    assert status == "OFF"
    released = json.loads(run_cli(binary, moto["clean"], "hold", "--archive", archive, "--payment-id", payment,
                                  "--release", "--reason", "dispute won", "--by", "bob", "--json").stdout)
    assert released["action"] == "release"
    assert sorted((o["key"], o["version_id"]) for o in released["objects"]) == \
        sorted((o["key"], o["version_id"]) for o in held["objects"])
    for o in held["objects"]:
        status = s3.get_object_legal_hold(Bucket=bucket, Key=f"prod/{o['key']}",
                                          VersionId=o["version_id"])["LegalHold"]["Status"]
        assert status == "OFF", o
    versions = s3.list_object_versions(Bucket=bucket, Prefix="prod/_holds/")
    assert not versions.get("DeleteMarkers")
    log = versions["Versions"]
    assert len(log) == 2 and len({v["Key"] for v in log}) == 2, log  # two records, each written once
    records = [json.loads(s3.get_object(Bucket=bucket, Key=v["Key"])["Body"].read()) for v in log]
    assert [(r["action"], r["by"]) for r in sorted(records, key=lambda r: r["at"])] == [("hold", "alice"), ("release", "bob")]
    unknown = run_cli(binary, moto["clean"], "hold", "--archive", archive, "--payment-id", "pay_nope",
                      "--reason", "x", check=False)
    assert unknown.returncode != 0 and "not in this archive" in unknown.stderr
    # The holds did not disturb the archive.
    assert run_cli(binary, moto["clean"], "verify", "--archive", archive, check=False).returncode == 0


def job_trace(t: int, n: int) -> str:
    return json.dumps({"name": "VaultLink-Statements", "id": f"{n:016x}", "trace_id": f"1-{t:08x}-{n:024x}",
                       "start_time": t + 1, "end_time": t + 2, "origin": "AWS::Lambda::Function",
                       "subsegments": [{"name": "GenerateStatements", "id": f"{n + 1:016x}",
                                        "start_time": t + 1.1, "end_time": t + 1.9}]})


def health_trace(t: int, n: int) -> str:
    return json.dumps({"name": "vaultlink-api/prod", "id": f"{n:016x}", "trace_id": f"1-{t:08x}-{n:024x}",
                       "start_time": t + 1, "end_time": t + 1.01,
                       "http": {"request": {"method": "GET", "url": "https://api.vaultlink.example/health"},
                                "response": {"status": 200}}})


def job_calling_health(t: int, n: int) -> str:
    """A job trace (root VaultLink-Statements) whose subsegment calls a /health URL: the
    policy judges the root, so it is a job, not a health check."""
    return json.dumps({"name": "VaultLink-Statements", "id": f"{n:016x}", "trace_id": f"1-{t:08x}-{n:024x}",
                       "start_time": t + 1, "end_time": t + 2, "origin": "AWS::Lambda::Function",
                       "subsegments": [{"name": "vaultlink-api", "id": f"{n + 1:016x}", "namespace": "remote",
                                        "start_time": t + 1.1, "end_time": t + 1.2,
                                        "http": {"request": {"method": "GET",
                                                             "url": "https://api.vaultlink.example/health"},
                                                 "response": {"status": 200}}}]})


def job_with_payment(t: int, n: int, payment: str) -> str:
    """A job trace with a PaymentId annotation on a subsegment: both the job rule (1 year)
    and the payment rule (7 years) match; the longest wins."""
    return json.dumps({"name": "VaultLink-Statements", "id": f"{n:016x}", "trace_id": f"1-{t:08x}-{n:024x}",
                       "start_time": t + 1, "end_time": t + 2, "origin": "AWS::Lambda::Function",
                       "subsegments": [{"name": "Refund", "id": f"{n + 1:016x}",
                                        "start_time": t + 1.1, "end_time": t + 1.9,
                                        "annotations": {"PaymentId": payment}}]})


def health_with_payment(t: int, n: int, payment: str) -> str:
    doc = json.loads(health_trace(t, n))
    doc["annotations"] = {"PaymentId": payment}
    return json.dumps(doc)


def test_retention_policy_per_trace_and_a_held_payment(binary, tmp_path):
    day_a = 1_772_409_600            # 2026-03-02: payments (7 years)
    day_b = day_a + 10 * DAY         # 2026-03-12: background jobs (1 year) and health checks (not kept)
    day_c = day_a + 12 * DAY         # 2026-03-14: traces two rules match (7 years wins)
    docs = payment_traces(day_a, hours=2, per_hour=2, tag=0x7E55)
    docs += [job_trace(day_b + 600 * i, 0xB000 + 2 * i) for i in range(3)]
    docs += [health_trace(day_b + 900 + 600 * i, 0xC000 + i) for i in range(4)]
    docs += [job_calling_health(day_b + 7200, 0xB100)]
    docs += [job_with_payment(day_c + 600, 0xE000, "pay_refund_1"),
             health_with_payment(day_c + 1200, 0xE100, "pay_probe_1")]
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(docs) + "\n")
    policy = tmp_path / "retention.json"
    # The job rule comes before the payment rule: with "first match wins" the refund job
    # would be kept one year only.
    policy.write_text(json.dumps({"default_years": 7, "rules": [
        {"name": "health checks", "url_path": "/health", "years": 0},
        {"name": "background jobs", "service": "VaultLink-Statements*", "years": 1},
        {"name": "payments", "annotation": "PaymentId", "years": 7}]}))
    env = {**os.environ, "XRAY_ARCHIVE_RETENTION_POLICY": str(policy)}
    archive = tmp_path / "archive"

    def cli(*args, check=True):
        res = subprocess.run([str(binary), *args], capture_output=True, text=True, env=env)
        assert not check or res.returncode == 0, res.stdout + res.stderr
        return res

    summary = json.loads(cli("export", "--source", str(src), "--archive", str(archive), "--json").stdout)
    assert summary["excluded_by_retention"] == 4 and summary["traces"] == 4 + 3 + 1 + 2, summary
    spans = ds.dataset(archive / "v1" / "spans", format="parquet", partitioning="hive").to_table().to_pylist()
    probe = f"1-{day_c + 1200:08x}-{0xE100:024x}"
    assert not [s for s in spans if s["name"] == "vaultlink-api/prod" and "health" in (s["http_url"] or "")
                and s["trace_id"] != probe]
    # The job's call to /health is kept with its job; the probe carrying a PaymentId too.
    assert [s for s in spans if s["name"] == "vaultlink-api" and "health" in (s["http_url"] or "")]
    assert {s["trace_id"] for s in spans if s["name"] == "vaultlink-api/prod"} == {probe}
    manifests = sorted((archive / "_manifests").iterdir())
    assert len(manifests) == 1
    manifest = json.loads(manifests[0].read_text())
    assert manifest["kind"] == "import" and manifest["excluded_by_retention"] == 4, manifest
    years = {o["key"]: o.get("retain_years") for o in manifest["objects"] if o["key"].startswith("v1/")}
    for table in ("segments", "spans", "traces"):
        assert years[f"v1/{table}/dt=2026-03-02/part-0000.parquet"] == 7
        assert years[f"v1/{table}/dt=2026-03-12/part-0000.parquet"] == 1
        assert years[f"v1/{table}/dt=2026-03-14/part-0000.parquet"] == 7
    assert not any("part-0001" in k for k in years), years

    # A disputed payment is held locally: the record names its day's parts.
    payment = f"pay_{0x7E55}_0_1"
    held = json.loads(cli("hold", "--archive", str(archive), "--payment-id", payment, "--reason", "chargeback",
                          "--json").stdout)
    assert sorted(o["key"] for o in held["objects"]) == sorted(
        [f"v1/{t}/dt=2026-03-02/part-0000.parquet" for t in ("segments", "spans", "traces")]
        + ["v1/payment_index/day=2026-03-02/part-0000.parquet"]), held
    assert len(list((archive / "_holds").iterdir())) == 1
    # The hold record is in the archive and it still verifies.
    assert cli("verify", "--archive", str(archive)).returncode == 0
    # The payment is still there to look up, and so is the refund the job made.
    assert payment in cli("lookup", "--archive", str(archive), "--payment-id", payment).stdout
    assert "pay_refund_1" in cli("lookup", "--archive", str(archive), "--payment-id", "pay_refund_1").stdout
    # `prune` is gone: a write-once archive deletes nothing.
    gone = cli("prune", "--archive", str(archive), check=False)
    assert gone.returncode != 0 and "prune" in gone.stderr

    # A bad policy stops the run before anything is read.
    policy.write_text('{"default_years": 7, "rules": [{"years": 1}]}')
    bad = cli("export", "--source", str(src), "--archive", str(tmp_path / "b"), check=False)
    assert bad.returncode != 0 and "no condition" in bad.stderr
    assert not (tmp_path / "b" / "v1").exists()


def test_object_lock_years_follow_the_policy_in_s3(binary, moto, tmp_path):
    # Two days sealed from moto's X-Ray: one of payments, one with only a job trace.
    pay_day = (int(time.time()) // DAY - 21) * DAY
    job_day = pay_day + DAY
    docs = payment_traces(pay_day + 3 * HOUR, hours=1, per_hour=2, tag=0x7E56) + [job_trace(job_day + 5 * HOUR + 60, 0xD000)]
    put_segments(moto["clean"], docs)
    policy = tmp_path / "retention.json"
    policy.write_text(json.dumps({"default_years": 7, "rules": [
        {"service": "VaultLink-Statements*", "years": 1}, {"annotation": "PaymentId", "years": 7}]}))
    bucket = locked_bucket(moto["clean"], "policy")
    env = {**cli_env(moto["clean"]), "XRAY_ARCHIVE_RETENTION_POLICY": str(policy)}
    days = [datetime.datetime.fromtimestamp(t, datetime.timezone.utc).date() for t in (pay_day, job_day)]
    res = subprocess.run([str(binary), "export", "--source", "xray", "--archive", f"s3://{bucket}/prod",
                          "--seal-after", "0", "--from", days[0].isoformat(), "--to", days[1].isoformat(), "--json"],
                         capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    out = json.loads(res.stdout)
    assert [(d["day"], d["status"], d["traces"]) for d in out["days"]] == [
        (days[0].isoformat(), "sealed", 2), (days[1].isoformat(), "sealed", 1)], out
    s3 = client("s3", moto["clean"])
    for day, years, tables in ((days[0], 7, ("segments", "spans", "traces", "payment_index")),
                               (days[1], 1, ("segments", "spans", "traces"))):
        for table in tables:
            part = "day" if table == "payment_index" else "dt"
            key = f"prod/v1/{table}/{part}={day.isoformat()}/part-0000.parquet"
            versions = s3.list_object_versions(Bucket=bucket, Prefix=key)["Versions"]
            assert len(versions) == 1, (key, versions)
            until = s3.head_object(Bucket=bucket, Key=key)["ObjectLockRetainUntilDate"].date()
            assert until == day.replace(year=day.year + years), (key, until)
    # No payment_index part for the day without payments.
    assert not s3.list_objects_v2(Bucket=bucket, Prefix=f"prod/v1/payment_index/day={days[1].isoformat()}/").get("Contents")
    manifests = [json.loads(s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read())
                 for o in s3.list_objects_v2(Bucket=bucket, Prefix="prod/_manifests/")["Contents"]]
    years = {(m["day"], o["table"]): o.get("retain_years") for m in manifests for o in m["objects"]}
    assert years[(days[0].isoformat(), "spans")] == 7 and years[(days[1].isoformat(), "spans")] == 1, years
