"""Lambda proxy integration over real sockets, with inline handlers for each AWS rule.

The handlers run in the loop (tests/virtual.py), so the function timeout and the per-route
integration timeouts are asserted exactly on a virtual clock; how an execution environment's
process is killed at its timeout is tested in tests/emulator/runtime/test_process.py.
"""

import asyncio
import base64
import json

import aiohttp
import pytest

from tests.virtual import run_with_http, service_file

EXACT = 1e-6  # the virtual clock's resolution: float rounding, not a tolerance for lateness
INTERNAL_ERROR = {"message": "Internal server error"}


async def echo(event, context):
    return {"statusCode": 200, "body": json.dumps(event)}


async def boom(event, context):
    raise RuntimeError("handler exploded")


async def malformed(event, context):
    return {"statusCode": 200, "body": {"not": "a string"}}


async def nothing(event, context):
    return None


async def sleepy(event, context):
    await context.sleep(10)
    return {"statusCode": 200, "body": "late"}


async def dawdle(event, context):
    await context.sleep(10)
    return {"statusCode": 200, "body": "eventually"}


async def binary(event, context):
    return {
        "statusCode": 201,
        "headers": {"Content-Type": "application/octet-stream"},
        "multiValueHeaders": {"X-Tag": ["a", "b"]},
        "body": base64.b64encode(bytes(range(8))).decode(),
        "isBase64Encoded": True,
    }


HANDLERS = {
    "echo": echo,
    "boom": boom,
    "malformed": malformed,
    "nothing": nothing,
    "sleepy": sleepy,
    "dawdle": dawdle,
    "binary": binary,
}

FUNCTIONS = """
echo:
  handler: app.echo
  events:
    - http: {path: "items/{id}", method: get}
    - http: {path: items, method: post}
boom:
  handler: app.boom
  events: [{http: GET boom}]
malformed:
  handler: app.malformed
  events: [{http: GET malformed}]
nothing:
  handler: app.nothing
  events: [{http: GET nothing}]
sleepy:
  handler: app.sleepy
  timeout: 1
  events: [{http: GET sleepy}]
dawdle:
  handler: app.dawdle
  timeout: 30
  events: [{http: GET dawdle}, {http: GET dawdle/short}]
binary:
  handler: app.binary
  events: [{http: GET binary}]
"""

CUSTOM = """
custom:
  timeoutlab:
    integrationTimeout: 20
    routeTimeouts:
      GET /dawdle/short: 2
"""


class Answer:
    """What a request got, read on the loop: status, headers, body, and when it came."""

    def __init__(self, response: aiohttp.ClientResponse, body: bytes, elapsed: float) -> None:
        self.status = response.status
        self.headers = response.headers
        self.content = body
        self.elapsed = elapsed  # emulated seconds

    def json(self):
        return json.loads(self.content)


class Client:
    def __init__(self, stack, http: aiohttp.ClientSession) -> None:
        self.stack = stack
        self.http = http

    async def request(self, method: str, path: str, **kwargs) -> Answer:
        """``method`` on ``path`` under the stage (or the whole URL if it starts with http)."""
        url = path if path.startswith("http") else f"{self.stack.rest_url}/{path}"
        started = self.stack.clock.now()
        async with self.http.request(method, url, **kwargs) as response:
            body = await response.read()
        return Answer(response, body, self.stack.clock.now() - started)

    async def get(self, path: str, **kwargs) -> Answer:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs) -> Answer:
        return await self.request("POST", path, **kwargs)


def run(tmp_path, scenario):
    path = service_file(tmp_path, FUNCTIONS, extra=CUSTOM)
    return run_with_http(path, HANDLERS, lambda stack, http: scenario(Client(stack, http)))


def test_the_handler_receives_the_request_as_a_v1_proxy_event(tmp_path):
    async def scenario(c):
        headers = {"X-Trace": "t1", "User-Agent": "ua/1"}
        return await c.get("items/42?tag=a&tag=b", headers=headers), c.stack.clock.epoch()

    response, epoch = run(tmp_path, scenario)
    assert response.status == 200
    event = response.json()
    assert event["resource"] == "/items/{id}"
    assert event["path"] == "/items/42"
    assert event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"id": "42"}
    assert event["queryStringParameters"] == {"tag": "b"}
    assert event["multiValueQueryStringParameters"] == {"tag": ["a", "b"]}
    assert event["headers"]["X-Trace"] == "t1"
    assert event["body"] is None
    ctx = event["requestContext"]
    assert ctx["stage"] == "dev"
    assert ctx["path"] == "/dev/items/42"
    assert ctx["identity"]["sourceIp"] == "127.0.0.1"
    assert ctx["identity"]["userAgent"] == "ua/1"
    assert ctx["requestId"] == response.headers["x-amzn-requestid"]
    # No time passed on the virtual clock: the request's time is the clock's, to the ms.
    assert ctx["requestTimeEpoch"] == pytest.approx(epoch * 1000, abs=1)


