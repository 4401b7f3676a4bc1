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

from xray_support import card_numbers, luhn, put_segments, run_cli

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
    day = int(time.time()) // 86400 - 18
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
        # And the independent scanner over every value of every column.
        from card_scanner import cards_in_value
        assert not cards_in_value(table.to_pylist()), (part, cards_in_value(table.to_pylist()))

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


# Card numbers in the spellings they reach traces in; every one is Luhn-valid and in an IIN
# range (the scanner below checks that, so the list cannot hold a dud).
SPELLINGS = [
    "4111 1111 1111 1111",
    "4111.1111.1111.1111",
    "4111/1111/1111/1111",
    "4111+1111+1111+1111",
    "4111%201111%201111%201111",
    "4111\t1111  1111 - 1111",
    "pan_4111111111111111",
    "cc5555555555554444",
    "%B4111111111111111^DOE/JANE^2512101000000000000?",
    ";4111111111111111=25121010000000000000?",
    "2223 0031 2200 3222",
    "6304 0000 0000 0000 018",
    "3782-822463-10005",
    "30569309025904",
    "3530111333300000",
    "6200000000000005",
]


def _escaped_digits(s: str) -> str:
    """A JSON string token with its digits written as \\u00XX escapes."""
    return "".join(f"\\u{ord(c):04x}" if c.isdigit() else c for c in json.dumps(s))


def _spelling_documents(base: int) -> list[str]:
    from card_scanner import cards_in_text

    docs = []
    for n, card in enumerate(SPELLINGS):
        t = base + n
        seg = {
            "name": "payments-api", "id": f"{n:04x}0000000c0de1", "trace_id": f"1-{base:08x}-{n:04x}0000000000000000c0de",
            "start_time": t, "end_time": t + 1,
            "http": {"request": {"url": f"https://api.example/pay?pan={card}&e=jane%40example.com",
                                 "user_agent": f"Checkout/1.0 ({card})"}},
            "annotations": {"Note": card},
            "metadata": {"debug": {card: True, "card": {"id": card}, "nested": [f"x\n{card}"]}},
            "cause": {"exceptions": [{"id": f"{n:04x}0000000c0de9", "message": f"declined {card}"}]},
            "subsegments": [{"name": "db", "id": f"{n:04x}0000000c0de2", "start_time": t + 0.1, "end_time": t + 0.2,
                             "sql": {"sanitized_query": f"SELECT 1 WHERE pan = '{card}'", "url": "jdbc:postgresql://db/pay"}}],
        }
        text = json.dumps(seg)
        # The same card once more, digits as JSON escapes, and once as a bare JSON number.
        digits = cards_in_text(card)[0]
        text = text[:-1] + f', "escaped": {_escaped_digits(card)}, "as_number": {digits}}}'
        docs.append(text)
    return docs


def _luhn_valid_ms(start: int) -> int:
    return next(n for n in range(start, start + 100) if luhn(str(n)))


