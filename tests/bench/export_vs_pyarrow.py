"""Whole-process export against the converter a user would write first, in the same run.

    .venv/bin/python tests/bench/export_vs_pyarrow.py [--traces 40000] [--runs 5] [--threads N]
        [--baseline-bin OLD/xray-archive]

Builds the release CLI and the trace generator, generates the payment traces as BatchGetTraces
JSON Lines, then runs `xray-archive export` and `tests/bench/pyarrow_convert.py` on the same
input, alternating, `--runs` times each. Prints, per tool, the median wall time and peak
resident memory (each child's own, from wait4), the archive's bytes, and the ratios. The
archive's bytes count the Parquet data (`v1/`) and, apart, everything the export wrote
(manifests, ledger and state included). `--baseline-bin` adds an earlier build of the CLI to
the same alternation, so a change is measured against what it replaces.
"""

import argparse
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]


def target_dir() -> pathlib.Path:
    meta = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--no-deps"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    )
    return pathlib.Path(json.loads(meta.stdout)["target_directory"])


def timed(cmd: list[str], env: dict) -> tuple[float, int]:
    """Wall seconds and peak resident KiB of one child process."""
    start = time.perf_counter()
    child = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    err = child.stderr.read().decode(errors="replace")
    child.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{cmd[0]} failed:\n{err}")
    return wall, usage.ru_maxrss


def tree_bytes(path: pathlib.Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--traces", type=int, default=40_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", type=int, help="XRAY_ARCHIVE_THREADS for the export")
    ap.add_argument("--baseline-bin", help="an earlier build's xray-archive, run alongside")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args()

    subprocess.run(
        ["cargo", "build", "--release", "-p", "cli", "-p", "exporter",
         "--example", "gen_payment_traces"],
        cwd=ROOT, check=True,
    )
    release = target_dir() / "release"
    env = dict(os.environ)
    if args.threads:
        env["XRAY_ARCHIVE_THREADS"] = str(args.threads)
    with tempfile.TemporaryDirectory(prefix="export-vs-pyarrow-") as tmp:
        tmp = pathlib.Path(tmp)
        inp = tmp / "in"
        subprocess.run([str(release / "examples" / "gen_payment_traces"), str(args.traces), str(inp)],
                       check=True, stdout=subprocess.DEVNULL)
        input_bytes = tree_bytes(inp)
        ours, script, base = [], [], []
        tools = [("xray-archive", ours, str(release / "xray-archive")), ("pyarrow", script, None)]
        if args.baseline_bin:
            tools.append(("baseline", base, args.baseline_bin))
        sizes = {}
        for run in range(args.runs):
            for name, runs, binary in tools:
                out = tmp / f"out-{name}"
                shutil.rmtree(out, ignore_errors=True)
                if binary:
                    cmd = [binary, "export", "--source", str(inp), "--archive", str(out)]
                else:
                    cmd = [sys.executable, str(ROOT / "tests" / "bench" / "pyarrow_convert.py"),
                           str(inp), str(out)]
                runs.append(timed(cmd, env))
                data = out / "v1" if binary else out
                sizes[name] = {"data_bytes": tree_bytes(data), "all_bytes": tree_bytes(out)}
    med = lambda rows, i: statistics.median(r[i] for r in rows)
    figures = {
        "traces": args.traces,
        "input_bytes": input_bytes,
        "runs": args.runs,
        "threads": args.threads or os.cpu_count(),
        "xray_archive": {"wall_s": [r[0] for r in ours], "peak_rss_kib": [r[1] for r in ours],
                         "median_wall_s": med(ours, 0), "median_peak_rss_kib": med(ours, 1),
                         **sizes["xray-archive"]},
        "pyarrow": {"wall_s": [r[0] for r in script], "peak_rss_kib": [r[1] for r in script],
                    "median_wall_s": med(script, 0), "median_peak_rss_kib": med(script, 1),
                    **sizes["pyarrow"]},
    }
    if base:
        figures["baseline"] = {"wall_s": [r[0] for r in base], "peak_rss_kib": [r[1] for r in base],
                               "median_wall_s": med(base, 0), "median_peak_rss_kib": med(base, 1),
                               **sizes["baseline"]}
    figures["speedup"] = figures["pyarrow"]["median_wall_s"] / figures["xray_archive"]["median_wall_s"]
    figures["size_ratio"] = sizes["xray-archive"]["data_bytes"] / sizes["pyarrow"]["data_bytes"]
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    o, p = figures["xray_archive"], figures["pyarrow"]
    print(f"{args.traces} traces, {input_bytes / 1e6:.1f} MB of BatchGetTraces JSON Lines, "
          f"{args.runs} alternating runs each, export threads: {figures['threads']}")
    print(f"xray-archive export: median {o['median_wall_s']:.2f} s {[round(x, 2) for x in o['wall_s']]}, "
          f"peak RSS median {o['median_peak_rss_kib'] / 1024:.0f} MiB, "
          f"{o['data_bytes']:,} bytes of Parquet ({o['all_bytes']:,} with manifests and state)")
    print(f"pyarrow_convert.py:  median {p['median_wall_s']:.2f} s {[round(x, 2) for x in p['wall_s']]}, "
          f"peak RSS median {p['median_peak_rss_kib'] / 1024:.0f} MiB, {p['data_bytes']:,} bytes")
    if base:
        b = figures["baseline"]
        print(f"baseline build:      median {b['median_wall_s']:.2f} s {[round(x, 2) for x in b['wall_s']]}, "
              f"peak RSS median {b['median_peak_rss_kib'] / 1024:.0f} MiB, {b['data_bytes']:,} bytes; "
              f"this build takes {o['median_wall_s'] / b['median_wall_s']:.2f}x its time")
    print(f"speed: {figures['speedup']:.2f}x the script (target 10x); "
          f"size: {figures['size_ratio']:.3f}x the script's bytes (target 0.8x)")


if __name__ == "__main__":
    main()
