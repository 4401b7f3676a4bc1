"""Helpers for the X-Ray export tests: emulator clients, synthetic payment traces, running the
CLI against the emulator, and reading an S3 archive back with boto3 and pyarrow (neither is
the code that wrote it)."""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import os
import random
import re
import subprocess
import time

import boto3
import pyarrow.parquet as pq

from card_scanner import luhn  # noqa: F401 (re-exported for the tests)

REGION = "us-east-1"

# The emulated AWS account the current test works in: tests/moto_server.py serves a request
# signed with a 12-digit access key id in that account, so no test sees another's traces,
# buckets or queues. conftest.py gives every test a fresh one.
_ACCOUNT = ["123456789012"]


def use_account(account: str) -> None:
    """Makes `account` (12 digits) the one clients and the CLI work in from now on."""
    assert len(account) == 12 and account.isdigit(), account
    _ACCOUNT[0] = account


def account() -> str:
    return _ACCOUNT[0]


def client(service: str, endpoint: str):
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION,
                        aws_access_key_id=_ACCOUNT[0], aws_secret_access_key="test")


def unique(name: str) -> str:
    return f"{name}-{os.getpid()}-{random.randrange(10**9)}"


def is_rollup(key: str) -> bool:
    return key.startswith(("v1/payment_index_month/", "v1/payment_index_year/"))


def locked_bucket(endpoint: str, name: str) -> str:
    bucket = unique(name)
    client("s3", endpoint).create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    return bucket


def cli_env(endpoint: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_REGION=REGION,
        AWS_ACCESS_KEY_ID=_ACCOUNT[0],
        AWS_SECRET_ACCESS_KEY="test",
    )
    return env


def rfc3339(epoch: int) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def run_cli(binary, endpoint: str, *args, check=True, env=None) -> subprocess.CompletedProcess:
    """Runs the CLI against the emulator, with `env` added to its environment."""
    res = subprocess.run([str(binary), *args], capture_output=True, text=True,
                         env={**cli_env(endpoint), **(env or {})})
    if check and res.returncode != 0:
        raise AssertionError(f"{args} exited {res.returncode}\nstdout:\n{res.stdout}\nstderr:\n{res.stderr}")
    return res


