"""How long the HTTP and WebSocket ports wait on a client that is not sending a request.

Two timers, in real seconds (they protect the emulator's sockets, not an emulated quota, so the
time scale does not apply):

- ``header_timeout``: from the first byte of a request until its head (request line and headers)
  has arrived; on the WebSocket/@connections port, until the whole request (its body is at most
  128 KB) has. A client that sends half a request and stalls is cut when it passes. On the HTTP
  ports a request body (up to 10 MB) may pause no longer than this between two reads: 408
  Request Timeout, then the connection closes.
- ``idle_timeout``: how long a keep-alive connection may wait, between requests or before its
  first one, with nothing sent. An idle client is cut when it passes.

Neither timer runs while a request is being handled: a long poll held for 20 s, a response
stream (up to 15 min, 5 min idle, under its own limits in ``deadlines.StreamLimits``) and an open
WebSocket connection (its own 10 min idle / 2 h timers in ``connection_limits``) are never cut by
them. AWS does not document API Gateway's header or keep-alive idle timeouts for REST or WebSocket
APIs (only the integration timeout and the WebSocket idle/duration quotas,
https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html): the defaults here are
this emulator's choice, long enough for any honest client.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Real seconds a request's head may take to arrive once its first byte has.
DEFAULT_HEADER_TIMEOUT = 30.0
#: Real seconds a keep-alive connection may sit with no request.
DEFAULT_IDLE_TIMEOUT = 120.0
#: The listening sockets' accept queue (``listen(2)``'s backlog); the kernel caps it at
#: ``net.core.somaxconn``.
DEFAULT_LISTEN_BACKLOG = 1024


@dataclass(frozen=True)
class ConnectionTimeouts:
    """The two timers (real seconds, both > 0); ValueError for a value that is not positive."""

    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT

    def __post_init__(self) -> None:
        for name in ("header_timeout", "idle_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive")


def backlog_warning(requested: int, somaxconn: int | None) -> str | None:
    """The one-line warning when the kernel's ``net.core.somaxconn`` (None: unknown) caps the
    requested listen backlog below ``requested``, else None. Linux silently truncates a larger
    backlog to somaxconn (listen(2): "If the backlog argument is greater than the value in
    /proc/sys/net/core/somaxconn, then it is silently truncated to that value",
    https://man7.org/linux/man-pages/man2/listen.2.html)."""
    if somaxconn is None or somaxconn >= requested:
        return None
    return (
        f"listen backlog {requested} is capped by the kernel at net.core.somaxconn = {somaxconn}; "
        f"raise it (sysctl -w net.core.somaxconn={requested}) for bursts of more simultaneous "
        "connections"
    )
