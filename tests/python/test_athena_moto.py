"""The Athena path against the moto emulator, and the embedded engine reading an archive
straight from S3.

moto's Athena records calls but never executes SQL (query semantics are covered by the local
engine's golden tests). What a query returns is seeded: moto hands results posted to
``/moto-api/static/athena/query-results`` to the next StartQueryExecution calls, in order,
and the emulator wrapper (tests/moto_server.py) pages GetQueryResults as Athena does, at
most 1,000 rows a call, the header row of a SELECT first, with a NextToken while rows
remain (moto alone answers every row at once). So a seeded result of more than 1,000 rows
reaches the CLI only if it asks for every next page, and skips the header row exactly
once."""

import csv
import io
import json
import pathlib
import re
import urllib.request

from xray_support import REGION, account, client, locked_bucket, run_cli

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_register_creates_the_tables_and_named_queries(binary, moto):
    bucket = locked_bucket(moto["clean"], "athena")
    out = run_cli(binary, moto["clean"], "register", "--archive", f"s3://{bucket}/prod",
                  "--output-location", f"s3://{bucket}/athena-results/")
    assert "5 DDL statements" in out.stdout, out.stdout
    athena = client("athena", moto["clean"])
    ids = athena.list_named_queries(WorkGroup="primary")["NamedQueryIds"]
    named = {q["Name"]: q for q in (athena.get_named_query(NamedQueryId=i)["NamedQuery"] for i in ids)}
    files = sorted((ROOT / "athena" / "queries").glob("*.sql"))
    for f in files:
        q = named[f"xray-archive: {f.stem}"]
        assert q["QueryString"] == f.read_text()
        assert q["Database"] == "xray_archive"
    executions = athena.list_query_executions(WorkGroup="primary")["QueryExecutionIds"]
    statements = [athena.get_query_execution(QueryExecutionId=i)["QueryExecution"]["Query"] for i in executions]
    assert any("CREATE EXTERNAL TABLE IF NOT EXISTS `xray_archive`.`spans`" in s for s in statements)


# What slow_payments selects.
COLUMNS = ["dt", "trace_id", "start_time", "duration_ms", "http_url", "http_status", "root_name"]
CALLS = re.compile(r"(\d+) Athena calls, (\d+) throttled and (\d+) failed transiently")


def slow_payment_rows(n: int, tag: int) -> list[list[str | None]]:
    """`n` distinct rows in the shape of slow_payments' answer, with what a CSV or JSON
    writer can get wrong: NULLs, commas, quotes, a line break and non-ASCII text."""
    rows = []
    for i in range(n):
        rows.append([
            "2026-03-02",
            f"1-65e26b00-{tag:08x}{i:016x}",
            f"2026-03-02 {i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}.000",
            str(3000 + i),
            None if i % 7 == 3 else f"https://api.example.com/payments?id=pay_{i:012d}&tags=a,b",
            None if i % 11 == 5 else ("500" if i % 5 == 0 else "200"),
            'VaultLink "api"\nzürich' if i % 13 == 0 else "payments-api",
        ])
    return rows


def seed_athena(endpoint: str, columns: list[str], rows: list[list[str | None]]):
    """Queues one result for the next StartQueryExecution, with the header row Athena puts
    first in a SELECT's result set; a NULL is a Data entry without VarCharValue."""
    header = {"Data": [{"VarCharValue": c} for c in columns]}
    body = {
        "account_id": account(),
        "region": REGION,
        "results": [{
            "rows": [header] + [
                {"Data": [{} if v is None else {"VarCharValue": v} for v in row]} for row in rows
            ],
            "column_info": [
                {"CatalogName": "hive", "SchemaName": "", "TableName": "", "Name": c, "Label": c,
                 "Type": "varchar", "Precision": 2147483647, "Scale": 0, "Nullable": "UNKNOWN",
                 "CaseSensitive": True}
                for c in columns
            ],
        }],
    }
    request = urllib.request.Request(f"{endpoint}/moto-api/static/athena/query-results",
                                     data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request) as answer:
        assert answer.status == 201


