"""The API Gateway Management API (@connections): its answers and errors as AWS shapes them.

Errors carry ``x-amzn-ErrorType`` so boto3 raises the modelled exception
(``client.exceptions.GoneException`` and friends).
"""

from __future__ import annotations

import json
import re
import time
from urllib.parse import unquote

from emulator.core.responses import JSON, HttpResponse, host_refused_message

_PATH = re.compile(r"^/(?P<stage>[^/]+)/@connections/(?P<id>[^/]+)/?$")


def parse_path(path: str) -> tuple[str, str] | None:
    """(stage, connectionId) of an @connections path, or None."""
    found = _PATH.match(path)
    return (unquote(found.group("stage")), unquote(found.group("id"))) if found else None


def _error(status: int, error_type: str, message: str | None) -> HttpResponse:
    headers = [("Content-Type", JSON), ("x-amzn-ErrorType", error_type)]
    return HttpResponse(status, headers, json.dumps({"message": message}).encode())


def gone() -> HttpResponse:
    """The connection is closed, never existed, or is not established yet."""
    return _error(410, "GoneException", None)


def payload_too_large(limit: int, size: int | None = None) -> HttpResponse:
    """PostToConnection's data is over ``limit`` bytes, the API's WebSocket message limit
    (128 KB, https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html).
    PayloadTooLargeException is "The data has exceeded the maximum size allowed"
    (https://docs.aws.amazon.com/apigatewaymanagementapi/latest/APIReference/
    API_PostToConnection.html); AWS does not document the message text, so it names the limit.
    ``size``: the body's size when known (its Content-Length, or None when it was cut off while
    arriving)."""
    what = "Message" if size is None else f"Message size {size} bytes"
    return _error(413, "PayloadTooLargeException", f"{what} exceeds the limit of {_kb(limit)}")


def _kb(size: int) -> str:
    return f"{size // 1024} KB" if size % 1024 == 0 else f"{size} bytes"


def forbidden() -> HttpResponse:
    return _error(403, "ForbiddenException", "Forbidden")


def host_refused(host: str) -> HttpResponse:
    """403 ``ForbiddenException`` for a call whose ``Host`` is not a name the emulator answers to
    (the DNS-rebinding defence it shares with the control plane,
    ``emulator.core.origins.HostPolicy``). AWS has no such check (its Host is its own
    ``execute-api`` endpoint); of the errors the Management API documents, ForbiddenException,
    "The caller is not authorized to invoke this operation", 403
    (https://docs.aws.amazon.com/apigatewaymanagementapi/latest/APIReference/
    API_PostToConnection.html), is the closest."""
    return _error(403, "ForbiddenException", host_refused_message(host))


def not_found() -> HttpResponse:
    """Not an @connections resource, or a verb it does not have (AWS: missing token)."""
    return _error(403, "MissingAuthenticationTokenException", "Missing Authentication Token")


def _iso(epoch: float) -> str:
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{int(epoch * 1000) % 1000:03d}Z"
    )


def connection_status(
    *, connected_at: float, last_active_at: float, source_ip: str, user_agent: str | None
) -> HttpResponse:
    """GetConnection's answer (camelCase on the wire); times are emulated epoch seconds."""
    body = {
        "connectedAt": _iso(connected_at),
        "identity": {"sourceIp": source_ip, "userAgent": user_agent or ""},
        "lastActiveAt": _iso(last_active_at),
    }
    return HttpResponse(200, [("Content-Type", JSON)], json.dumps(body).encode())


def posted() -> HttpResponse:
    return HttpResponse(200, [("Content-Type", JSON)], b"")


def deleted() -> HttpResponse:
    return HttpResponse(204, [], b"")
