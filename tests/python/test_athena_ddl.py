"""The generated Athena DDL parses as Athena SQL (sqlglot's athena dialect), which is the
offline check of Athena syntax: moto's Athena never executes SQL."""

import subprocess

import pyarrow.dataset as ds
import sqlglot
from sqlglot import exp


def ddl(binary, *args):
    res = subprocess.run([str(binary), "ddl", *args], capture_output=True, text=True)
    return res


def test_ddl_parses_as_athena_sql(binary):
    res = ddl(binary, "--archive", "s3://audit-archive/prod", "--since", "2024-01-01")
    assert res.returncode == 0, res.stderr
    statements = sqlglot.parse(res.stdout, read="athena")
    creates = [s for s in statements if isinstance(s, exp.Create)]
    assert len(creates) == 5  # the database and four tables
    tables = [c for c in creates if c.kind == "TABLE"]
    assert sorted(t.this.this.name for t in tables) == ["payment_index", "segments", "spans", "traces"]
    for t in tables:
        cols = list(t.this.find_all(exp.ColumnDef))
        assert cols
        for c in cols:
            assert any(isinstance(k.kind, exp.CommentColumnConstraint) for k in c.constraints), c.sql()


def test_ddl_columns_match_the_archive_files(binary, vaultlink, tmp_path):
    """Every column the DDL declares for a table exists in the Parquet files, in order, and
    each table is partitioned (and projected) on its directory key: dt, or day for
    payment_index."""
    sim = tmp_path / "sim"
    subprocess.run([str(vaultlink), "simulate", "--out", str(sim), "--payments", "20", "--days", "2", "--seed", "3"],
                   check=True, capture_output=True)
    out = tmp_path / "archive"
    subprocess.run([str(binary), "export", "--source", str(sim), "--archive", str(out)], check=True, capture_output=True)
    text = ddl(binary, "--archive", "s3://b/p").stdout
    checked = set()
    for t in sqlglot.parse(text, read="athena"):
        if not isinstance(t, exp.Create) or t.kind != "TABLE":
            continue
        name = t.this.this.name
        declared = [c.name for c in t.this.expressions if isinstance(c, exp.ColumnDef)]
        files = ds.dataset(out / "v1" / name, format="parquet", partitioning="hive").schema.names
        partition = "day" if name == "payment_index" else "dt"
        assert {p.name.split("=")[0] for p in (out / "v1" / name).iterdir()} == {partition}, name
        assert declared == [n for n in files if n != partition], name
        sql = t.sql(dialect="athena")
        assert f"projection.{partition}.type" in sql and f"/v1/{name}/{partition}=${{{partition}}}" in sql, sql
        checked.add(name)
    assert checked == {"segments", "spans", "traces", "payment_index"}


def test_ddl_refuses_a_local_archive(binary, tmp_path):
    res = ddl(binary, "--archive", str(tmp_path))
    assert res.returncode != 0
    assert "s3://bucket/prefix" in res.stderr
