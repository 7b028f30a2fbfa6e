"""Request heads on the HTTP ports, through real sockets: API Gateway's 10240-byte quota on the
request line and header values (REST and HTTP APIs) decides, not aiohttp's 8190-byte parser
bounds; heads over it, or far past the parser's bounds, get JSON answers and the ports keep
serving. Quotas: https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html
"""

import asyncio
import json

import aiohttp
import pytest
from websockets.asyncio.client import connect

from emulator.core.request_head import REQUEST_HEAD_LIMIT
from tests.virtual import run_virtual, service_file, virtual_stack

KB = 1024
TOO_LARGE = {"message": "HTTP header is larger than 10240 bytes."}

FUNCTIONS = """
echo:
  handler: app.echo
  events: [{http: GET echo}, {httpApi: 'GET /echo'}]
"""


def run(tmp_path, scenario):
    """``scenario(stack, http)`` on a virtual stack; also returns the events the echo handler
    was invoked with."""
    events: list[dict] = []

    async def echo(event, context):
        events.append(event)
        return {"statusCode": 200, "body": "echo"}

    async def main():
        path = service_file(tmp_path, FUNCTIONS)
        async with (
            virtual_stack(path, {"echo": echo}) as stack,
            aiohttp.ClientSession() as http,
        ):
            return await scenario(stack, http)

    return run_virtual(main), events


async def get(http, url, headers=None):
    async with http.get(url, headers=headers or {}) as response:
        return response.status, response.headers.get("Content-Type"), await response.read()


async def exchange(port: int, data: bytes) -> tuple[int, bytes]:
    """Send ``data`` on a fresh connection, read until the server closes it: (status, body)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    try:
        answer = await reader.read()
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def urls(stack) -> dict[str, str]:
    return {"REST": f"{stack.rest_url}/echo", "HTTP API": f"{stack.http_api_url}/echo"}


def request_line(url: str, query: str = "") -> str:
    return f"GET {url}{query} HTTP/1.1"


@pytest.mark.parametrize("api", ["REST", "HTTP API"])
def test_a_head_within_the_quota_reaches_the_lambda_whatever_aiohttp_would_say(tmp_path, api):
    """An 8.5 KB query string, a 9 KB header, 500 headers: past aiohttp's default bounds (8190
    bytes, 128 headers), within AWS's 10240 bytes."""

    async def scenario(stack, http):
        url = urls(stack)[api]
        query = await get(http, f"{url}?q={'a' * (8 * KB + 512)}")
        header = await get(http, url, {"X-Big": "b" * (9 * KB)})
        many = await get(http, url, {f"X-H{i}": "v" for i in range(500)})  # aiohttp's max: 128
        return query, header, many

    (query, header, many), events = run(tmp_path, scenario)
    assert query[0] == header[0] == many[0] == 200
    assert len(events) == 3
    assert events[0]["queryStringParameters"]["q"] == "a" * (8 * KB + 512)
    big = {k.lower(): v for k, v in events[1]["headers"].items()}["x-big"]
    assert big == "b" * (9 * KB)


@pytest.mark.parametrize("api", ["REST", "HTTP API"])
def test_the_quota_counts_the_request_line_and_header_values_to_the_byte(tmp_path, api):
    """Filled to exactly 10240 bytes the request passes; one byte more is a 431 in JSON."""

    async def scenario(stack, http):
        url = urls(stack)[api]
        path = url.split(str(stack.http_api_port if api == "HTTP API" else stack.http_port), 1)[1]
        host = f"127.0.0.1:{stack.http_api_port if api == 'HTTP API' else stack.http_port}"
        # aiohttp's client adds its own headers; count exactly those sent: a raw request.
        fixed = len(request_line(path)) + len(host) + len("close")
        filler = "x" * (REQUEST_HEAD_LIMIT - fixed)
        answers = []
        for extra in ("", "x"):
            data = (
                f"{request_line(path)}\r\nHost: {host}\r\nConnection: close\r\n"
                f"X-Fill: {filler}{extra}\r\n\r\n"
            ).encode()
            port = stack.http_api_port if api == "HTTP API" else stack.http_port
            answers.append(await exchange(port, data))
        return answers

    (exact, over), events = run(tmp_path, scenario)
    assert exact[0] == 200
    assert over[0] == 431
    assert json.loads(over[1]) == TOO_LARGE
    assert len(events) == 1  # the head over the quota invoked nothing


