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
crlfName:
  handler: app.crlf_name
  events: [{http: GET crlfname}]
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

    async def crlf_name(event, context):
        return {"statusCode": 200, "headers": {"X-A\r\nInjected-Line": "x"}, "body": ""}

    async def default(event, context):
        calls.append("$default")
        return {"statusCode": 200}

    async def say(event, context):
        calls.append("say")
        return {"statusCode": 200}

    return {
        "echo": echo,
        "crlf": crlf,
        "badName": bad_name,
        "crlfName": crlf_name,
        "default": default,
        "say": say,
    }


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


def test_invalid_utf8_in_a_text_frame_closes_with_1007_and_invokes_nothing(tmp_path, caplog):
    caplog.set_level(logging.INFO)

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
    # The log names the code the server sent, not 1006 (the client never answered it).
    disconnected = [r.getMessage() for r in caplog.records if "disconnected" in r.getMessage()]
    assert len(disconnected) == 1
    assert "(1007 " in disconnected[0]


def test_a_close_without_a_reason_is_logged_with_its_code_alone(tmp_path, caplog):
    caplog.set_level(logging.INFO)

    async def scenario(stack, http, calls):
        async with connect(stack.ws_url):
            pass  # the client closes with 1000 and no reason
        await stack.idle()

    run(tmp_path, scenario)
    (line,) = [r.getMessage() for r in caplog.records if "disconnected" in r.getMessage()]
    assert line.endswith(" (1000)"), line


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


# -- one line per refused or malformed request, client text escaped ----------------------------


def one_line(caplog, needle: str) -> str:
    """The one log record holding ``needle``; asserts there is exactly one, with no traceback,
    no line break and no raw control character."""
    found = [r for r in caplog.records if needle in r.getMessage()]
    assert len(found) == 1, [r.getMessage() for r in found]
    message = found[0].getMessage()
    assert found[0].exc_info is None
    assert not any(ord(c) < 0x20 or ord(c) == 0x7F for c in message), repr(message)
    return message


CLIENT_HELLO = b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + b"\x00" * 40


def test_garbage_and_a_tls_hello_on_the_http_port_are_400_and_one_line_each(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)

    async def scenario(stack, http, calls):
        garbage = await exchange(stack.http_port, b"garbage\r\n\r\n")
        hello = await exchange(stack.http_port, CLIENT_HELLO)
        return garbage, hello

    garbage, hello = run(tmp_path, scenario)
    assert garbage.split(b" ")[1] == b"400"  # as HTTP/1.0: the request had no version
    assert hello.split(b" ")[1] == b"400"
    malformed = [r for r in caplog.records if "malformed request" in r.getMessage()]
    assert len(malformed) == 2
    for record in malformed:
        assert record.levelno == logging.INFO
        assert record.exc_info is None
        assert not any(ord(c) < 0x20 for c in record.getMessage())
    assert "garbage" in malformed[0].getMessage()


def test_cr_lf_and_nul_in_paths_are_answered_as_unknown_routes_and_logged_escaped(tmp_path, caplog):
    caplog.set_level(logging.INFO)

    async def scenario(stack, http, calls):
        rest = await exchange(
            stack.http_port, b"GET /dev/x%0aFAKE HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        )
        nul = await exchange(
            stack.http_port, b"GET /dev/x%00y HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        )
        url = f"{stack.http_url}/2015-03-31/functions/x%0d%0aF/invocations"
        body = b"{}"
        headers = signed(url, body)
        request = (
            "POST /2015-03-31/functions/x%0d%0aF/invocations HTTP/1.1\r\n"
            + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
            + f"Host: 127.0.0.1:{stack.http_port}\r\nContent-Length: {len(body)}\r\n"
            + "Connection: close\r\n\r\n"
        )
        invoke = await exchange(stack.http_port, request.encode() + body)
        return rest, nul, invoke

    rest, nul, invoke = run(tmp_path, scenario)
    assert rest.startswith(b"HTTP/1.1 403 ")
    assert rest.endswith(b'{"message":"Missing Authentication Token"}')
    assert nul.startswith(b"HTTP/1.1 403 ")
    assert invoke.startswith(b"HTTP/1.1 404 ")
    assert b"ResourceNotFoundException" in invoke
    assert "GET /dev/x\\nFAKE -> 403" in one_line(caplog, "FAKE")
    assert "GET /dev/x\\x00y -> 403" in one_line(caplog, "x00y")
    assert "404 ResourceNotFoundException" in one_line(caplog, "Invoke x")


def test_a_header_name_with_crlf_from_a_handler_is_logged_in_one_line(tmp_path, caplog):
    caplog.set_level(logging.INFO)

    async def scenario(stack, http, calls):
        async with http.get(f"{stack.rest_url}/crlfname") as response:
            return response.status

    assert run(tmp_path, scenario) == 502
    assert "X-A\\r\\nInjected-Line" in one_line(caplog, "Malformed Lambda proxy response")


def test_refusals_of_the_invoke_and_control_apis_and_handshakes_are_one_line_each(tmp_path, caplog):
    caplog.set_level(logging.INFO)

    async def scenario(stack, http, calls):
        name = stack.service.functions["echo"].name
        url = f"{stack.http_url}/2015-03-31/functions/{name}/invocations"
        async with http.post(url, data=b"{}") as unsigned:
            statuses = [unsigned.status]
        async with http.post(url, data=DEEP, headers=signed(url, DEEP)) as deep:
            statuses.append(deep.status)
        config = f"{stack.http_url}/_emulator/config"
        async with http.put(config, data=b"{}", headers={"Content-Type": "text/plain"}) as plain:
            statuses.append(plain.status)
        async with http.put(
            config, data=b"[1]", headers={"Content-Type": "application/json"}
        ) as bad:
            statuses.append(bad.status)
        refused = await exchange(
            stack.ws_port,
            f"GET /{stack.service.stage} HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n".encode(),
        )
        statuses.append(int(refused.split(b" ")[1]))
        return statuses

    assert run(tmp_path, scenario) == [403, 400, 415, 400, 400]
    assert "MissingAuthenticationTokenException" in one_line(caplog, "Invoke refused")
    assert "400 InvalidRequestContentException" in one_line(caplog, "answered 400 Invalid")
    assert "application/json" in one_line(caplog, "control PUT /_emulator/config answered 415")
    assert "JSON object" in one_line(caplog, "control PUT /_emulator/config answered 400")
    handshake = one_line(caplog, "WebSocket handshake refused with 400")
    assert "You cannot access" not in handshake  # websockets' second paragraph left out
