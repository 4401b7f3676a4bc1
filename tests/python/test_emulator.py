"""The emulator wrapper's own promises (tests/moto_server.py): each correction it makes to moto
is still needed, and each test's account is its own."""

import json
import sys
import time

from werkzeug.test import EnvironBuilder

from conftest import ROOT
from xray_support import client, use_account

sys.path.insert(0, str(ROOT / "tests"))
import moto_server  # noqa: E402


def xray_call(app, path: str, body: dict):
    """One X-Ray REST call through `app`, in process: (status, parsed body)."""
    environ = EnvironBuilder(
        method="POST", path=path, base_url="https://xray.us-east-1.amazonaws.com",
        headers={"Authorization": "AWS4-HMAC-SHA256 Credential=test/20261201/us-east-1/xray/aws4_request",
                 "Content-Type": "application/json"},
        data=json.dumps(body)).get_environ()
    status, _, data = moto_server.call(app, environ, environ["wsgi.input"].read())
    return status, json.loads(data)


def test_moto_still_answers_users_as_an_object_so_the_fix_is_still_needed():
    moto = moto_server.DomainDispatcherApplication(moto_server.create_backend_app)
    now = int(time.time())
    doc = {"name": "api", "id": "70de5b6f19ff9a0a", "trace_id": f"1-{now:08x}-a006649127e371903a2de979",
           "start_time": now + 0.1, "end_time": now + 0.2}
    status, _ = xray_call(moto, "/TraceSegments", {"TraceSegmentDocuments": [json.dumps(doc)]})
    assert status.startswith("200"), status
    window = {"StartTime": now - 60, "EndTime": now + 60}
    _, raw = xray_call(moto, "/TraceSummaries", window)
    assert raw["TraceSummaries"], raw
    # When this fails moto answers a list, as the X-Ray API model says: `Fixed` can go.
    assert all(isinstance(s["Users"], dict) for s in raw["TraceSummaries"]), raw
    _, fixed = xray_call(moto_server.Fixed(moto), "/TraceSummaries", window)
    assert [s["Users"] for s in fixed["TraceSummaries"]] == [[] for _ in raw["TraceSummaries"]]


def test_each_account_sees_only_its_own_traces_and_destination(moto, aws_account):
    now = int(time.time())
    doc = {"name": "api", "id": "70de5b6f19ff9a0b", "trace_id": f"1-{now:08x}-b006649127e371903a2de979",
           "start_time": now + 0.1, "end_time": now + 0.2}
    mine = client("xray", moto["clean"])
    mine.put_trace_segments(TraceSegmentDocuments=[json.dumps(doc)])
    mine.update_trace_segment_destination(Destination="CloudWatchLogs")
    use_account(f"{int(aws_account) + 999}")  # the last of this session's range: unused
    other = client("xray", moto["clean"])
    window = dict(StartTime=now - 60, EndTime=now + 60)
    assert other.get_trace_summaries(**window)["TraceSummaries"] == []
    assert other.get_trace_segment_destination()["Destination"] == "XRay"
    assert [s["Id"] for s in mine.get_trace_summaries(**window)["TraceSummaries"]] == [doc["trace_id"]]
    assert mine.get_trace_segment_destination()["Destination"] == "CloudWatchLogs"
