"""--tls: https and wss with a self-signed certificate; handshakes are real and counted."""

import ssl

import httpx
import pytest
from websockets.sync.client import connect

from emulator.stack import StackThread
from reportclient import Endpoints, fetch_report
from tests.support import HANDLER_SCALE, stack_config


@pytest.fixture(scope="module")
def stack(moto_server):
    with StackThread(
        stack_config(moto_server.endpoint_url, tls=True, time_scale=HANDLER_SCALE, prewarm=True)
    ) as running:
        yield running


def test_urls_are_secure_and_need_the_certificate(stack):
    assert stack.rest_url.startswith("https://")
    assert stack.ws_url.startswith("wss://")
    context = ssl.create_default_context(cafile=str(stack.certificate.certfile))
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{stack.http_url}/_emulator/health")  # not trusted by default
    trusted = httpx.get(f"{stack.http_url}/_emulator/health", verify=context)
    assert trusted.json()["tls_certificate"] == str(stack.certificate.certfile)
    with connect(stack.ws_url, ssl=context) as ws:
        ws.send('{"action": "nothing"}')
        assert "not supported" in ws.recv(timeout=10)


@pytest.mark.parametrize("strategy", ["rest", "long_poll", "websocket"])
def test_strategies_over_tls_count_their_handshakes(stack, strategy):
    endpoints = Endpoints(stack.rest_url, stack.ws_url, cafile=str(stack.certificate.certfile))
    stack.metrics.reset()
    result = fetch_report(
        strategy, endpoints, {"delay": 2000, "amountOfRows": 3}, time_scale=HANDLER_SCALE
    )
    assert result.ok, result.failure
    assert result.costs.tls_handshakes == result.costs.tcp_connections == 1
    # Handlers reached the Lambda API over TLS too (their boto3 trusts AWS_CA_BUNDLE).
    if strategy == "long_poll":
        assert stack.metrics.snapshot()["http_port"]["lambda_api"]["tcp_connections"] >= 1
