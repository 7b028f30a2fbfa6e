"""REST API keys, CORS preflight, binary media types and encoded paths, over real sockets.

Handlers run in the loop (tests/virtual.py); each test's service is a few lines of serverless.yml.
"""

import base64
import json

import aiohttp
from yarl import URL

from emulator.cli import banner
from tests.virtual import run_virtual, service_file, virtual_stack

KEY = "k" * 24
OTHER_KEY = "o" * 24
FORBIDDEN = {"message": "Forbidden"}


def run(tmp_path, functions, handlers, scenario, *, provider=""):
    """``scenario(stack, http)`` against a virtual stack of ``functions``; also returns the
    events the handlers were invoked with."""
    events: list[dict] = []

    def recording(handler):
        async def wrapped(event, context):
            events.append(event)
            return await handler(event, context)

        return wrapped

    path = service_file(tmp_path, functions, provider=provider)

    async def main():
        wrapped = {name: recording(h) for name, h in handlers.items()}
        async with virtual_stack(path, wrapped) as stack, aiohttp.ClientSession() as http:
            return await scenario(stack, http)

    return run_virtual(main), events


async def fetch(http, method, url, **kwargs):
    async with http.request(method, url, **kwargs) as response:
        return response.status, response.headers, await response.read()


async def echo(event, context):
    return {"statusCode": 200, "headers": {"X-Mine": "1"}, "body": json.dumps(event)}


KEYS_PROVIDER = f"""
apiGateway:
  apiKeys:
    - {{name: given, value: {KEY}}}
    - generated
    - {{name: off, value: {OTHER_KEY}, enabled: false}}
"""
KEYS_FUNCTIONS = """
fn:
  handler: app.echo
  events:
    - http: {path: secret, method: get, private: true}
    - http: {path: open, method: get}
"""


def test_private_methods_need_a_valid_api_key_and_the_lambda_is_not_invoked(tmp_path):
    async def scenario(stack, http):
        url = f"{stack.rest_url}/secret"
        return [
            await fetch(http, "GET", url),
            await fetch(http, "GET", url, headers={"x-api-key": "wrong"}),
            await fetch(http, "GET", url, headers={"x-api-key": OTHER_KEY}),  # disabled
        ]

    answers, events = run(tmp_path, KEYS_FUNCTIONS, {"fn": echo}, scenario, provider=KEYS_PROVIDER)
    for status, headers, body in answers:
        assert status == 403
        assert json.loads(body) == FORBIDDEN
        assert headers["x-amzn-ErrorType"] == "ForbiddenException"
    assert events == []  # never invoked


def test_the_right_key_invokes_with_the_key_in_the_identity(tmp_path):
    async def scenario(stack, http):
        key = next(k for k in stack.service.api_keys if k.name == "given")
        status, _, body = await fetch(
            http, "GET", f"{stack.rest_url}/secret", headers={"X-API-Key": KEY}
        )
        open_status, _, open_body = await fetch(http, "GET", f"{stack.rest_url}/open")
        return key, status, json.loads(body), open_status, json.loads(open_body)

    (key, status, event, open_status, open_event), _ = run(
        tmp_path, KEYS_FUNCTIONS, {"fn": echo}, scenario, provider=KEYS_PROVIDER
    )
    assert status == 200
    identity = event["requestContext"]["identity"]
    assert (identity["apiKey"], identity["apiKeyId"]) == (KEY, key.id)
    assert open_status == 200  # not private: no key needed
    assert open_event["requestContext"]["identity"]["apiKey"] is None


def test_generated_keys_are_in_health_and_the_banner_and_work(tmp_path):
    async def scenario(stack, http):
        async with http.get(f"{stack.http_url}/_emulator/health") as response:
            health = await response.json()
        generated = next(k for k in health["api_keys"] if k["name"] == "generated")
        status, _, _ = await fetch(
            http, "GET", f"{stack.rest_url}/secret", headers={"x-api-key": generated["value"]}
        )
        return generated, status, banner(stack)

    (generated, status, text), _ = run(
        tmp_path, KEYS_FUNCTIONS, {"fn": echo}, scenario, provider=KEYS_PROVIDER
    )
    assert generated["generated"] is True
    assert len(generated["value"]) == 40
    assert status == 200
    assert f"API key   generated: {generated['value']} (generated)" in text
    assert "/secret  (private: x-api-key)" in text


CORS_FUNCTIONS = """
fn:
  handler: app.echo
  events:
    - http: {path: "items/{id}", method: get, cors: true}
    - http: {path: "items/{id}", method: delete, private: true}
    - http: {path: things, method: any, cors: {origins: ['https://*.app.example'], maxAge: 300}}
    - http: {path: plain, method: get}
own:
  handler: app.own
  events:
    - http: {path: mine, method: get, cors: true}
    - http: {path: mine, method: options}
"""


async def own(event, context):
    return {"statusCode": 204, "headers": {"X-Own": "yes"}}


