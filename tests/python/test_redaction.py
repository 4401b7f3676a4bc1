"""Redaction at archive time: documents seeded with card numbers in every place and every
common format go into X-Ray (moto) and out through `xray-archive export`. The archive,
read back column by column with pyarrow (decompressed), holds no Luhn-valid 13 to 19 digit
sequence, the manifest counts what was removed, and a document with nothing to redact is
archived byte for byte."""

import datetime
import json
import time

import pyarrow.dataset as ds
import pyarrow.parquet as pq

from xray_support import card_numbers, put_segments, run_cli

CARDS = [
    "4242424242424242",          # Visa, plain
    "4000 0566 5566 5556",       # Visa debit, spaces
    "5555-5555-5555-4444",       # Mastercard, dashes
    "3782 822463 10005",         # Amex, 4-6-5
    "4222222222222",             # 13 digits
    "6011111111111117",          # Discover
    "3530111333300000",          # JCB
    "6304 0000 0000 0000 018",   # 19 digits
]


def seeded(base: int) -> tuple[list[str], str]:
    tid = f"1-{base:08x}-00000000000000000000c0de"
    t = base + 5.0
    root = {
        "name": "payments-api", "id": "00000000000c0de1", "trace_id": tid, "start_time": t, "end_time": t + 1,
        "http": {"request": {"method": "POST", "url": f"https://api.example/pay?pan={CARDS[0]}",
                             "user_agent": f"Checkout/1.0 card={CARDS[1]}", "client_ip": "203.0.113.9"},
                 "response": {"status": 500}},
        "fault": True,
        "annotations": {"PaymentId": "pay_redact_1", "Note": f"card {CARDS[2]}", "Email": "jane.doe@example.com"},
        "metadata": {"debug": {"pan": CARDS[3], "as_number": int(CARDS[4]), "nested": [f"x\n{CARDS[5]}"]}},
        "cause": {"exceptions": [{"id": "00000000000c0de9", "message": f"declined {CARDS[6]}"}]},
        "subsegments": [{"name": "db", "id": "00000000000c0de2", "start_time": t + 0.1, "end_time": t + 0.2,
                         "sql": {"sanitized_query": f"SELECT * FROM cards WHERE pan = '{CARDS[7]}'",
                                 "url": "jdbc:postgresql://db/pay"}}],
    }
    clean = {"name": "payments-api", "id": "00000000000c0de3", "trace_id": f"1-{base:08x}-00000000000000000000c0df",
             "start_time": t, "end_time": t + 1, "annotations": {"PaymentId": "pay_redact_2"},
             "http": {"request": {"client_ip": "198.51.100.4"}}}
    # Written with unusual spacing, so byte identity is a real check.
    clean_text = json.dumps(clean, indent=1)
    return [json.dumps(root), clean_text], clean_text


def day_of(epoch: int) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%d")


def test_no_card_number_survives_and_the_manifest_counts_them(binary, moto, tmp_path):
    day = int(time.time()) // 86400 - 18  # a day no other test on the shared emulator uses
    base = day * 86400 + 7 * 3600
    docs, clean_text = seeded(base)
    for c in CARDS:
        assert card_numbers(c), c
    assert len(card_numbers(docs[0])) >= len(CARDS)
    put_segments(moto["clean"], docs)
    archive = tmp_path / "archive"
    out = run_cli(binary, moto["clean"], "export", "--source", "xray", "--archive", str(archive),
                  "--seal-after", "0", "--from", day_of(base), "--to", day_of(base), "--json")
    summary = json.loads(out.stdout)
    assert summary["traces"] == 2 and [d["day"] for d in summary["days"]] == [day_of(base)], summary

    # Every text column of every table (strings, and maps and lists of them), decompressed
    # and scanned. Integer columns are binary, not digits: a microsecond timestamp is not text.
    for part in archive.joinpath("v1").rglob("*.parquet"):
        table = pq.read_table(part)
        textual = [f.name for f in table.schema if "string" in str(f.type)]
        assert textual, part
        text = json.dumps(table.select(textual).to_pylist(), default=str)
        assert not card_numbers(text), (part, card_numbers(text))
        assert "jane.doe@example.com" not in text

    rows = ds.dataset(archive / "v1" / "segments", format="parquet", partitioning="hive").to_table().to_pylist()
    by_id = {r["segment_id"]: r["document"] for r in rows}
    redacted = json.loads(by_id["00000000000c0de1"])  # still valid JSON
    assert redacted["annotations"]["Note"] == "card [redacted:card-number]"
    assert redacted["metadata"]["debug"]["as_number"] == "[redacted:card-number]"
    assert redacted["http"]["request"]["client_ip"] == "203.0.113.9"  # kept by default
    assert redacted["annotations"]["Email"] == "[redacted:email]"  # hashed with a key; none is set
    assert by_id["00000000000c0de3"] == clean_text

    manifests = sorted((archive / "_manifests").iterdir())
    counts = {}
    for m in manifests:
        for kind, n in json.loads(m.read_text()).get("redactions", {}).items():
            counts[kind] = counts.get(kind, 0) + n
    assert counts == {"card_number": len(CARDS), "email": 1}, counts


def test_hashing_and_truncation_are_settings(binary, tmp_path):
    base = 1_772_409_600
    docs, _ = seeded(base)
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(d.replace("\n", " ") for d in docs) + "\n")
    env_extra = {"XRAY_ARCHIVE_HASH_KEY": "k-1", "XRAY_ARCHIVE_CLIENT_IPS": "truncate24"}
    import os
    import subprocess
    res = subprocess.run([str(binary), "export", "--source", str(src), "--archive", str(tmp_path / "a"), "--json"],
                         capture_output=True, text=True, env={**os.environ, **env_extra})
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["redactions"] == {"card_number": len(CARDS), "client_ip": 2, "email": 1}
    rows = ds.dataset(tmp_path / "a" / "v1" / "segments", format="parquet", partitioning="hive").to_table().to_pylist()
    doc = json.loads(next(r["document"] for r in rows if r["segment_id"] == "00000000000c0de1"))
    assert doc["http"]["request"]["client_ip"] == "203.0.113.0/24"
    assert doc["annotations"]["Email"].startswith("[email:")
    bad = subprocess.run([str(binary), "export", "--source", str(src), "--archive", str(tmp_path / "b")],
                         capture_output=True, text=True, env={**os.environ, "XRAY_ARCHIVE_EMAILS": "scramble"})
    assert bad.returncode != 0 and "XRAY_ARCHIVE_EMAILS" in bad.stderr
