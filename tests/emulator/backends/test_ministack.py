"""The external-endpoint mode on MiniStack, a LocalStack-compatible emulator in a process of its
own: the handlers run here, S3 and DynamoDB there. (The remote-Lambda mode on it is tested in
tests/emulator/runtime/test_remote.py.)"""

import json

import httpx
import pytest
from websockets.sync.client import connect

from emulator.backends.endpoint import BackendError
from emulator.stack import StackConfig, StackThread, make_backend
from tests.ministack import BINARY, MiniStack
from tests.support import LOAD_SCALE, aws_client, stack_config


def test_local_handlers_keep_their_reports_and_connections_in_ministack(ministack):
    with StackThread(stack_config(ministack.endpoint_url, time_scale=LOAD_SCALE)) as stack:
        # A cold start (not prewarmed) and 0.5 s of report: past httpx's default 5 s timeout on
        # a loaded machine.
        ok = httpx.post(
            f"{stack.rest_url}/reports", json={"delay": 5000, "amountOfRows": 3}, timeout=60
        )
        assert ok.status_code == 200, ok.text
        assert httpx.get(ok.json()["url"], timeout=30).text.count("\n") == 4
        cut = httpx.post(
            f"{stack.rest_url}/reports", json={"delay": 40000, "amountOfRows": 3}, timeout=30
        )
        assert cut.status_code == 504
        with connect(stack.ws_url, open_timeout=60) as ws:  # $connect may cold-start
            ws.send(json.dumps({"action": "generateReport", "delay": 40000, "amountOfRows": 3}))
            job = json.loads(ws.recv(timeout=30))["jobId"]
            assert "url" in json.loads(ws.recv(timeout=30))
            connections = aws_client("dynamodb", ministack.endpoint_url).scan(
                TableName="timeoutlab-connections-dev"
            )["Items"]
            assert len(connections) == 1  # this connection, kept in MiniStack's DynamoDB
        item = aws_client("dynamodb", ministack.endpoint_url).get_item(
            TableName="timeoutlab-jobs-dev", Key={"jobId": {"S": job}}
        )["Item"]
        assert item["status"]["S"] == "succeeded"
        # The PUTs: the cut report's is made after its 504 by the Lambda that ran on, which
        # nothing above waited for.
        stack.wait_idle()
        assert stack.metrics.snapshot()["backend"]["s3"]["tier1_requests"] >= 3


def test_remote_lambda_on_a_backend_without_lambda_names_the_missing_service():
    if not BINARY.exists():
        pytest.skip(f"MiniStack is not installed at {BINARY}: run `make ministack`")
    server = MiniStack(services="s3,dynamodb").start()
    try:
        config = StackConfig(backend=server.endpoint_url, lambda_mode="remote")
        with pytest.raises(BackendError, match=f"at {server.endpoint_url} does not serve lambda"):
            make_backend(config, "us-east-1")
        make_backend(StackConfig(backend=server.endpoint_url), "us-east-1")  # local is fine
    finally:
        server.close()
