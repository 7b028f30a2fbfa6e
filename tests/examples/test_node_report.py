"""The article in its own language: examples/node-report (Node.js handlers, AWS SDK for
JavaScript v3) run unchanged behind the emulated gateway, against the session's moto server.

The REST 40 s report gets ``504 {"message": "Endpoint request timed out"}`` at 29 s (never
early), a 5 s report's URL downloads a CSV with the rows asked for, and the WebSocket report is
pushed through @connections (its calls signed by the SDK, verified by the emulator).
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from emulator.stack import Stack, StackThread
from tests.support import TEST_SCALE, stack_config

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "node-report"
SERVICE = EXAMPLE / "serverless.yml"

pytestmark = [
    pytest.mark.skipif(
        shutil.which("node") is None,
        reason="node is not installed (`make node-packages` installs Node.js as root)",
    ),
    pytest.mark.skipif(
        not (EXAMPLE / "node_modules" / "@aws-sdk" / "client-s3").is_dir(),
        reason=f"the example's npm packages are not installed: run `make node-packages` "
        f"(npm ci in {EXAMPLE})",
    ),
]


@pytest.fixture(scope="module")
def stack(moto_server) -> Iterator[Stack]:
    """The Node.js example behind the gateway, at the test time scale, its functions warm; with
    ``--credentials``, so the SDK v3's SigV4 signatures of its Invoke and @connections calls are
    verified, not only parsed."""
    config = stack_config(
        moto_server.endpoint_url,
        service_path=SERVICE,
        time_scale=TEST_SCALE,
        credentials=("AKIDNODEEXAMPLE", "node-example-secret"),
    )
    with StackThread(config) as running, httpx.Client(timeout=60) as client:
        warm = client.post(f"{running.rest_url}/reports", json={"delay": 0, "amountOfRows": 1})
        assert warm.status_code == 200, warm.text
        yield running


def post_report(stack: Stack, delay_ms: int, rows: int) -> tuple[httpx.Response, float]:
    """The response to ``POST /reports`` and how long (emulated s) the client waited for it."""
    with httpx.Client(timeout=60) as client:
        started = time.monotonic()
        response = client.post(
            f"{stack.rest_url}/reports", json={"delay": delay_ms, "amountOfRows": rows}
        )
        return response, stack.clock.to_emulated(time.monotonic() - started)


def csv_rows(url: str) -> list[list[str]]:
    download = httpx.get(url, timeout=30)
    assert download.status_code == 200, download.text
    return list(csv.reader(io.StringIO(download.text)))


def test_a_40_s_report_gets_the_504_at_29_s_never_early(stack):
    response, elapsed = post_report(stack, 40_000, 10)
    assert response.status_code == 504
    assert response.json() == {"message": "Endpoint request timed out"}
    assert elapsed >= 29  # never early; the 504 body says the gateway, not the report, answered


def test_a_5_s_report_returns_a_presigned_url_to_a_csv_of_the_rows_asked_for(stack):
    response, elapsed = post_report(stack, 5_000, 123)
    assert response.status_code == 200, response.text
    assert elapsed >= 5
    url = response.json()["url"]
    assert "X-Amz-Expires=3600" in url  # the presigned GET lives an hour
    rows = csv_rows(url)
    assert rows[0] == ["id", "customer", "amount", "created_at"]
    assert len(rows) - 1 == 123


def test_bad_definitions_are_answered_400(stack):
    response, _ = post_report(stack, -1, 1)
    assert response.status_code == 400
    assert "'delay' must be between 0 and 900000" in response.json()["message"]


def test_the_40_s_report_is_pushed_over_the_websocket(stack):
    with connect(stack.ws_url, open_timeout=60) as ws:  # a cold Node.js $connect
        started = time.monotonic()
        ws.send(json.dumps({"action": "generateReport", "delay": 40_000, "amountOfRows": 42}))
        accepted = json.loads(ws.recv(timeout=30))
        # Within the route's integration timeout (else the gateway would have answered with its
        # timeout message): generateReport invoked the report function asynchronously.
        assert accepted == {"status": "accepted"}
        pushed = json.loads(ws.recv(timeout=60))
        elapsed = stack.clock.to_emulated(time.monotonic() - started)
        ws.send(json.dumps({"action": "deleteEverything"}))
        unsupported = json.loads(ws.recv(timeout=30))
    assert elapsed >= 40  # never early
    assert len(csv_rows(pushed["url"])) - 1 == 42
    assert unsupported["error"] == 'action "deleteEverything" is not supported'
    stack.wait_idle()
    calls = stack.metrics.snapshot()["websocket"]["management_calls"]
    assert calls.get("POST 200", 0) >= 1
