"""The HTTP API (httpApi events) on its own port, on a virtual clock: real sockets, exact times.

Routes, events, response mapping, error answers, deadlines and the control API, through the real
gateway with in-loop handlers (tests/virtual.py).
"""

import base64
import gzip
import json

import aiohttp
import pytest
from yarl import URL

from emulator.stack import StackConfig
from tests.virtual import run_virtual, service_file, virtual_stack

EXACT = 1e-6  # the virtual clock's resolution

FUNCTIONS = """
report:
  handler: app.report
  timeout: 900
  events: [{httpApi: 'POST /reports'}]
short:
  handler: app.report
  events: [{httpApi: {method: post, path: /short}}]
echo:
  handler: app.echo
  events:
    - httpApi: 'GET /items/{id}'
    - httpApi: 'GET /items/special'
    - httpApi: 'ANY /files/{proxy+}'
    - httpApi: 'GET /files/{proxy+}'
    - httpApi: '*'
answer:
  handler: app.answer
  events: [{httpApi: 'POST /answer'}]
"""


async def report(event, context):
    delay_s = json.loads(event["body"])["delay"] / 1000
    await context.sleep(delay_s)
    return {"statusCode": 200, "body": json.dumps({"url": f"https://example/{delay_s}"})}


async def echo(event, context):
    return {"statusCode": 200, "body": json.dumps(event)}


async def answer(event, context):
    """Returns whatever the request's JSON body says to return."""
    return json.loads(event["body"])["result"]


HANDLERS = {"report": report, "short": report, "echo": echo, "answer": answer}


def run(tmp_path, scenario, *, functions=FUNCTIONS, extra="", config=None):
    path = service_file(tmp_path, functions, extra=extra)

    async def main():
        async with (
            virtual_stack(path, HANDLERS, config=config) as stack,
            aiohttp.ClientSession() as http,
        ):
            return await scenario(stack, http)

    return run_virtual(main)


async def timed(stack, http, method, path, **kwargs):
    """(status, JSON or text body, headers, emulated seconds) of one request to the HTTP API."""
    started = stack.clock.now()
    url = URL(f"{stack.http_api_url}{path}", encoded=True)
    async with http.request(method, url, **kwargs) as response:
        text = await response.text()
        try:
            body = json.loads(text)
        except ValueError:
            body = text
        return response.status, body, response.headers, stack.clock.now() - started


def test_done_when_900_s_function_gets_503_at_30_s_and_runs_on_6_s_default_gets_500(tmp_path):
    async def scenario(stack, http):
        long = await timed(stack, http, "POST", "/reports", json={"delay": 40_000})
        at_the_503 = stack.metrics.snapshot()
        short = await timed(stack, http, "POST", "/short", json={"delay": 40_000})
        await stack.idle()
        return long, at_the_503, short, stack.metrics.snapshot()

    long, at_the_503, short, metrics = run(tmp_path, scenario)
    assert long[:2] == (503, {"message": "Service Unavailable"})
    assert long[3] == pytest.approx(30.0, abs=EXACT)
    assert long[2]["apigw-requestid"]
    assert at_the_503["lambda"]["functions"]["inline-dev-report"]["running_after_caller_gone"] == 1
    # The Lambda was not stopped: it ran its 40 s to a success.
    report = metrics["lambda"]["functions"]["inline-dev-report"]
    assert report["outcomes"] == {"success": 1}
    assert report["duration_ms"] == pytest.approx(40_000, abs=1)
    # The 6 s function timed out on its own first: the HTTP API's 500, at 6 s.
    assert short[:2] == (500, {"message": "Internal Server Error"})
    assert short[3] == pytest.approx(6.0, abs=EXACT)
    assert metrics["lambda"]["functions"]["inline-dev-short"]["timeouts"] == 1
    routes = metrics["http_api"]["routes"]
    assert routes["POST /reports"]["status_counts"] == {"503": 1}
    assert routes["POST /reports"]["integration_timeouts"] == 1
    assert routes["POST /short"]["status_counts"] == {"500": 1}
    assert metrics["http_api"]["integration_timeouts"] == 1
    assert metrics["rest"]["requests"] == 0  # kept apart from REST's routes
    assert metrics["http_api"]["tcp_connections"] >= 1
    assert metrics["http_api"]["wire_bytes_in"] > 0
    assert metrics["http_api"]["wire_bytes_out"] > 0


