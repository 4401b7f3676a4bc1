"""The AWS emulator the tests run against: moto's server, plus two small fixes and a fault port.

    python tests/moto_server.py --ports-file FILE [--fault-seed N]

Starts, in one process (so both share one emulated account):

* the clean endpoint: moto as it is, except for one correction. moto 5.2.5 answers
  GetTraceSummaries with ``"Users": {}`` where the X-Ray API model says a list, and
  aws-sdk-xray rejects the whole response over it; the wrapper rewrites that one field to
  ``[]``. Nothing else is touched.
* an account per access key: a request signed with a 12-digit access key id is served in the
  emulated account of that number (moto's ``x-moto-account-id``), so each test gets an AWS
  account of its own, with its own X-Ray traces, buckets and queues, on one server.
* Athena's result pages, on both endpoints: moto answers GetQueryResults with every row at
  once and never a NextToken, where Athena returns at most ``MaxResults`` rows (1,000, its
  default and maximum) a call, the header row of a SELECT counted in the first page, and a
  NextToken while rows remain. The wrapper pages moto's answer that way (an offset in the
  token) and refuses a MaxResults over 1,000 as Athena does. Rows come from results a test
  seeds through moto's ``/moto-api/static/athena/query-results``.
* X-Ray's trace segment destination, which moto 5.2.5 does not implement:
  GetTraceSegmentDestination answers ``XRay`` until UpdateTraceSegmentDestination sets
  ``CloudWatchLogs`` (Transaction Search on), as X-Ray does; one setting per account.
* the fault endpoint: the same emulator behind a fault-injecting layer, for the exporter's
  resilience tests. Deterministic for a seed, it
  - answers 30% of calls with a throttle (X-Ray ``ThrottledException`` 429, S3 ``SlowDown``
    503) and 5% with a 500, before the call reaches moto (so a failed call changed nothing);
  - pages GetTraceSummaries three summaries at a time with a NextToken, which moto ignores;
  - returns at most two traces per BatchGetTraces call and lists the rest in
    ``UnprocessedTraceIds``, as X-Ray does under load;
  - answers every distinct Athena request first with a ``ThrottlingException`` (400, "Rate
    exceeded"), then with an ``InternalServerException`` (500), and lets the third attempt
    through, so each Athena call must be retried twice; Athena calls take no roll of the
    random faults above, so the X-Ray and S3 fault sequence of a seed is the same with or
    without them.

Writes ``{"clean": URL, "fault": URL}`` to the ports file once both listen.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import random
import re
import threading

from werkzeug.serving import make_server

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)

SUMMARY_PAGE = 3
TRACES_PER_CALL = 2
ATHENA_PAGE = 1000


def call(app, environ, body: bytes):
    """Runs one request through `app`; returns (status, headers, body)."""
    environ = dict(environ)
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    out = {}

    def start_response(status, headers, exc_info=None):
        out["status"], out["headers"] = status, headers

    chunks = app(environ, start_response)
    data = b"".join(chunks)
    if hasattr(chunks, "close"):
        chunks.close()
    return out["status"], out["headers"], data


def respond(start_response, status, headers, body: bytes):
    headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
    headers.append(("Content-Length", str(len(body))))
    start_response(status, headers)
    return [body]


def xray_op(environ) -> str | None:
    if environ.get("REQUEST_METHOD") != "POST":
        return None
    return {
        "/TraceSummaries": "GetTraceSummaries",
        "/Traces": "BatchGetTraces",
        "/TraceSegments": "PutTraceSegments",
        "/GetTraceSegmentDestination": "GetTraceSegmentDestination",
        "/UpdateTraceSegmentDestination": "UpdateTraceSegmentDestination",
    }.get(environ.get("PATH_INFO"))


def athena_op(environ) -> str | None:
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    return target.split(".", 1)[1] if target.startswith("AmazonAthena.") else None


def json_error(start_response, status, code, message):
    body = json.dumps({"__type": code, "message": message}).encode()
    headers = [("x-amzn-ErrorType", code), ("Content-Type", "application/x-amz-json-1.1")]
    return respond(start_response, status, headers, body)


class AthenaPages:
    """GetQueryResults paged as Athena pages it: MaxResults rows a call with a NextToken."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        if athena_op(environ) != "GetQueryResults":
            return self.app(environ, start_response)
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        request = json.loads(body or b"{}")
        limit = int(request.pop("MaxResults", ATHENA_PAGE))
        if not 1 <= limit <= ATHENA_PAGE:
            return json_error(start_response, "400 Bad Request", "InvalidRequestException",
                              f"MaxResults must be between 1 and {ATHENA_PAGE}, got {limit}")
        token = request.pop("NextToken", None)
        offset = int(base64.b64decode(token).decode()) if token else 0
        status, headers, data = call(self.app, environ, json.dumps(request).encode())
        if not status.startswith("200"):
            return respond(start_response, status, headers, data)
        doc = json.loads(data)
        rows = doc.get("ResultSet", {}).get("Rows", [])
        doc.setdefault("ResultSet", {})["Rows"] = rows[offset:offset + limit]
        if offset + limit < len(rows):
            doc["NextToken"] = base64.b64encode(str(offset + limit).encode()).decode()
        return respond(start_response, status, headers, json.dumps(doc).encode())


