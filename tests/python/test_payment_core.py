"""payment-core from the outside: the `vaultlink` Lambda binary served real API Gateway and
SQS events (through a stand-in of the Lambda Runtime API) against moto's DynamoDB and SQS,
a local Stripe and Prism, and a UDP listener in the X-Ray daemon's place; the simulator's
documents archived losslessly by `xray-archive export`, from files and through moto's
X-Ray; and `xray-archive demo` with its options."""

import datetime
import hashlib
import hmac
import http.server
import json
import re
import socket
import subprocess
import threading
import time

import pyarrow.dataset as ds
import pytest

from xray_support import RuntimeApi, card_numbers, cli_env, client, run_cli, unique

class Recorder:
    """A local HTTP endpoint answering every POST with a fixed status and body, and keeping
    what it received (Stripe and Prism stand-ins)."""

    def __init__(self, status: int, body: dict):
        self.requests = []
        rec = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                data = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                rec.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}, data))
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("request-id", "req_local_1")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"


class Daemon:
    """The X-Ray daemon's UDP port: collects datagrams."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(10)
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"

    def receive(self, n: int) -> list[dict]:
        docs = []
        for _ in range(n):
            data = self.sock.recv(65536).decode()
            header, body = data.split("\n", 1)
            assert json.loads(header) == {"format": "json", "version": 1}
            docs.append(json.loads(body))
        return docs


def apigw_event(method: str, path: str, headers: dict, body: str | None) -> dict:
    return {
        "resource": path, "path": path, "httpMethod": method, "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None, "multiValueQueryStringParameters": None,
        "pathParameters": None, "stageVariables": None,
        "requestContext": {"accountId": "123456789012", "resourceId": "abc", "stage": "prod",
                           "requestId": "r-1", "identity": {"sourceIp": "203.0.113.7"},
                           "resourcePath": path, "httpMethod": method, "apiId": "a1b2c3d4e5"},
        "body": body, "isBase64Encoded": False,
    }


def lambda_env(endpoint, function, **extra):
    return {
        **cli_env(endpoint),
        "AWS_LAMBDA_FUNCTION_NAME": function,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_STREAM_NAME": "test",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function}",
        **extra,
    }


SECRET = "whsec_test_local"
RAW_CUSTOMER = "cus_NffrFeUfNV2Hib"


@pytest.fixture
def aws(moto):
    ddb = client("dynamodb", moto["clean"])
    # Underscores: a name like payments-2500-629279271 would read as a card number (the
    # queues' too: their URLs are in the documents).
    table = unique("payments").replace("-", "_")
    ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    sqs = client("sqs", moto["clean"])
    dlq = sqs.create_queue(QueueName=unique("prism-dlq").replace("-", "_"))["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue = sqs.create_queue(QueueName=unique("prism").replace("-", "_"), Attributes={
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"})})["QueueUrl"]
    return {"ddb": ddb, "sqs": sqs, "table": table, "queue": queue, "dlq": dlq}


def test_lambda_functions_over_moto_send_subsegments_to_the_daemon(vaultlink, moto, aws):
    stripe = Recorder(200, {"id": "pi_3MtwBwLkdIwHu7ix28a3tqPa", "status": "processing"})
    prism = Recorder(503, {"error": "upstream connect error"})
    daemon = Daemon()
    env = dict(PAYMENTS_TABLE=aws["table"], PRISM_QUEUE_URL=aws["queue"], PRISM_DLQ_URL=aws["dlq"],
               PRISM_URL=prism.url + "/v2/notifications", STRIPE_API_BASE=stripe.url,
               STRIPE_API_KEY="sk_test_local", STRIPE_WEBHOOK_SECRET=SECRET,
               CUSTOMER_HASH_KEY="key-1", AWS_XRAY_DAEMON_ADDRESS=daemon.address)

    key = "idem-lambda-1"
    payment_id = "pay_" + hashlib.sha256(key.encode()).hexdigest()[:24]
    create = apigw_event("POST", "/payments", {"Idempotency-Key": key, "X-Correlation-Id": "corr-lambda-1"},
                         json.dumps({"amount": 2500, "currency": "gbp", "customer_id": RAW_CUSTOMER,
                                     "payment_method": "pm_card_visa"}))
    event = json.dumps({"id": "evt_lambda_1", "type": "payment_intent.succeeded", "created": int(time.time()),
                        "data": {"object": {"id": "pi_3MtwBwLkdIwHu7ix28a3tqPa", "status": "succeeded",
                                            "metadata": {"payment_id": payment_id,
                                                         "correlation_id": "corr-lambda-1"}}}})
    t = int(time.time())
    sig = hmac.new(SECRET.encode(), f"{t}.{event}".encode(), hashlib.sha256).hexdigest()
    webhook = apigw_event("POST", "/webhooks/stripe", {"Stripe-Signature": f"t={t},v1={sig}"}, event)
    forged = apigw_event("POST", "/webhooks/stripe", {"Stripe-Signature": f"t={t},v1={'0' * 64}"}, event)
    health = apigw_event("GET", "/health", {}, None)
    roots = ["1-69a4d300-%024x" % n for n in (1, 2, 3, 4)]
    headers = [f"Root={r};Parent={p:016x};Sampled={s}" for r, p, s in zip(roots, (0xa1, 0xa2, 0xa3, 0xa4), (1, 1, 1, 0))]
    api = RuntimeApi([("req-1", 60, create, headers[0]), ("req-2", 60, webhook, headers[1]),
                      ("req-3", 60, forged, headers[2]), ("req-4", 60, health, headers[3])],
                     function="vaultlink-api")
    results, out, err = api.run(vaultlink, lambda_env(moto["clean"], "vaultlink-api", VAULTLINK_HANDLER="api", **env), 4)
    by_id = {r[0]: r[2] for r in results}
    assert all(r[1] == "response" for r in results), (results, err)
    assert by_id["req-1"]["statusCode"] == 201, by_id["req-1"]
    assert json.loads(by_id["req-1"]["body"])["payment_id"] == payment_id
    assert by_id["req-2"]["statusCode"] == 200, by_id["req-2"]
    assert by_id["req-3"]["statusCode"] == 400
    assert by_id["req-4"]["statusCode"] == 200

    # Subsegments for the three sampled requests, none for the unsampled health check.
    docs = daemon.receive(3)
    for doc, root, parent in zip(docs, roots, (0xa1, 0xa2, 0xa3)):
        assert doc["type"] == "subsegment" and doc["trace_id"] == root and doc["parent_id"] == f"{parent:016x}"
    create_doc, hook_doc, forged_doc = docs
    assert create_doc["name"] == "CreatePayment"
    assert create_doc["annotations"]["PaymentId"] == payment_id
    assert re.fullmatch(r"[0-9a-f]{64}", create_doc["annotations"]["CustomerId"])
    subs = {s["name"]: s for s in create_doc["subsegments"]}
    assert subs["DynamoDB"]["aws"]["operation"] == "PutItem" and subs["DynamoDB"]["aws"]["table_name"] == aws["table"]
    assert subs["api.stripe.com"]["namespace"] == "remote"
    assert subs["api.stripe.com"]["http"]["request"]["url"] == stripe.url + "/v1/payment_intents"
    assert [s["aws"]["operation"] for s in hook_doc["subsegments"]] == ["GetItem", "UpdateItem", "SendMessage", "PutItem"]
    assert forged_doc["error"] is True and forged_doc["http"]["response"]["status"] == 400
    for doc in docs:
        text = json.dumps(doc)
        assert RAW_CUSTOMER not in text and not card_numbers(text)
    # Stripe was asked with the idempotency key; the table holds the settled payment.
    path, sent_headers, form = stripe.requests[0]
    assert path == "/v1/payment_intents" and sent_headers["idempotency-key"] == key
    assert f"metadata%5Bpayment_id%5D={payment_id}" in form
    item = aws["ddb"].get_item(TableName=aws["table"], Key={"pk": {"S": f"PAYMENT#{payment_id}"}})["Item"]
    assert item["status"]["S"] == "succeeded" and RAW_CUSTOMER not in json.dumps(item)
    # JSON logs on stdout, each line with its trace id.
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert lines and all(line["span"]["trace_id"] in roots for line in lines if "span" in line)
    assert any(line.get("span", {}).get("correlation_id") == "corr-lambda-1" for line in lines)

    # The message on the real queue carries the webhook's trace header and correlation id.
    msgs = aws["sqs"].receive_message(QueueUrl=aws["queue"], MaxNumberOfMessages=10, VisibilityTimeout=0,
                                      MessageAttributeNames=["All"], MessageSystemAttributeNames=["All"])["Messages"]
    assert len(msgs) == 1
    m = msgs[0]
    assert m["MessageAttributes"]["CorrelationId"]["StringValue"] == "corr-lambda-1"
    carried = dict(kv.split("=", 1) for kv in m["Attributes"]["AWSTraceHeader"].split(";"))
    assert carried["Root"] == roots[1]
    sqs_sub = next(s for s in hook_doc["subsegments"] if s["name"] == "SQS")
    assert carried["Parent"] == sqs_sub["id"]

    # The delivery function gets it as an SQS event; Prism answers 503: a batch item failure.
    record = {"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
              "attributes": {**m["Attributes"], "ApproximateReceiveCount": "3"},
              "messageAttributes": {k: {"stringValue": v["StringValue"], "dataType": "String",
                                        "stringListValues": [], "binaryListValues": []}
                                    for k, v in m["MessageAttributes"].items()},
              "md5OfBody": m["MD5OfBody"], "eventSource": "aws:sqs",
              "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:prism", "awsRegion": "us-east-1"}
    delivery_root = "1-69a4d300-%024x" % 9
    api = RuntimeApi([("req-5", 60, {"Records": [record]}, f"Root={delivery_root};Parent=00000000000000b1;Sampled=1")],
                     function="vaultlink-prism-delivery")
    results, out, err = api.run(vaultlink, lambda_env(moto["clean"], "vaultlink-prism-delivery",
                                                      VAULTLINK_HANDLER="delivery", **env), 1)
    assert results[0][1] == "response", (results, err)
    assert results[0][2]["batchItemFailures"] == [{"itemIdentifier": m["MessageId"]}]
    (deliver,) = daemon.receive(1)
    assert deliver["name"] == "DeliverToPrism" and deliver["trace_id"] == delivery_root
    assert deliver["fault"] is True and deliver["annotations"]["DeadLettered"] is True
    assert deliver["annotations"]["CorrelationId"] == "corr-lambda-1"
    assert deliver["links"] == [{"trace_id": roots[1], "id": sqs_sub["id"]}]
    assert prism.requests and prism.requests[0][1]["idempotency-key"] == payment_id


def test_lambda_names_a_missing_setting(vaultlink, moto):
    api = RuntimeApi([("req-1", 60, {})], function="vaultlink-api")
    proc = subprocess.run([str(vaultlink)], env={**lambda_env(moto["clean"], "vaultlink-api", VAULTLINK_HANDLER="api"),
                                                 "AWS_LAMBDA_RUNTIME_API": api.address},
                          capture_output=True, text=True, timeout=60)
    api.server.shutdown()
    assert proc.returncode != 0
    assert "PAYMENTS_TABLE is not set" in proc.stderr


def archived_documents(archive) -> dict:
    rows = ds.dataset(archive / "v1" / "segments", format="parquet", partitioning="hive").to_table().to_pylist()
    return {(r["trace_id"], r["segment_id"]): r["document"] for r in rows}


def emitted_documents(directory) -> dict:
    out = {}
    for f in sorted(directory.iterdir()):
        for t in json.loads(f.read_text())["Traces"]:
            for s in t["Segments"]:
                out[(t["Id"], s["Id"])] = s["Document"]
    return out


def test_simulated_documents_archive_losslessly_from_files(vaultlink, binary, tmp_path):
    traces = tmp_path / "traces"
    report = json.loads(subprocess.run([str(vaultlink), "simulate", "--out", str(traces), "--payments", "300",
                                        "--days", "2", "--seed", "9"], check=True, capture_output=True,
                                       text=True).stdout)
    emitted = emitted_documents(traces)
    assert len(emitted) == report["documents"]
    for doc in emitted.values():
        assert not card_numbers(doc) and not re.search(r"cus_[A-Za-z0-9]{8,}", doc), doc
    archive = tmp_path / "archive"
    summary = json.loads(run_cli(binary, "http://127.0.0.1:9", "export", "--source", str(traces), "--archive",
                                 str(archive), "--json").stdout)
    assert summary["quarantined"] == [] and summary["traces"] == report["traces"]
    assert archived_documents(archive) == emitted


def day_of(epoch: int) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%d")


def test_simulated_traffic_through_xray_put_trace_segments(vaultlink, binary, moto, tmp_path):
    day = int(time.time()) // 86400 * 86400 - 14 * 86400
    env = cli_env(moto["clean"])
    report = json.loads(subprocess.run([str(vaultlink), "simulate", "--xray", "--payments", "20", "--days", "1",
                                        "--seed", "20261201", "--start", str(day)],
                                       check=True, capture_output=True, text=True, env=env).stdout)
    out = run_cli(binary, moto["clean"], "export", "--source", "xray", "--archive", str(tmp_path / "a"),
                  "--seal-after", "0", "--from", day_of(day), "--to", day_of(day + 86400), "--json")
    summary = json.loads(out.stdout)
    assert summary["traces"] == report["traces"] and summary["quarantined"] == 0, summary
    assert [(d["day"], d["status"]) for d in summary["days"]] == [(day_of(day), "sealed"), (day_of(day + 86400), "sealed")]
    payment = report["scenarios"]["success"][0]
    story = json.loads(run_cli(binary, moto["clean"], "lookup", "--archive", str(tmp_path / "a"),
                               "--payment-id", payment, "--format", "json").stdout)
    assert [t["stage"] for t in story["traces"]] == ["creation", "webhook", "prism delivery"]


def test_demo_tells_each_scenarios_story_and_is_repeatable(binary, tmp_path):
    archive = tmp_path / "demo"
    args = [str(binary), "demo", "--archive", str(archive), "--payments", "400", "--days", "2", "--seed", "5"]
    first = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr
    text = first.stdout
    for line in ("card declined", "webhook never delivered (scenario 1)",
                 "payment-store update failed (scenario 2)", "Prism delivery failed into the DLQ (scenario 3)",
                 "Stripe retried a webhook", "slow payment (over 3 s)",
                 "Saved query charged_but_pending", "Saved query prism_dlq", "<-- FIRST FAILURE"):
        assert line in text, line
    scenario_2 = re.search(r"scenario 2\)\s+\d+\s+(pay_[0-9a-f]{24})\s+pending", text).group(1)
    looked = subprocess.run([str(binary), "lookup", "--archive", str(archive), "--payment-id", scenario_2],
                            capture_output=True, text=True)
    assert looked.returncode == 0 and "UpdateItem fault" in looked.stdout
    spans = ds.dataset(archive / "v1" / "spans", format="parquet", partitioning="hive").to_table()
    assert spans.num_rows > 5000
    again = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0
    assert "already archived byte for byte" in again.stdout
    assert ds.dataset(archive / "v1" / "spans", format="parquet", partitioning="hive").to_table().num_rows == spans.num_rows