def test_integration_timeout_option_leaves_http_api_routes_at_30_s(tmp_path):
    async def scenario(stack, http):
        return await timed(stack, http, "POST", "/reports", json={"delay": 29_500})

    status, body, _, elapsed = run(tmp_path, scenario, config=StackConfig(integration_timeout=5))
    assert (status, body) == (200, {"url": "https://example/29.5"})
    assert elapsed == pytest.approx(29.5, abs=EXACT)


def test_route_timeout_lowered_in_serverless_yml_and_by_the_control_api(tmp_path):
    extra = "custom:\n  timeoutlab:\n    httpApiRouteTimeouts:\n      POST /reports: 10\n"

    async def scenario(stack, http):
        from_yml = await timed(stack, http, "POST", "/reports", json={"delay": 20_000})
        control = f"{stack.http_url}/_emulator/config"
        async with http.put(control, json={"httpApiRoutes": {"POST /reports": 5}}) as response:
            changed = response.status, await response.json()
        async with http.put(control, json={"httpApiRoutes": {"POST /reports": 31}}) as response:
            too_long = response.status, await response.json()
        async with http.put(control, json={"httpApiRoutes": {"POST /nope": 5}}) as response:
            unknown = response.status, await response.json()
        async with http.put(control, json={"routes": {"POST /reports": 5}}) as response:
            rest_key = response.status  # REST's keys are not the HTTP API's
        from_control = await timed(stack, http, "POST", "/reports", json={"delay": 20_000})
        return from_yml, changed, too_long, unknown, rest_key, from_control

    from_yml, changed, too_long, unknown, rest_key, from_control = run(
        tmp_path, scenario, extra=extra
    )
    assert from_yml[0] == 503
    assert from_yml[3] == pytest.approx(10.0, abs=EXACT)
    assert changed[0] == 200
    assert changed[1]["httpApiRoutes"]["POST /reports"] == {
        "integrationTimeout": 5.0,
        "source": "route",
    }
    assert changed[1]["httpApiRoutes"]["POST /short"]["integrationTimeout"] == 30.0
    assert too_long[0] == 400
    assert "between 0.05 and 30 seconds" in too_long[1]["message"]
    assert unknown[0] == 400
    assert "unknown HTTP API route(s): POST /nope" in unknown[1]["message"]
    assert rest_key == 400
    assert from_control[0] == 503
    assert from_control[3] == pytest.approx(5.0, abs=EXACT)


def test_routes_most_specific_first_then_default_and_no_stage(tmp_path):
    async def scenario(stack, http):
        results = {}
        for method, path in [
            ("GET", "/items/special"),
            ("GET", "/items/42"),
            ("GET", "/files/a/b.txt"),
            ("DELETE", "/files/a/b.txt"),
            ("GET", "/dev/items/42"),
            ("POST", "/items/42"),
            ("GET", "/_emulator/health"),
        ]:
            status, body, _, _ = await timed(stack, http, method, path)
            results[f"{method} {path}"] = (status, body["routeKey"], body.get("pathParameters"))
        return results

    results = run(tmp_path, scenario)
    assert results == {
        "GET /items/special": (200, "GET /items/special", None),
        "GET /items/42": (200, "GET /items/{id}", {"id": "42"}),
        "GET /files/a/b.txt": (200, "GET /files/{proxy+}", {"proxy": "a/b.txt"}),
        "DELETE /files/a/b.txt": (200, "ANY /files/{proxy+}", {"proxy": "a/b.txt"}),
        # No stage segment: /dev/... is just a path, caught by $default like the rest.
        "GET /dev/items/42": (200, "$default", None),
        "POST /items/42": (200, "$default", None),
        # /_emulator/ is not on the HTTP API's port.
        "GET /_emulator/health": (200, "$default", None),
    }


