"""Protocol faults on every port, through real sockets: each answered as AWS or the RFC says, in
one log line, and the emulator keeps serving.

HEAD and broken HTTP on the WebSocket port, JSON nested 1000 deep (Invoke API, control API,
WebSocket route selection), invalid UTF-8 in a text frame (1007), CR/LF in a handler's header
(502 / 500), @connections bodies over 128 KB refused as they arrive. Virtual time
(tests/virtual.py): nothing here waits on a clock.
"""

import asyncio
import json
import logging

import aiohttp
import h11
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from websockets.asyncio.client import connect
from websockets.frames import Frame, Opcode

from tests.virtual import run_virtual, service_file, virtual_stack

DEEP = ("[" * 1000 + "]" * 1000).encode()  # past Python's recursion limit in json
KB = 1024

FUNCTIONS = """
echo:
  handler: app.echo
  events: [{http: GET echo}]
crlf:
  handler: app.crlf
  events: [{http: GET crlf}, {httpApi: 'GET /crlf'}]
badName:
  handler: app.bad_name
  events: [{http: GET badname}]
default:
  handler: app.default
  events: [{websocket: {route: $default}}]
say:
  handler: app.say
  events: [{websocket: {route: say}}]
"""


def handlers(calls: list[str]) -> dict:
    async def echo(event, context):
        return {"statusCode": 200, "body": "echo"}

    async def crlf(event, context):
        return {"statusCode": 200, "headers": {"X-Injected": "a\r\nSet-Cookie: evil=1"}, "body": ""}

    async def bad_name(event, context):
        return {"statusCode": 200, "headers": {"Bad Name": "x"}, "body": ""}

    async def default(event, context):
        calls.append("$default")
        return {"statusCode": 200}

    async def say(event, context):
        calls.append("say")
        return {"statusCode": 200}

    return {"echo": echo, "crlf": crlf, "badName": bad_name, "default": default, "say": say}


def run(tmp_path, scenario):
    path = service_file(tmp_path, FUNCTIONS)
    calls: list[str] = []

    async def main():
        async with (
            virtual_stack(path, handlers(calls)) as stack,
            aiohttp.ClientSession() as http,
        ):
            result = await scenario(stack, http, calls)
            await stack.idle()
            return result

    return run_virtual(main)


