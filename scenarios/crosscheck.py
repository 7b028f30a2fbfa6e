"""Client counts against the emulator's own: both sides count at their sockets, so they agree.

A disagreement beyond a few percent means a client or the gateway miscounts, and every figure
built on those counts is suspect: the scenario fails loudly rather than print it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scenarios.catalog import IDLE_LABEL

TOLERANCE = 0.03  # "a few percent"
#: Labels whose traffic goes to the WebSocket port; every other label talks to the REST API.
WEBSOCKET_LABELS = frozenset({"websocket", IDLE_LABEL})


@dataclass(frozen=True)
class Check:
    what: str
    client: float
    emulator: float

    @property
    def ok(self) -> bool:
        return abs(self.client - self.emulator) <= TOLERANCE * max(self.client, self.emulator)

    def __str__(self) -> str:
        verdict = "ok" if self.ok else "MISMATCH"
        return f"{self.what}: clients {self.client:g}, emulator {self.emulator:g} ({verdict})"


def number_at(snapshot: dict, path: str) -> float:
    """The number at a dotted path of a metrics snapshot (a dict of numbers: their sum; else 0)."""
    value: Any = snapshot
    for key in path.split("."):
        value = value.get(key, 0) if isinstance(value, dict) else 0
    if isinstance(value, dict):
        return float(sum(value.values()))
    return float(value or 0)


def delta(after: dict, before: dict, path: str) -> float:
    return number_at(after, path) - number_at(before, path)


#: (what, the clients' count, the emulator's metric), per port.
_REST_PAIRS = (
    ("REST API requests", ("http_requests",), ("rest.requests",)),
    ("REST API connections", ("tcp_connections",), ("http_port.rest.tcp_connections",)),
    ("REST API bytes up", ("bytes_sent",), ("http_port.rest.wire_bytes_in",)),
    ("REST API bytes down", ("bytes_received",), ("http_port.rest.wire_bytes_out",)),
)
_WEBSOCKET_PAIRS = (
    (
        "WebSocket connections",
        ("tcp_connections",),
        ("websocket.connections_opened", "websocket.connections_refused"),
    ),
    ("WebSocket messages up", ("ws_messages_sent",), ("websocket.messages_in",)),
    ("WebSocket messages down", ("ws_messages_received",), ("websocket.messages_out",)),
    ("WebSocket bytes up", ("bytes_sent",), ("websocket.wire_bytes_in",)),
    ("WebSocket bytes down", ("bytes_received",), ("websocket.wire_bytes_out",)),
)


def cross_check(totals: dict[str, dict], before: dict, after: dict) -> list[Check]:
    """Every count both sides have, for the labels of one phase, where either side saw any."""
    checks = []
    for pairs, on_websocket in ((_REST_PAIRS, False), (_WEBSOCKET_PAIRS, True)):
        counts = [c for label, c in totals.items() if (label in WEBSOCKET_LABELS) == on_websocket]
        for what, client_keys, metric_paths in pairs:
            client = float(sum(c.get(key, 0) for c in counts for key in client_keys))
            emulator = sum(delta(after, before, path) for path in metric_paths)
            if client or emulator:
                checks.append(Check(what, client, emulator))
    return checks