def test_no_route_is_404_not_found_with_a_request_id(tmp_path):
    functions = "echo:\n  handler: app.echo\n  events: [{httpApi: 'GET /items/{id}'}]\n"

    async def scenario(stack, http):
        missing = await timed(stack, http, "GET", "/nothing")
        invoke_api = "/2015-03-31/functions/inline-dev-echo/invocations"
        invoke = await timed(stack, http, "POST", invoke_api)
        return missing, invoke

    missing, invoke = run(tmp_path, scenario, functions=functions)
    assert missing[:2] == (404, {"message": "Not Found"})
    assert missing[2]["apigw-requestid"]
    assert missing[2]["Content-Type"] == "application/json"
    assert invoke[:2] == (404, {"message": "Not Found"})  # no Lambda Invoke API here


def test_payload_2_0_event(tmp_path):
    async def scenario(stack, http):
        headers = [("X-Multi", "one"), ("X-Multi", "two"), ("Cookie", "a=1; b=2")]
        status, event, response_headers, _ = await timed(
            stack, http, "GET", "/items/42?q=1&q=2&x=%20y", headers=headers
        )
        return status, event, response_headers, stack.http_api_url

    status, event, headers, url = run(tmp_path, scenario)
    assert status == 200
    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /items/{id}"
    assert event["rawPath"] == "/items/42"
    assert event["rawQueryString"] == "q=1&q=2&x=%20y"
    assert event["cookies"] == ["a=1", "b=2"]
    assert event["headers"]["x-multi"] == "one,two"
    assert "cookie" not in event["headers"]
    assert event["queryStringParameters"] == {"q": "1,2", "x": " y"}
    assert event["pathParameters"] == {"id": "42"}
    assert event["isBase64Encoded"] is False
    assert "body" not in event
    context = event["requestContext"]
    assert context["stage"] == "$default"
    assert context["routeKey"] == "GET /items/{id}"
    assert context["http"]["method"] == "GET"
    assert context["http"]["path"] == "/items/42"
    assert context["http"]["sourceIp"] == "127.0.0.1"
    assert context["http"]["protocol"] == "HTTP/1.1"
    assert context["requestId"] == headers["apigw-requestid"]
    assert context["domainName"] == url.removeprefix("http://")
    assert {"accountId", "apiId", "domainPrefix", "time", "timeEpoch"} <= set(context)


def test_payload_1_0_from_provider_and_per_function(tmp_path):
    path = service_file(tmp_path, "")
    path.write_text(
        "service: inline\n"
        "provider: {name: aws, runtime: python3.12, httpApi: {payload: '1.0'}}\n"
        "functions:\n"
        "  old: {handler: app.echo, events: [{httpApi: 'GET /old/{id}'}]}\n"
        "  new: {handler: app.echo, httpApi: {payload: '2.0'}, events: [{httpApi: 'GET /new'}]}\n"
    )

    async def main():
        async with (
            virtual_stack(path, {"old": echo, "new": echo}) as stack,
            aiohttp.ClientSession() as http,
        ):
            old = await timed(stack, http, "GET", "/old/7?a=1&a=2")
            new = await timed(stack, http, "GET", "/new")
            return old, new

    old, new = run_virtual(main)
    assert old[0] == 200
    event = old[1]
    assert event["version"] == "1.0"
    assert event["resource"] == "/old/{id}"
    assert event["path"] == "/old/7"
    assert event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"id": "7"}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"]}
    assert event["requestContext"]["stage"] == "$default"
    assert new[1]["version"] == "2.0"


