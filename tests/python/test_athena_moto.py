"""The Athena path against the moto emulator (its Athena records calls but never executes
SQL: query semantics are covered by the local engine's golden tests), and the embedded
engine reading an archive straight from S3."""

import json
import pathlib

from xray_support import client, locked_bucket, run_cli

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


def test_query_on_athena_reports_the_data_scanned(binary, moto):
    res = run_cli(binary, moto["clean"], "query", "--athena", "--saved", "slow_payments",
                  "--param", "since=2026-03-01", "--param", "until=2026-03-31", "--param", "min_ms=3000",
                  "--output-location", "s3://athena-results/x/", "--format", "json")
    assert json.loads(res.stdout) == []
    assert "Athena scanned" in res.stderr
    athena = client("athena", moto["clean"])
    last = athena.list_query_executions(WorkGroup="primary")["QueryExecutionIds"]
    queries = [athena.get_query_execution(QueryExecutionId=i)["QueryExecution"]["Query"] for i in last]
    assert any("t.duration_us >= 3000 * 1000" in q for q in queries)


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
