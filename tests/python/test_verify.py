"""`xray-archive verify`: a clean archive, then tampered with one way at a time. Each
tampering must be found and named precisely. Local archives are file imports (the X-Ray
samples and simulated payment traffic); on moto's S3 (a versioned, Object-Lock bucket) a
second version of a key or a delete marker is found even when the bytes are the same, and
a day never sealed between sealed days is a missing day."""

import datetime
import hashlib
import json
import shutil
import subprocess

import pytest

from xray_support import S3Archive, cli_env, client, locked_bucket, run_cli


def export(binary, source, archive, env=None):
    res = subprocess.run([str(binary), "export", "--source", str(source), "--archive", str(archive), "--json"],
                         capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    return json.loads(res.stdout)


def simulate(vaultlink, out, payments, seed):
    res = subprocess.run([str(vaultlink), "simulate", "--out", str(out), "--payments", str(payments),
                          "--days", "2", "--seed", str(seed)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    return out


@pytest.fixture(scope="module")
def pristine(binary, vaultlink, samples, tmp_path_factory):
    """Three imports into one directory: the samples, then two batches of simulated traffic
    over the same two days (the second batch adds part-0001 to each of those days)."""
    tmp = tmp_path_factory.mktemp("verify")
    archive = tmp / "archive"
    first = export(binary, samples, archive)
    second = export(binary, simulate(vaultlink, tmp / "sim7", 50, 7), archive)
    third = export(binary, simulate(vaultlink, tmp / "sim8", 20, 8), archive)
    assert second["traces"] > 0 and third["traces"] > 0 and third["unchanged"] == 0
    assert sorted(p.name for p in (archive / "_manifests").iterdir()) == [
        "0000000001.json", "0000000002.json", "0000000003.json"]
    days = second["partitions"]
    assert days == third["partitions"] and len(days) == 2, (second, third)
    for day in days:
        assert sorted(p.name for p in (archive / "v1" / "spans" / day).iterdir()) == [
            "part-0000.parquet", "part-0001.parquet"]
    return archive, first, second, third


def verify(binary, archive, *extra, env=None):
    res = subprocess.run([str(binary), "verify", "--archive", str(archive), "--json", *extra],
                         capture_output=True, text=True, env=env)
    assert res.returncode in (0, 1), res.stdout + res.stderr
    report = json.loads(res.stdout)
    assert (res.returncode == 0) == (report["findings"] == []), (res.returncode, report)
    return report


def copy(pristine, tmp_path):
    archive = tmp_path / "archive"
    shutil.copytree(pristine[0], archive)
    return archive


def kinds(report):
    return {(f["kind"], f["key"]) for f in report["findings"]}


def head_of(archive):
    last = sorted((archive / "_manifests").iterdir())[-1]
    return f"_manifests/{last.name}", hashlib.sha256(last.read_bytes()).hexdigest()


def test_a_clean_archive_verifies(binary, pristine):
    archive, *summaries = pristine
    report = verify(binary, archive)
    assert report["manifests"] == 3
    assert report["sealed_days"] == 0  # imports seal no day
    # Every part and quarantined document is listed by a manifest; locally each file is
    # one version, and the three manifests are versions too.
    objects = [p for d in ("v1", "_quarantine") for p in (archive / d).rglob("*") if p.is_file()]
    listed = {o["key"] for p in (archive / "_manifests").iterdir() for o in json.loads(p.read_text())["objects"]}
    assert listed == {str(p.relative_to(archive)) for p in objects}
    assert report["objects"] == len(objects) and report["versions"] == len(objects) + 3, report
    assert report["bytes"] == sum(p.stat().st_size for p in objects), report
    assert sum(s["objects_written"] for s in summaries) == len(objects), summaries
    assert report["head"] == dict(zip(("key", "sha256"), head_of(archive)))
    text = subprocess.run([str(binary), "verify", "--archive", str(archive)], capture_output=True, text=True)
    assert text.returncode == 0, text.stdout + text.stderr
    assert "OK" in text.stdout and head_of(archive)[1] in text.stdout, text.stdout


def test_a_flipped_byte_is_an_altered_object(binary, pristine, tmp_path):
    archive = copy(pristine, tmp_path)
    part = sorted((archive / "v1" / "spans").rglob("*.parquet"))[-1]
    data = bytearray(part.read_bytes())
    data[len(data) // 2] ^= 0x01
    part.write_bytes(bytes(data))
    key = str(part.relative_to(archive))
    assert key.endswith("part-0001.parquet")
    assert kinds(verify(binary, archive)) == {("altered_object", key)}


def test_a_deleted_part_is_a_missing_object(binary, pristine, tmp_path):
    archive = copy(pristine, tmp_path)
    part = sorted((archive / "v1" / "segments").rglob("*.parquet"))[0]
    part.unlink()
    assert kinds(verify(binary, archive)) == {("missing_object", str(part.relative_to(archive)))}


def test_a_deleted_manifest_breaks_the_chain(binary, pristine, tmp_path):
    archive = copy(pristine, tmp_path)
    manifests = sorted((archive / "_manifests").iterdir())
    gone = json.loads(manifests[1].read_text())
    manifests[1].unlink()
    found = verify(binary, archive)["findings"]
    chain = [f for f in found if f["kind"] == "broken_chain"]
    assert chain and all(f["key"] == f"_manifests/{manifests[2].name}" for f in chain), found
    assert any("missing" in f["detail"] for f in chain), chain
    # The parts only the deleted manifest listed are now unlisted; nothing else is found.
    unlisted = {f["key"] for f in found if f["kind"] == "unlisted_object"}
    assert unlisted == {o["key"] for o in gone["objects"]}, found
    assert {f["kind"] for f in found} == {"broken_chain", "unlisted_object"}, found


def test_swapped_manifests_break_the_chain(binary, pristine, tmp_path):
    archive = copy(pristine, tmp_path)
    a, b = sorted((archive / "_manifests").iterdir())[:2]
    ta, tb = a.read_bytes(), b.read_bytes()
    a.write_bytes(tb)
    b.write_bytes(ta)
    found = verify(binary, archive)["findings"]
    assert {f["kind"] for f in found} == {"broken_chain"}, found
    keys = {f["key"] for f in found}
    assert {f"_manifests/{a.name}", f"_manifests/{b.name}"} <= keys, found


def test_a_file_no_manifest_lists_is_unlisted(binary, pristine, tmp_path):
    archive = copy(pristine, tmp_path)
    extra = archive / "v1" / "spans" / "dt=2020-01-01" / "part-0000.parquet"
    extra.parent.mkdir(parents=True)
    shutil.copy(sorted((archive / "v1" / "spans").rglob("*.parquet"))[0], extra)
    assert kinds(verify(binary, archive)) == {("unlisted_object", "v1/spans/dt=2020-01-01/part-0000.parquet")}


def test_expect_head(binary, pristine):
    archive = pristine[0]
    key, sha = head_of(archive)
    assert verify(binary, archive, "--expect-head", sha)["findings"] == []
    wrong = hashlib.sha256(b"not the head").hexdigest()
    found = verify(binary, archive, "--expect-head", wrong)["findings"]
    assert [f["kind"] for f in found] == ["head_mismatch"], found
    text = subprocess.run([str(binary), "verify", "--archive", str(archive), "--expect-head", sha],
                          capture_output=True, text=True)
    assert text.returncode == 0 and sha in text.stdout, text.stdout + text.stderr


# --- S3 (moto): versions and delete markers, and days ---------------------------------


@pytest.fixture()
def s3_archive(binary, vaultlink, moto, tmp_path):
    bucket = locked_bucket(moto["clean"], "verify")
    archive = S3Archive(moto["clean"], bucket, "prod")
    sim = simulate(vaultlink, tmp_path / "sim", 20, 9)
    summary = export(binary, sim, archive.url, env=cli_env(moto["clean"]))
    assert summary["traces"] > 0
    assert verify(binary, archive.url, env=cli_env(moto["clean"]))["findings"] == []
    return archive


def test_a_second_version_of_a_part_with_the_same_bytes_is_overwritten(binary, moto, s3_archive):
    key = s3_archive.keys("v1/spans/")[0]
    body = s3_archive.get(key)
    s3_archive.s3.put_object(Bucket=s3_archive.bucket, Key=f"prod/{key}", Body=body)
    found = verify(binary, s3_archive.url, env=cli_env(moto["clean"]))["findings"]
    # Readers now get the new version, not the one the manifest recorded: that may be
    # named too, but only for this key.
    assert [f for f in found if f["kind"] == "overwritten"] and {f["key"] for f in found} == {key}, found
    assert {f["kind"] for f in found} <= {"overwritten", "version_mismatch"}, found


def test_a_second_version_of_a_manifest_with_the_same_bytes_is_overwritten(binary, moto, s3_archive):
    key = s3_archive.keys("_manifests/")[-1]
    body = s3_archive.get(key)
    s3_archive.s3.put_object(Bucket=s3_archive.bucket, Key=f"prod/{key}", Body=body)
    found = verify(binary, s3_archive.url, env=cli_env(moto["clean"]))["findings"]
    assert {(f["kind"], f["key"]) for f in found} == {("overwritten", key)}, found


def test_a_delete_marker_is_deleted(binary, moto, s3_archive):
    key = s3_archive.keys("v1/traces/")[0]
    s3_archive.s3.delete_object(Bucket=s3_archive.bucket, Key=f"prod/{key}")
    found = verify(binary, s3_archive.url, env=cli_env(moto["clean"]))["findings"]
    assert ("deleted", key) in {(f["kind"], f["key"]) for f in found}, found
    assert {f["key"] for f in found} == {key}, found
    assert {f["kind"] for f in found} <= {"deleted", "missing_object", "version_mismatch"}, found


def test_a_day_never_sealed_is_a_missing_day(binary, moto):
    # Days X-Ray holds nothing for (no test puts segments that far back): empty days
    # are still sealed, each with an empty day manifest.
    today = datetime.datetime.now(datetime.timezone.utc).date()
    days = [today - datetime.timedelta(days=n) for n in (27, 26, 25)]
    bucket = locked_bucket(moto["clean"], "days")
    archive = S3Archive(moto["clean"], bucket, "prod")
    for day in (days[0], days[2]):
        out = json.loads(run_cli(binary, moto["clean"], "export", "--source", "xray", "--archive", archive.url,
                                 "--seal-after", "0", "--from", day.isoformat(), "--to", day.isoformat(),
                                 "--json").stdout)
        assert [d["day"] for d in out["days"]] == [day.isoformat()], out
        assert out["days"][0]["status"] == "sealed", out
    manifests = archive.manifests()
    assert [(m["kind"], m["day"], m["status"]) for _, _, m in manifests] == [
        ("day", days[0].isoformat(), "sealed"), ("day", days[2].isoformat(), "sealed")]
    report = verify(binary, archive.url, env=cli_env(moto["clean"]))
    assert report["sealed_days"] == 2 and report["manifests"] == 2, report
    found = report["findings"]
    assert [f["kind"] for f in found] == ["missing_day"], found
    assert days[1].isoformat() in found[0]["key"] + found[0]["detail"], found
    assert days[0].isoformat() not in found[0]["key"] and days[2].isoformat() not in found[0]["key"], found