ACCESS_KEY_ACCOUNT = re.compile(r"Credential=(\d{12})/")


class Accounts:
    """Serves a request signed with a 12-digit access key id in that account."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        m = ACCESS_KEY_ACCOUNT.search(environ.get("HTTP_AUTHORIZATION", ""))
        if m:
            environ["HTTP_X_MOTO_ACCOUNT_ID"] = m.group(1)
        return self.app(environ, start_response)


class Destination:
    """X-Ray's trace segment destination (`XRay` or `CloudWatchLogs`) per account, which
    moto lacks."""

    def __init__(self, app):
        self.app = app
        self.destinations = {}

    def __call__(self, environ, start_response):
        op = xray_op(environ)
        if op not in ("GetTraceSegmentDestination", "UpdateTraceSegmentDestination"):
            return self.app(environ, start_response)
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        account = environ.get("HTTP_X_MOTO_ACCOUNT_ID", "123456789012")
        if op == "UpdateTraceSegmentDestination":
            wanted = json.loads(body or b"{}").get("Destination")
            if wanted not in ("XRay", "CloudWatchLogs"):
                error = {"__type": "InvalidRequestException", "message": f"bad Destination {wanted!r}"}
                headers = [("x-amzn-ErrorType", "InvalidRequestException"),
                           ("Content-Type", "application/json")]
                return respond(start_response, "400 Bad Request", headers, json.dumps(error).encode())
            self.destinations[account] = wanted
        answer = {"Destination": self.destinations.get(account, "XRay"), "Status": "ACTIVE"}
        return respond(start_response, "200 OK", [("Content-Type", "application/json")],
                       json.dumps(answer).encode())


class Fixed:
    """moto with the GetTraceSummaries ``Users`` field corrected."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        status, headers, data = call(self.app, environ, body)
        if xray_op(environ) == "GetTraceSummaries" and status.startswith("200"):
            doc = json.loads(data)
            for s in doc.get("TraceSummaries", []):
                if isinstance(s.get("Users"), dict):
                    s["Users"] = []
            data = json.dumps(doc).encode()
        return respond(start_response, status, headers, data)


