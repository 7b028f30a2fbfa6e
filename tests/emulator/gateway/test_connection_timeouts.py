"""Header and idle timeouts on the HTTP and WebSocket ports, and what they never cut.

These guard sockets in real seconds, so the tests run on a real-time loop with timeouts of a few
tenths of a second: a stalled or idle client is cut (the test only waits for the close, with no
upper bound), while a held request, a response stream and an open WebSocket that each last
several times the timeouts are answered in full.
"""

import asyncio
import json
import logging

import aiohttp
import pytest
from websockets.asyncio.client import connect

from emulator.core.connection_timeouts import ConnectionTimeouts
from emulator.stack import StackConfig
from tests.virtual import service_file, virtual_stack

SHORT = 0.2  # real seconds
LONG = 3600.0  # a timeout the test never reaches
HELD = 1.0  # real seconds a handler holds its request: five times SHORT

FUNCTIONS = """
quick:
  handler: app.quick
  events: [{http: GET quick}, {http: POST quick}]
held:
  handler: app.held
  events: [{http: GET held}]
stream:
  handler: app.stream
  events: [{http: GET stream}]
default:
  handler: app.default
  events: [{websocket: {route: $default}}]
"""
EXTRA = """
custom:
  timeoutlab:
    streamingRoutes: [GET /stream]
"""


async def quick(event, context):
    return {"statusCode": 200, "body": "quick"}


async def held(event, context):
    await context.sleep(HELD)  # a long poll: the request is held, no byte either way
    return {"statusCode": 200, "body": "held"}


async def stream(event, context):
    yield {"statusCode": 200, "headers": {"Content-Type": "text/plain"}}
    for i in range(3):
        await context.sleep(HELD / 2)  # quiet for longer than the timeouts between chunks
        yield f"part {i}\n"


async def default(event, context):
    return {"statusCode": 200}


HANDLERS = {"quick": quick, "held": held, "stream": stream, "default": default}


def run(tmp_path, scenario, timeouts: ConnectionTimeouts):
    """``scenario(stack)`` against a stack on a real-time loop (time scale 1)."""
    path = service_file(tmp_path, FUNCTIONS, extra=EXTRA)
    config = StackConfig(connection_timeouts=timeouts)

    async def main():
        async with virtual_stack(path, HANDLERS, config=config) as stack:
            return await scenario(stack)

    return asyncio.run(main())


async def closed_by_server(port: int, data: bytes) -> bytes:
    """Send ``data`` and read until the server ends the connection; what it sent before."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    received = b""
    try:
        while chunk := await reader.read(65536):
            received += chunk
    except ConnectionResetError:
        pass  # an abort is a close too
    writer.close()
    return received


PORTS = ["http_port", "ws_port"]


@pytest.mark.parametrize("port", PORTS)
def test_a_half_sent_request_is_cut_at_the_header_timeout(tmp_path, port, caplog):
    caplog.set_level(logging.INFO)

    async def scenario(stack):
        return await closed_by_server(getattr(stack, port), b"GET /dev/quick HTTP/1.1\r\nHost: a")

    timeouts = ConnectionTimeouts(header_timeout=SHORT, idle_timeout=LONG)
    assert run(tmp_path, scenario, timeouts) == b""  # closed, never answered
    cut = [r for r in caplog.records if "not received within" in r.getMessage()]
    assert len(cut) == 1


@pytest.mark.parametrize("port", PORTS)
def test_an_idle_connection_is_cut_at_the_idle_timeout(tmp_path, port):
    async def scenario(stack):
        never_asked = await closed_by_server(getattr(stack, port), b"")
        path = "/dev/quick" if port == "http_port" else "/dev/@connections/x"
        # One whole request on a keep-alive connection, then nothing.
        after_one = await closed_by_server(
            getattr(stack, port), f"GET {path} HTTP/1.1\r\nHost: a\r\n\r\n".encode()
        )
        return never_asked, after_one

    timeouts = ConnectionTimeouts(header_timeout=LONG, idle_timeout=SHORT)
    never_asked, after_one = run(tmp_path, scenario, timeouts)
    assert never_asked == b""
    assert after_one.startswith(b"HTTP/1.1 ")  # answered, then closed once idle
    assert after_one.count(b"HTTP/1.1 ") == 1


def test_held_requests_streams_and_open_websockets_are_never_cut(tmp_path):
    async def scenario(stack):
        # A connection per request: on a kept-alive one, the moment between the held answer and
        # the stream's request is idle, and a process paused there for 0.2 s (a busy machine)
        # would be cut by the idle timeout, as it should be; what is in progress never is.
        connector = aiohttp.TCPConnector(force_close=True)
        async with aiohttp.ClientSession(connector=connector) as http:
            async with http.get(f"{stack.rest_url}/held") as response:
                held_answer = response.status, await response.text()
            async with http.get(f"{stack.rest_url}/stream") as response:
                streamed = response.status, await response.text()
        async with connect(stack.ws_url) as ws:
            await asyncio.sleep(HELD)  # idle far past the ports' timeouts
            await ws.send(json.dumps({"action": "anything"}))
            await asyncio.sleep(SHORT)
            open_after = ws.state.name
        return held_answer, streamed, open_after

    timeouts = ConnectionTimeouts(header_timeout=SHORT, idle_timeout=SHORT)
    held_answer, streamed, open_after = run(tmp_path, scenario, timeouts)
    assert held_answer == (200, "held")
    assert streamed == (200, "part 0\npart 1\npart 2\n")
    assert open_after == "OPEN"


STALLED_BODY = b"POST /dev/quick HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc"


async def timed_close(port: int, data: bytes) -> tuple[bytes, float]:
    """``closed_by_server``, and the real seconds from the last byte sent to the close."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    answer = await closed_by_server(port, data)
    return answer, loop.time() - started


def test_a_request_body_that_stalls_is_answered_408_and_closed(tmp_path, caplog):
    caplog.set_level(logging.INFO)

    async def scenario(stack):
        # The head is whole; the body announces 10 bytes and sends 3.
        return await timed_close(stack.http_port, STALLED_BODY)

    timeouts = ConnectionTimeouts(header_timeout=SHORT, idle_timeout=LONG)
    answer, closed_after = run(tmp_path, scenario, timeouts)
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert closed_after >= SHORT  # never before the timeout
    stalled = [r.getMessage() for r in caplog.records if "body stalled" in r.getMessage()]
    assert stalled == [f"POST /dev/quick: request body stalled for {SHORT:g} s; answered 408"]


@pytest.mark.timing
def test_a_stalled_body_is_closed_at_one_header_timeout_not_two(tmp_path):
    """The 408 closes the connection at once: aiohttp does not linger another timeout reading a
    body that is not coming (the bug was a close at 2 x --header-timeout)."""
    timeout = 1.0

    async def scenario(stack):
        return await timed_close(stack.http_port, STALLED_BODY)

    timeouts = ConnectionTimeouts(header_timeout=timeout, idle_timeout=LONG)
    answer, closed_after = run(tmp_path, scenario, timeouts)
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert timeout <= closed_after < 1.9 * timeout, closed_after