def test_post_bodies_arrive_as_utf8_text_without_binary_media_types(tmp_path):
    raw = bytes([0xFF, 0xFE, 0x00])

    async def scenario(c):
        return await c.post("items", data=b'{"a": 1}'), await c.post("items", data=raw)

    text, binary = (answer.json() for answer in run(tmp_path, scenario))
    assert (text["body"], text["isBase64Encoded"]) == ('{"a": 1}', False)
    # No binaryMediaTypes: API Gateway passes a UTF-8 string, the bytes that are not UTF-8 lost.
    assert (binary["body"], binary["isBase64Encoded"]) == ("\ufffd\ufffd\x00", False)


def test_response_headers_status_and_base64_bodies_are_mapped(tmp_path):
    async def scenario(c):
        return await c.get("binary", headers={"Accept": "application/octet-stream"})

    response = run(tmp_path, scenario)
    assert response.status == 201
    # No binaryMediaTypes: the base64 text goes to the client as the handler returned it.
    assert response.content == base64.b64encode(bytes(range(8)))
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers.getall("X-Tag") == ["a", "b"]


@pytest.mark.parametrize("route", ["boom", "malformed", "nothing"])
def test_errors_and_malformed_results_get_502_internal_server_error(tmp_path, route):
    async def scenario(c):
        return await c.get(route)

    response = run(tmp_path, scenario)
    assert response.status == 502
    assert response.json() == INTERNAL_ERROR
    assert response.headers["x-amzn-errortype"] == "InternalServerErrorException"
    assert response.elapsed == pytest.approx(0.0, abs=EXACT)


def test_a_lambda_that_hits_its_own_timeout_first_is_a_502_at_that_timeout(tmp_path):
    async def scenario(c):
        answer = await c.get("sleepy")  # function timeout 1 s < 20 s integration timeout
        return answer, c.stack.metrics.snapshot()

    response, metrics = run(tmp_path, scenario)
    assert response.status == 502
    assert response.json() == INTERNAL_ERROR
    assert response.elapsed == pytest.approx(1.0, abs=EXACT)
    function = metrics["lambda"]["functions"]["inline-dev-sleepy"]
    assert function["outcomes"] == {"timeout": 1}
    assert function["billed_ms"] == 1_000


def test_per_route_timeouts_come_from_serverless_yml(tmp_path):
    async def scenario(c):
        config = await c.get(f"{c.stack.http_url}/_emulator/config")
        short = await c.get("dawdle/short")  # the handler needs 10 s; this route allows 2
        default = await c.get("dawdle")  # the service's 20 s
        return config.json(), short, default

    config, short, default = run(tmp_path, scenario)
    assert config["integrationTimeout"] == 20.0
    assert config["routes"]["GET /dawdle/short"] == {"integrationTimeout": 2.0, "source": "route"}
    assert config["routes"]["GET /dawdle"] == {"integrationTimeout": 20.0, "source": "default"}
    assert short.status == 504
    assert short.json() == {"message": "Endpoint request timed out"}
    assert short.elapsed == pytest.approx(2.0, abs=EXACT)
    assert (default.status, default.content) == (200, b"eventually")
    assert default.elapsed == pytest.approx(10.0, abs=EXACT)


def test_an_event_over_lambdas_6_mb_gets_413_request_too_long(tmp_path):
    async def scenario(c):
        return await c.post("items", data=b"x" * (7 * 1024 * 1024)), await c.get("items/1")

    too_long, after = run(tmp_path, scenario)
    assert too_long.status == 413
    assert too_long.json() == {"message": "Request Too Long"}
    assert too_long.headers["x-amzn-errortype"] == "BadRequestException"
    assert after.status == 200


def test_the_gateway_keeps_serving_through_client_hangups(tmp_path):
    async def scenario(c):
        impatient = aiohttp.ClientTimeout(total=0.05)
        with pytest.raises(asyncio.TimeoutError):
            await c.get("dawdle", timeout=impatient)
        served = await c.get("items/7")
        await c.stack.idle()
        return served, c.stack.metrics.snapshot()

    served, metrics = run(tmp_path, scenario)
    assert served.json()["pathParameters"] == {"id": "7"}
    # The Lambda the client hung up on ran on to its end, as on AWS.
    assert metrics["lambda"]["functions"]["inline-dev-dawdle"]["outcomes"] == {"success": 1}
