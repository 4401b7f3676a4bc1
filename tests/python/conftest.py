"""Shared fixtures: the xray-archive binary, the X-Ray samples, and an archive made from them."""

import json
import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


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