def query_slow_payments(binary, endpoint, fmt):
    return run_cli(binary, endpoint, "query", "--athena", "--saved", "slow_payments",
                   "--param", "since=2026-03-01", "--param", "until=2026-03-31", "--param", "min_ms=3000",
                   "--output-location", "s3://athena-results/x/", "--format", fmt)


def test_query_on_athena_pages_through_every_row(binary, moto):
    """2,500 rows and the header are three GetQueryResults pages (1,000, 1,000, 501): the
    CLI must print every seeded row once, in order, and the header row nowhere."""
    rows = slow_payment_rows(2500, tag=1)
    seed_athena(moto["clean"], COLUMNS, rows)
    res = query_slow_payments(binary, moto["clean"], "json")
    assert json.loads(res.stdout) == [dict(zip(COLUMNS, row)) for row in rows]
    assert "2500 rows in 3 result pages; Athena scanned" in res.stderr, res.stderr
    athena = client("athena", moto["clean"])
    last = athena.list_query_executions(WorkGroup="primary")["QueryExecutionIds"]
    queries = [athena.get_query_execution(QueryExecutionId=i)["QueryExecution"]["Query"] for i in last]
    assert any("t.duration_us >= 3000 * 1000" in q for q in queries)

    # The same rows as CSV: quoted where a value needs it, a NULL an empty field.
    seed_athena(moto["clean"], COLUMNS, rows)
    res = query_slow_payments(binary, moto["clean"], "csv")
    read = list(csv.reader(io.StringIO(res.stdout)))
    assert read[0] == COLUMNS
    assert read[1:] == [[v or "" for v in row] for row in rows]


def test_query_on_athena_retries_throttles_and_5xx_on_every_call(binary, moto):
    """The fault endpoint throttles every distinct Athena request once and fails it once
    with a 500 before answering it: the query succeeds only if the start, the polls and
    each result page go through the pacer, and the CLI counts every retry."""
    rows = slow_payment_rows(1500, tag=2)
    seed_athena(moto["clean"], COLUMNS, rows)
    res = query_slow_payments(binary, moto["fault"], "json")
    assert json.loads(res.stdout) == [dict(zip(COLUMNS, row)) for row in rows]
    assert "1500 rows in 2 result pages" in res.stderr, res.stderr
    attempts, throttles, transient = map(int, CALLS.search(res.stderr).groups())
    # StartQueryExecution, at least one GetQueryExecution, and two GetQueryResults pages,
    # each throttled once and failed once before its answer.
    assert throttles == transient >= 4, res.stderr
    assert attempts >= 3 * throttles, res.stderr


def test_query_on_athena_with_no_rows(binary, moto):
    """With nothing seeded, moto answers no rows and no columns."""
    res = query_slow_payments(binary, moto["clean"], "json")
    assert json.loads(res.stdout) == []
    assert "0 rows in 1 result page; Athena scanned" in res.stderr, res.stderr


def test_the_embedded_engine_reads_an_archive_in_s3(binary, samples, archive, moto):
    local, _ = archive
    bucket = locked_bucket(moto["clean"], "engine")
    run_cli(binary, moto["clean"], "export", "--source", str(samples), "--archive", f"s3://{bucket}/prod")
    sql = "SELECT dt, count(*) AS spans FROM spans GROUP BY dt ORDER BY dt"
    from_s3 = run_cli(binary, moto["clean"], "query", "--archive", f"s3://{bucket}/prod", "--sql", sql, "--format", "json")
    from_dir = run_cli(binary, moto["clean"], "query", "--archive", str(local), "--sql", sql, "--format", "json")
    assert json.loads(from_s3.stdout) == json.loads(from_dir.stdout)
    # 41 spans in the samples' documents, one of them an in-progress snapshot of a
    # completed segment that is archived too, so counted once.
    assert sum(r["spans"] for r in json.loads(from_s3.stdout)) == 40