def payment_traces(base: int, hours: int, per_hour: int, tag: int) -> list[str]:
    """Segment documents of `hours` x `per_hour` small payment traces starting at `base`
    (an hour boundary): an API segment with a PaymentId and a Stripe subsegment document.
    `tag` makes the ids distinct between tests sharing one emulator."""
    docs = []
    step = max(1, 3000 // per_hour)
    for h in range(hours):
        for i in range(per_hour):
            t = base + h * 3600 + step * i + 5
            tid = f"1-{t:08x}-{tag:08x}{h:08x}{i:08x}"
            root = f"{tag:04x}{h:06x}{i:06x}"
            docs.append(json.dumps({
                "name": "payments-api", "id": root, "trace_id": tid,
                "start_time": t + 0.125, "end_time": t + 0.75, "origin": "AWS::Lambda::Function",
                "http": {"request": {"method": "POST", "url": "https://api.example/payments"},
                         "response": {"status": 201}},
                "annotations": {"PaymentId": f"pay_{tag}_{h}_{i}", "PaymentProvider": "stripe"},
            }))
            docs.append(json.dumps({
                "name": "stripe", "id": f"{tag:04x}{h:06x}{i + 1000:06x}", "trace_id": tid,
                "parent_id": root, "type": "subsegment", "namespace": "remote",
                "start_time": t + 0.25, "end_time": t + 0.5,
                "http": {"request": {"method": "POST", "url": "https://api.stripe.com/v1/payment_intents"},
                         "response": {"status": 200}},
            }))
    return docs


def put_segments(endpoint: str, docs: list[str]) -> None:
    xray = client("xray", endpoint)
    for i in range(0, len(docs), 25):
        res = xray.put_trace_segments(TraceSegmentDocuments=docs[i:i + 25])
        assert not res["UnprocessedTraceSegments"], res


class S3Archive:
    """An archive in the emulator's S3, read with boto3."""

    def __init__(self, endpoint: str, bucket: str, prefix: str):
        self.s3 = client("s3", endpoint)
        self.bucket, self.prefix = bucket, prefix.strip("/")

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def keys(self, under: str = "") -> list[str]:
        out, token = [], None
        while True:
            kw = dict(Bucket=self.bucket, Prefix=f"{self.prefix}/{under}")
            if token:
                kw["ContinuationToken"] = token
            page = self.s3.list_objects_v2(**kw)
            out += [o["Key"][len(self.prefix) + 1:] for o in page.get("Contents", [])]
            token = page.get("NextContinuationToken")
            if not token:
                return sorted(out)

    def parts(self) -> list[str]:
        """The table parts under v1/, without the payment index's roll-ups (which a day's
        manifest carries when the day ends its month, whatever day the tests run on)."""
        return [k for k in self.keys("v1/") if not is_rollup(k)]

    def get(self, key: str) -> bytes:
        return self.s3.get_object(Bucket=self.bucket, Key=f"{self.prefix}/{key}")["Body"].read()

    def head(self, key: str) -> dict:
        return self.s3.head_object(Bucket=self.bucket, Key=f"{self.prefix}/{key}")

    def rows(self, table: str) -> list[dict]:
        rows = []
        for key in self.keys(f"v1/{table}/"):
            rows += pq.read_table(io.BytesIO(self.get(key))).to_pylist()
        return rows

    def manifests(self) -> list[tuple[str, bytes, dict]]:
        return [(k, b, json.loads(b)) for k in self.keys("_manifests/") for b in [self.get(k)]]

    def progress(self) -> dict | None:
        """The one mutable record, _state/progress.json (None before the first run)."""
        try:
            return json.loads(self.get("_state/progress.json"))
        except self.s3.exceptions.NoSuchKey:
            return None

    def versions(self, under: str = "") -> tuple[dict[str, int], list[str]]:
        """Every object version under `under`: ({key: number of versions}, [keys with a delete marker])."""
        counts, markers = {}, []
        kw = dict(Bucket=self.bucket, Prefix=f"{self.prefix}/{under}")
        while True:
            page = self.s3.list_object_versions(**kw)
            for v in page.get("Versions", []):
                key = v["Key"][len(self.prefix) + 1:]
                counts[key] = counts.get(key, 0) + 1
            markers += [m["Key"][len(self.prefix) + 1:] for m in page.get("DeleteMarkers", [])]
            if not page.get("IsTruncated"):
                return counts, markers
            kw["KeyMarker"] = page["NextKeyMarker"]
            kw["VersionIdMarker"] = page.get("NextVersionIdMarker")


WRITE_ONCE_PREFIXES = ("v1/", "_manifests/", "_quarantine/", "_holds/")


def versions(archive) -> tuple[dict[str, int], list[str]]:
    """{key: version count} and the delete-marked keys under the write-once prefixes (v1/,
    _manifests/, _quarantine/, _holds/) of an S3Archive, read with list_object_versions."""
    counts, markers = {}, []
    for under in WRITE_ONCE_PREFIXES:
        c, m = archive.versions(under)
        counts.update(c)
        markers += m
    return counts, markers


def check_written_once(archive) -> dict[str, int]:
    """Asserts every key under the write-once prefixes has exactly one version and no delete
    marker. Returns {key: 1}."""
    counts, markers = versions(archive)
    assert counts, "no objects"
    assert not markers, f"delete markers: {markers}"
    again = {k: n for k, n in counts.items() if n != 1}
    assert not again, f"keys with more than one version: {again}"
    return counts


def check_chain(archive) -> list[dict]:
    """Asserts the manifests _manifests/NNNNNNNNNN.json form one unbroken chain: seq 1..n,
    each `previous` the key and SHA-256 of the one before, the first None; and that every
    object a manifest lists has that SHA-256 (and, on S3, that version id) now. Works for an
    S3Archive or a local archive directory (pathlib.Path). Returns the manifests."""
    manifests = local_manifests(archive) if hasattr(archive, "joinpath") else archive.manifests()
    assert manifests, "no manifests"
    previous = None
    for n, (key, raw, m) in enumerate(manifests, start=1):
        assert key == f"_manifests/{n:010d}.json", f"manifest {n} is {key}"
        assert m["format"] == "xray-archive-manifest/2", key
        assert m["seq"] == n, f"{key}: seq {m['seq']}, expected {n}"
        if previous is None:
            assert m["previous"] is None, key
        else:
            assert m["previous"] == {"key": previous[0], "sha256": hashlib.sha256(previous[1]).hexdigest()}, key
        previous = (key, raw)
    listed = set()
    for key, _, m in manifests:
        for o in m["objects"]:
            assert o["key"] not in listed, f"{o['key']} listed twice (again in {key})"
            listed.add(o["key"])
            if hasattr(archive, "joinpath"):
                body = archive.joinpath(o["key"]).read_bytes()
            else:
                head = archive.head(o["key"])
                if o.get("version_id") is not None:
                    assert head.get("VersionId") == o["version_id"], o["key"]
                body = archive.get(o["key"])
            assert hashlib.sha256(body).hexdigest() == o["sha256"], o["key"]
            assert len(body) == o["bytes"], o["key"]
    return [m for _, _, m in manifests]


def local_manifests(path) -> list[tuple[str, bytes, dict]]:
    d = path / "_manifests"
    files = sorted(d.iterdir()) if d.is_dir() else []
    return [(f"_manifests/{f.name}", f.read_bytes(), json.loads(f.read_bytes())) for f in files]


def chain_head(archive) -> dict:
    """{key, sha256} of the last manifest."""
    key, raw, _ = archive.manifests()[-1]
    return {"key": key, "sha256": hashlib.sha256(raw).hexdigest()}


def day_of(epoch: int) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%d")


def day_start(days_ago: int) -> int:
    """Epoch of 00:00 UTC `days_ago` days before today."""
    return (int(time.time()) // 86400 - days_ago) * 86400


def wait_until(predicate, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False


class RuntimeApi:
    """A stand-in for the Lambda Runtime API (the HTTP interface a custom runtime polls), so
    the real Lambda binary runs here: it hands out the queued events, with their deadlines
    and optional X-Ray trace headers, and records each response or error. An event is
    (request id, seconds to the deadline, payload[, trace header])."""

    def __init__(self, events, function="xray-archive-exporter"):
        import http.server
        import queue
        import threading

        self.events = list(events)
        self.results = queue.Queue()
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                if not api.events:
                    time.sleep(30)  # no more work: the test ends the process meanwhile
                    self.send_response(500)
                    self.end_headers()
                    return
                event = api.events.pop(0)
                request_id, deadline_s, payload = event[:3]
                trace_id = event[3] if len(event) > 3 else None
                body = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
                self.send_header("Lambda-Runtime-Deadline-Ms", str(int((time.time() + deadline_s) * 1000)))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn",
                                 f"arn:aws:lambda:us-east-1:123456789012:function:{function}")
                if trace_id:
                    self.send_header("Lambda-Runtime-Trace-Id", trace_id)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = self.path.strip("/").split("/")
                api.results.put((parts[-2], parts[-1], json.loads(body or b"null")))
                self.send_response(202)
                self.end_headers()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def address(self):
        return f"127.0.0.1:{self.server.server_port}"

    def run(self, binary, env, n):
        proc = subprocess.Popen([str(binary)], env={**env, "AWS_LAMBDA_RUNTIME_API": self.address},
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            results = [self.results.get(timeout=60) for _ in range(n)]
        finally:
            proc.kill()
            out, err = proc.communicate()
            self.server.shutdown()
        return results, out, err


# Not glued to a word, but a JSON escape such as \n right before counts as a separator.
LUHN_CANDIDATE = re.compile(r"(?:(?<![\w])|(?<=\\[nrtbf]))\d(?:[ -]?\d){12,18}(?![\w])")


def card_numbers(text: str) -> list[str]:
    """Every 13 to 19 digit sequence (spaces or dashes allowed) that passes Luhn; written
    here independently of the Rust guard."""
    found = []
    for m in LUHN_CANDIDATE.finditer(text):
        digits = re.sub(r"[ -]", "", m.group())
        if 13 <= len(digits) <= 19 and luhn(digits):
            found.append(m.group())
    return found