@pytest.mark.parametrize(
    ("result", "status", "body", "content_type"),
    [
        ({"message": "hi"}, 200, b'{"message":"hi"}', "application/json"),
        ("Hello from Lambda!", 200, b"Hello from Lambda!", "application/json"),
        ([1, 2], 200, b"[1,2]", "application/json"),
        (
            {"statusCode": 201, "headers": {"content-type": "text/plain"}, "body": "made"},
            201,
            b"made",
            "text/plain",
        ),
        (
            {"statusCode": 200, "body": base64.b64encode(b"\x00\xff").decode(),
             "isBase64Encoded": True, "headers": {"content-type": "application/octet-stream"}},
            200,
            b"\x00\xff",
            "application/octet-stream",
        ),
        ({"statusCode": "200"}, 500, b'{"message":"Internal Server Error"}', "application/json"),
        ({"statusCode": 200, "body": {"no": "string"}}, 500,
         b'{"message":"Internal Server Error"}', "application/json"),
    ],
)  # fmt: skip
def test_payload_2_0_response_mapping(tmp_path, result, status, body, content_type):
    async def scenario(stack, http):
        url = f"{stack.http_api_url}/answer"
        async with http.post(url, json={"result": result}) as response:
            return response.status, await response.read(), response.headers

    got_status, got_body, headers = run(tmp_path, scenario)
    assert (got_status, got_body) == (status, body)
    assert headers["Content-Type"] == content_type
    assert headers["apigw-requestid"]


def test_cookies_become_set_cookie_headers(tmp_path):
    result = {"statusCode": 200, "cookies": ["a=1; Path=/", "b=2"], "body": "ok"}

    async def scenario(stack, http):
        async with http.post(f"{stack.http_api_url}/answer", json={"result": result}) as response:
            return response.headers.getall("Set-Cookie")

    assert run(tmp_path, scenario) == ["a=1; Path=/", "b=2"]


def test_encoded_path_characters_are_decoded_before_routing(tmp_path):
    async def scenario(stack, http):
        results = {}
        for path in ["/items/a%2Fb", "/files/a%2Fb", "/items/my%20id", "/items/caf%C3%A9"]:
            status, event, _, _ = await timed(stack, http, "GET", path)
            results[path] = status, event["routeKey"], event.get("pathParameters"), event["rawPath"]
        return results

    assert run(tmp_path, scenario) == {
        # %2F is a / once decoded: {id} takes one segment, so $default gets it.
        "/items/a%2Fb": (200, "$default", None, "/items/a/b"),
        "/files/a%2Fb": (200, "GET /files/{proxy+}", {"proxy": "a/b"}, "/files/a/b"),
        "/items/my%20id": (200, "GET /items/{id}", {"id": "my id"}, "/items/my id"),
        "/items/caf%C3%A9": (200, "GET /items/{id}", {"id": "café"}, "/items/café"),
    }


def test_health_lists_the_http_api_and_no_port_without_http_api_events(tmp_path):
    async def scenario(stack, http):
        async with http.get(f"{stack.http_url}/_emulator/health") as response:
            return await response.json(), stack.http_api_url

    health, url = run(tmp_path, scenario)
    assert health["http_api"] == url
    assert url.startswith("http://127.0.0.1:")
    assert not url.endswith("/")
    assert "GET /items/{id}" in health["http_api_routes"]

    rest_only = "echo:\n  handler: app.echo\n  events: [{http: GET items}]\n"
    health, url = run(tmp_path / "rest", scenario, functions=rest_only)
    assert health["http_api"] is None
    assert url is None


def test_a_compressed_body_reaches_the_handler_as_sent(tmp_path):
    """No content encoding is configured, so API Gateway does not inflate the body: it passes it
    on as the bytes sent, base64-encoded since they are not text."""
    compressed = gzip.compress(b'{"a": 1}')

    async def scenario(stack, http):
        headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
        return await timed(stack, http, "POST", "/anything", data=compressed, headers=headers)

    status, event, _, _ = run(tmp_path, scenario)
    assert status == 200
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == compressed
    assert event["headers"]["content-encoding"] == "gzip"
