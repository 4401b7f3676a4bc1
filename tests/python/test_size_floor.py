"""tests/bench/size_floor.py on an archive of the samples: the floor it reports is one no
encoding goes below, so every random-id column and the whole archive sit at or above it."""

import importlib.util
import re
import subprocess
import sys

from conftest import ROOT

SCRIPT = ROOT / "tests" / "bench" / "size_floor.py"


def load():
    spec = importlib.util.spec_from_file_location("size_floor", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_id_shapes_carry_their_random_bytes():
    floor = load()
    assert floor.id_bytes({"53995c3f42cd8ad8", "70de5b6f19ff9a0a"}) == 16
    assert floor.id_bytes({"1-581cf771-a006649127e371903a2de979"}) == 12
    assert floor.id_bytes({"f" * 64}) == 32
    assert floor.id_bytes({"53995c3f42cd8ad8", "payments-api"}) is None
    assert floor.id_bytes(set()) is None


def test_floor_is_at_most_what_the_archive_takes(archive):
    out, _ = archive
    res = subprocess.run(
        [sys.executable, str(SCRIPT), str(out), "--level", "3", "--against", str(out / "v1"),
         "--min-bytes", "0"],
        capture_output=True, text=True, check=True,
    )
    rows = {}
    for line in res.stdout.splitlines():
        m = re.match(r"(.+?)\s+([\d,]+)\s+([\d,]+)$", line)
        if m:
            rows[m.group(1).strip()] = (int(m.group(2).replace(",", "")),
                                        int(m.group(3).replace(",", "")))
    ids = {k: v for k, v in rows.items() if "random ids" in k}
    assert any(k.startswith("spans.id ") for k in ids), res.stdout
    assert any(k.startswith("segments.trace_id ") for k in ids), res.stdout
    for what, (floor, disk) in ids.items():
        assert 0 < floor <= disk, what
    floor, disk = rows["all"]
    assert floor <= disk
    m = re.search(r"the archive is ([\d.]+)x, the floor ([\d.]+)x", res.stdout)
    assert m and float(m.group(1)) == 1.0 and float(m.group(2)) <= 1.0, res.stdout
