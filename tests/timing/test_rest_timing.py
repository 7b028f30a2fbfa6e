"""The REST API's deadlines end to end: the 504 at 29 s, and a 5 s report delivered on time."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from emulator.stack import Stack, StackThread
from tests.support import stack_config
from tests.timing.bounds import client_bounds, gateway_lateness, gateway_overhead

pytestmark = pytest.mark.timing

INTEGRATION_TIMEOUT_S = 29.0


@pytest.fixture(scope="module")
def stack(moto_server) -> Iterator[Stack]:
    """The bundled report app behind the gateway, its report function warm."""
    with StackThread(stack_config(moto_server.endpoint_url)) as running, httpx.Client() as client:
        warm = client.post(f"{running.rest_url}/reports", json={"delay": 0, "amountOfRows": 1})
        assert warm.status_code == 200, warm.text
        yield running


@pytest.fixture
def client(stack: Stack) -> Iterator[httpx.Client]:
    """A client with a connection already open, and metrics counting from zero."""
    with httpx.Client(timeout=30) as c:
        c.get(f"{stack.http_url}/_emulator/health").raise_for_status()
        stack.wait_idle()
        stack.metrics.reset()
        yield c


def post_report(client: httpx.Client, stack: Stack, delay_s: float) -> tuple[int, float]:
    """The status of a report's response and how long (emulated s) the client waited for it."""
    started = time.monotonic()
    response = client.post(
        f"{stack.rest_url}/reports", json={"delay": int(delay_s * 1000), "amountOfRows": 10}
    )
    return response.status_code, stack.clock.to_emulated(time.monotonic() - started)


def test_a_40_s_report_gets_the_504_never_before_29_s_and_not_much_after(
    stack, client, timing_figure
):
    status, elapsed = post_report(client, stack, 40)
    assert status == 504
    client_line = client_bounds(stack, elapsed, INTEGRATION_TIMEOUT_S)
    figures = stack.metrics.snapshot()["precision"]
    assert figures["integration_timeouts"] == 1
    late = gateway_lateness(figures)
    timing_figure(f"{client_line}; gateway lateness {late:.4f}")


def test_a_5_s_report_is_delivered_never_before_5_s_and_not_much_after(
    stack, client, timing_figure
):
    status, elapsed = post_report(client, stack, 5)
    assert status == 200
    client_line = client_bounds(stack, elapsed, 5.0)
    figures = stack.metrics.snapshot()["precision"]
    assert figures["integration_timeouts"] == 0
    timing_figure(f"{client_line}; {gateway_overhead(figures)}")