class Faulty:
    """Throttles, fails, pages and splits calls before they reach the emulator."""

    def __init__(self, app, seed: int):
        self.app = app
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.athena_attempts: dict[tuple[str, bytes], int] = {}

    def __call__(self, environ, start_response):
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        athena = athena_op(environ)
        if athena:
            return self.athena(environ, body, start_response, athena)
        op = xray_op(environ)
        with self.lock:
            roll = self.rng.random()
        if roll < 0.30:
            return self.throttle(start_response, op)
        if roll < 0.35:
            return self.fail(start_response, op)
        if op == "GetTraceSummaries":
            return self.page_summaries(environ, body, start_response)
        if op == "BatchGetTraces":
            return self.split_batch(environ, body, start_response)
        return respond(start_response, *call(self.app, environ, body))

    def athena(self, environ, body, start_response, op):
        with self.lock:
            seen = self.athena_attempts.get((op, body), 0)
            self.athena_attempts[(op, body)] = seen + 1
        if seen == 0:
            return json_error(start_response, "400 Bad Request", "ThrottlingException", "Rate exceeded")
        if seen == 1:
            return json_error(start_response, "500 Internal Server Error", "InternalServerException",
                              "injected fault")
        return respond(start_response, *call(self.app, environ, body))

    @staticmethod
    def throttle(start_response, op):
        if op:
            body = json.dumps({"__type": "ThrottledException", "message": "Rate exceeded"})
            headers = [("x-amzn-ErrorType", "ThrottledException"),
                       ("Content-Type", "application/json")]
            return respond(start_response, "429 Too Many Requests", headers, body.encode())
        body = b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
        return respond(start_response, "503 Slow Down", [("Content-Type", "application/xml")], body)

    @staticmethod
    def fail(start_response, op):
        if op:
            body = json.dumps({"__type": "InternalFailure", "message": "injected fault"})
            headers = [("x-amzn-ErrorType", "InternalFailure"),
                       ("Content-Type", "application/json")]
            return respond(start_response, "500 Internal Server Error", headers, body.encode())
        body = b"<Error><Code>InternalError</Code><Message>injected fault</Message></Error>"
        return respond(start_response, "500 Internal Server Error",
                       [("Content-Type", "application/xml")], body)

    def page_summaries(self, environ, body, start_response):
        request = json.loads(body or b"{}")
        offset = int(base64.b64decode(request.pop("NextToken")).decode()) if "NextToken" in request else 0
        status, headers, data = call(Fixed(self.app), environ, json.dumps(request).encode())
        if not status.startswith("200"):
            return respond(start_response, status, headers, data)
        doc = json.loads(data)
        summaries = sorted(doc.get("TraceSummaries", []), key=lambda s: s["Id"])
        doc["TraceSummaries"] = summaries[offset:offset + SUMMARY_PAGE]
        if offset + SUMMARY_PAGE < len(summaries):
            doc["NextToken"] = base64.b64encode(str(offset + SUMMARY_PAGE).encode()).decode()
        return respond(start_response, status, headers, json.dumps(doc).encode())

    def split_batch(self, environ, body, start_response):
        request = json.loads(body or b"{}")
        ids = request.get("TraceIds", [])
        request["TraceIds"] = ids[:TRACES_PER_CALL]
        status, headers, data = call(self.app, environ, json.dumps(request).encode())
        if not status.startswith("200"):
            return respond(start_response, status, headers, data)
        doc = json.loads(data)
        doc["UnprocessedTraceIds"] = doc.get("UnprocessedTraceIds", []) + ids[TRACES_PER_CALL:]
        return respond(start_response, status, headers, json.dumps(doc).encode())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ports-file", required=True)
    parser.add_argument("--fault-seed", type=int, default=7)
    args = parser.parse_args()

    moto = AthenaPages(Accounts(Destination(DomainDispatcherApplication(create_backend_app))))
    servers = {
        "clean": make_server("127.0.0.1", 0, Fixed(moto), threaded=True,
                             request_handler=MotoRequestHandler),
        "fault": make_server("127.0.0.1", 0, Faulty(moto, args.fault_seed), threaded=True,
                             request_handler=MotoRequestHandler),
    }
    urls = {name: f"http://127.0.0.1:{s.server_port}" for name, s in servers.items()}
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers.values()]
    for t in threads:
        t.start()
    with open(args.ports_file + ".tmp", "w") as f:
        json.dump(urls, f)
    os.replace(args.ports_file + ".tmp", args.ports_file)
    print(f"moto listening: {urls}", flush=True)
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
