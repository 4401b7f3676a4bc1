"""The aws/spans staging source end to end against the moto emulator: CloudWatch Logs, Firehose
and S3 as the infra wires them (a subscription filter on `aws/spans` delivering through a
Firehose stream to a staging prefix), X-Ray switched to CloudWatch Logs in the middle of a
day, and the CLI (real aws-sdk clients) sealing that day from both. The archive is read back
with pyarrow and compared with the records as Python's `json` parses them.

moto delivers subscription events to Firehose, and Firehose to S3, at once and under the
hour of the emulator's clock: so the spans here start the day before, 24 hours before that
delivery, and the export is told spans may arrive up to 26 hours late
(XRAY_ARCHIVE_STAGING_LATE_HOURS). The real delay is minutes; the windowing is the same."""

import collections
import datetime
import json
import pathlib
import time

import pyarrow.dataset as ds  # noqa: F401 (S3Archive.rows reads with pyarrow)

from xray_support import S3Archive, client, locked_bucket, put_segments, run_cli, unique

HOUR = 3600
ROOT = pathlib.Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "tests" / "fixtures" / "otel" / (
    "coralogix-aws-shipper__tests-fixtures-aws_spans.json__stepfunctions-42-records-with-inprogress.json")
SAMPLE_EPOCH = 0x6A719BA0  # the sample's first trace id second


def shifted_records(to_epoch: int) -> list[dict]:
    """The sample's 42 records moved to `to_epoch`: trace ids (X-Ray form, epoch first) and
    every nanosecond time shifted alike, as integers."""
    delta = to_epoch - SAMPLE_EPOCH
    out = []
    for r in json.loads(SAMPLE.read_text()):
        r = json.loads(json.dumps(r))
        tid = r["traceId"]
        r["traceId"] = f"{int(tid[:8], 16) + delta:08x}{tid[8:]}"
        for k in ("startTimeUnixNano", "endTimeUnixNano"):
            if r.get(k) is not None:
                r[k] = int(r[k]) + delta * 10**9
        for e in r.get("events") or []:
            if e.get("timeUnixNano") is not None:
                e["timeUnixNano"] = int(e["timeUnixNano"]) + delta * 10**9
        out.append(r)
    return out


def xray_id(trace_id: str) -> str:
    return f"1-{trace_id[:8]}-{trace_id[8:]}"


def staging_pipeline(endpoint: str):
    """A staging bucket, a Firehose stream into `aws-spans/`, and a subscription filter on
    `aws/spans` sending to it, as infra/ deploys them. Returns (bucket, log stream)."""
    s3, firehose, logs = (client(s, endpoint) for s in ("s3", "firehose", "logs"))
    bucket = unique("spans-staging")
    s3.create_bucket(Bucket=bucket)
    stream = unique("xray-archive-spans")
    arn = firehose.create_delivery_stream(
        DeliveryStreamName=stream,
        DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={
            "RoleARN": "arn:aws:iam::123456789012:role/firehose-staging",
            "BucketARN": f"arn:aws:s3:::{bucket}",
            "Prefix": "aws-spans/",
            "CompressionFormat": "UNCOMPRESSED",
        },
    )["DeliveryStreamARN"]
    try:
        logs.create_log_group(logGroupName="aws/spans")
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    log_stream = unique("default")
    logs.create_log_stream(logGroupName="aws/spans", logStreamName=log_stream)
    logs.put_subscription_filter(
        logGroupName="aws/spans", filterName=unique("xray-archive"), filterPattern="",
        destinationArn=arn, roleArn="arn:aws:iam::123456789012:role/logs-to-firehose")
    return bucket, log_stream


def staged_keys(endpoint: str, bucket: str) -> dict[str, str]:
    out = {}
    pages = client("s3", endpoint).get_paginator("list_objects_v2").paginate(Bucket=bucket)
    for page in pages:
        for o in page.get("Contents", []):
            out[o["Key"]] = o["ETag"]
    return out


