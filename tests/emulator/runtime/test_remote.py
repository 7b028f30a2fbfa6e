"""The remote-Lambda mode end to end on MiniStack, a separate process: the handlers deployed as
real Lambda functions and run in MiniStack's Lambda, S3 and DynamoDB on MiniStack too (the
external-endpoint mode), and this emulator still the gateway in front: REST is cut at 29 s while
the function runs on, and the WebSocket delivers the 40 s report."""

import asyncio
import json
import logging
import math
import time
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from emulator.backends.endpoint import Backend
from emulator.backends.lambda_deploy import code_sha256, deploy, package
from emulator.backends.moto_server import free_port
from emulator.cli import banner
from emulator.clock import ScaledClock
from emulator.metrics import Metrics
from emulator.runtime.invocation import InvocationResult
from emulator.runtime.remote import RemoteRuntime
from emulator.service import default_service_path, load_service
from emulator.stack import StackThread
from tests.support import aws_client, stack_config, write_service

#: Remote invocations pay real cold starts (about 0.5 s, three times that on a busy machine): at
#: this scale the 29 s integration timeout is 2.9 s of real time, well above them.
SCALE = 0.1
REPORT_FUNCTION = "timeoutlab-reports-dev-generateReport"


@pytest.fixture(scope="module")
def stack(ministack):
    config = stack_config(ministack.endpoint_url, lambda_mode="remote", time_scale=SCALE)
    with StackThread(config) as running:
        yield running


def settled(stack, function: str) -> dict:
    """The function's figures once nothing runs any more (remote cold starts included)."""
    stack.wait_idle(timeout_s=60)
    return stack.metrics.snapshot()["lambda"]["functions"].get(function, {})


def test_every_function_is_deployed_on_the_backend_as_serverless_yml_says(stack, ministack):
    lambdas = aws_client("lambda", ministack.endpoint_url)
    deployed = {f["FunctionName"] for f in lambdas.list_functions()["Functions"]}
    assert {spec.name for spec in stack.service.functions.values()} <= deployed
    config = lambdas.get_function(FunctionName=REPORT_FUNCTION)["Configuration"]
    assert (config["Handler"], config["Runtime"], config["MemorySize"]) == (
        "report.handler",
        "python3.12",
        1024,
    )
    # Its own timeout, serverless.yml's on the scaled clock.
    spec = next(s for s in stack.service.functions.values() if s.name == REPORT_FUNCTION)
    assert config["Timeout"] == math.ceil(spec.timeout * SCALE)
    assert config["CodeSha256"] == code_sha256(package(stack.service.directory))
    variables = config["Environment"]["Variables"]
    assert variables["AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI"] == stack.connections_url
    assert variables["AWS_ENDPOINT_URL_LAMBDA"] == stack.http_url
    assert variables["AWS_ENDPOINT_URL"] == ministack.endpoint_url
    assert float(variables["TIMEOUTLAB_TIME_SCALE"]) == SCALE
    assert variables["REPORTS_BUCKET"] == "timeoutlab-reports-dev"
    assert "AWS_ACCESS_KEY_ID" not in variables  # reserved: Lambda sets it


def test_rest_delivers_a_5_s_report_written_to_the_backends_s3(stack, ministack):
    response = httpx.post(
        f"{stack.rest_url}/reports", json={"delay": 5000, "amountOfRows": 4}, timeout=30
    )
    assert response.status_code == 200, response.text
    url = response.json()["url"]
    assert url.startswith(f"{ministack.endpoint_url}/timeoutlab-reports-dev/reports/")
    csv = httpx.get(url, timeout=10)
    assert csv.status_code == 200
    assert csv.text.splitlines()[0] == "id,customer,amount,created_at"
    assert len(csv.text.splitlines()) == 5

    # MiniStack's folder for the function it ran is in the test's private temporary folder, which
    # closing MiniStack removes (test runs leave nothing of MiniStack's in /tmp)
    assert list(Path(ministack.tmp).glob(f"ministack-lambda-{REPORT_FUNCTION}-*"))


