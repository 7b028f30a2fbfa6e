"""Fuzzing both ports and @connections with hypothesis: whatever arrives, the emulator keeps
serving.

Each example is a batch of requests, some well formed and most not: raw HTTP to the REST API,
``/_emulator/`` and the Lambda Invoke API on the HTTP port; handshake requests, WebSocket frames
and @connections calls on the WebSocket port. After each batch ``/_emulator/health`` must answer
200, a report (an inline handler behind REST) must still succeed and a WebSocket round trip must
still work; at the end no traceback was logged. Bounded to seconds: few examples, derandomized
(the same inputs on every run), short connection timeouts so a half-sent request ends quickly.
"""

import asyncio
import contextlib
import json
import logging
import socket
import threading

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.frames import Frame, Opcode
from websockets.sync.client import connect

from emulator.core.connection_timeouts import ConnectionTimeouts
from emulator.stack import StackConfig
from tests.virtual import service_file, virtual_stack

FUNCTIONS = """
report:
  handler: app.report
  events: [{http: POST reports}, {http: 'GET echo/{proxy+}'}]
default:
  handler: app.default
  events: [{websocket: {route: $default}}]
echo:
  handler: app.echo
  events: [{websocket: {route: echo, routeResponseSelectionExpression: $default}}]
"""
READ_TIMEOUT = 2.0  # real seconds a fuzz connection is read before the test moves on


async def report(event, context):
    await context.sleep(0.01)
    return {"statusCode": 200, "body": json.dumps({"url": "https://example/report.csv"})}


async def default(event, context):
    return {"statusCode": 200}


async def echo(event, context):
    return {"statusCode": 200, "body": event.get("body") or ""}


HANDLERS = {"report": report, "default": default, "echo": echo}


