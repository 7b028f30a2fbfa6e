"""WebSocket limits over real sockets: idle timeout, maximum duration, new-connection rate."""

import json
import time

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from emulator.core.connection_limits import WebSocketLimits
from emulator.stack import StackThread
from tests.support import aws_client, stack_config, write_service

HANDLERS = """
import json

def echo(event, context):
    return {"statusCode": 200, "body": event["body"]}
"""
FUNCTIONS = """
echo:
  handler: app.echo
  events: [{websocket: {route: $default, routeResponseSelectionExpression: $default}}]
"""


LIMITS = WebSocketLimits(
    idle_timeout=20, max_duration=60, new_connections_per_second=0.05, max_message_bytes=64 * 1024
)


@pytest.fixture(scope="module")
def limited(moto_server, tmp_path_factory):
    path = write_service(tmp_path_factory.mktemp("limits"), HANDLERS, FUNCTIONS)
    config = stack_config(moto_server.endpoint_url, service_path=path, websocket_limits=LIMITS)
    with StackThread(config) as running:
        yield running


def wait_for_new_connection_allowance(stack):
    time.sleep(stack.clock.to_real(1.5 / LIMITS.new_connections_per_second))


def test_idle_connections_close_with_1001_after_the_idle_timeout(limited):
    wait_for_new_connection_allowance(limited)
    with connect(limited.ws_url) as ws:
        started = time.monotonic()
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
        elapsed = limited.clock.to_emulated(time.monotonic() - started)
    assert closed.value.rcvd.code == 1001
    assert "idle" in closed.value.rcvd.reason
    assert 19.5 <= elapsed < 30  # measured from after the handshake reached the client


def talk_every(ws, real_seconds: float) -> None:
    """Send and receive a message every so often, until the connection closes."""
    for _ in range(1000):
        ws.send(json.dumps({"ping": 1}))
        ws.recv(timeout=10)
        time.sleep(real_seconds)


def test_traffic_resets_the_idle_timer_but_not_the_maximum_duration(limited):
    wait_for_new_connection_allowance(limited)
    with connect(limited.ws_url) as ws:
        started = time.monotonic()
        with pytest.raises(ConnectionClosed) as closed:
            talk_every(ws, limited.clock.to_real(8))  # 8 s < the 20 s idle timeout
        elapsed = limited.clock.to_emulated(time.monotonic() - started)
    assert closed.value.rcvd.code == 1001
    assert "maximum connection duration" in closed.value.rcvd.reason
    assert 59.5 <= elapsed < 75


def test_new_connections_beyond_the_rate_are_refused_with_429(limited):
    wait_for_new_connection_allowance(limited)
    with connect(limited.ws_url):
        with pytest.raises(InvalidStatus) as refused:
            connect(limited.ws_url)
        assert refused.value.response.status_code == 429


def test_a_configured_message_limit_applies_to_clients_and_to_connections_posts(limited):
    # The client first: making one loads botocore's models, slower than the 20 s (0.4 s real)
    # idle timeout of a loaded machine, which would close the connection before the test speaks.
    management = aws_client("apigatewaymanagementapi", limited.connections_url)
    wait_for_new_connection_allowance(limited)
    with connect(limited.ws_url, max_size=None) as ws:
        (connection_id,) = limited.websocket.connections
        with pytest.raises(management.exceptions.PayloadTooLargeException):
            management.post_to_connection(ConnectionId=connection_id, Data=b"x" * (64 * 1024 + 1))
        chunk = "y" * (32 * 1024)
        ws.send([chunk, chunk, "!"])  # 64 KB + 1 in 32 KB frames
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd.code == 1009
    assert closed.value.rcvd.reason == "Message size limit exceeded (64 KB)"
