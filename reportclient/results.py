"""What a strategy returns: the report's URL or a typed failure, and what getting it cost."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

FailureKind = Literal[
    "gateway_timeout",  # the integration timeout cut the request: REST's 504, an HTTP API's 503
    "connection_lost",  # the connection dropped and could not be resumed
    "job_failed",  # the report job itself failed
    "http_error",  # any other unexpected HTTP status
    "timed_out",  # the client's own deadline passed
]


StepKind = Literal[
    "connect",  # a TCP connect, a TLS handshake, or a WebSocket's whole opening handshake
    "request",  # one HTTP request and its whole response (an event stream: to its end)
    "poll",  # one poll for a job's state
    "message",  # a WebSocket message received, timed from the message that asked for it
]


@dataclass(frozen=True)
class Step:
    """One step of a run as it happens, for live reporting (Locust's request events)."""

    kind: StepKind
    name: str  # e.g. "tcp", "POST /reports", "GET /reports/jobs/{id}", "websocket", "result"
    elapsed_s: float  # emulated seconds, like the time to result
    bytes_received: int = 0
    error: str | None = None  # why the step failed, e.g. "HTTP 504"; None if it did not


@dataclass(frozen=True)
class Failure:
    kind: FailureKind
    detail: str
    status: int | None = None


@dataclass
class Costs:
    """Counted at the client's sockets and calls, never estimated."""

    tcp_connections: int = 0
    tls_handshakes: int = 0
    http_requests: int = 0
    empty_polls: int = 0  # poll answers that did not carry the result
    ws_messages_sent: int = 0
    ws_messages_received: int = 0
    ws_frames_sent: int = 0
    ws_frames_received: int = 0
    ws_message_units: int = 0  # messages in API Gateway's 32 KB billing units, both ways
    ws_connection_s: float = 0.0  # emulated seconds WebSocket connections were open, summed
    reconnects: int = 0
    bytes_sent: int = 0  # what crossed the client's sockets (TLS: the plaintext side)
    bytes_received: int = 0
    time_to_result_s: float = 0.0  # emulated seconds

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class ReportResult:
    strategy: str
    url: str | None = None
    failure: Failure | None = None
    costs: Costs = field(default_factory=Costs)

    @property
    def ok(self) -> bool:
        return self.url is not None
