"""Legal holds (S3 in moto, and a local directory), the retention policy, and `prune`:
a held payment's files survive prune; GetObjectLegalHold shows ON, then OFF after release;
the policy keeps jobs one year, payments seven and health checks not at all."""

import datetime
import json
import os
import subprocess
import time

import pyarrow.dataset as ds

from xray_support import cli_env, client, locked_bucket, payment_traces, put_segments, rfc3339, run_cli

HOUR = 3600
DAY = 86400


def test_hold_and_release_in_s3(binary, moto):
    base = (int(time.time()) // HOUR - 320) * HOUR
    put_segments(moto["clean"], payment_traces(base, hours=2, per_hour=2, tag=0x7E54))
    bucket = locked_bucket(moto["clean"], "holds")
    archive = f"s3://{bucket}/prod"
    run_cli(binary, moto["clean"], "export", "--source", "xray", "--archive", archive,
            "--from", rfc3339(base), "--to", rfc3339(base + 2 * HOUR))
    payment = f"pay_{0x7E54}_1_0"
    held = json.loads(run_cli(binary, moto["clean"], "hold", "--archive", archive, "--payment-id", payment,
                              "--reason", "chargeback du_1Nx (Visa 10.4)", "--by", "alice", "--json").stdout)
    assert held["action"] == "hold" and held["by"] == "alice" and held["reason"].startswith("chargeback")
    tables = {o.split("/")[1] for o in held["objects"]}
    assert tables == {"segments", "spans", "traces", "payment_index"}, held["objects"]
    s3 = client("s3", moto["clean"])
    for key in held["objects"]:
        status = s3.get_object_legal_hold(Bucket=bucket, Key=f"prod/{key}")["LegalHold"]["Status"]
        assert status == "ON", key
    # The other hour's parts are not held.
    other = [k for k in held["objects"] if k.startswith("v1/spans/")][0]
    other = other[:-len("part-00.parquet")] + f"part-{(base // HOUR) % 24:02d}.parquet"
    assert other not in held["objects"]
    status = s3.get_object_legal_hold(Bucket=bucket, Key=f"prod/{other}").get("LegalHold", {}).get("Status", "OFF")
    assert status == "OFF"
    run_cli(binary, moto["clean"], "hold", "--archive", archive, "--payment-id", payment, "--release",
            "--reason", "dispute won", "--by", "bob")
    for key in held["objects"]:
        assert s3.get_object_legal_hold(Bucket=bucket, Key=f"prod/{key}")["LegalHold"]["Status"] == "OFF"
    log = s3.list_objects_v2(Bucket=bucket, Prefix="prod/_holds/")["Contents"]
    records = [json.loads(s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()) for o in log]
    assert [(r["action"], r["by"]) for r in sorted(records, key=lambda r: r["at"])] == [("hold", "alice"), ("release", "bob")]
    unknown = run_cli(binary, moto["clean"], "hold", "--archive", archive, "--payment-id", "pay_nope",
                      "--reason", "x", check=False)
    assert unknown.returncode != 0 and "not in this archive" in unknown.stderr


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


def test_retention_policy_prune_and_a_held_payment(binary, tmp_path):
    day_a = 1_772_409_600            # 2026-03-02: payments (7 years)
    day_b = day_a + 10 * DAY         # 2026-03-12: background jobs (1 year)
    docs = payment_traces(day_a, hours=2, per_hour=2, tag=0x7E55)
    docs += [job_trace(day_b + 600 * i, 0xB000 + 2 * i) for i in range(3)]
    docs += [health_trace(day_b + 900 + 600 * i, 0xC000 + i) for i in range(4)]
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(docs) + "\n")
    policy = tmp_path / "retention.json"
    policy.write_text(json.dumps({"default_years": 7, "rules": [
        {"name": "health checks", "url_path": "/health", "years": 0},
        {"name": "payments", "annotation": "PaymentId", "years": 7},
        {"name": "background jobs", "service": "VaultLink-Statements*", "years": 1}]}))
    env = {**os.environ, "XRAY_ARCHIVE_RETENTION_POLICY": str(policy)}
    archive = tmp_path / "archive"

    def cli(*args, check=True):
        res = subprocess.run([str(binary), *args], capture_output=True, text=True, env=env)
        assert not check or res.returncode == 0, res.stdout + res.stderr
        return res

    summary = json.loads(cli("export", "--source", str(src), "--archive", str(archive), "--json").stdout)
    assert summary["excluded_by_retention"] == 4 and summary["traces"] == 4 + 3
    spans = ds.dataset(archive / "v1" / "spans", format="parquet", partitioning="hive").to_table().to_pylist()
    assert not [s for s in spans if s["name"] == "vaultlink-api/prod" and "health" in (s["http_url"] or "")]
    manifest = json.loads(sorted((archive / "_manifests").iterdir())[-1].read_text())
    years = {o["key"]: o.get("retain_years") for o in manifest["objects"]}
    assert years["v1/spans/dt=2026-03-12/part-00.parquet"] == 1
    assert years["v1/spans/dt=2026-03-02/part-00.parquet"] == 7

    # Two years on: the jobs' parts go, the payments' stay.
    later = rfc3339(day_a + 2 * 366 * DAY)
    dry = json.loads(cli("prune", "--archive", str(archive), "--now", later, "--dry-run", "--json").stdout)
    assert sorted(dry["deleted"]) == [f"v1/{t}/dt=2026-03-12/part-00.parquet" for t in ("segments", "spans", "traces")]
    assert (archive / "v1" / "spans" / "dt=2026-03-12" / "part-00.parquet").exists()

    # A disputed payment is held; eight years on, only its files survive.
    payment = f"pay_{0x7E55}_0_1"
    held = json.loads(cli("hold", "--archive", str(archive), "--payment-id", payment, "--reason", "chargeback",
                          "--json").stdout)
    assert "v1/spans/dt=2026-03-02/part-00.parquet" in held["objects"]
    much_later = rfc3339(day_a + 8 * 366 * DAY)
    pruned = json.loads(cli("prune", "--archive", str(archive), "--now", much_later, "--json").stdout)
    kept = {k for k, p in pruned["held"]}
    assert kept == set(held["objects"]) and all(p == payment for _, p in pruned["held"])
    for key in held["objects"]:
        assert (archive / key).exists(), key
    assert not (archive / "v1" / "spans" / "dt=2026-03-02" / "part-01.parquet").exists()
    assert pruned["deleted"] and pruned["manifest"]
    # The deletions are in the chain: the archive still verifies.
    assert cli("verify", "--archive", str(archive)).returncode == 0
    # The payment is still there to look up.
    assert payment in cli("lookup", "--archive", str(archive), "--payment-id", payment).stdout

    # A bad policy stops the run before anything is read.
    policy.write_text('{"default_years": 7, "rules": [{"years": 1}]}')
    bad = cli("export", "--source", str(src), "--archive", str(tmp_path / "b"), check=False)
    assert bad.returncode != 0 and "no condition" in bad.stderr