async def exchange(port: int, data: bytes) -> bytes:
    """Send ``data`` on a fresh connection and read until the server closes it."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    try:
        return await reader.read()
    finally:
        writer.close()


def responses(data: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    """The HTTP responses in ``data``, as a client that sent HEAD then GET parses them."""
    client = h11.Connection(h11.CLIENT)
    client.receive_data(data)
    parsed, methods = [], ["HEAD", "GET"]
    for method in methods:
        client.send(h11.Request(method=method, target="/", headers=[("Host", "x")]))
        client.send(h11.EndOfMessage())
        head = client.next_event()
        assert isinstance(head, h11.Response)
        body = b""
        while not isinstance(event := client.next_event(), h11.EndOfMessage):
            body += event.data
        headers = {k.decode(): v.decode() for k, v in head.headers}
        parsed.append((head.status_code, headers, body))
        if client.our_state is h11.MUST_CLOSE or client.their_state is h11.MUST_CLOSE:
            break
        client.start_next_cycle()
    return parsed


def signed(url: str, body: bytes, service: str = "lambda") -> dict[str, str]:
    """SigV4 headers for a POST, as boto3 would sign it (any credentials)."""
    request = AWSRequest(method="POST", url=url, data=body)
    SigV4Auth(Credentials("test", "test"), service, "us-east-1").add_auth(request)
    return dict(request.headers.items())


# -- the WebSocket / @connections port ---------------------------------------------------------


def test_head_on_the_websocket_port_is_answered_without_a_body(tmp_path):
    async def scenario(stack, http, calls):
        path = f"/{stack.service.stage}/no-such-resource"
        request = f"{{}} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        data = (request.format("HEAD") + "\r\n").encode()
        data += (request.format("GET") + "Connection: close\r\n\r\n").encode()
        return await exchange(stack.ws_port, data)

    (head_status, head_headers, head_body), (get_status, get_headers, get_body) = responses(
        run(tmp_path, scenario)
    )
    assert head_body == b""  # RFC 9110 9.3.2: no content in a HEAD response
    assert get_body != b""
    assert head_status == get_status  # the same answer as GET, body aside
    assert head_headers["content-length"] == get_headers["content-length"] == str(len(get_body))


def test_broken_http_on_the_websocket_port_gets_400_and_one_log_line(tmp_path, caplog):
    caplog.set_level(logging.INFO)

    async def scenario(stack, http, calls):
        broken = await exchange(stack.ws_port, b"NOT HTTP AT ALL\r\n\r\n")
        after = await exchange(
            stack.ws_port,
            f"GET /{stack.service.stage}/@connections/x HTTP/1.1\r\nHost: a\r\n"
            "Connection: close\r\n\r\n".encode(),
        )
        return broken, after

    broken, after = run(tmp_path, scenario)
    assert broken.startswith(b"HTTP/1.1 400 ")
    assert after.startswith(b"HTTP/1.1 ")  # still serving
    lines = [r for r in caplog.records if "malformed request" in r.getMessage()]
    assert len(lines) == 1
    assert lines[0].exc_info is None
    assert "\n" not in lines[0].getMessage()


def test_a_connections_body_over_128_kb_is_refused_before_it_arrives(tmp_path):
    async def scenario(stack, http, calls):
        path = f"/{stack.service.stage}/@connections/someone"
        # 10 MB announced, not one byte of it sent: the answer cannot wait for the body.
        head = f"POST {path} HTTP/1.1\r\nHost: a\r\nContent-Length: {10 * 1024 * KB}\r\n\r\n"
        reader, writer = await asyncio.open_connection("127.0.0.1", stack.ws_port)
        writer.write(head.encode())
        await writer.drain()
        client = h11.Connection(h11.CLIENT)
        client.send(h11.Request(method="POST", target=path, headers=[("Host", "a")]))
        while (event := client.next_event()) is h11.NEED_DATA:
            client.receive_data(await reader.read(65536))
        body = b""
        while not isinstance(part := client.next_event(), h11.EndOfMessage):
            if part is h11.NEED_DATA:
                client.receive_data(await reader.read(65536))
            else:
                body += part.data
        writer.close()
        # A chunked body: refused at the first byte past 128 KB.
        url = f"{stack.connections_url}/@connections/someone"

        async def chunks():
            for _ in range(5):
                yield b"x" * (32 * KB)

        async with http.post(url, data=chunks()) as chunked:
            chunked_answer = (chunked.status, await chunked.json())
        return event, json.loads(body), chunked_answer

    head, body, (chunked_status, chunked_body) = run(tmp_path, scenario)
    assert head.status_code == 413
    assert (b"x-amzn-errortype", b"PayloadTooLargeException") in head.headers
    assert "128 KB" in body["message"]
    assert chunked_status == 413
    assert "128 KB" in chunked_body["message"]


# -- WebSocket messages ------------------------------------------------------------------------


def test_json_nested_1000_deep_goes_to_default(tmp_path):
    async def scenario(stack, http, calls):
        async with connect(stack.ws_url) as ws:
            await ws.send(DEEP.decode())
            await ws.send(json.dumps({"action": "say"}))  # the connection still routes
            while len(calls) < 2:  # noqa: ASYNC110 - the handlers append as they run
                await asyncio.sleep(0.01)  # virtual time
            return list(calls)

    assert run(tmp_path, scenario) == ["$default", "say"]


def test_invalid_utf8_in_a_text_frame_closes_with_1007_and_invokes_nothing(tmp_path):
    async def scenario(stack, http, calls):
        reader, writer = await asyncio.open_connection("127.0.0.1", stack.ws_port)
        writer.write(
            f"GET /{stack.service.stage} HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        handshake = await reader.readuntil(b"\r\n\r\n")
        # '{"action":"say"}' with one byte that no UTF-8 text holds.
        frame = Frame(Opcode.TEXT, b'{"action":"say","x":"\xff"}').serialize(
            mask=True, extensions=[]
        )
        writer.write(frame)
        await writer.drain()
        close = await reader.read()  # the close frame, then end of stream
        writer.close()
        await stack.idle()
        return handshake, close, list(calls)

    handshake, close, calls = run(tmp_path, scenario)
    assert handshake.startswith(b"HTTP/1.1 101")
    assert close[0] == 0x88  # FIN + close
    assert int.from_bytes(close[2:4], "big") == 1007  # RFC 6455 7.4.1
    assert calls == []


# -- the HTTP port: Invoke API, control API, malformed requests, handler headers ---------------


def test_deep_json_to_the_invoke_api_is_invalid_request_content(tmp_path):
    async def scenario(stack, http, calls):
        name = stack.service.functions["echo"].name
        url = f"{stack.http_url}/2015-03-31/functions/{name}/invocations"
        async with http.post(url, data=DEEP, headers=signed(url, DEEP)) as response:
            return response.status, response.headers.get("x-amzn-ErrorType"), await response.json()

    status, error_type, body = run(tmp_path, scenario)
    assert (status, error_type) == (400, "InvalidRequestContentException")
    assert body["message"].startswith("Could not parse request body into json")


def test_deep_json_to_the_control_api_is_a_400(tmp_path):
    async def scenario(stack, http, calls):
        url = f"{stack.http_url}/_emulator/config"
        headers = {"Content-Type": "application/json"}
        async with http.put(url, data=DEEP, headers=headers) as response:
            answer = response.status, await response.json()
        async with http.get(f"{stack.http_url}/_emulator/health") as health:
            return answer, health.status

    (status, body), health = run(tmp_path, scenario)
    assert status == 400
    assert "must be JSON" in body["message"]
    assert health == 200


def test_a_malformed_request_on_the_http_port_is_one_log_line(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)

    async def scenario(stack, http, calls):
        bad = await exchange(
            stack.http_port, b"GET /dev/echo HTTP/1.1\r\nHost: a\r\nNo colon\r\n\r\n"
        )
        async with http.get(f"{stack.rest_url}/echo") as response:
            return bad, response.status

    bad, after = run(tmp_path, scenario)
    assert bad.split(b"\r\n")[0].split(b" ")[1] == b"400"
    assert after == 200
    assert not [r for r in caplog.records if r.exc_info]  # no traceback anywhere
    lines = [r for r in caplog.records if "malformed request" in r.getMessage()]
    assert len(lines) == 1
    assert "\n" not in lines[0].getMessage()


def test_a_header_with_crlf_from_a_handler_is_a_502_and_logged_as_one(tmp_path, caplog):
    caplog.set_level(logging.INFO)

    async def scenario(stack, http, calls):
        answers = []
        for url in (
            f"{stack.rest_url}/crlf",
            f"{stack.rest_url}/badname",
            f"{stack.http_api_url}/crlf",
        ):
            async with http.get(url) as response:
                answers.append(
                    (response.status, await response.json(), "Set-Cookie" in response.headers)
                )
        return answers

    rest, bad_name, http_api = run(tmp_path, scenario)
    assert rest == (502, {"message": "Internal server error"}, False)
    assert bad_name == (502, {"message": "Internal server error"}, False)
    assert http_api == (500, {"message": "Internal Server Error"}, False)
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "GET /dev/crlf -> 502" in logged
    assert "Malformed Lambda proxy response" in logged
