"""Measured run: X-Ray API calls per archived trace.

    .venv/bin/python tests/bench/api_calls.py [--hours 4] [--per-hour 250]

Loads `hours` x `per-hour` payment traces into one day of a moto emulator started for the run,
seals that day with the CLI (`export --source xray --seal-after 0 --from DAY --to DAY`: 24
hourly GetTraceSummaries listings, then BatchGetTraces), and prints GetTraceSummaries and
BatchGetTraces calls per trace, twice: against the emulator as it is (one summary page per
hour), and through the fault-injecting endpoint (summary pages of 3, at most 2 traces per
BatchGetTraces answer, 30% throttled), the worst case. The floor is 0.2 plus 24 listings a
day: one BatchGetTraces call fetches 5 traces.
"""

import argparse
import json
import os
import pathlib
import random
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "python"))

from xray_support import day_of, day_start, locked_bucket, payment_traces, put_segments, run_cli  # noqa: E402

ROOT = HERE.parents[1]


def endpoints():
    """A fresh emulator of its own, so no other traces share the windows."""
    ports = pathlib.Path(f"/tmp/xray-archive-bench-{os.getpid()}.ports")
    proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "moto_server.py"), "--ports-file", str(ports)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        if ports.exists():
            return json.loads(ports.read_text()), proc
        time.sleep(0.2)
    raise SystemExit("moto did not start")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=int, default=4)
    parser.add_argument("--per-hour", type=int, default=250)
    parser.add_argument("--fault-per-hour", type=int, default=10,
                        help="traces per hour for the fault-injected pass, which runs near 1 call/s")
    parser.add_argument("--binary", default=os.environ.get("XRAY_ARCHIVE_BIN", str(ROOT / "target" / "release" / "xray-archive")))
    args = parser.parse_args()
    urls, proc = endpoints()
    try:
        assert args.hours <= 24, "one day holds 24 hours"
        # Days X-Ray still holds (the last 30), one a pass: 10 and 11 days ago.
        passes = [("clean", day_start(10), args.per_hour), ("fault", day_start(11), args.fault_per_hour)]
        for name, base, per_hour in passes:
            docs = payment_traces(base, hours=args.hours, per_hour=per_hour, tag=random.randrange(1 << 16))
            put_segments(urls["clean"], docs)
            traces = args.hours * per_hour
            day = day_of(base)
            print(f"{name:>5}: {traces} traces in {args.hours} hours of {day} ({len(docs)} documents)")
            bucket = locked_bucket(urls["clean"], f"bench-{name}")
            t0 = time.perf_counter()
            out = run_cli(args.binary, urls[name], "export", "--source", "xray", "--archive", f"s3://{bucket}/b",
                          "--seal-after", "0", "--from", day, "--to", day, "--json")
            elapsed = time.perf_counter() - t0
            r = json.loads(out.stdout)
            assert r["outcome"] == "complete" and [d["day"] for d in r["days"]] == [day], r
            assert r["traces"] == traces, r["traces"]
            calls = r["api_calls"]
            per_trace = (calls["get_trace_summaries"] + calls["batch_get_traces"]) / traces
            print(f"{name:>5}: {calls['get_trace_summaries']} GetTraceSummaries + {calls['batch_get_traces']} "
                  f"BatchGetTraces = {per_trace:.3f} calls per trace "
                  f"(floor {0.2 + 24 / traces:.3f}; {r['xray']['throttles']} throttles; {elapsed:.1f} s)")
    finally:
        if proc:
            proc.kill()


if __name__ == "__main__":
    main()
