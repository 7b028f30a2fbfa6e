"""How ``locustfiles.request``'s generic user judges an answer: a success, or why it failed.

A failure is ``"<kind>: <detail>"`` (the convention of ``scenarios.results.failure_kind``): the
kind ``gateway_timeout`` for the gateway's own integration-timeout answer, ``gateway_error`` for
its other WebSocket error replies, ``status <code>`` for any other status of 400 or more, or the
name of the exception that stopped the request. Plain functions, without Locust (which patches
the process it is imported in), so they are tested in any process.
"""

from __future__ import annotations

import json

from emulator.core.responses import is_integration_timeout
from scenarios.results import GATEWAY_TIMEOUT

#: How much of why a request failed a failure keeps (characters).
DETAIL_CHARS = 120


def failure_text(kind: str, detail: str) -> str:
    """A failure as the samples carry it: its kind, a colon, the first 120 characters of why."""
    return f"{kind}: {detail[:DETAIL_CHARS]}"


def http_failure(api: str, status: int, body: bytes, error: BaseException | None) -> str | None:
    """Why an HTTP answer failed (``failure_text``), or None for a success (status below 400)."""
    if error is not None and not status:
        return failure_text(type(error).__name__, str(error))
    if is_integration_timeout(api, status, body):
        return failure_text(GATEWAY_TIMEOUT, body.decode(errors="replace"))
    if status >= 400 or not status:
        return failure_text(f"status {status}", body.decode(errors="replace"))
    return None


def websocket_failure(reply: str | bytes) -> str | None:
    """Why a WebSocket reply failed, or None: the gateway's own error message for a route
    (``{"message", "connectionId", "requestId"}``, emulator.core.websocket_events.error_reply)
    is ``gateway_timeout`` for "Endpoint request timed out", else ``gateway_error``."""
    if is_integration_timeout("websocket", 0, reply):
        return failure_text(GATEWAY_TIMEOUT, str(reply))
    try:
        message = json.loads(reply)
    except ValueError:
        return None
    if isinstance(message, dict) and set(message) == {"message", "connectionId", "requestId"}:
        return failure_text("gateway_error", str(message["message"]))
    return None
