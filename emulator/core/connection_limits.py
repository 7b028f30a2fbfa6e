"""The limits of a WebSocket connection, decided from plain numbers and a given ``now``.

AWS closes a connection after 10 minutes without a data message in either direction (pings do
not count) or after 2 hours in all; it closes with 1009 on a frame over 32 KB or a message over
128 KB. New connections are rate-limited per account.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

GOING_AWAY = 1001
UNSUPPORTED_DATA = 1003
INVALID_PAYLOAD_DATA = 1007
MESSAGE_TOO_BIG = 1009


@dataclass(frozen=True)
class WebSocketLimits:
    idle_timeout: float = 600.0  # seconds without a data message either way
    max_duration: float = 7200.0  # seconds a connection may last
    max_message_bytes: int = 128 * 1024
    max_frame_bytes: int = 32 * 1024
    new_connections_per_second: float = 500.0  # account quota; the burst equals one second's worth

    def __post_init__(self) -> None:
        for name in ("idle_timeout", "max_duration", "new_connections_per_second"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if not 0 < self.max_frame_bytes <= self.max_message_bytes:
            raise ValueError("max_frame_bytes must be positive and at most max_message_bytes")


@dataclass(frozen=True)
class Close:
    code: int
    reason: str


class Lifetime:
    """When a connection must be closed: idle or too old, whichever comes first."""

    def __init__(self, connected_at: float, limits: WebSocketLimits) -> None:
        self.connected_at = connected_at
        self.last_active = connected_at
        self.limits = limits

    def touch(self, now: float) -> None:
        """A data message went either way."""
        self.last_active = max(self.last_active, now)

    def next_deadline(self) -> float:
        return min(
            self.last_active + self.limits.idle_timeout,
            self.connected_at + self.limits.max_duration,
        )

    def expired(self, now: float) -> Close | None:
        if now >= self.connected_at + self.limits.max_duration:
            return Close(GOING_AWAY, "Going away: maximum connection duration reached")
        if now >= self.last_active + self.limits.idle_timeout:
            return Close(GOING_AWAY, "Going away: idle timeout")
        return None


def frame_too_big(limits: WebSocketLimits) -> Close:
    """How a connection is closed for a frame over ``limits.max_frame_bytes``."""
    return Close(MESSAGE_TOO_BIG, f"Frame size limit exceeded ({_kb(limits.max_frame_bytes)})")


def binary_refused() -> Close:
    """How a connection is closed for a binary data frame: "API Gateway WebSocket APIs don't
    currently support binary frames in incoming message payloads. If a client app sends a binary
    frame, API Gateway rejects it and disconnects the client with code 1003"
    (https://docs.aws.amazon.com/apigateway/latest/developerguide/
    websocket-api-develop-binary-media-types.html). AWS does not document the close reason."""
    return Close(UNSUPPORTED_DATA, "Binary frames are not supported")


def invalid_utf8() -> Close:
    """How a connection is closed for a text message that is not UTF-8: RFC 6455 section 8.1,
    "When an endpoint is to interpret a byte stream as UTF-8 but finds that the byte stream is
    not, in fact, a valid UTF-8 stream, that endpoint MUST _Fail the WebSocket Connection_", and
    section 7.4.1: 1007 "indicates that an endpoint is terminating the connection because it has
    received data within a message that was not consistent with the type of the message (e.g.,
    non-UTF-8 [RFC3629] data within a text message)"
    (https://www.rfc-editor.org/rfc/rfc6455#section-8.1). AWS does not document its close reason
    for this."""
    return Close(INVALID_PAYLOAD_DATA, "Invalid UTF-8 in a text message")


class MessageAssembler:
    """Frames in, whole messages out, refusing what AWS refuses and what RFC 6455 forbids.

    A text message's bytes are checked as UTF-8 frame by frame, as they arrive (a character may
    straddle two frames), so a bad one fails the connection at the frame that holds it."""

    def __init__(self, limits: WebSocketLimits) -> None:
        self.limits = limits
        self._parts: list[bytes | bytearray | memoryview] = []
        self._size = 0
        self._utf8 = codecs.getincrementaldecoder("utf-8")()

    def frame(
        self, data: bytes | bytearray | memoryview, *, first: bool, binary: bool, fin: bool
    ) -> bytes | Close | None:
        """The whole message when ``fin``; a Close when a limit is passed, the message is
        binary, or a text message is not UTF-8 (1007); else None."""
        if len(data) > self.limits.max_frame_bytes:
            return frame_too_big(self.limits)
        if first and binary:
            return binary_refused()
        if first:
            self._parts, self._size = [], 0
            self._utf8.reset()
        self._size += len(data)
        if self._size > self.limits.max_message_bytes:
            return Close(
                MESSAGE_TOO_BIG,
                f"Message size limit exceeded ({_kb(self.limits.max_message_bytes)})",
            )
        try:
            self._utf8.decode(bytes(data), final=fin)
        except UnicodeDecodeError:
            return invalid_utf8()
        self._parts.append(data)
        if not fin:
            return None
        message, self._parts = b"".join(self._parts), []
        return message


def _kb(size: int) -> str:
    return f"{size // 1024} KB" if size % 1024 == 0 else f"{size} bytes"


class RateLimiter:
    """A token bucket: ``rate`` per second, bursts up to one second's worth."""

    def __init__(self, rate: float, now: float) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate)
        self._tokens = self.capacity
        self._updated = now

    def allow(self, now: float) -> bool:
        self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
        self._updated = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False