def test_object_lock_years_follow_the_policy_in_s3(binary, moto, tmp_path):
    base = (int(time.time()) // HOUR - 310) * HOUR
    docs = payment_traces(base, hours=1, per_hour=2, tag=0x7E56) + [job_trace(base + HOUR + 60, 0xD000)]
    put_segments(moto["clean"], docs)
    policy = tmp_path / "retention.json"
    policy.write_text(json.dumps({"default_years": 7, "rules": [
        {"annotation": "PaymentId", "years": 7}, {"service": "VaultLink-Statements*", "years": 1}]}))
    bucket = locked_bucket(moto["clean"], "policy")
    env = {**cli_env(moto["clean"]), "XRAY_ARCHIVE_RETENTION_POLICY": str(policy)}
    res = subprocess.run([str(binary), "export", "--source", "xray", "--archive", f"s3://{bucket}/prod",
                          "--from", rfc3339(base), "--to", rfc3339(base + 2 * HOUR)],
                         capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stderr
    s3 = client("s3", moto["clean"])
    for start, years in ((base, 7), (base + HOUR, 1)):
        t = datetime.datetime.fromtimestamp(start, datetime.timezone.utc)
        day = t.date()
        key = f"prod/v1/spans/dt={day.isoformat()}/part-{t.hour:02d}.parquet"
        until = s3.head_object(Bucket=bucket, Key=key)["ObjectLockRetainUntilDate"].date()
        assert until == day.replace(year=day.year + years), (key, until)
