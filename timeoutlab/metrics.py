"""``MetricsSnapshot``: ``/_emulator/metrics`` as frozen, typed data.

Every figure is measured by the emulator (at its sockets, its gateways, its Lambda runtime),
never computed from a formula. Durations are emulated: ``*_ms`` fields are emulated milliseconds,
``*_s`` fields emulated seconds; bytes are bytes. Mappings are read-only. Keys the parser does not
know are tolerated (a newer emulator may add some) and every part keeps the whole JSON it came
from as ``raw``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


def _empty() -> Mapping[Any, Any]:
    """A fresh read-only empty mapping (a field default)."""
    return MappingProxyType({})


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _int(data: Mapping[str, Any], key: str) -> int:
    value = data.get(key)
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def _float(data: Mapping[str, Any], key: str) -> float:
    value = data.get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _optional_float(data: Mapping[str, Any], key: str) -> float | None:
    value = data.get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _counts(value: object) -> Mapping[str, int]:
    """A read-only ``{name: count}``; non-numeric entries are left out."""
    data = _dict(value)
    return MappingProxyType({str(k): int(v) for k, v in data.items() if isinstance(v, int | float)})


def _status_counts(value: object) -> Mapping[int, int]:
    """A read-only ``{status or close code: count}`` from JSON's string keys."""
    counts: dict[int, int] = {}
    for key, count in _dict(value).items():
        try:
            counts[int(key)] = int(count)
        except (TypeError, ValueError):
            continue
    return MappingProxyType(counts)


def _raw(value: object) -> Mapping[str, Any]:
    return MappingProxyType(_dict(value))


@dataclass(frozen=True, slots=True)
class RouteMetrics:
    """One REST or HTTP API route: ``requests`` answered, ``status_counts`` (status -> count),
    ``integration_timeouts`` (the gateway's 504 / 503 for a slow integration), mean and largest
    latency in emulated ms."""

    requests: int = 0
    status_counts: Mapping[int, int] = field(default_factory=_empty)
    integration_timeouts: int = 0
    latency_ms_avg: float = 0.0
    latency_ms_max: float = 0.0
    raw: Mapping[str, Any] = field(default_factory=_empty)

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> RouteMetrics:
        return cls(
            requests=_int(data, "requests"),
            status_counts=_status_counts(data.get("status_counts")),
            integration_timeouts=_int(data, "integration_timeouts"),
            latency_ms_avg=_float(data, "latency_ms_avg"),
            latency_ms_max=_float(data, "latency_ms_max"),
            raw=_raw(data),
        )


@dataclass(frozen=True, slots=True)
class ApiMetrics:
    """One API (REST, or the HTTP API): ``routes`` by route key (``POST /reports``; the HTTP
    API's as AWS writes them, ``$default`` included), totals, and what its sockets carried:
    ``tcp_connections``, ``wire_bytes_in`` / ``wire_bytes_out`` (bytes)."""

    routes: Mapping[str, RouteMetrics] = field(default_factory=_empty)
    requests: int = 0
    integration_timeouts: int = 0
    tcp_connections: int = 0
    wire_bytes_in: int = 0
    wire_bytes_out: int = 0
    raw: Mapping[str, Any] = field(default_factory=_empty)

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> ApiMetrics:
        routes = {
            str(key): RouteMetrics.parse(_dict(value))
            for key, value in _dict(data.get("routes")).items()
        }
        return cls(
            routes=MappingProxyType(routes),
            requests=_int(data, "requests"),
            integration_timeouts=_int(data, "integration_timeouts"),
            tcp_connections=_int(data, "tcp_connections"),
            wire_bytes_in=_int(data, "wire_bytes_in"),
            wire_bytes_out=_int(data, "wire_bytes_out"),
            raw=_raw(data),
        )


