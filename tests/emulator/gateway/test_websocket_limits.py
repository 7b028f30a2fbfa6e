"""WebSocket limits on a virtual clock: idle timeout, maximum duration, message sizes and the
new-connection rate, asserted exactly, whatever the machine is doing.

The real WebSocket gateway on real loopback sockets, with in-loop handlers (tests/virtual.py):
emulated time is the loop's, which jumps from timer to timer, so AWS's own 10-minute idle timeout
and 2-hour maximum duration cost nothing real, and "closes at exactly 600 s, never before" is an
equality. Quotas: https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html
"""

import asyncio
import contextlib
import json

import aiohttp
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from emulator.core.connection_limits import WebSocketLimits
from emulator.stack import StackConfig
from tests.support import sigv4_headers
from tests.virtual import run_virtual, service_file, virtual_stack

EXACT = 1e-6  # the virtual clock's resolution: float rounding, not a tolerance for lateness
AWS = WebSocketLimits()  # AWS's quotas: 10 min idle, 2 h in all, 128 KB messages, 32 KB frames
KB = 1024

FUNCTIONS = """
echo:
  handler: app.echo
  events: [{websocket: {route: $default, routeResponseSelectionExpression: $default}}]
oneway:
  handler: app.oneway
  events: [{websocket: oneway}]
"""


def run(tmp_path, scenario, limits: WebSocketLimits = AWS):
    """Run ``scenario(stack, http, calls)`` against a virtual stack with ``limits``; ``calls``
    lists the route keys the handlers were invoked for, in order."""
    path = service_file(tmp_path, FUNCTIONS)
    calls: list[str] = []

    async def echo(event, context):
        calls.append(event["requestContext"]["routeKey"])
        return {"statusCode": 200, "body": event["body"]}

    async def oneway(event, context):
        calls.append(event["requestContext"]["routeKey"])

    async def main():
        config = StackConfig(websocket_limits=limits)
        async with (
            virtual_stack(path, {"echo": echo, "oneway": oneway}, config=config) as stack,
            aiohttp.ClientSession() as http,
        ):
            return await scenario(stack, http, calls)

    return run_virtual(main)


def open_ws(stack, **options):
    """A client on the test's loop. No keepalive pings: the limits are about data messages, and
    the client's ping timer would otherwise wake the loop every 20 emulated seconds."""
    return connect(stack.ws_url, ping_interval=None, **options)


async def close_time(stack, ws) -> float:
    """The emulated time at which ``ws`` closed."""
    await ws.wait_closed()
    return stack.clock.now()


def connection_id(stack) -> str:
    (only,) = stack.websocket.connections
    return only


async def post_to_connection(stack, http, connection: str, data: bytes):
    """@connections PostToConnection, as boto3 sends it (the body is the message)."""
    url = f"{stack.connections_url}/@connections/{connection}"
    headers = sigv4_headers("POST", url, data, service="execute-api")
    async with http.post(url, data=data, headers=headers) as response:
        return response.status, response.headers.get("x-amzn-ErrorType")


# -- idle timeout ---------------------------------------------------------------------------------


def test_an_idle_connection_closes_with_1001_at_exactly_the_idle_timeout(tmp_path):
    async def scenario(stack, http, calls):
        async with open_ws(stack) as ws:
            started = stack.clock.now()
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
            return closed.value, stack.clock.now() - started

    closed, elapsed = run(tmp_path, scenario)
    assert elapsed == pytest.approx(AWS.idle_timeout, abs=EXACT)  # 600 s: not before, not after
    assert closed.rcvd is not None  # the close frame reached the client
    assert (closed.rcvd.code, closed.rcvd.reason) == (1001, "Going away: idle timeout")


@pytest.mark.parametrize("direction", ["client to server", "server to client"])
def test_a_data_message_either_way_restarts_the_idle_timer(tmp_path, direction):
    async def scenario(stack, http, calls):
        async with open_ws(stack) as ws:
            start = stack.clock.now()
            await asyncio.sleep(250)
            if direction == "client to server":
                await ws.send(json.dumps({"action": "oneway"}))  # one-way: nothing comes back
            else:
                status, _ = await post_to_connection(stack, http, connection_id(stack), b"hi")
                assert status == 200
                assert await ws.recv() == "hi"
            last_message = stack.clock.now() - start
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
            return closed.value, last_message, stack.clock.now() - start

    closed, last_message, closed_at = run(tmp_path, scenario)
    assert last_message == pytest.approx(250, abs=EXACT)
    assert closed_at == pytest.approx(250 + AWS.idle_timeout, abs=EXACT)
    assert (closed.rcvd.code, closed.rcvd.reason) == (1001, "Going away: idle timeout")


