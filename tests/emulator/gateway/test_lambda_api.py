"""The Lambda Invoke API: sync and async invocations, errors, throttling, async retries.

The answers' shapes are checked with boto3, as handlers call the API, on a real stack; what is
about time (retries one and two minutes apart, throttled events tried again with a growing
wait, a busy function's concurrency) runs on a virtual clock with in-loop handlers
(tests/virtual.py) and is asserted to the second, at AWS's own delays.
"""

import asyncio
import json

import aiohttp
import botocore.session
import pytest
from botocore.parsers import create_parser

from emulator.stack import StackThread
from tests.support import aws_client, sigv4_headers, stack_config, write_service
from tests.virtual import run_virtual, service_file, virtual_stack

EXACT = 1e-6  # the virtual clock's resolution: float rounding, not a tolerance for lateness
INVOKE = "/2015-03-31/functions/{name}/invocations"

HANDLERS = """
def add(event, context):
    return event["a"] + event["b"]

def shapeless(event, context):
    return {1, 2}
"""

FUNCTIONS = """
add: {handler: app.add}
shapeless: {handler: app.shapeless}
"""


def name(function: str) -> str:
    return f"inline-dev-{function}"


@pytest.fixture(scope="module")
def lam(moto_server, tmp_path_factory):
    path = write_service(tmp_path_factory.mktemp("lambdaapi"), HANDLERS, FUNCTIONS)
    with StackThread(stack_config(moto_server.endpoint_url, service_path=path)) as stack:
        yield aws_client("lambda", stack.http_url, read_timeout=30)


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


# On a virtual clock: in-loop handlers that note when each attempt came, and with what id.

VIRTUAL_FUNCTIONS = """
add: {handler: app.add}
fail: {handler: app.fail}
nap:
  handler: app.nap
  timeout: 30
  events: [{http: GET nap}]
"""


class Attempts:
    """The in-loop handlers of VIRTUAL_FUNCTIONS; ``fail`` notes each attempt per ``key``,
    ``nap`` says when it has started."""

    def __init__(self) -> None:
        self.seen: dict[str, list[tuple[float, str]]] = {}
        self.napping = asyncio.Event()

    def handlers(self) -> dict:
        async def add(event, context):
            return event["a"] + event["b"]

        async def fail(event, context):
            attempts = self.seen.setdefault(event["key"], [])
            attempts.append((asyncio.get_running_loop().time(), context.aws_request_id))
            if len(attempts) <= event["failures"]:
                raise RuntimeError(f"failure {len(attempts)}")
            return "finally"

        async def nap(event, context):
            self.napping.set()
            await context.sleep(10)
            return {"statusCode": 200, "body": "rested"}

        return {"add": add, "fail": fail, "nap": nap}


class Answer:
    def __init__(self, status: int, headers, body: bytes, at: float) -> None:
        self.status, self.headers, self.body, self.at = status, headers, body, at


async def invoke(stack, http, function: str, payload: dict, invocation_type="RequestResponse"):
    """POST to the Invoke API as boto3 would, signed."""
    url = stack.http_url + INVOKE.format(name=name(function))
    data = json.dumps(payload).encode()
    headers = sigv4_headers(
        "POST", url, data, service="lambda", headers={"X-Amz-Invocation-Type": invocation_type}
    )
    async with http.post(url, data=data, headers=headers) as response:
        body = await response.read()
    return Answer(response.status, response.headers, body, asyncio.get_running_loop().time())


def run(tmp_path, scenario, attempts: Attempts, concurrency: int = 1000):
    path = service_file(tmp_path, VIRTUAL_FUNCTIONS)

    async def main():
        async with (
            virtual_stack(path, attempts.handlers(), concurrency=concurrency) as stack,
            aiohttp.ClientSession() as http,
        ):
            answer = await scenario(stack, http)
            # Polled once an emulated second: each poll of a virtual loop costs real time.
            await stack.idle(timeout_s=3600, poll_s=1.0)
            return answer, stack.metrics.snapshot()

    return run_virtual(main)


