from emulator.core.responses import (
    http_api_service_unavailable,
    integration_timeout,
    internal_server_error,
)
from emulator.core.websocket_events import error_reply
from locustfiles.judging import http_failure, websocket_failure
from scenarios.results import failure_kind


def test_http_answers_are_judged_by_status_and_the_gateways_own_bodies():
    assert http_failure("rest", 200, b"ok", None) is None
    assert http_failure("rest", 302, b"", None) is None  # redirects are not followed: an answer
    rest_timeout, http_api_timeout = integration_timeout(), http_api_service_unavailable()
    assert failure_kind(http_failure("rest", 504, rest_timeout.body, None)) == "gateway_timeout"
    assert failure_kind(http_failure("http_api", 503, http_api_timeout.body, None)) == (
        "gateway_timeout"
    )
    # The same statuses from a handler, or the other API's answer, are plain failures.
    assert failure_kind(http_failure("rest", 504, b'{"message":"mine"}', None)) == "status 504"
    assert failure_kind(http_failure("http_api", 504, rest_timeout.body, None)) == "status 504"
    assert http_failure("rest", 502, internal_server_error().body, None) == (
        'status 502: {"message":"Internal server error"}'
    )
    refused = http_failure("rest", 0, b"", ConnectionRefusedError(111, "Connection refused"))
    assert refused == "ConnectionRefusedError: [Errno 111] Connection refused"
    assert len(http_failure("rest", 500, b"x" * 1000, None) or "") == len("status 500: ") + 120


def test_websocket_replies_are_judged_by_the_gateways_error_message():
    assert websocket_failure('{"url": "https://example.com/r.csv"}') is None
    assert websocket_failure("plain text") is None
    assert websocket_failure(b"\x00binary") is None
    timed_out = error_reply("Endpoint request timed out", connection_id="c", request_id="r")
    assert failure_kind(websocket_failure(timed_out)) == "gateway_timeout"
    failed = error_reply("Internal server error", connection_id="c", request_id="r")
    assert websocket_failure(failed) == "gateway_error: Internal server error"
    # A handler's own reply that happens to carry a message is the handler's answer.
    assert websocket_failure('{"message": "Internal server error"}') is None