@dataclass(frozen=True, slots=True)
class WebSocketMetrics:
    """The WebSocket API: connections opened, refused (by HTTP status), closed (by close code),
    open now; ``connection_minutes`` (emulated minutes, as AWS bills them); messages each way,
    ``message_units`` (messages both ways in AWS's 32 KB billing units); payload and wire bytes
    each way; route invocations and outcomes by route key; ``management_calls`` (``@connections``
    calls as ``"VERB status"``); ``jobs`` (accepted, answered_url, answered_error, unanswered)."""

    connections_opened: int = 0
    connections_refused: Mapping[int, int] = field(default_factory=_empty)
    connections_closed: Mapping[int, int] = field(default_factory=_empty)
    current_connections: int = 0
    connection_minutes: float = 0.0
    messages_in: int = 0
    messages_out: int = 0
    message_units: int = 0
    payload_bytes_in: int = 0
    payload_bytes_out: int = 0
    wire_bytes_in: int = 0
    wire_bytes_out: int = 0
    route_invocations: Mapping[str, int] = field(default_factory=_empty)
    route_outcomes: Mapping[str, int] = field(default_factory=_empty)
    management_calls: Mapping[str, int] = field(default_factory=_empty)
    jobs: Mapping[str, int] = field(default_factory=_empty)
    raw: Mapping[str, Any] = field(default_factory=_empty)

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> WebSocketMetrics:
        return cls(
            connections_opened=_int(data, "connections_opened"),
            connections_refused=_status_counts(data.get("connections_refused")),
            connections_closed=_status_counts(data.get("connections_closed")),
            current_connections=_int(data, "current_connections"),
            connection_minutes=_float(data, "connection_minutes"),
            messages_in=_int(data, "messages_in"),
            messages_out=_int(data, "messages_out"),
            message_units=_int(data, "message_units"),
            payload_bytes_in=_int(data, "payload_bytes_in"),
            payload_bytes_out=_int(data, "payload_bytes_out"),
            wire_bytes_in=_int(data, "wire_bytes_in"),
            wire_bytes_out=_int(data, "wire_bytes_out"),
            route_invocations=_counts(data.get("route_invocations")),
            route_outcomes=_counts(data.get("route_outcomes")),
            management_calls=_counts(data.get("management_calls")),
            jobs=_counts(data.get("jobs")),
            raw=_raw(data),
        )


@dataclass(frozen=True, slots=True)
class FunctionMetrics:
    """One Lambda function.

    - ``invocations`` started; ``running`` now, ``running_after_caller_gone`` of those (the
      gateway gave up on them: integration timeout, client gone; AWS lets them run on);
    - ``outcomes`` (``success``, ``error``, ``timeout``), ``errors``, ``timeouts`` (ran past the
      function's own timeout), ``throttles``, ``async_events`` (accepted, retried, ...);
    - ``duration_ms``, ``billed_ms`` (summed, emulated ms); ``wasted_ms``: billed ms of finished
      invocations whose caller had gone (nobody got their result); ``after_caller_gone_ms``: how
      long finished invocations ran on after their caller gave up; ``gb_seconds`` billed;
    - ``cold_starts``, ``warm_starts``, ``init_ms`` (Init Duration summed: real = emulated ms),
      ``environment_waits`` (waited for a free execution environment on this machine).
    """

    invocations: int = 0
    running: int = 0
    running_after_caller_gone: int = 0
    outcomes: Mapping[str, int] = field(default_factory=_empty)
    errors: int = 0
    timeouts: int = 0
    throttles: int = 0
    async_events: Mapping[str, int] = field(default_factory=_empty)
    duration_ms: float = 0.0
    billed_ms: int = 0
    wasted_ms: int = 0
    after_caller_gone_ms: float = 0.0
    gb_seconds: float = 0.0
    cold_starts: int = 0
    warm_starts: int = 0
    init_ms: float = 0.0
    environment_waits: int = 0
    raw: Mapping[str, Any] = field(default_factory=_empty)

    @property
    def wasted_s(self) -> float:
        """``wasted_ms`` in emulated seconds."""
        return self.wasted_ms / 1000

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> FunctionMetrics:
        return cls(
            invocations=_int(data, "invocations"),
            running=_int(data, "running"),
            running_after_caller_gone=_int(data, "running_after_caller_gone"),
            outcomes=_counts(data.get("outcomes")),
            errors=_int(data, "errors"),
            timeouts=_int(data, "timeouts"),
            throttles=_int(data, "throttles"),
            async_events=_counts(data.get("async_events")),
            duration_ms=_float(data, "duration_ms"),
            billed_ms=_int(data, "billed_ms"),
            wasted_ms=_int(data, "wasted_ms"),
            after_caller_gone_ms=_float(data, "after_caller_gone_ms"),
            gb_seconds=_float(data, "gb_seconds"),
            cold_starts=_int(data, "cold_starts"),
            warm_starts=_int(data, "warm_starts"),
            init_ms=_float(data, "init_ms"),
            environment_waits=_int(data, "environment_waits"),
            raw=_raw(data),
        )