# -- maximum connection duration ------------------------------------------------------------------


async def talk_every(ws, seconds: float, replies: list[int]) -> None:
    """Send a message and read its echo every ``seconds``, until the connection closes."""
    while True:
        await ws.send(json.dumps({"action": "ping", "n": len(replies)}))
        replies.append(json.loads(await ws.recv())["n"])
        await asyncio.sleep(seconds)


def test_traffic_keeps_a_connection_open_only_up_to_exactly_the_maximum_duration(tmp_path):
    every = 500.0  # a message every 500 s: always inside the 600 s idle timeout

    async def scenario(stack, http, calls):
        async with open_ws(stack) as ws:
            start = stack.clock.now()
            closing = asyncio.create_task(close_time(stack, ws))
            replies: list[int] = []
            with pytest.raises(ConnectionClosed) as closed:
                await talk_every(ws, every, replies)
            return closed.value, replies, await closing - start

    closed, replies, closed_at = run(tmp_path, scenario)
    assert replies == list(range(15))  # at 0, 500, ..., 7000 s: every message was answered
    assert closed_at == pytest.approx(AWS.max_duration, abs=EXACT)  # 2 h, though never idle
    assert (closed.rcvd.code, closed.rcvd.reason) == (
        1001,
        "Going away: maximum connection duration reached",
    )


# -- message and frame sizes ----------------------------------------------------------------------


async def close_of(ws, *messages) -> ConnectionClosed:
    """Send ``messages`` and wait for a reply, expecting the server to close the connection.

    The server may close while the client is still sending a message's frames, so the close is
    observed by ``send`` or by ``recv``, whichever the client is in: both are inside the one
    ``pytest.raises``. The exception's ``rcvd`` is the close frame the client received (None if
    the connection was dropped without one)."""
    with pytest.raises(ConnectionClosed) as closed:
        await send_then_receive(ws, messages)
    return closed.value


async def send_then_receive(ws, messages) -> None:
    for message in messages:
        await ws.send(message)
    await ws.recv()


@pytest.mark.parametrize("size", [32 * KB + 1, 200 * KB], ids=["just over", "over 128 KB"])
def test_a_frame_over_32_kb_closes_with_1009_after_the_close_frame(tmp_path, size):
    """Whatever the frame's size: a frame over 128 KB + 32 KB is refused by the protocol library
    before it is read whole, with the same close."""

    async def scenario(stack, http, calls):
        async with open_ws(stack) as ws:
            return await close_of(ws, "x" * size), ws.close_code, calls

    closed, close_code, calls = run(tmp_path, scenario)
    assert closed.rcvd is not None
    assert (closed.rcvd.code, closed.rcvd.reason) == (1009, "Frame size limit exceeded (32 KB)")
    assert close_code == 1009
    assert calls == []


def test_a_message_over_128_kb_closes_with_1009_and_nothing_after_it_is_processed(tmp_path):
    chunk = "y" * (32 * KB)

    async def scenario(stack, http, calls):
        async with open_ws(stack) as bystander, open_ws(stack) as ws:
            # 96 KB in 32 KB frames is within the limits: it reaches its route.
            await ws.send(['{"action": "oneway", "pad": "', chunk, chunk, chunk, '"}'])
            await ws.send(json.dumps({"action": "echo"}))
            assert json.loads(await ws.recv()) == {"action": "echo"}
            # 160 KB, then a message the server must not process: it failed the connection.
            closed = await close_of(ws, [chunk] * 5, json.dumps({"action": "after"}))
            await bystander.send(json.dumps({"action": "still here"}))
            bystander_reply = json.loads(await bystander.recv())
        await stack.idle()
        return closed, ws.close_code, bystander_reply, calls, stack.metrics.snapshot()

    closed, close_code, bystander_reply, calls, metrics = run(tmp_path, scenario)
    assert closed.rcvd is not None  # the emulator sent its close frame before dropping
    assert (closed.rcvd.code, closed.rcvd.reason) == (1009, "Message size limit exceeded (128 KB)")
    assert close_code == 1009
    assert bystander_reply == {"action": "still here"}  # other connections are untouched
    assert calls == ["oneway", "$default", "$default"]  # the 96 KB, the echo, the bystander's
    assert metrics["websocket"]["messages_in"] == 3


def test_posts_over_128_kb_to_connections_are_refused_with_413(tmp_path):
    async def scenario(stack, http, calls):
        async with open_ws(stack, max_size=None) as ws:
            connection = connection_id(stack)
            too_big = await post_to_connection(stack, http, connection, b"x" * (128 * KB + 1))
            fits = await post_to_connection(stack, http, connection, b"z" * (128 * KB))
            return too_big, fits, await ws.recv()

    too_big, fits, received = run(tmp_path, scenario)
    assert too_big == (413, "PayloadTooLargeException")
    assert fits[0] == 200
    assert received == "z" * (128 * KB)


