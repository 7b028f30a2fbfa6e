"""What the gateway and the Lambda runtime measured, as served by ``/_emulator/metrics``.

Counts come from the requests and invocations themselves, never from a formula. All durations
are in emulated milliseconds.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field

from emulator.core.invocations import InvocationRecord, Outcome

UNMATCHED_ROUTE = "(no route)"


@dataclass
class RouteStats:
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    integration_timeouts: int = 0
    latency_ms_total: float = 0.0

    def as_dict(self) -> dict:
        return {
            "requests": self.requests,
            "status_counts": {str(k): v for k, v in sorted(self.statuses.items())},
            "integration_timeouts": self.integration_timeouts,
            "latency_ms_avg": round(self.latency_ms_total / self.requests, 3)
            if self.requests
            else 0,
        }


@dataclass
class FunctionStats:
    invocations: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    throttles: int = 0
    duration_ms: float = 0.0
    billed_ms: int = 0
    wasted_ms: int = 0
    after_caller_gone_ms: float = 0.0
    gb_seconds: float = 0.0

    def add(self, record: InvocationRecord) -> None:
        self.outcomes[str(record.outcome)] += 1
        self.duration_ms += record.duration_ms
        self.billed_ms += record.billed_ms
        self.wasted_ms += record.wasted_ms
        self.after_caller_gone_ms += record.after_caller_gone_ms
        self.gb_seconds += record.gb_seconds


class Metrics:
    """Thread-safe counters: invocations finish on runtime threads, requests on the event loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._routes: dict[str, RouteStats] = {}
        self._functions: dict[str, FunctionStats] = {}
        self._running: dict[str, InvocationRecord] = {}

    def reset(self) -> None:
        with self._lock:
            self._routes.clear()
            self._functions.clear()

    def record_request(
        self, route_key: str, status: int, latency_ms: float, *, integration_timeout: bool = False
    ) -> None:
        with self._lock:
            stats = self._routes.setdefault(route_key, RouteStats())
            stats.requests += 1
            stats.statuses[status] += 1
            stats.latency_ms_total += latency_ms
            stats.integration_timeouts += integration_timeout

    def invocation_started(self, record: InvocationRecord) -> None:
        with self._lock:
            self._functions.setdefault(record.function, FunctionStats()).invocations += 1
            self._running[record.request_id] = record

    def invocation_finished(self, record: InvocationRecord) -> None:
        with self._lock:
            self._running.pop(record.request_id, None)
            self._functions.setdefault(record.function, FunctionStats()).add(record)

    def invocation_throttled(self, function: str) -> None:
        with self._lock:
            self._functions.setdefault(function, FunctionStats()).throttles += 1

    def snapshot(self) -> dict:
        with self._lock:
            running = Counter(r.function for r in self._running.values())
            abandoned = Counter(
                r.function for r in self._running.values() if r.caller_gone_at is not None
            )
            functions = {}
            for name in sorted(set(self._functions) | set(running)):
                stats = self._functions.get(name, FunctionStats())
                functions[name] = {
                    "invocations": stats.invocations,
                    "running": running[name],
                    "running_after_caller_gone": abandoned[name],
                    "outcomes": dict(sorted(stats.outcomes.items())),
                    "errors": stats.outcomes[Outcome.ERROR],
                    "timeouts": stats.outcomes[Outcome.TIMEOUT],
                    "throttles": stats.throttles,
                    "duration_ms": round(stats.duration_ms, 3),
                    "billed_ms": stats.billed_ms,
                    "wasted_ms": stats.wasted_ms,
                    "after_caller_gone_ms": round(stats.after_caller_gone_ms, 3),
                    "gb_seconds": round(stats.gb_seconds, 6),
                }
            routes = {key: stats.as_dict() for key, stats in sorted(self._routes.items())}
            return {
                "rest": {
                    "routes": routes,
                    "requests": sum(s.requests for s in self._routes.values()),
                    "integration_timeouts": sum(
                        s.integration_timeouts for s in self._routes.values()
                    ),
                },
                "lambda": {"functions": functions},
            }