@pytest.mark.parametrize("port", ["REST", "HTTP API", "control"])
def test_a_head_far_past_any_bound_gets_a_json_431_and_the_port_keeps_serving(tmp_path, port):
    """A 100 KB header, a 100 KB URL or 2000 headers (past the parser's bounds too: the
    connection closes), and 100 headers of 1 KB (within them: the gateway's quota answers): the
    quota's JSON, never aiohttp's plain text, on every aiohttp port."""

    async def scenario(stack, http):
        number = stack.http_api_port if port == "HTTP API" else stack.http_port
        prefix = {"REST": f"/{stack.service.stage}/echo", "HTTP API": "/echo"}
        path = prefix.get(port, "/_emulator/health")
        many = "".join(f"X-H{i}: {'h' * 1000}\r\n" for i in range(100))
        countless = "".join(f"X-H{i}: v\r\n" for i in range(2000))
        host = f"Host: 127.0.0.1:{number}"  # the control API answers its own host name only
        heads = [
            f"GET {path} HTTP/1.1\r\n{host}\r\nX-Big: {'b' * 100 * KB}\r\n\r\n",
            f"GET {path}?q={'u' * 100 * KB} HTTP/1.1\r\n{host}\r\n\r\n",
            f"GET {path} HTTP/1.1\r\n{host}\r\n{countless}\r\n",
            f"GET {path} HTTP/1.1\r\n{host}\r\nConnection: close\r\n{many}\r\n",
        ]
        answers = [await exchange(number, head.encode()) for head in heads]
        base = {"REST": stack.rest_url, "HTTP API": stack.http_api_url}.get(port)
        after = await get(http, f"{base}/echo" if base else f"{stack.http_url}/_emulator/health")
        return answers, after

    (answers, after), events = run(tmp_path, scenario)
    statuses = [status for status, _ in answers]
    if port == "control":  # the emulator's own API: AWS's quota is not its; the parser's is
        assert statuses == [431, 431, 431, 200]
    else:
        assert statuses == [431, 431, 431, 431]
    for status, body in answers:
        if status == 431:
            assert json.loads(body) == TOO_LARGE
    assert after[0] == 200
    assert len(events) == (0 if port == "control" else 1)  # only the request after


def test_other_malformed_requests_are_answered_in_json(tmp_path):
    async def scenario(stack, http):
        return await exchange(
            stack.http_port, b"GET /dev/echo HTTP/1.1\r\nHost: a\r\nNo colon\r\n\r\n"
        )

    (status, body), _ = run(tmp_path, scenario)
    assert status == 400
    assert set(json.loads(body)) == {"message"}


def test_the_websocket_handshake_takes_a_9_kb_header_and_refuses_100_kb_in_json(tmp_path):
    """The WebSocket API's quotas set no limit on the handshake's headers; its parser's bound
    (16 KB) refuses 100 KB with a JSON 431, as the HTTP ports do."""

    async def scenario(stack, http):
        async with connect(stack.ws_url, additional_headers={"X-Big": "b" * 9 * KB}) as ws:
            opened = ws.response.status_code
        headers = "".join(f"X-H{i}: {'h' * 1000}\r\n" for i in range(100))
        refused = await exchange(
            stack.ws_port,
            (
                f"GET /{stack.service.stage} HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\n{headers}\r\n"
            ).encode(),
        )
        return opened, refused

    (opened, (status, body)), _ = run(tmp_path, scenario)
    assert opened == 101
    assert status == 431
    assert set(json.loads(body)) == {"message"}
