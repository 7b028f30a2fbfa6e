"""What the gateway and the Lambda runtime measured, as served by ``/_emulator/metrics``.

Counts come from the requests and invocations themselves, never from a formula. Durations are
in emulated milliseconds, except the gateway's precision figures (``precision``: lateness at its
deadlines, processing overhead per request), which are emulated seconds as defined in
``emulator.core.precision``.
"""

from __future__ import annotations

import math
import threading
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from emulator.core import precision
from emulator.core.invocations import InvocationRecord, Outcome
from emulator.core.job_ledger import JobLedger

UNMATCHED_ROUTE = "(no route)"
#: AWS bills WebSocket messages, either way, in increments of this many bytes.
WS_MESSAGE_UNIT_BYTES = 32 * 1024
#: The precision figures' medians and percentiles are over the last this many samples of each kind.
PRECISION_WINDOW = 4096


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


@dataclass
class SampleWindow:
    """Samples of one figure (emulated seconds): every one counted, the latest kept for the
    median and percentiles, the largest ever seen kept apart."""

    count: int = 0
    largest: float | None = None
    latest: deque[float] = field(default_factory=lambda: deque(maxlen=PRECISION_WINDOW))

    def add(self, value: float) -> None:
        self.count += 1
        self.largest = value if self.largest is None else max(self.largest, value)
        self.latest.append(value)

    def lateness(self) -> dict:
        return {
            "median": _rounded(precision.median(self.latest)),
            "max": _rounded(self.largest),
            "samples": self.count,
        }

    def spread(self) -> dict:
        return {
            "median": _rounded(precision.median(self.latest)),
            "p95": _rounded(precision.percentile(self.latest, 0.95)),
            "samples": self.count,
        }


@dataclass
class PrecisionStats:
    """What ``emulator.core.precision`` defines, as measured at the gateways."""

    timeouts: SampleWindow = field(default_factory=SampleWindow)  # lateness of integration timeouts
    closes: SampleWindow = field(default_factory=SampleWindow)  # lateness of idle/max-age closes
    overhead: SampleWindow = field(default_factory=SampleWindow)  # per request with a result

    def as_dict(self) -> dict:
        return {
            "integration_timeouts": self.timeouts.count,
            "lateness_s": self.timeouts.lateness(),
            "connection_limit_closes": self.closes.count,
            "close_lateness_s": self.closes.lateness(),
            "overhead_s": self.overhead.spread(),
            "window": PRECISION_WINDOW,
        }


@dataclass
class RouteStats:
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    integration_timeouts: int = 0
    latency_ms_total: float = 0.0
    latency_ms_max: float = 0.0

    def as_dict(self) -> dict:
        return {
            "requests": self.requests,
            "status_counts": {str(k): v for k, v in sorted(self.statuses.items())},
            "integration_timeouts": self.integration_timeouts,
            "latency_ms_avg": round(self.latency_ms_total / self.requests, 3)
            if self.requests
            else 0,
            "latency_ms_max": round(self.latency_ms_max, 3),
        }


@dataclass
class FunctionStats:
    invocations: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    throttles: int = 0
    async_events: Counter[str] = field(default_factory=Counter)
    duration_ms: float = 0.0
    billed_ms: int = 0
    wasted_ms: int = 0
    after_caller_gone_ms: float = 0.0
    gb_seconds: float = 0.0
    cold_starts: int = 0
    warm_starts: int = 0
    init_ms: float = 0.0  # the Init Duration of every cold start, summed (real = emulated ms)
    environment_waits: int = 0  # invocations that waited for a free environment (machine cap)

    def add(self, record: InvocationRecord) -> None:
        self.outcomes[str(record.outcome)] += 1
        self.duration_ms += record.duration_ms
        self.billed_ms += record.billed_ms
        self.wasted_ms += record.wasted_ms
        self.after_caller_gone_ms += record.after_caller_gone_ms
        self.gb_seconds += record.gb_seconds


@dataclass
class WebSocketStats:
    """Counts of the WebSocket API, as measured at its socket and its routes."""

    opened: int = 0
    refused: Counter[int] = field(default_factory=Counter)  # handshake refusals by HTTP status
    closed: Counter[int] = field(default_factory=Counter)  # by close code
    closed_seconds: float = 0.0  # emulated lifetime of the connections that have closed
    messages_in: int = 0
    messages_out: int = 0
    message_units: int = 0  # billed messages: each one costs 1 per started 32 KB
    payload_bytes_in: int = 0
    payload_bytes_out: int = 0
    wire_bytes_in: int = 0  # everything read from WebSocket sockets, handshakes and frames
    wire_bytes_out: int = 0
    routes: Counter[str] = field(default_factory=Counter)  # route invocations by route key
    route_outcomes: Counter[str] = field(default_factory=Counter)  # "<route> <outcome>"
    management: Counter[str] = field(default_factory=Counter)  # "<VERB> <status>"