def boto3_error_code(answer: Answer) -> str:
    """The exception boto3 would raise for ``answer``, parsed by botocore as an Invoke reply."""
    model = botocore.session.get_session().get_service_model("lambda")
    parser = create_parser(model.metadata["protocol"])
    response = {"status_code": answer.status, "headers": answer.headers, "body": answer.body}
    parsed = parser.parse(response, model.operation_model("Invoke").output_shape)
    return parsed["Error"]["Code"]


def test_async_events_are_accepted_at_once_and_retried_after_one_then_two_minutes(tmp_path):
    """AWS: "by default Lambda attempts to run it two more times, with a one-minute wait between
    the first two attempts, and two minutes between the second and third attempts", every
    attempt under the request id Invoke answered with."""
    attempts = Attempts()

    async def scenario(stack, http):
        started = asyncio.get_running_loop().time()
        answers = {
            key: await invoke(stack, http, "fail", {"key": key, "failures": failures}, "Event")
            for key, failures in (("recovering", 2), ("hopeless", 5))
        }
        return started, answers

    (started, answers), metrics = run(tmp_path, scenario, attempts)
    for key, answer in answers.items():
        assert answer.status == 202
        assert answer.at == pytest.approx(started, abs=EXACT)  # accepted at once
        seen = attempts.seen[key]
        # The first try and two retries, no more: failed, failed, then succeeded (recovering)
        # or failed (hopeless, dropped).
        assert [at - started for at, _ in seen] == pytest.approx([0.0, 60.0, 180.0], abs=EXACT)
        assert {request_id for _, request_id in seen} == {answer.headers["x-amzn-RequestId"]}
    events = metrics["lambda"]["functions"][name("fail")]["async_events"]
    assert events == {"accepted": 2, "retried": 4, "delivered": 1, "dropped": 1}


def test_concurrency_limit_throttles_sync_calls_and_delays_async_ones(tmp_path):
    """With one unit of concurrency taken for 10 s: a sync Invoke gets 429, the REST route a
    500, and an async event is tried again 1, 2, 4 and 8 s later ("the retry interval increases
    exponentially from 1 second"), so it runs at 15 s, the first try after the 10 s nap."""
    attempts = Attempts()

    async def scenario(stack, http):
        loop = asyncio.get_running_loop()
        started = loop.time()
        busy = asyncio.ensure_future(invoke(stack, http, "nap", {}))
        await attempts.napping.wait()  # no loop time passes: the nap starts at 0 s
        throttled = await invoke(stack, http, "add", {"a": 1, "b": 2})
        async with http.get(f"{stack.rest_url}/nap") as response:
            rest = (response.status, await response.json(), loop.time() - started)
        queued = await invoke(stack, http, "fail", {"key": "later", "failures": 0}, "Event")
        return started, await busy, throttled, rest, queued

    (started, busy, throttled, rest, queued), metrics = run(
        tmp_path, scenario, attempts, concurrency=1
    )
    assert throttled.status == 429
    assert throttled.at == pytest.approx(started, abs=EXACT)
    assert boto3_error_code(throttled) == "TooManyRequestsException"
    assert json.loads(throttled.body)["Reason"] == (
        "ReservedFunctionConcurrentInvocationLimitExceeded"
    )
    # A proxy integration cannot pass Lambda's 429 on: the client gets a 500, at once.
    assert rest == (500, {"message": "Internal server error"}, pytest.approx(0.0, abs=EXACT))
    assert queued.status == 202
    assert (busy.status, json.loads(busy.body)) == (200, {"statusCode": 200, "body": "rested"})
    assert busy.at - started == pytest.approx(10.0, abs=EXACT)
    (delivered,) = attempts.seen["later"]  # delivered once the concurrency was free
    assert delivered[0] - started == pytest.approx(1 + 2 + 4 + 8, abs=EXACT)
    functions = metrics["lambda"]["functions"]
    assert functions[name("add")]["throttles"] == 1
    assert functions[name("fail")]["async_events"] == {
        "accepted": 1,
        "delivered": 1,
        "throttled": 4,  # at 0, 1, 3 and 7 s
    }