def test_the_preflight_answers_with_serverless_headers_and_invokes_nothing(tmp_path):
    async def scenario(stack, http):
        base = stack.rest_url
        origin = {"Origin": "https://www.app.example"}
        return [
            await fetch(http, "OPTIONS", f"{base}/items/42"),
            await fetch(http, "OPTIONS", f"{base}/things", headers=origin),
            await fetch(http, "OPTIONS", f"{base}/plain"),
            await fetch(http, "GET", f"{stack.http_url}/_emulator/metrics"),
        ]

    (items, things, plain, metrics), events = run(
        tmp_path, CORS_FUNCTIONS, {"fn": echo, "own": own}, scenario
    )
    # Counted under the OPTIONS method Serverless creates on each resource, not as unrouted.
    routes = json.loads(metrics[2])["rest"]["routes"]
    assert {key: route["status_counts"] for key, route in routes.items()} == {
        "OPTIONS /items/{id}": {"200": 1},
        "OPTIONS /things": {"200": 1},
        "(no route)": {"403": 1},
    }
    status, headers, body = items
    assert (status, body) == (200, b"")
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert headers["Access-Control-Allow-Methods"] == "OPTIONS,GET"
    assert headers["Access-Control-Allow-Headers"] == (
        "Content-Type,X-Amz-Date,Authorization,X-Api-Key,X-Amz-Security-Token,"
        "X-Amz-User-Agent,X-Amzn-Trace-Id"
    )
    status, headers, _ = things
    assert status == 200  # the MOCK OPTIONS method, not the ANY method's Lambda
    assert headers["Access-Control-Allow-Origin"] == "https://www.app.example"
    assert headers["Access-Control-Allow-Methods"] == "OPTIONS,DELETE,GET,HEAD,PATCH,POST,PUT"
    assert headers["Access-Control-Max-Age"] == "300"
    status, headers, body = plain
    assert status == 403  # no cors, no OPTIONS method
    assert json.loads(body) == {"message": "Missing Authentication Token"}
    assert events == []


def test_proxied_responses_and_gateway_errors_carry_no_cors_headers(tmp_path):
    async def scenario(stack, http):
        return [
            await fetch(http, "GET", f"{stack.rest_url}/items/42"),
            await fetch(http, "DELETE", f"{stack.rest_url}/items/42"),  # private: 403
        ]

    (ok, refused), _ = run(tmp_path, CORS_FUNCTIONS, {"fn": echo, "own": own}, scenario)
    assert ok[0] == 200
    assert ok[1]["X-Mine"] == "1"
    assert refused[0] == 403
    for _, headers, _ in (ok, refused):
        assert not [h for h in headers if h.lower().startswith("access-control-")]


def test_a_declared_options_method_is_routed_to_its_lambda(tmp_path):
    async def scenario(stack, http):
        return await fetch(http, "OPTIONS", f"{stack.rest_url}/mine")

    (status, headers, _), events = run(tmp_path, CORS_FUNCTIONS, {"fn": echo, "own": own}, scenario)
    assert (status, headers["X-Own"]) == (204, "yes")
    assert [e["httpMethod"] for e in events] == ["OPTIONS"]


BINARY_FUNCTIONS = """
fn:
  handler: app.echo
  events: [{http: POST upload}]
picture:
  handler: app.picture
  events: [{http: GET picture}]
"""
PNG = bytes([0x89, 0x50, 0x4E, 0x47, 0x00, 0xFF])


async def picture(event, context):
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "image/png"},
        "body": base64.b64encode(PNG).decode(),
        "isBase64Encoded": True,
    }


def test_binary_media_types_on_requests_and_responses(tmp_path):
    async def scenario(stack, http):
        base = stack.rest_url
        return [
            await fetch(
                http, "POST", f"{base}/upload", data=PNG, headers={"Content-Type": "image/png"}
            ),
            await fetch(
                http,
                "POST",
                f"{base}/upload",
                data=b"{}",
                headers={"Content-Type": "application/json"},
            ),
            await fetch(http, "GET", f"{base}/picture", headers={"Accept": "image/png,*/*"}),
            await fetch(http, "GET", f"{base}/picture", headers={"Accept": "text/html,image/png"}),
            await fetch(http, "GET", f"{base}/picture", headers={"Accept": "*/*"}),
        ]

    answers, _ = run(
        tmp_path,
        BINARY_FUNCTIONS,
        {"fn": echo, "picture": picture},
        scenario,
        provider="apiGateway: {binaryMediaTypes: ['image/*']}",
    )
    binary_in, text_in, binary_out, text_out, curl_out = answers
    event = json.loads(binary_in[2])
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == PNG
    event = json.loads(text_in[2])
    assert (event["body"], event["isBase64Encoded"]) == ("{}", False)
    assert binary_out[2] == PNG  # first Accept type matches image/*
    assert text_out[2] == base64.b64encode(PNG)  # first Accept type is text/html
    assert curl_out[2] == base64.b64encode(PNG)  # */* is not image/*


PATH_FUNCTIONS = """
fn:
  handler: app.echo
  events:
    - http: {path: "items/{id}", method: get}
    - http: {path: "files/{proxy+}", method: get}
"""


def test_encoded_paths_are_routed_and_passed_as_sent(tmp_path):
    sent = ["my-id%2F100", "two%20words", "caf%C3%A9"]

    async def scenario(stack, http):
        answers = []
        for item in sent:
            url = URL(f"{stack.rest_url}/items/{item}?q=a%20b", encoded=True)
            answers.append(await fetch(http, "GET", url))
        url = URL(f"{stack.rest_url}/files/a%2Fb/c%20d", encoded=True)
        answers.append(await fetch(http, "GET", url))
        return answers

    answers, _ = run(tmp_path, PATH_FUNCTIONS, {"fn": echo}, scenario)
    for item, (status, _, body) in zip(sent, answers[:3], strict=True):
        assert status == 200
        event = json.loads(body)
        assert event["resource"] == "/items/{id}"
        assert event["pathParameters"] == {"id": item}
        assert event["path"] == f"/items/{item}"
        assert event["requestContext"]["path"] == f"/dev/items/{item}"
        assert event["requestContext"]["resourcePath"] == "/items/{id}"
        assert event["queryStringParameters"] == {"q": "a b"}
    event = json.loads(answers[3][2])
    assert event["pathParameters"] == {"proxy": "a%2Fb/c%20d"}