class RunningStack:
    """A stack with in-loop handlers on a real-time loop in a thread of its own."""

    def __init__(self, tmp_path) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.exit = contextlib.AsyncExitStack()
        self.path = service_file(tmp_path, FUNCTIONS)

    def __enter__(self):
        self.thread.start()
        config = StackConfig(connection_timeouts=ConnectionTimeouts(0.5, 0.5))
        context = virtual_stack(self.path, HANDLERS, config=config)
        return self.call(self.exit.enter_async_context(context))

    def call(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(60)

    def __exit__(self, *_):
        self.call(self.exit.aclose())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def exchange(port: int, chunks: list[bytes]) -> bytes:
    """Send ``chunks`` on a fresh connection, end our side, read what comes back."""
    with socket.create_connection(("127.0.0.1", port), timeout=READ_TIMEOUT) as sock:
        received = b""
        try:
            for chunk in chunks:
                sock.sendall(chunk)
            sock.shutdown(socket.SHUT_WR)
            while data := sock.recv(65536):
                received += data
        except OSError:  # timed out, reset, or cut before we finished: all the same here
            pass
        return received


# -- strategies --------------------------------------------------------------------------------

METHODS = st.sampled_from(
    ["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "TRACE", "CONNECT", "G\x00T", ""]
)
PATHS = st.sampled_from(
    [
        "/dev/reports",
        "/dev/echo/a%2Fb?x=1&x=2",
        "/_emulator/config",
        "/_emulator/health",
        "/_emulator/reset",
        "/_emulator/nothing",
        "/2015-03-31/functions/fuzz-dev-report/invocations",
        "/2015-03-31/functions/%2e%2e/invocations",
        "/dev/@connections/abc",
        "/dev/@connections/",
        "/dev",
        "*",
        "//..//",
        "/\xff\xfe",
    ]
)
DEEP = "[" * 1000 + "]" * 1000
BODIES = st.one_of(
    st.binary(max_size=300),
    st.just(DEEP.encode()),
    st.just(b'{"integrationTimeout": 1e999}'),
    st.just(b'{"routes": {"POST /reports": -1}}'),
    st.just(b'{"action": "echo", "x": "\xff"}'),
    st.text(max_size=100).map(str.encode),
)
HEADER_TEXT = st.text(
    alphabet=st.characters(min_codepoint=0, max_codepoint=0x2FF), min_size=0, max_size=30
)
HEADERS = st.lists(
    st.one_of(
        st.tuples(
            st.sampled_from(
                [
                    "Content-Type",
                    "Content-Length",
                    "Transfer-Encoding",
                    "Origin",
                    "Authorization",
                    "X-Amz-Invocation-Type",
                    "Connection",
                    "Expect",
                    "Host",
                ]
            ),
            HEADER_TEXT,
        ),
        st.tuples(HEADER_TEXT, HEADER_TEXT),
    ),
    max_size=5,
)


@st.composite
def http_requests(draw) -> list[bytes]:
    """An HTTP/1.1 request built from parts, or plain random bytes; split at random."""
    if draw(st.integers(0, 4)) == 0:
        return [draw(st.binary(min_size=1, max_size=400))]
    method, path, body = draw(METHODS), draw(PATHS), draw(BODIES)
    version = draw(st.sampled_from(["HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/1.1 x", ""]))
    lines = [f"{method} {path} {version}", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in draw(HEADERS)]
    if draw(st.booleans()):
        lines.append(f"Content-Length: {len(body) + draw(st.sampled_from([0, 0, 0, -1, 5]))}")
    raw = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogatepass") + body
    cut = draw(st.integers(0, len(raw)))
    return [raw[:cut], raw[cut:]] if draw(st.booleans()) else [raw]


HANDSHAKE = (
    "GET /dev HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
)


@st.composite
def websocket_sessions(draw) -> list[bytes]:
    """A handshake (sometimes mangled), then frames: valid, odd or random bytes."""
    extra = "".join(f"{name}: {value}\r\n" for name, value in draw(HEADERS))
    handshake = HANDSHAKE + extra
    if draw(st.integers(0, 3)) == 0:
        handshake = handshake.replace(
            draw(st.sampled_from(["13", "websocket", "/dev", "GET"])), draw(HEADER_TEXT)
        )
    chunks = [(handshake + "\r\n").encode("utf-8", "surrogatepass")]
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.integers(0, 3))
        if kind == 0:
            chunks.append(draw(st.binary(min_size=1, max_size=64)))
            continue
        opcode = draw(st.sampled_from(list(Opcode)))
        data = draw(BODIES) if kind == 1 else json.dumps({"action": "echo"}).encode()
        if opcode in (Opcode.CLOSE, Opcode.PING, Opcode.PONG):
            data = data[:100]
        with contextlib.suppress(Exception):  # a frame the library will not even serialize
            frame = Frame(opcode, data, fin=draw(st.booleans()))
            chunks.append(frame.serialize(mask=draw(st.booleans()), extensions=[]))
    return chunks


TARGETS = st.one_of(
    st.tuples(st.just("http_port"), http_requests()),
    st.tuples(st.just("ws_port"), http_requests()),  # @connections and anything else
    st.tuples(st.just("ws_port"), websocket_sessions()),
)


def still_serving(stack) -> None:
    """Health answers 200, a report succeeds, a WebSocket round trip works."""
    health = httpx.get(f"{stack.http_url}/_emulator/health", timeout=30)
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    report_answer = httpx.post(f"{stack.rest_url}/reports", json={"delay": 1}, timeout=30)
    assert report_answer.status_code == 200
    assert report_answer.json()["url"].endswith(".csv")
    with connect(stack.ws_url, open_timeout=30) as ws:
        ws.send(json.dumps({"action": "echo", "n": 1}))
        assert json.loads(ws.recv(timeout=30)) == {"action": "echo", "n": 1}


@pytest.fixture(scope="module")
def fuzzed_stack(tmp_path_factory):
    with RunningStack(tmp_path_factory.mktemp("fuzz")) as stack:
        yield stack


@pytest.mark.fuzz
def test_the_emulator_survives_fuzzed_batches_on_both_ports(fuzzed_stack, caplog):
    caplog.set_level(logging.INFO)
    stack = fuzzed_stack
    still_serving(stack)

    @settings(
        max_examples=25,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(st.lists(TARGETS, min_size=1, max_size=4))
    def batch(requests) -> None:
        for port, chunks in requests:
            exchange(getattr(stack, port), chunks)
        still_serving(stack)

    batch()
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert tracebacks == [], [r.getMessage() for r in tracebacks]