@dataclass(frozen=True, slots=True)
class BackendMetrics:
    """What the handlers asked of the backend, counted as AWS bills it: S3 operations by name and
    requests by pricing tier (``s3_tier1_requests``: PUT, COPY, POST, LIST; ``s3_tier2_requests``:
    GET and the rest; ``s3_free_requests``: DELETE); DynamoDB operations and the read and write
    request units on-demand bills; other requests; backend errors by status."""

    s3_operations: Mapping[str, int] = field(default_factory=_empty)
    s3_tier1_requests: int = 0
    s3_tier2_requests: int = 0
    s3_free_requests: int = 0
    dynamodb_operations: Mapping[str, int] = field(default_factory=_empty)
    read_request_units: float = 0.0
    write_request_units: float = 0.0
    other_requests: int = 0
    errors: Mapping[int, int] = field(default_factory=_empty)
    raw: Mapping[str, Any] = field(default_factory=_empty)

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> BackendMetrics:
        s3, dynamodb = _dict(data.get("s3")), _dict(data.get("dynamodb"))
        return cls(
            s3_operations=_counts(s3.get("operations")),
            s3_tier1_requests=_int(s3, "tier1_requests"),
            s3_tier2_requests=_int(s3, "tier2_requests"),
            s3_free_requests=_int(s3, "free_requests"),
            dynamodb_operations=_counts(dynamodb.get("operations")),
            read_request_units=_float(dynamodb, "read_request_units"),
            write_request_units=_float(dynamodb, "write_request_units"),
            other_requests=_int(data, "other_requests"),
            errors=_status_counts(data.get("errors")),
            raw=_raw(data),
        )


@dataclass(frozen=True, slots=True)
class PrecisionMetrics:
    """How precisely the gateway kept its deadlines (emulated seconds, over its last ``window``
    samples of each): ``integration_timeouts`` answered and their lateness (median, max; never
    negative: the gateway is never early), WebSocket ``connection_limit_closes`` and their
    lateness, and the processing overhead it added per request answered with a Lambda's result
    (median, p95). None where there is no sample yet."""

    integration_timeouts: int = 0
    lateness_median_s: float | None = None
    lateness_max_s: float | None = None
    connection_limit_closes: int = 0
    close_lateness_median_s: float | None = None
    close_lateness_max_s: float | None = None
    overhead_median_s: float | None = None
    overhead_p95_s: float | None = None
    overhead_samples: int = 0
    window: int = 0
    raw: Mapping[str, Any] = field(default_factory=_empty)

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> PrecisionMetrics:
        late, closes = _dict(data.get("lateness_s")), _dict(data.get("close_lateness_s"))
        overhead = _dict(data.get("overhead_s"))
        return cls(
            integration_timeouts=_int(data, "integration_timeouts"),
            lateness_median_s=_optional_float(late, "median"),
            lateness_max_s=_optional_float(late, "max"),
            connection_limit_closes=_int(data, "connection_limit_closes"),
            close_lateness_median_s=_optional_float(closes, "median"),
            close_lateness_max_s=_optional_float(closes, "max"),
            overhead_median_s=_optional_float(overhead, "median"),
            overhead_p95_s=_optional_float(overhead, "p95"),
            overhead_samples=_int(overhead, "samples"),
            window=_int(data, "window"),
            raw=_raw(data),
        )


