"""The WebSocket API's deadlines end to end: a 40 s report pushed on time, the idle timeout."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from emulator.core.connection_limits import WebSocketLimits
from emulator.stack import Stack, StackThread
from tests.support import stack_config
from tests.timing.bounds import client_bounds, gateway_lateness, gateway_overhead

pytestmark = pytest.mark.timing

#: Longer than a 40 s report plus its allowance, so only the idle test's silence reaches it.
IDLE_TIMEOUT_S = 60.0


@pytest.fixture(scope="module")
def stack(moto_server) -> Iterator[Stack]:
    """The bundled report app behind the gateway, with a short idle timeout, its functions warm
    ($connect, generateReport, the report and its delivery, $disconnect)."""
    limits = WebSocketLimits(idle_timeout=IDLE_TIMEOUT_S)
    with StackThread(stack_config(moto_server.endpoint_url, websocket_limits=limits)) as running:
        with connect(running.ws_url) as ws:
            ws.send(json.dumps({"action": "generateReport", "delay": 0, "amountOfRows": 1}))
            assert json.loads(ws.recv(timeout=10))["status"] == "accepted"
            assert "url" in json.loads(ws.recv(timeout=30))
        yield running


@pytest.fixture
def fresh(stack: Stack) -> Stack:
    """The stack with nothing running and its metrics counting from zero."""
    stack.wait_idle()
    stack.metrics.reset()
    return stack


def test_a_40_s_report_is_pushed_never_before_40_s_and_not_much_after(fresh, timing_figure):
    with connect(fresh.ws_url) as ws:
        started = time.monotonic()
        ws.send(json.dumps({"action": "generateReport", "delay": 40_000, "amountOfRows": 10}))
        assert json.loads(ws.recv(timeout=10))["status"] == "accepted"
        result = json.loads(ws.recv(timeout=30))
        elapsed = fresh.clock.to_emulated(time.monotonic() - started)
    assert "url" in result
    client_line = client_bounds(fresh, elapsed, 40.0)
    figures = fresh.metrics.snapshot()["precision"]
    assert figures["integration_timeouts"] == 0
    timing_figure(f"{client_line}; {gateway_overhead(figures)} (generateReport route)")


def test_a_silent_connection_is_closed_with_1001_at_the_idle_timeout(fresh, timing_figure):
    # The gateway's idle timer starts once it has accepted the handshake, after $connect: the
    # client's clock starts before the handshake, so never before the server's.
    started = time.monotonic()
    with connect(fresh.ws_url) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=30)
        elapsed = fresh.clock.to_emulated(time.monotonic() - started)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1001
    client_line = client_bounds(fresh, elapsed, IDLE_TIMEOUT_S)
    figures = fresh.metrics.snapshot()["precision"]
    assert figures["connection_limit_closes"] == 1
    late = gateway_lateness(figures, "close_lateness_s")
    timing_figure(f"{client_line}; gateway lateness {late:.4f} (idle close)")
