"""Shared fixtures: the xray-archive binary, the X-Ray samples, and an archive made from them."""

import itertools
import json
import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


# A range of accounts per test session (by process id), so sessions sharing one long-running
# emulator never meet either.
_ACCOUNTS = itertools.count(200_000_000_000 + os.getpid() * 1000 + 1)


@pytest.fixture(autouse=True)
def aws_account():
    """Every test works in an emulated AWS account of its own: its X-Ray traces, buckets,
    queues and log groups are invisible to every other test, so no test picks "an hour no
    other test uses". The numbers count up from the session's own range."""
    from xray_support import use_account

    account = f"{next(_ACCOUNTS):012d}"
    use_account(account)
    return account


def testdata_dir() -> pathlib.Path:
    if os.environ.get("XRAY_TESTDATA"):
        return pathlib.Path(os.environ["XRAY_TESTDATA"])
    shared = ROOT.parent / "shared" / "testdata" / "xray"
    return shared if shared.is_dir() else ROOT / "tests" / "fixtures" / "xray"


@pytest.fixture(scope="session")
def binary() -> pathlib.Path:
    path = pathlib.Path(os.environ.get("XRAY_ARCHIVE_BIN", ROOT / "target" / "debug" / "xray-archive"))
    assert path.exists(), f"build the CLI first (cargo build -p cli); {path} is missing"
    return path


@pytest.fixture(scope="session")
def samples() -> pathlib.Path:
    return testdata_dir()


@pytest.fixture(scope="session")
def archive(binary, samples, tmp_path_factory):
    """Exports the samples once; returns (archive dir, summary dict)."""
    out = tmp_path_factory.mktemp("archive")
    res = subprocess.run(
        [str(binary), "export", "--source", str(samples), "--archive", str(out), "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out, json.loads(res.stdout)


@pytest.fixture(scope="session")
def moto(tmp_path_factory):
    """The emulator's endpoints: {"clean": URL, "fault": URL}. tests/run.sh starts one and
    exports XRAY_ARCHIVE_MOTO / XRAY_ARCHIVE_MOTO_FAULT; otherwise one is started here."""
    if os.environ.get("XRAY_ARCHIVE_MOTO"):
        yield {"clean": os.environ["XRAY_ARCHIVE_MOTO"], "fault": os.environ["XRAY_ARCHIVE_MOTO_FAULT"]}
        return
    import sys
    import time

    ports = tmp_path_factory.mktemp("moto") / "ports"
    proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "moto_server.py"), "--ports-file", str(ports)])
    try:
        for _ in range(100):
            if ports.exists():
                break
            assert proc.poll() is None, "moto_server.py exited"
            time.sleep(0.2)
        yield json.loads(ports.read_text())
    finally:
        proc.kill()


@pytest.fixture(scope="session")
def lambda_binary() -> pathlib.Path:
    path = pathlib.Path(os.environ.get("XRAY_ARCHIVE_LAMBDA_BIN", ROOT / "target" / "debug" / "exporter"))
    assert path.exists(), f"build the Lambda first (cargo build -p exporter --bins); {path} is missing"
    return path


@pytest.fixture(scope="session")
def vaultlink() -> pathlib.Path:
    path = pathlib.Path(os.environ.get("XRAY_ARCHIVE_VAULTLINK_BIN", ROOT / "target" / "debug" / "vaultlink"))
    assert path.exists(), f"build the payment functions first (cargo build -p payment-core --bins); {path} is missing"
    return path