@dataclass
class BackendStats:
    """What the handlers asked of S3 and DynamoDB, counted by the usage proxy, as AWS bills it."""

    s3_operations: Counter[str] = field(default_factory=Counter)
    s3_tiers: Counter[str] = field(default_factory=Counter)  # "tier1", "tier2", "free"
    dynamodb_operations: Counter[str] = field(default_factory=Counter)
    read_request_units: float = 0.0
    write_request_units: float = 0.0
    other_requests: int = 0
    errors: Counter[int] = field(default_factory=Counter)  # backend 5xx and proxy failures

    def as_dict(self) -> dict:
        return {
            "s3": {
                "operations": dict(sorted(self.s3_operations.items())),
                **{f"{tier}_requests": self.s3_tiers[tier] for tier in ("tier1", "tier2", "free")},
            },
            "dynamodb": {
                "operations": dict(sorted(self.dynamodb_operations.items())),
                "read_request_units": self.read_request_units,
                "write_request_units": self.write_request_units,
            },
            "other_requests": self.other_requests,
            "errors": {str(k): v for k, v in sorted(self.errors.items())},
        }


def _figure(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def format_precision(figures: dict) -> str:
    """The gateway's measured precision in one line, from the ``precision`` part of
    ``Metrics.snapshot()`` (or of ``/_emulator/metrics``): the lateness of its integration
    timeouts and its processing overhead per request, in emulated seconds."""
    late, added = figures["lateness_s"], figures["overhead_s"]
    return (
        f"gateway precision (emulated s): {figures['integration_timeouts']} integration "
        f"timeout(s) answered late by median {_figure(late['median'])}, max "
        f"{_figure(late['max'])}; processing overhead median {_figure(added['median'])}, "
        f"p95 {_figure(added['p95'])} per request ({added['samples']} requests)"
    )


def format_overhead_warning(figures: dict, timeout_s: float, scale: float) -> str | None:
    """A warning line when the processing overhead's p95 in the ``precision`` part of
    ``Metrics.snapshot()`` is over ``precision.OVERHEAD_SHARE`` (2 %) of the integration timeout
    ``timeout_s`` (emulated seconds) at time scale ``scale``, naming the time scale that keeps
    it within; None when it is within (or nothing was measured)."""
    distortion = precision.overhead_distortion(figures["overhead_s"]["p95"], timeout_s, scale)
    if distortion is None:
        return None
    return (
        f"WARNING: processing overhead p95 {distortion.p95_s:.2f} s is "
        f"{100 * distortion.share:.1f} % of the {distortion.timeout_s:g} s integration timeout "
        f"(over {100 * precision.OVERHEAD_SHARE:g} %): the emulator's own real-time processing, "
        f"stretched by 1/scale, distorts the emulated times; --time-scale "
        f"{distortion.scale_within:g} or more (now {distortion.scale:g}) keeps it within "
        f"{100 * precision.OVERHEAD_SHARE:g} %"
    )


class Metrics:
    """Thread-safe counters: invocations finish on runtime threads, requests on the event loop.

    ``now`` is the emulated clock, for the lifetimes of connections still open.
    """

    def __init__(self, now: Callable[[], float] = lambda: 0.0) -> None:
        self._now = now
        self._lock = threading.Lock()
        self._routes: dict[str, RouteStats] = {}
        self._http_api_routes: dict[str, RouteStats] = {}  # by route key as AWS writes it
        self._functions: dict[str, FunctionStats] = {}
        self._running: dict[str, InvocationRecord] = {}
        self._ws = WebSocketStats()
        self._open: dict[str, float] = {}  # connection id -> opened at (emulated)
        self._http: defaultdict[str, Counter[str]] = defaultdict(Counter)  # by kind of client
        self._backend = BackendStats()
        self._precision = PrecisionStats()
        self._authorizers: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self._jobs = JobLedger()  # WebSocket jobs accepted vs answered (url or error)

    def reset(self) -> None:
        """Zero the counters; open connections stay counted as open, from now on."""
        with self._lock:
            self._routes.clear()
            self._http_api_routes.clear()
            self._functions.clear()
            self._ws = WebSocketStats()
            self._http.clear()
            self._backend = BackendStats()
            self._precision = PrecisionStats()
            self._authorizers.clear()
            self._jobs = JobLedger()
            now = self._now()
            self._open = dict.fromkeys(self._open, now)

    # -- HTTP port, at the socket -------------------------------------------------------------

    def http_connection(self, category: str) -> None:
        with self._lock:
            self._http[category]["tcp_connections"] += 1

    def http_wire(self, category: str, received: int = 0, sent: int = 0) -> None:
        with self._lock:
            self._http[category]["wire_bytes_in"] += received
            self._http[category]["wire_bytes_out"] += sent

    # -- WebSocket API -----------------------------------------------------------------------

    def ws_opened(self, connection_id: str) -> None:
        with self._lock:
            self._ws.opened += 1
            self._open[connection_id] = self._now()

    def ws_refused(self, status: int) -> None:
        with self._lock:
            self._ws.refused[status] += 1

    def ws_closed(self, connection_id: str, code: int) -> None:
        with self._lock:
            opened = self._open.pop(connection_id, None)
            if opened is not None:
                self._ws.closed[code] += 1
                self._ws.closed_seconds += self._now() - opened

    def ws_message(self, direction: str, payload_bytes: int) -> None:
        with self._lock:
            self._ws.message_units += max(1, math.ceil(payload_bytes / WS_MESSAGE_UNIT_BYTES))
            if direction == "in":
                self._ws.messages_in += 1
                self._ws.payload_bytes_in += payload_bytes
            else:
                self._ws.messages_out += 1
                self._ws.payload_bytes_out += payload_bytes

    def ws_wire(self, received: int = 0, sent: int = 0) -> None:
        with self._lock:
            self._ws.wire_bytes_in += received
            self._ws.wire_bytes_out += sent

    def ws_route(self, route_key: str, outcome: str) -> None:
        with self._lock:
            self._ws.routes[route_key] += 1
            self._ws.route_outcomes[f"{route_key} {outcome}"] += 1

    def ws_job_message(self, text: str | bytes) -> None:
        """A message sent to a WebSocket client (route answer or @connections post), for the
        ledger of jobs accepted and answered (``emulator.core.job_ledger``)."""
        with self._lock:
            self._jobs.message_sent(text)

    def ws_management(self, verb: str, status: int) -> None:
        with self._lock:
            self._ws.management[f"{verb} {status}"] += 1

    def _ws_snapshot(self) -> dict:
        ws, now = self._ws, self._now()
        open_seconds = sum(now - opened for opened in self._open.values())
        return {
            "connections_opened": ws.opened,
            "connections_refused": {str(k): v for k, v in sorted(ws.refused.items())},
            "connections_closed": {str(k): v for k, v in sorted(ws.closed.items())},
            "current_connections": len(self._open),
            "connection_minutes": round((ws.closed_seconds + open_seconds) / 60, 6),
            "messages_in": ws.messages_in,
            "messages_out": ws.messages_out,
            "message_units": ws.message_units,
            "payload_bytes_in": ws.payload_bytes_in,
            "payload_bytes_out": ws.payload_bytes_out,
            "wire_bytes_in": ws.wire_bytes_in,
            "wire_bytes_out": ws.wire_bytes_out,
            "route_invocations": dict(sorted(ws.routes.items())),
            "route_outcomes": dict(sorted(ws.route_outcomes.items())),
            "management_calls": dict(sorted(ws.management.items())),
            "jobs": self._jobs.snapshot(),
        }

    # -- Lambda authorizers -------------------------------------------------------------------

    def authorizer(self, name: str, what: str) -> None:
        """An authorizer was invoked (``invocations``), answered from its cache (``cache_hits``),
        allowed a request (``allowed``) or refused one (``401``, ``403``, ``500``)."""
        with self._lock:
            self._authorizers[name][what] += 1

    # -- S3 and DynamoDB, at the usage proxy ---------------------------------------------------

    def backend_s3(self, operation: str, tier: str) -> None:
        with self._lock:
            self._backend.s3_operations[operation] += 1
            self._backend.s3_tiers[tier] += 1

    def backend_dynamodb(self, operation: str, read_units: float, write_units: float) -> None:
        with self._lock:
            self._backend.dynamodb_operations[operation] += 1
            self._backend.read_request_units += read_units
            self._backend.write_request_units += write_units

    def backend_other(self) -> None:
        with self._lock:
            self._backend.other_requests += 1

    def backend_error(self, status: int) -> None:
        with self._lock:
            self._backend.errors[status] += 1

    # -- REST API and Lambda -----------------------------------------------------------------

    def record_request(
        self, route_key: str, status: int, latency_ms: float, *, integration_timeout: bool = False
    ) -> None:
        """A REST API request answered ``status`` after ``latency_ms`` (emulated ms)."""
        self._record(self._routes, route_key, status, latency_ms, integration_timeout)

    def record_http_api_request(
        self, route_key: str, status: int, latency_ms: float, *, integration_timeout: bool = False
    ) -> None:
        """An HTTP API request: counted apart from REST's, in the snapshot's ``http_api``
        section, under the route key as AWS writes it (``GET /items/{id}``, ``$default``)."""
        self._record(self._http_api_routes, route_key, status, latency_ms, integration_timeout)

    def _record(
        self,
        table: dict[str, RouteStats],
        route_key: str,
        status: int,
        latency_ms: float,
        integration_timeout: bool,
    ) -> None:
        with self._lock:
            stats = table.setdefault(route_key, RouteStats())
            stats.requests += 1
            stats.statuses[status] += 1
            stats.latency_ms_total += latency_ms
            stats.latency_ms_max = max(stats.latency_ms_max, latency_ms)
            stats.integration_timeouts += integration_timeout

    # -- the gateway's precision (emulator.core.precision) -------------------------------------

    def integration_timeout_answered(self, deadline: float, answered_at: float) -> None:
        """The gateway answered an integration timeout (REST 504, WebSocket route) at
        ``answered_at``; it was due at ``deadline`` (invocation start + the route's timeout).
        Both are emulated seconds on the emulator's clock."""
        late = precision.lateness(deadline, answered_at)
        with self._lock:
            self._precision.timeouts.add(late)

    def connection_limit_close(self, deadline: float, closed_at: float) -> None:
        """The gateway closed a WebSocket at ``closed_at``, its idle or maximum-duration deadline
        being ``deadline`` (emulated seconds)."""
        late = precision.lateness(deadline, closed_at)
        with self._lock:
            self._precision.closes.add(late)

    def lambda_answered(
        self, received_at: float, answered_at: float, record: InvocationRecord
    ) -> None:
        """A request received at ``received_at`` had its response ready at ``answered_at``
        (emulated seconds), made of the result of the invocation ``record``."""
        added = precision.overhead(received_at, answered_at, record.duration_ms / 1000)
        with self._lock:
            self._precision.overhead.add(added)

    def invocation_started(self, record: InvocationRecord) -> None:
        with self._lock:
            self._functions.setdefault(record.function, FunctionStats()).invocations += 1
            self._running[record.request_id] = record

    def invocation_finished(self, record: InvocationRecord) -> None:
        with self._lock:
            self._running.pop(record.request_id, None)
            self._functions.setdefault(record.function, FunctionStats()).add(record)

    def lambda_start(self, function: str, *, cold: bool, init_ms: float | None) -> None:
        """An invocation got its environment: a new one (cold, ``init_ms`` of Init) or warm."""
        with self._lock:
            stats = self._functions.setdefault(function, FunctionStats())
            if cold:
                stats.cold_starts += 1
                stats.init_ms += init_ms or 0.0
            else:
                stats.warm_starts += 1

    def environment_wait(self, function: str) -> None:
        """An invocation waits for an environment: the machine's cap is reached."""
        with self._lock:
            self._functions.setdefault(function, FunctionStats()).environment_waits += 1

    def invocation_throttled(self, function: str) -> None:
        with self._lock:
            self._functions.setdefault(function, FunctionStats()).throttles += 1

    def async_event(self, function: str, what: str) -> None:
        """An asynchronous event was accepted, throttled, retried, delivered or dropped."""
        with self._lock:
            self._functions.setdefault(function, FunctionStats()).async_events[what] += 1

    def _api_snapshot(self, table: dict[str, RouteStats], wire: str) -> dict:
        """One API's routes and totals, with the bytes counted at its sockets (``wire``)."""
        return {
            "routes": {key: stats.as_dict() for key, stats in sorted(table.items())},
            "requests": sum(s.requests for s in table.values()),
            "integration_timeouts": sum(s.integration_timeouts for s in table.values()),
            **{
                key: self._http[wire][key]
                for key in ("tcp_connections", "wire_bytes_in", "wire_bytes_out")
            },
        }

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
                    "async_events": dict(sorted(stats.async_events.items())),
                    "duration_ms": round(stats.duration_ms, 3),
                    "billed_ms": stats.billed_ms,
                    "wasted_ms": stats.wasted_ms,
                    "after_caller_gone_ms": round(stats.after_caller_gone_ms, 3),
                    "gb_seconds": round(stats.gb_seconds, 6),
                    "cold_starts": stats.cold_starts,
                    "warm_starts": stats.warm_starts,
                    "init_ms": round(stats.init_ms, 3),
                    "environment_waits": stats.environment_waits,
                }
            return {
                "rest": self._api_snapshot(self._routes, "rest"),
                "http_api": self._api_snapshot(self._http_api_routes, "http_api"),
                "http_port": {k: dict(sorted(v.items())) for k, v in sorted(self._http.items())},
                "websocket": self._ws_snapshot(),
                "authorizers": {
                    name: dict(sorted(counts.items()))
                    for name, counts in sorted(self._authorizers.items())
                },
                "lambda": {"functions": functions},
                "backend": self._backend.as_dict(),
                "precision": self._precision.as_dict(),
            }