def test_rest_is_cut_at_29_s_while_the_remote_function_runs_on(stack):
    before = stack.metrics.snapshot()["lambda"]["functions"].get(REPORT_FUNCTION, {})
    started = time.monotonic()
    response = httpx.post(
        f"{stack.rest_url}/reports", json={"delay": 40000, "amountOfRows": 4}, timeout=30
    )
    emulated = (time.monotonic() - started) / SCALE
    assert response.status_code == 504
    assert response.json() == {"message": "Endpoint request timed out"}
    assert emulated >= 29  # never early
    figures = settled(stack, REPORT_FUNCTION)
    assert figures["invocations"] == before.get("invocations", 0) + 1
    assert figures["outcomes"].get("success", 0) > before.get("outcomes", {}).get("success", 0)
    # It ran to its end in MiniStack's Lambda, after the gateway had given up: wasted.
    assert figures["wasted_ms"] - before.get("wasted_ms", 0) >= 40_000


def test_the_websocket_delivers_the_40_s_report_from_the_remote_lambda(stack, ministack):
    with connect(stack.ws_url, open_timeout=30) as ws:
        ws.send(json.dumps({"action": "generateReport", "delay": 40000, "amountOfRows": 4}))
        accepted = json.loads(ws.recv(timeout=30))
        assert accepted["status"] == "accepted"
        pushed = json.loads(ws.recv(timeout=30))
    assert pushed["jobId"] == accepted["jobId"]
    assert httpx.get(pushed["url"], timeout=10).status_code == 200
    # The job's state lives in the backend's DynamoDB, written by the functions running there.
    jobs = aws_client("dynamodb", ministack.endpoint_url)
    item = jobs.get_item(TableName="timeoutlab-jobs-dev", Key={"jobId": {"S": accepted["jobId"]}})[
        "Item"
    ]
    assert item["status"]["S"] == "succeeded"
    figures = settled(stack, "timeoutlab-reports-dev-deliverReport")
    assert figures["invocations"] >= 1
    assert figures["async_events"]


def test_deploying_again_updates_the_functions_in_place(stack, ministack):
    lambdas = aws_client("lambda", ministack.endpoint_url)
    before = lambdas.get_function(FunctionName=REPORT_FUNCTION)["Configuration"]
    environment = {**stack.runtime.environment, "EXTRA": "yes"}
    deploy(stack.service, stack.backend, environment, SCALE)
    after = lambdas.get_function(FunctionName=REPORT_FUNCTION)["Configuration"]
    assert after["CodeSha256"] == before["CodeSha256"]
    assert after["Environment"]["Variables"]["EXTRA"] == "yes"
    deploy(stack.service, stack.backend, stack.runtime.environment, SCALE)
    again = lambdas.get_function(FunctionName=REPORT_FUNCTION)["Configuration"]
    assert "EXTRA" not in again["Environment"]["Variables"]


def test_a_remote_function_that_fails_or_times_out_is_a_502_and_the_emulator_serves_on(
    ministack, tmp_path
):
    service = write_service(
        tmp_path,
        """
        import time

        def fail(event, context):
            raise ValueError("no such customer")

        def slow(event, context):
            time.sleep(3)  # past its own 1 s timeout on the backend
            return {"statusCode": 200, "body": "late"}

        def fine(event, context):
            return {"statusCode": 200, "body": "ok"}
        """,
        """
        fail:
          handler: app.fail
          events: [{http: "GET fail"}]
        slow:
          handler: app.slow
          timeout: 1
          events: [{http: "GET slow"}]
        fine:
          handler: app.fine
          events: [{http: "GET fine"}]
        """,
        extra="custom:\n  timeoutlab:\n    integrationTimeout: 29\n",
    )
    config = stack_config(
        ministack.endpoint_url, lambda_mode="remote", time_scale=1.0, service_path=service
    )
    with StackThread(config) as stack:
        for route in ("fail", "slow"):
            response = httpx.get(f"{stack.rest_url}/{route}", timeout=30)
            assert response.status_code == 502, route
            assert response.json() == {"message": "Internal server error"}
        assert httpx.get(f"{stack.rest_url}/fine", timeout=30).text == "ok"
        functions = stack.metrics.snapshot()["lambda"]["functions"]
        assert functions["inline-dev-fail"]["errors"] == 1
        assert functions["inline-dev-slow"]["timeouts"] == 1


