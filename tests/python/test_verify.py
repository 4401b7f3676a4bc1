"""`xray-archive verify` on an archive exported from moto's X-Ray: clean, then tampered
with one way at a time. Each tampering must be found and named precisely."""

import json
import shutil
import subprocess
import time

import pytest

from xray_support import payment_traces, put_segments, rfc3339, run_cli

HOUR = 3600


@pytest.fixture(scope="module")
def pristine(binary, moto, tmp_path_factory):
    base = (int(time.time()) // HOUR - 350) * HOUR
    put_segments(moto["clean"], payment_traces(base, hours=4, per_hour=3, tag=0x7E51))
    archive = tmp_path_factory.mktemp("verify") / "archive"
    run_cli(binary, moto["clean"], "export", "--source", "xray", "--archive", str(archive),
            "--from", rfc3339(base), "--to", rfc3339(base + 4 * HOUR), "--json")
    return archive, base


def verify(binary, archive, *extra):
    res = subprocess.run([str(binary), "verify", "--archive", str(archive), "--json", *extra],
                         capture_output=True, text=True)
    assert res.returncode in (0, 1), res.stderr
    report = json.loads(res.stdout)
    assert (res.returncode == 0) == (report["findings"] == [])
    return report


def copy(pristine, tmp_path):
    archive = tmp_path / "archive"
    shutil.copytree(pristine[0], archive)
    return archive


def kinds(report):
    return {(f["kind"], f["key"]) for f in report["findings"]}


def test_a_clean_archive_verifies(binary, pristine):
    report = verify(binary, pristine[0])
    assert report["manifests"] == 4 and report["windows"] == 4 and report["objects"] > 10
    text = subprocess.run([str(binary), "verify", "--archive", str(pristine[0])], capture_output=True, text=True)
    assert text.returncode == 0 and "OK" in text.stdout


def test_a_flipped_byte_is_an_altered_object(binary, pristine, tmp_path):
    archive = copy(pristine, tmp_path)
    part = sorted((archive / "v1" / "spans").rglob("*.parquet"))[1]
    data = bytearray(part.read_bytes())
    data[len(data) // 2] ^= 0x01
    part.write_bytes(bytes(data))
    key = str(part.relative_to(archive))
    assert kinds(verify(binary, archive)) == {("altered_object", key)}


def test_a_deleted_file_is_a_missing_object(binary, pristine, tmp_path):
    archive = copy(pristine, tmp_path)
    part = sorted((archive / "v1" / "segments").rglob("*.parquet"))[0]
    part.unlink()
    assert kinds(verify(binary, archive)) == {("missing_object", str(part.relative_to(archive)))}


def test_a_deleted_manifest_breaks_the_chain_and_leaves_a_gap(binary, pristine, tmp_path):
    archive = copy(pristine, tmp_path)
    manifests = sorted((archive / "_manifests").iterdir())
    manifests[1].unlink()
    found = verify(binary, archive)["findings"]
    by_kind = {f["kind"] for f in found}
    assert "broken_chain" in by_kind and "gap" in by_kind, found
    chain = [f for f in found if f["kind"] == "broken_chain"]
    assert any(f["key"] == f"_manifests/{manifests[2].name}" and "missing" in f["detail"] for f in chain), chain
    # The objects only the deleted manifest listed are now unlisted.
    assert "unlisted_object" in by_kind


def test_reordered_manifests_break_the_chain(binary, pristine, tmp_path):
    archive = copy(pristine, tmp_path)
    a, b = sorted((archive / "_manifests").iterdir())[:2]
    ta, tb = a.read_bytes(), b.read_bytes()
    a.write_bytes(tb)
    b.write_bytes(ta)
    found = verify(binary, archive)["findings"]
    keys = {f["key"] for f in found if f["kind"] == "broken_chain"}
    assert {f"_manifests/{a.name}", f"_manifests/{b.name}"} <= keys, found


def test_a_file_no_manifest_lists_is_unlisted(binary, pristine, tmp_path):
    archive = copy(pristine, tmp_path)
    extra = archive / "v1" / "spans" / "dt=2020-01-01" / "part-00.parquet"
    extra.parent.mkdir(parents=True)
    shutil.copy(sorted((archive / "v1" / "spans").rglob("*.parquet"))[0], extra)
    assert kinds(verify(binary, archive)) == {("unlisted_object", "v1/spans/dt=2020-01-01/part-00.parquet")}


def test_a_skipped_window_is_a_gap(binary, moto, tmp_path):
    base = (int(time.time()) // HOUR - 340) * HOUR
    put_segments(moto["clean"], payment_traces(base, hours=3, per_hour=2, tag=0x7E52))
    archive = tmp_path / "gappy"
    for start, end in ((base, base + HOUR), (base + 2 * HOUR, base + 3 * HOUR)):
        run_cli(binary, moto["clean"], "export", "--source", "xray", "--archive", str(archive),
                "--from", rfc3339(start), "--to", rfc3339(end))
    found = verify(binary, archive)["findings"]
    gaps = [f for f in found if f["kind"] == "gap"]
    assert len(gaps) == 1 and rfc3339(base + HOUR).replace("Z", "") in gaps[0]["key"], found
    # Asked about the first hour only, it is whole.
    assert verify(binary, archive, "--from", rfc3339(base), "--to", rfc3339(base + HOUR))["findings"] == []
