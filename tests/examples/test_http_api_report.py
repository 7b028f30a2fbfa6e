"""examples/http-api-report: the bundled report handler behind an HTTP API, with reportclient.

Real handlers in execution environments against the session's moto server, at HANDLER_SCALE: a
5 s report's URL downloads the CSV; a 40 s report (``timeout: 900``) gets the HTTP API's
``503 {"message":"Service Unavailable"}`` at 30 s (never early) and its Lambda runs on to the end.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from emulator.stack import StackThread
from reportclient import Endpoints, fetch_report
from tests.support import HANDLER_SCALE, stack_config

SERVICE = Path(__file__).resolve().parents[2] / "examples" / "http-api-report" / "serverless.yml"
FUNCTION = "timeoutlab-http-api-reports-dev-generateReport"


@pytest.fixture(scope="module")
def stack(moto_server):
    config = stack_config(
        moto_server.endpoint_url, service_path=SERVICE, time_scale=HANDLER_SCALE, prewarm=True
    )
    with StackThread(config) as running:
        yield running


def fetch(stack, delay_s):
    endpoints = Endpoints(stack.rest_url, stack.ws_url, http_api_url=stack.http_api_url)
    definition = {"delay": int(delay_s * 1000), "amountOfRows": 7}
    return fetch_report("rest", endpoints, definition, time_scale=HANDLER_SCALE)


def test_a_5_s_report_arrives_over_the_http_api(stack):
    result = fetch(stack, 5)
    assert result.ok, result.failure
    assert httpx.get(result.url).text.count("\n") == 8  # header + 7 rows
    stack.wait_idle()
    metrics = stack.metrics.snapshot()
    assert metrics["http_api"]["routes"]["POST /reports"]["status_counts"]["200"] >= 1
    assert metrics["rest"]["requests"] == 0


def test_a_40_s_report_gets_503_at_30_s_and_the_lambda_runs_on(stack):
    stack.wait_idle()
    stack.metrics.reset()
    result = fetch(stack, 40)
    assert result.failure is not None
    assert result.failure.kind == "gateway_timeout"
    assert result.failure.status == 503
    assert result.failure.detail == '{"message":"Service Unavailable"}'
    assert result.costs.time_to_result_s >= 30  # never early
    # 10 emulated s (0.5 s real) separate the 503 from the Lambda's end, which a loaded machine
    # can let pass before this reads the figures: either it still runs, counted as running after
    # its caller left, or it has ended, its run after the 503 counted (below).
    running = stack.metrics.snapshot()["lambda"]["functions"][FUNCTION]
    assert running["running_after_caller_gone"] == running["running"], running
    stack.wait_idle()
    done = stack.metrics.snapshot()["lambda"]["functions"][FUNCTION]
    assert done["outcomes"] == {"success": 1}
    assert done["duration_ms"] >= 40_000
    assert 0 < done["after_caller_gone_ms"] < done["duration_ms"]  # it ran on after the 503