def test_a_configured_message_limit_applies_to_clients_and_to_connections_posts(tmp_path):
    limits = WebSocketLimits(max_message_bytes=64 * KB)
    chunk = "y" * (32 * KB)

    async def scenario(stack, http, calls):
        async with open_ws(stack, max_size=None) as ws:
            connection = connection_id(stack)
            refused = await post_to_connection(stack, http, connection, b"x" * (64 * KB + 1))
            return refused, await close_of(ws, [chunk, chunk, "!"])  # 64 KB + 1 in 32 KB frames

    refused, closed = run(tmp_path, scenario, limits)
    assert refused == (413, "PayloadTooLargeException")
    assert closed.rcvd is not None
    assert (closed.rcvd.code, closed.rcvd.reason) == (1009, "Message size limit exceeded (64 KB)")


# -- new-connection rate --------------------------------------------------------------------------


def test_new_connections_beyond_the_rate_are_refused_with_429_until_a_token_has_accrued(tmp_path):
    """A token bucket of ``rate`` a second, bursting to one second's worth. AWS's account quota is
    500 a second; 4 here keeps the sockets few, and a power of two keeps the times exact."""
    limits = WebSocketLimits(new_connections_per_second=4)
    period = 1 / limits.new_connections_per_second  # 0.25 s per token

    async def attempt(stack, held) -> int:
        try:
            held.append(await open_ws(stack))
        except InvalidStatus as refused:
            return refused.response.status_code
        return 101

    async def scenario(stack, http, calls):
        held = []
        try:
            burst = [await attempt(stack, held) for _ in range(5)]
            await asyncio.sleep(period / 2)
            half_a_token = await attempt(stack, held)
            await asyncio.sleep(period / 2)
            one_token = [await attempt(stack, held) for _ in range(2)]
            return burst, half_a_token, one_token, stack.clock.now()
        finally:
            for ws in held:
                await ws.close()

    burst, half_a_token, one_token, now = run(tmp_path, scenario, limits)
    assert burst == [101, 101, 101, 101, 429]
    assert half_a_token == 429
    assert one_token == [101, 429]
    assert now == pytest.approx(period, abs=EXACT)


# -- the $disconnect event's close code and reason -------------------------------------------------

DISCONNECT_FUNCTIONS = """
echo:
  handler: app.echo
  events: [{websocket: {route: $default, routeResponseSelectionExpression: $default}}]
gone:
  handler: app.gone
  events: [{websocket: $disconnect}]
"""


async def _send_binary(ws) -> None:
    await ws.send(b"\x00binary")
    await ws.recv()


async def _send_big_frame(ws) -> None:
    await ws.send("a" * (32 * KB + 1))
    await ws.recv()


async def _wait_for_idle_close(ws) -> None:
    await ws.recv()


async def _client_closes(ws) -> None:
    await ws.close(4000, "client done")


@pytest.mark.parametrize(
    ("act", "expected"),
    [
        (_send_big_frame, (1009, "Frame size limit exceeded (32 KB)")),
        (_send_binary, (1003, "Binary frames are not supported")),
        (_wait_for_idle_close, (1001, "Going away: idle timeout")),
        (_client_closes, (4000, "client done")),
    ],
    ids=["frame over 32 KB", "binary frame", "idle timeout", "client close"],
)
def test_the_disconnect_event_carries_the_close_code_and_reason_sent(tmp_path, act, expected):
    """The $disconnect Lambda gets, in ``requestContext``, the close the client saw: the gateway's
    when it closed the connection (not the 1006 of a peer that never answered its close frame),
    the client's own when the client closed first."""
    path = service_file(tmp_path, DISCONNECT_FUNCTIONS)
    events: list[dict] = []

    async def echo(event, context):
        return {"statusCode": 200, "body": event["body"]}

    async def gone(event, context):
        events.append(event["requestContext"])
        return {"statusCode": 200}

    async def main():
        async with virtual_stack(path, {"echo": echo, "gone": gone}) as stack:
            async with open_ws(stack, max_size=None) as ws:
                with contextlib.suppress(ConnectionClosed):
                    await act(ws)
                await ws.wait_closed()
                seen = (ws.close_code, ws.close_reason)
            await stack.idle()
            return seen

    seen = run_virtual(main)
    (context,) = events
    assert context["eventType"] == "DISCONNECT"
    assert (context["disconnectStatusCode"], context["disconnectReason"]) == expected
    if expected[0] != 4000:  # the gateway closed: the client received that very close frame
        assert seen == expected
