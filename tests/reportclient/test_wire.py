"""The client's HTTP byte counting (httpcore's public network-backend interface) against the
emulator's own count at its socket, for the same requests."""

import httpx
import pytest

from emulator.backends.moto_server import free_port
from emulator.stack import StackThread
from reportclient.results import Costs
from reportclient.wire import http_client
from tests.support import HANDLER_SCALE, stack_config


@pytest.fixture(scope="module")
def stack(moto_server):
    config = stack_config(moto_server.endpoint_url, time_scale=HANDLER_SCALE, prewarm=True)
    with StackThread(config) as running:
        yield running


def test_bytes_counted_by_the_client_are_the_bytes_the_gateway_counted(stack):
    stack.wait_idle()
    stack.metrics.reset()
    costs = Costs()
    connects: list[str] = []
    with http_client(costs, timeout=30, on_connect=lambda name, _: connects.append(name)) as client:
        bad = client.post(f"{stack.rest_url}/reports/jobs", content=b"{nope")
        unknown = client.get(f"{stack.rest_url}/reports/jobs/unknown-job")
        # a body sent in chunks, without a Content-Length: chunked transfer encoding on the wire
        chunked = client.post(
            f"{stack.rest_url}/reports/jobs",
            content=iter([b'{"delay": -1, ', b'"amountOfRows": 1}']),
        )
    assert (bad.status_code, unknown.status_code, chunked.status_code) == (400, 404, 400)
    assert "'delay' must be between 0 and 900000" in chunked.json()["message"]

    stack.wait_idle()
    rest = stack.metrics.snapshot()["rest"]
    assert costs.http_requests == rest["requests"] == 3
    assert costs.tcp_connections == rest["tcp_connections"] == 1  # kept alive across the three
    assert connects == ["tcp"]
    assert costs.bytes_sent == rest["wire_bytes_in"] > 0
    assert costs.bytes_received == rest["wire_bytes_out"] > 0
    assert costs.tls_handshakes == 0


def test_httpcore_errors_surface_as_the_httpx_errors_the_strategies_catch():
    costs = Costs()
    with http_client(costs, timeout=5) as client, pytest.raises(httpx.ConnectError):
        client.get(f"http://127.0.0.1:{free_port()}/nothing-listens-here")
    assert costs.tcp_connections == 0  # counted only once connected