def test_an_independent_scanner_finds_no_card_anywhere_after_an_export(binary, tmp_path):
    import os
    import subprocess

    from card_scanner import cards_in_text, cards_in_value

    for card in SPELLINGS:
        assert cards_in_text(card), card  # the scanner sees every spelling
    base = 1_772_409_600
    docs = _spelling_documents(base)
    # Before the export the scanner finds every card in every place it was put.
    for d in docs:
        assert len(cards_in_value(d)) >= 8, cards_in_value(d)
    ms = _luhn_valid_ms(1_772_409_600_123)
    ordinary = json.dumps({
        "name": "payments-api", "id": "00000000000c0dea", "trace_id": f"1-{base:08x}-00000000000000000000c0df",
        "start_time": base + 40.5, "end_time": base + 41, "annotations": {"PaymentId": "pay_ord_1"},
        "metadata": {"default": {"created_ms": ms, "ratio": float(f"{ms}.5"), "order": "7000000000000005",
                                 "request_id": "96652218-3972-1106-4242-424242424242"}},
        "aws": {"request_id": "96652218-3972-1106-1234-567890123456"},
    }, separators=(", ", " : "))
    assert f"{ms}" in ordinary and luhn(str(ms))
    rejected_json = 'not json 4111 1111 1111 1111 { "pan": "5555555555554444"'
    invalid_doc = json.dumps({"id": "00000000000c0deb", "trace_id": f"1-{base:08x}-00000000000000000000c0e0",
                              "start_time": base, "metadata": {"pan": "4111-1111-1111-1111"}})
    src = tmp_path / "in.jsonl"
    src.write_bytes(("\n".join(docs + [ordinary, rejected_json, invalid_doc]) + "\n").encode()
                    + b"\xff\xfe pan=4111%201111%201111%201111 \xc3\x28\n")
    archive = tmp_path / "archive"
    env = {**os.environ, "XRAY_ARCHIVE_HASH_KEY": "scanner-key"}
    res = subprocess.run([str(binary), "export", "--source", str(src), "--archive", str(archive), "--json"],
                         capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    # Only the three inputs that were never valid documents are quarantined.
    assert len(summary["quarantined"]) == 3, summary["quarantined"]
    assert summary["segments"] == len(docs) + 1, summary
    assert summary["redactions"]["card_number"] >= 7 * len(SPELLINGS), summary["redactions"]
    assert summary["redaction_places"]["quarantine"]["card_number"] >= 4, summary["redaction_places"]
    for place in ("annotations", "metadata", "http", "sql", "cause"):
        assert summary["redaction_places"][place]["card_number"] >= len(SPELLINGS), (place, summary)

    # Every value of every column of every table, read back with pyarrow.
    parts = list(archive.joinpath("v1").rglob("*.parquet"))
    assert parts
    for part in parts:
        for row in pq.read_table(part).to_pylist():
            found = cards_in_value(row)
            assert not found, (part, found)
    # Every quarantined byte, and the records beside them.
    quarantined = list(archive.joinpath("_quarantine").iterdir())
    assert len([q for q in quarantined if q.suffix == ".raw"]) == 3
    for q in quarantined:
        data = q.read_bytes()
        assert not cards_in_value(data), (q.name, cards_in_value(data))
        if q.suffix == ".raw":
            assert b"[redacted:card-number]" in data, data
    # Ordinary traffic, a Luhn-valid millisecond timestamp and request ids of digits kept.
    rows = ds.dataset(archive / "v1" / "segments", format="parquet", partitioning="hive").to_table().to_pylist()
    by_id = {r["segment_id"]: r["document"] for r in rows}
    assert by_id["00000000000c0dea"] == ordinary
    for n in range(len(SPELLINGS)):
        doc = json.loads(by_id[f"{n:04x}0000000c0de1"])
        assert doc["as_number"] == "[redacted:card-number]"
        url = doc["http"]["request"]["url"]
        assert "[redacted:card-number]" in url and "&e=[email:" in url, url

    # The manifest records the policy with a key fingerprint, never the key.
    manifests = sorted((archive / "_manifests").iterdir())
    text = manifests[-1].read_text()
    policy = json.loads(text)["redaction_policy"]
    assert policy["emails"] == "hash" and len(policy["key_fingerprint"]) == 32, policy
    assert "scanner-key" not in text

    # Another key stops the next export before it writes anything; the flag records it.
    more = tmp_path / "more.jsonl"
    more.write_text(docs[0].replace("c0de1", "c0dee").replace("c0de\"", "c0e1\"") + "\n")
    other = {**os.environ, "XRAY_ARCHIVE_HASH_KEY": "another-key"}
    stopped = subprocess.run([str(binary), "export", "--source", str(more), "--archive", str(archive)],
                             capture_output=True, text=True, env=other)
    assert stopped.returncode != 0
    assert "--new-redaction-policy" in stopped.stderr and "fingerprint" in stopped.stderr, stopped.stderr
    assert sorted((archive / "_manifests").iterdir()) == manifests
    changed = subprocess.run([str(binary), "export", "--source", str(more), "--archive", str(archive),
                              "--new-redaction-policy", "--json"], capture_output=True, text=True, env=other)
    assert changed.returncode == 0, changed.stderr
    last = json.loads(sorted((archive / "_manifests").iterdir())[-1].read_text())
    assert last["redaction_policy_changed"] is True
    assert last["redaction_policy"]["key_fingerprint"] != policy["key_fingerprint"]
