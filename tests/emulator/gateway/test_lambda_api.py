"""The Lambda Invoke API, called with boto3 as handlers call it: sync, async, throttling."""

import json
import threading
import time

import httpx
import pytest

from emulator.core.async_retries import AsyncRetryPolicy
from emulator.stack import StackThread
from tests.support import aws_client, stack_config, write_service

HANDLERS = """
import json
import time

def add(event, context):
    return event["a"] + event["b"]

def fail(event, context):
    with open(event["attempts"], "a") as log:
        log.write("attempt\\n")
    with open(event["attempts"]) as log:
        attempts = len(log.readlines())
    if attempts <= event["failures"]:
        raise RuntimeError(f"failure {attempts}")
    return "finally"

def nap(event, context):
    time.sleep(0.4)
    return {"statusCode": 200, "body": "rested"}

def shapeless(event, context):
    return {1, 2}
"""

FUNCTIONS = """
add: {handler: app.add}
fail: {handler: app.fail}
nap:
  handler: app.nap
  events: [{http: GET nap}]
shapeless: {handler: app.shapeless}
"""

RETRIES = AsyncRetryPolicy(error_delays=(1.0, 2.0), throttle_delay=1.0)


@pytest.fixture(scope="module")
def stack(moto_server, tmp_path_factory):
    path = write_service(tmp_path_factory.mktemp("lambdaapi"), HANDLERS, FUNCTIONS)
    config = stack_config(
        moto_server.endpoint_url,
        service_path=path,
        lambda_concurrency=1,
        async_retries=RETRIES,
    )
    with StackThread(config) as running:
        yield running


@pytest.fixture(scope="module")
def lam(stack):
    return aws_client("lambda", stack.http_url, read_timeout=30)


def name(function: str) -> str:
    return f"inline-dev-{function}"


def wait_idle(stack):
    deadline = time.monotonic() + 10
    while (stack.runtime.running or stack.invoker.pending) and time.monotonic() < deadline:
        time.sleep(0.01)


def test_request_response_returns_the_result_by_name_or_arn(lam):
    answer = lam.invoke(FunctionName=name("add"), Payload=json.dumps({"a": 2, "b": 3}))
    assert answer["StatusCode"] == 200
    assert json.loads(answer["Payload"].read()) == 5
    assert answer["ExecutedVersion"] == "$LATEST"
    arn = f"arn:aws:lambda:us-east-1:000000000000:function:{name('add')}"
    assert (
        json.loads(lam.invoke(FunctionName=arn, Payload=b'{"a": 1, "b": 1}')["Payload"].read()) == 2
    )


def test_function_errors_are_reported_in_the_payload_with_function_error(lam):
    answer = lam.invoke(FunctionName=name("add"), Payload=b'{"a": 1}')
    assert answer["FunctionError"] == "Unhandled"
    error = json.loads(answer["Payload"].read())
    assert (error["errorType"], error["errorMessage"]) == ("KeyError", "'b'")
    marshal = lam.invoke(FunctionName=name("shapeless"))
    assert json.loads(marshal["Payload"].read())["errorType"] == "Runtime.MarshalError"


def test_bad_requests_get_lambdas_exceptions(lam):
    with pytest.raises(lam.exceptions.ResourceNotFoundException, match="Function not found"):
        lam.invoke(FunctionName="nothing-here")
    with pytest.raises(lam.exceptions.InvalidRequestContentException):
        lam.invoke(FunctionName=name("add"), Payload=b"{not json")
    with pytest.raises(lam.exceptions.RequestTooLargeException):
        lam.invoke(
            FunctionName=name("add"), InvocationType="Event", Payload=b'"' + b"x" * 1_100_000 + b'"'
        )
    assert lam.invoke(FunctionName=name("add"), InvocationType="DryRun")["StatusCode"] == 204


def test_async_events_are_accepted_at_once_and_retried_twice_on_error(stack, lam, tmp_path):
    wait_idle(stack)
    stack.metrics.reset()
    recovering, hopeless = tmp_path / "recovering", tmp_path / "hopeless"
    for path, failures in ((recovering, 2), (hopeless, 5)):
        answer = lam.invoke(
            FunctionName=name("fail"),
            InvocationType="Event",
            Payload=json.dumps({"attempts": str(path), "failures": failures}),
        )
        assert answer["StatusCode"] == 202
    wait_idle(stack)
    assert recovering.read_text().count("attempt") == 3  # failed, failed, succeeded
    assert hopeless.read_text().count("attempt") == 3  # the first try and two retries, no more
    events = stack.metrics.snapshot()["lambda"]["functions"][name("fail")]["async_events"]
    assert events["accepted"] == 2
    assert events["retried"] == 4
    assert events["delivered"] == 1
    assert events["dropped"] == 1


def test_concurrency_limit_throttles_sync_calls_and_delays_async_ones(stack, lam, tmp_path):
    wait_idle(stack)
    stack.metrics.reset()
    busy = threading.Thread(target=lam.invoke, kwargs={"FunctionName": name("nap")})
    busy.start()
    deadline = time.monotonic() + 5
    while not stack.runtime.running and time.monotonic() < deadline:
        time.sleep(0.005)
    try:
        with pytest.raises(lam.exceptions.TooManyRequestsException):
            lam.invoke(FunctionName=name("add"), Payload=b'{"a": 1, "b": 2}')
        rest = httpx.get(f"{stack.rest_url}/nap", timeout=10)
        assert rest.status_code == 500  # a proxy integration cannot pass Lambda's 429 on
        assert rest.json() == {"message": "Internal server error"}
        marker = tmp_path / "later"
        queued = lam.invoke(
            FunctionName=name("fail"),
            InvocationType="Event",
            Payload=json.dumps({"attempts": str(marker), "failures": 0}),
        )
        assert queued["StatusCode"] == 202
    finally:
        busy.join()
    wait_idle(stack)
    assert marker.read_text().count("attempt") == 1  # delivered once the concurrency was free
    functions = stack.metrics.snapshot()["lambda"]["functions"]
    assert functions[name("add")]["throttles"] == 1
    assert functions[name("fail")]["async_events"]["throttled"] >= 1
    assert functions[name("fail")]["async_events"]["delivered"] == 1
