import pytest

from emulator.core.responses import (
    http_api_service_unavailable,
    integration_timeout,
    internal_server_error,
    is_integration_timeout,
)
from emulator.core.websocket_events import error_reply


def test_the_gateways_own_timeout_answers_are_recognised():
    rest, http_api = integration_timeout(), http_api_service_unavailable()
    assert is_integration_timeout("rest", rest.status, rest.body)
    assert is_integration_timeout("http_api", http_api.status, http_api.body)
    assert is_integration_timeout("rest", 504, '{"message": "Endpoint request timed out"}')
    reply = error_reply("Endpoint request timed out", connection_id="c", request_id="r")
    assert is_integration_timeout("websocket", 0, reply)


@pytest.mark.parametrize(
    ("api", "status", "body"),
    [
        ("rest", 504, b'{"message":"my own gateway timeout"}'),  # a handler's own 504
        ("rest", 504, b"Endpoint request timed out"),  # not JSON
        ("rest", 503, integration_timeout().body),
        ("http_api", 504, integration_timeout().body),  # REST's answer on an HTTP API
        ("http_api", 503, b'{"message":"busy"}'),
        ("rest", 502, internal_server_error().body),
        ("websocket", 0, '{"url": "https://example.com/report.csv"}'),
        ("websocket", 0, "[1, 2]"),
        ("soap", 504, integration_timeout().body),
    ],
)
def test_other_answers_are_not(api, status, body):
    assert not is_integration_timeout(api, status, body)