def test_a_backend_lambda_that_is_down_gives_an_aws_shaped_error_not_a_crash():
    async def invoke_on_a_dead_endpoint() -> InvocationResult:
        service = load_service(default_service_path())
        clock = ScaledClock(SCALE)
        backend = Backend("url", f"http://127.0.0.1:{free_port()}")
        runtime = RemoteRuntime(service, clock, Metrics(clock.now), backend, {})
        try:
            return await runtime.invoke("connect", {}).task
        finally:
            await runtime.close()

    result = asyncio.run(invoke_on_a_dead_endpoint())
    assert not result.ok
    assert "failed to invoke timeoutlab-reports-dev-connect" in result.error["errorMessage"]
    assert result.error["errorType"] == "EndpointConnectionError"
    assert result.record.outcome == "error"


def test_up_says_where_the_handlers_run_and_how_they_call_back(stack, ministack):
    said = banner(stack)
    assert f"backend   url at {ministack.endpoint_url} (S3, DynamoDB, Lambda)" in said
    assert f"they reach this emulator at {stack.connections_url}" in said
    assert stack.describe()["lambda"] == "remote"
    assert stack.describe()["backend_proxy"] is None  # the functions talk to the backend directly


def test_the_invoke_client_has_a_connection_for_every_concurrent_call():
    """A pool smaller than the calling threads makes urllib3 warn "Connection pool is full" for
    every call past it (thousands under the README's loads)."""
    clock = ScaledClock(1.0)
    backend = Backend("url", "http://127.0.0.1:9", "us-east-1")
    service = load_service(default_service_path())

    async def pool_size(concurrency: int) -> int:
        runtime = RemoteRuntime(
            service, clock, Metrics(clock.now), backend, {}, concurrency=concurrency
        )
        try:
            return runtime._client.meta.config.max_pool_connections
        finally:
            await runtime.close()

    assert asyncio.run(pool_size(1000)) == 1000
    assert asyncio.run(pool_size(3)) == 3


def test_invokes_at_once_never_fill_the_invoke_clients_connection_pool(moto_server, caplog):
    """The path that logged urllib3's "Connection pool is full" 2,845 times in one load run
    (issue 14): many Invokes at once through the remote runtime's one client. moto's Lambda
    answers each at once (404: it has no such function), every answer hands its connection back
    to the pool, and none is discarded (with boto3's default pool of 10, most would be)."""
    clock = ScaledClock(1.0)
    backend = Backend("url", moto_server.endpoint_url, "us-east-1")
    service = load_service(default_service_path())
    calls = 48

    async def burst() -> list[InvocationResult]:
        runtime = RemoteRuntime(service, clock, Metrics(clock.now), backend, {}, concurrency=calls)
        try:
            key = next(iter(service.functions))
            return await asyncio.gather(*(runtime.invoke(key, {}).task for _ in range(calls)))
        finally:
            await runtime.close()

    caplog.set_level(logging.WARNING, logger="urllib3")
    results = asyncio.run(burst())
    assert len(results) == calls
    assert all("ResourceNotFoundException" in str(r.error) for r in results), results[0].error
    full = [r.getMessage() for r in caplog.records if "pool is full" in r.getMessage()]
    assert not full, f"{len(full)} times: {full[0]}"