def test_a_day_switching_to_transaction_search_is_sealed_from_xray_and_staging(binary, moto):
    endpoint = moto["clean"]
    now = int(time.time())
    # The spans' hour: 24 hours before moto delivers them, a minute in.
    hour = (now - 24 * HOUR) // HOUR * HOUR
    day = datetime.datetime.fromtimestamp(hour, datetime.timezone.utc).strftime("%Y-%m-%d")
    records = shifted_records(hour + 60)
    texts = [json.dumps(r) for r in records]

    bucket, log_stream = staging_pipeline(endpoint)
    logs = client("logs", endpoint)
    for i in range(0, len(texts), 10):
        logs.put_log_events(
            logGroupName="aws/spans", logStreamName=log_stream,
            logEvents=[{"timestamp": now * 1000, "message": t} for t in texts[i:i + 10]])
    staged = staged_keys(endpoint, bucket)
    assert staged, "Firehose delivered nothing to the staging bucket"
    assert all(k.startswith("aws-spans/") and k.count("/") == 5 for k in staged), staged

    # Before the switch, X-Ray held the day's first hour; and it indexed one trace that
    # Transaction Search also holds.
    morning = (hour // 86400) * 86400 + 60 if hour % 86400 >= HOUR else None
    xray_docs = []
    if morning is not None:
        xray_docs.append(json.dumps({
            "name": "vaultlink-api", "id": "70de5b6f19ff9a0a", "trace_id": f"1-{morning:08x}-a006649127e371903a2de979",
            "start_time": morning + 0.25, "end_time": morning + 0.75,
            "annotations": {"PaymentId": "pay_before_switch"}}))
    shared = xray_id(records[0]["traceId"])
    xray_docs.append(json.dumps({
        "name": "indexed-copy", "id": "70de5b6f19ff9a0b", "trace_id": shared,
        "start_time": hour + 61.25, "end_time": hour + 61.75}))
    put_segments(endpoint, xray_docs)

    xray = client("xray", endpoint)
    archive = S3Archive(endpoint, locked_bucket(endpoint, "archive"), "prod")
    staging_url = f"s3://{bucket}/aws-spans/"
    export = ("export", "--source", "xray", "--archive", archive.url, "--seal-after", "0",
              "--from", day, "--to", day, "--json")
    xray.update_trace_segment_destination(Destination="CloudWatchLogs")
    try:
        # Without a staging prefix, Transaction Search on is an error that says what to set.
        res = run_cli(binary, endpoint, *export, check=False)
        assert res.returncode != 0
        assert "XRAY_ARCHIVE_STAGING_URL" in res.stderr and "CloudWatch Logs" in res.stderr, res.stderr
        assert not archive.keys("v1/"), "nothing is archived"

        res = run_cli(binary, endpoint, *export, "--staging", staging_url,
                      env={"XRAY_ARCHIVE_STAGING_LATE_HOURS": "26"})
    finally:
        xray.update_trace_segment_destination(Destination="XRay")
    report = json.loads(res.stdout)
    assert report["destination"] == "CloudWatchLogs"
    assert report["source"] == "aws-spans+xray"
    traces_in_sample = {xray_id(r["traceId"]) for r in records}
    assert report["days"][0]["traces"] == len(traces_in_sample) + (morning is not None)
    assert report["staging"]["objects"] == len(staged)
    assert report["staging"]["late_spans"] == 0

    # Read back with pyarrow: every record byte for byte, each completed span once.
    segments = archive.rows("segments")
    by_format = collections.defaultdict(list)
    for r in segments:
        by_format[r["format"]].append(r)
    assert sorted(r["document"] for r in by_format["aws-spans"]) == sorted(texts)
    xray_rows = by_format["xray"]
    assert [r["trace_id"] for r in xray_rows] == ([f"1-{morning:08x}-a006649127e371903a2de979"] if morning else [])
    assert all(r["trace_id"] != shared for r in xray_rows), "a trace both hold comes from staging"

    completed = {(xray_id(r["traceId"]), r["spanId"]): r for r in records if r.get("endTimeUnixNano") is not None}
    spans = [s for s in archive.rows("spans") if s["trace_id"] in traces_in_sample]
    got = collections.Counter((s["trace_id"], s["id"]) for s in spans)
    assert set(got) == set(completed)
    assert max(got.values()) == 1, "no span twice"
    for s in spans:
        r = completed[(s["trace_id"], s["id"])]
        assert s["start_us"] == int(r["startTimeUnixNano"]) // 1000
        assert s["end_us"] == int(r["endTimeUnixNano"]) // 1000
    # Staging is read, never written or deleted.
    assert staged_keys(endpoint, bucket) == staged