@dataclass(frozen=True, slots=True)
class ClockMetrics:
    """The stack's clock: ``time_scale`` (real seconds per emulated second) and
    ``emulated_uptime_s`` (emulated seconds since it started)."""

    time_scale: float = 1.0
    emulated_uptime_s: float = 0.0

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> ClockMetrics:
        return cls(
            time_scale=_float(data, "time_scale") or 1.0,
            emulated_uptime_s=_float(data, "emulated_uptime_s"),
        )


@dataclass(frozen=True, slots=True)
class MetricsSnapshot:
    """Everything ``/_emulator/metrics`` reported at one moment (since start or the last
    ``Stack.reset()``): ``rest`` and ``http_api`` (``ApiMetrics``), ``websocket``,
    ``functions`` (``FunctionMetrics`` by function name), ``backend``, ``precision``, ``clock``,
    ``authorizers`` (counts by authorizer name), ``http_port`` (socket counts by kind of client of
    the HTTP port: ``rest``, ``lambda_api``, ``control``), and ``raw``, the JSON as served."""

    rest: ApiMetrics = field(default_factory=ApiMetrics)
    http_api: ApiMetrics = field(default_factory=ApiMetrics)
    websocket: WebSocketMetrics = field(default_factory=WebSocketMetrics)
    functions: Mapping[str, FunctionMetrics] = field(default_factory=_empty)
    backend: BackendMetrics = field(default_factory=BackendMetrics)
    precision: PrecisionMetrics = field(default_factory=PrecisionMetrics)
    clock: ClockMetrics = field(default_factory=ClockMetrics)
    authorizers: Mapping[str, Mapping[str, int]] = field(default_factory=_empty)
    http_port: Mapping[str, Mapping[str, int]] = field(default_factory=_empty)
    raw: Mapping[str, Any] = field(default_factory=_empty)

    def function(self, name: str) -> FunctionMetrics:
        """The figures of function ``name``: its deployed name (``SERVICE-STAGE-KEY``, as in
        ``functions``) or its ``functions:`` key in ``serverless.yml`` (the one deployed name
        ending ``-KEY``); all zero when it has not been invoked since the last reset."""
        found = self.functions.get(name)
        if found is None:
            ending = [key for key in self.functions if key.endswith(f"-{name}")]
            found = self.functions[ending[0]] if len(ending) == 1 else None
        return found or FunctionMetrics()

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> MetricsSnapshot:
        """Parse the ``/_emulator/metrics`` JSON; missing parts are zero, unknown keys ignored
        (kept in ``raw``). Raises nothing for a well-formed JSON object."""
        functions = {
            str(name): FunctionMetrics.parse(_dict(figures))
            for name, figures in _dict(_dict(data.get("lambda")).get("functions")).items()
        }
        return cls(
            rest=ApiMetrics.parse(_dict(data.get("rest"))),
            http_api=ApiMetrics.parse(_dict(data.get("http_api"))),
            websocket=WebSocketMetrics.parse(_dict(data.get("websocket"))),
            functions=MappingProxyType(functions),
            backend=BackendMetrics.parse(_dict(data.get("backend"))),
            precision=PrecisionMetrics.parse(_dict(data.get("precision"))),
            clock=ClockMetrics.parse(_dict(data.get("clock"))),
            authorizers=MappingProxyType(
                {str(k): _counts(v) for k, v in _dict(data.get("authorizers")).items()}
            ),
            http_port=MappingProxyType(
                {str(k): _counts(v) for k, v in _dict(data.get("http_port")).items()}
            ),
            raw=_raw(data),
        )
