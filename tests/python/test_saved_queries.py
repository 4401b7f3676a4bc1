"""The saved compliance queries: each parses as Athena SQL (sqlglot's athena dialect, the
offline check of Athena syntax) after its parameters are filled in, and each runs through
`xray-archive query` on a real archive."""

import json
import pathlib
import re
import subprocess

import pyarrow.dataset as ds
import sqlglot
from sqlglot import exp

ROOT = pathlib.Path(__file__).resolve().parents[2]
QUERIES = sorted((ROOT / "athena" / "queries").glob("*.sql"))
EXAMPLES = {"date": "'2026-03-02'", "int": "3", "text": "'pay_000000000011'"}


def params(text):
    return dict(re.findall(r"^--\s+:(\w+) \((\w+)\)", text, flags=re.M))


def filled(text):
    kinds = params(text)
    return re.sub(r":(\w+)", lambda m: EXAMPLES[kinds[m.group(1)]] if m.group(1) in kinds else m.group(0), text)


def test_there_are_saved_queries_for_the_design_note_and_compliance():
    names = {q.stem for q in QUERIES}
    assert {"failed_webhooks", "slow_payments", "trace_payment", "webhook_failures_per_5min", "prism_dlq",
            "charged_but_pending", "error_rate_per_service_per_day", "payments_by_correlation_id"} <= names


def test_every_saved_query_parses_as_athena_sql():
    for q in QUERIES:
        text = q.read_text()
        assert params(text), f"{q.name} declares no parameters"
        statements = sqlglot.parse(filled(text), read="athena")
        assert len(statements) == 1 and isinstance(statements[0], exp.Select), q.name
        tables = {t.name for t in statements[0].find_all(exp.Table)}
        assert tables <= {"segments", "spans", "traces", "payment_index"}, (q.name, tables)


def query(binary, *args):
    return subprocess.run([str(binary), "query", *args], capture_output=True, text=True)


def test_query_runs_saved_and_own_sql_on_a_real_archive(binary, archive):
    out, _ = archive
    listing = query(binary, "--list")
    assert listing.returncode == 0 and "failed_webhooks" in listing.stdout and "--param since" in listing.stdout

    res = query(binary, "--archive", str(out), "--sql",
                "SELECT dt, count(*) AS traces FROM traces GROUP BY dt ORDER BY dt", "--format", "json")
    assert res.returncode == 0, res.stderr
    got = {r["dt"]: r["traces"] for r in json.loads(res.stdout)}
    # pyarrow, reading the same files independently, agrees.
    table = ds.dataset(out / "v1" / "traces", format="parquet", partitioning="hive").to_table().to_pylist()
    want = {}
    for r in table:
        want[str(r["dt"])] = want.get(str(r["dt"]), 0) + 1
    assert got == want

    res = query(binary, "--archive", str(out), "--saved", "error_rate_per_service_per_day",
                "--param", "since=2016-01-01", "--param", "until=2026-12-31", "--format", "csv")
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("dt,service,segments,failed,failed_pct")

    missing = query(binary, "--archive", str(out), "--saved", "slow_payments", "--param", "since=2026-01-01")
    assert missing.returncode != 0 and "--param until=" in missing.stderr, missing.stderr
    bad = query(binary, "--archive", str(out), "--saved", "slow_payments", "--param", "since=yesterday",
                "--param", "until=2026-01-01", "--param", "min_ms=3000")
    assert bad.returncode != 0 and "not a valid date" in bad.stderr, bad.stderr
    unknown = query(binary, "--archive", str(out), "--saved", "nope")
    assert unknown.returncode != 0 and "--list" in unknown.stderr
