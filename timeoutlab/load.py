"""Load tests from Python: ``run_load(stack, ...) -> LoadResult``, for assertions in a test.

Guide
-----
``run_load`` runs Locust against a running stack for a few real seconds and returns what it
measured, per route, with the cost of the run::

    from timeoutlab.load import LoadRequest, run_load

    result = run_load(
        stack, users=50, spawn_rate=25, duration_s=10,
        request=LoadRequest("POST", "/orders", body={"item": 1}),
    )
    route = result.route("POST /orders")
    assert route.p95_s is not None and route.p95_s < 29, result.summary()
    assert route.gateway_timeouts == 0, result.summary()

What to load (exactly one of):

- ``request``: your own route(s). One ``LoadRequest`` or several; every Locust user makes them
  in turn, in a loop (list a request twice to make it twice as often). By default a user sends
  its next request as soon as the last one is answered (a closed loop: the load is ``users``
  requests in flight at all times); a request's ``think_time_s=(min, max)`` (emulated seconds)
  makes a user pause after it. ``api`` picks the REST API (``stack.rest_url``, stage
  included, ``path`` after it), the HTTP API (``stack.http_api_url``) or the WebSocket API
  (``stack.ws_url``: each user keeps one connection, sends ``body`` as one message and waits
  for one message back; a route that answers nothing waits out the client's network timeout,
  so load two-way routes). Redirects are not followed: a route's own answer is measured.
- ``strategy``: one of the bundled report strategies (``STRATEGIES``: ``rest``, ``short_poll``,
  ``long_poll``, ``sse``, ``sse-streaming``, ``websocket``). These users drive the report app's
  contract routes (``POST /reports``, ``/reports/jobs/...``, the ``generateReport`` WebSocket
  action: see DESIGN.md), so they make sense only against a service shaped like the report app.
  Pass their options in ``locust_args``, e.g. ``["--report-delay", "5000,40000"]``. Each route
  of the result is one kind of report (``"rest 5 s"``), timed from asking to result.

Units. ``duration_s``, ``timeout_s``, ``stop_timeout_s``, ``settle_s``,
``LoadResult.duration_s`` and the request rates are REAL seconds. Response times (``p50_s``,
``p95_s``, ``max_s``) are EMULATED seconds, comparable with API Gateway's 29 s whatever the
stack's time scale: real milliseconds / 1000 / ``time_scale``. They are nearest-rank
percentiles of every sample (not Locust's rounded buckets), as ``timeoutlab scenario run``
computes its figures. A request's time includes the client's own unscaled processing, which the
time scale stretches too: on a loaded machine and a small time scale, a fast route can look
slower in emulated seconds than it would on AWS.

Costs come from the stack's own counts: ``GET {control_url}/metrics`` before the run and after
it (once no Lambda runs any more, so Lambdas that run on after the gateway gave up are billed),
priced with ``scenarios.pricing``'s bundled us-east-1 rates (or ``prices=``). The difference
covers everything the stack did in between, so run it on a stack nothing else is using.

Where Locust runs. In a child process of ``sys.executable`` (Locust patches the process it is
imported in with gevent; this module imports neither locust nor gevent). ``duration_s`` real
seconds of load, then users stop: requests in flight get ``stop_timeout_s`` to finish (those
still running then are not counted). The child is killed after ``timeout_s`` and
``TimeoutError`` raised; a child that fails raises ``LoadError``; bad arguments ``ValueError``.
Load tests belong on loopback (a stack on 127.0.0.1): nothing stops you pointing this at another
host, but a load test is not something to aim at other people's machines.
"""

from __future__ import annotations

import base64
import json
import math
import os
import re
import tempfile
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import httpx

from emulator.core.control_access import bearer_headers
from emulator.core.deadlines import HTTP_API_MAX_INTEGRATION_TIMEOUT
from reportclient.wire import verify_context
from scenarios.catalog import USER_CLASSES
from scenarios.crosscheck import delta
from scenarios.phase_process import PhaseError, PhaseTimeout, run_phase_process
from scenarios.pricing import Bill, Prices, Usage, load_prices, price
from scenarios.results import GATEWAY_TIMEOUT, failure_kind, percentile
from scenarios.runner import settle
from scenarios.shapes import steady
from timeoutlab.handshake import Query, with_query

#: The bundled strategies ``run_load(strategy=...)`` knows, each a Locust user of locustfiles/.
STRATEGIES: tuple[str, ...] = tuple(USER_CLASSES)
#: The generic user that makes ``LoadRequest``s (locustfiles/request.py).
REQUEST_USER = "locustfiles.request:RequestUser"
ApiName = Literal["rest", "http_api", "websocket"]
APIS: tuple[str, ...] = ("rest", "http_api", "websocket")
#: Real seconds added to ``duration_s + stop_timeout_s`` for the default ``timeout_s``: Locust's
#: start (a few seconds on a loaded machine) and the outcome's writing, with room to spare.
TIMEOUT_MARGIN_S = 60.0
#: Real seconds added to the in-flight allowance, for a loaded machine.
STOP_MARGIN_S = 5.0
#: Emulated seconds a report may take beyond its delay when a strategy run stops (as the
#: scenario runner allows).
REPORT_SLACK_S = 60.0
#: A bundled strategy's default report delay (ms), as locustfiles.common's --report-delay.
DEFAULT_REPORT_DELAY_MS = 5000
#: Real seconds to wait, after the run, for the stack's Lambdas to finish, beyond the longest
#: emulated 900 s a Lambda may run (played at the time scale).
SETTLE_MARGIN_S = 10.0
#: AWS Lambda's maximum timeout, emulated seconds
#: (https://docs.aws.amazon.com/lambda/latest/dg/configuration-timeout.html).
LAMBDA_MAX_S = 900.0
#: An HTTP method token (RFC 9110 5.6.2 tchar).
_METHOD = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


class LoadTarget(Protocol):
    """What ``run_load`` needs of a running stack (``timeoutlab``'s ``Stack`` has it all).

    URLs as ``emulator.stack.Stack`` gives them: ``rest_url`` with its stage, ``http_api_url``
    (None: the service has no ``httpApi`` events), ``ws_url`` with its stage, ``control_url``
    the ``http://HOST:PORT/_emulator`` base; ``time_scale`` emulated per real second. A
    ``control_token`` attribute, if present and not None, is sent as a bearer token to the
    control API (else ``TIMEOUTLAB_CONTROL_TOKEN`` from the environment, if set).
    """

    @property
    def rest_url(self) -> str: ...

    @property
    def http_api_url(self) -> str | None: ...

    @property
    def ws_url(self) -> str: ...

    @property
    def control_url(self) -> str: ...

    @property
    def time_scale(self) -> float: ...


class LoadError(RuntimeError):
    """Locust could not run: its process failed to start, exited non-zero or wrote nothing.
    ``stderr_tail`` is the end of its stderr (its traceback)."""

    def __init__(self, message: str, stderr_tail: str = "") -> None:
        super().__init__(message)
        self.stderr_tail = stderr_tail


Body = str | bytes | Mapping[str, Any] | Sequence[Any] | None


@dataclass(frozen=True, slots=True)
class LoadRequest:
    """One request every Locust user makes in turn with the others, in a loop.

    ``method``: an HTTP method (unused for ``websocket``); ``path``: after the API's URL (REST:
    after the stage), starting with ``/``, query string allowed (unused for ``websocket``);
    ``api``: ``rest``, ``http_api`` or ``websocket``; ``body``: None, text, bytes, or a JSON
    value (a dict or list: sent as JSON, with ``Content-Type: application/json`` unless
    ``headers`` names one; over WebSocket, bytes go as a binary message, the rest as text);
    ``headers``: sent with each HTTP request (``websocket``: with the connection's opening
    handshake); ``query``: names to a value or a list of values, URL-encoded onto the URL
    after any query ``path`` has (``websocket``: onto ``stack.ws_url``, for a ``$connect``
    authorizer that reads ``route.request.querystring.X``, as browsers cannot set handshake
    headers); ``name``: the route's name in the result (default
    ``"METHOD /path"``, or ``"websocket"``); ``think_time_s``: None (no pause: closed loop) or
    (min, max) emulated seconds a user waits after this request's answer.
    Raises ``ValueError`` for a bad method, path, api or think time; ``TypeError`` for a query
    value that is not text. A refused WebSocket handshake (the ``$connect`` authorizer's 401 or
    403) is a failure of the route in the result, ``InvalidStatus: ... HTTP 401``.
    """

    method: str = "GET"
    path: str = "/"
    api: ApiName = "rest"
    body: Body = None
    headers: Mapping[str, str] = field(default_factory=dict)
    query: Query = field(default_factory=dict)
    name: str | None = None
    think_time_s: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.api not in APIS:
            raise ValueError(f"api must be one of {', '.join(APIS)}, not {self.api!r}")
        if not _METHOD.match(self.method):
            raise ValueError(f"not an HTTP method: {self.method!r}")
        if not self.path.startswith("/"):
            raise ValueError(f"path must start with '/': {self.path!r}")
        with_query("http://127.0.0.1/", self.query)  # TypeError for a value that is not text
        if self.think_time_s is not None:
            low, high = self.think_time_s
            if not (0 <= low <= high and math.isfinite(high)):
                raise ValueError(
                    f"think_time_s must be (min, max) with 0 <= min <= max: {self.think_time_s}"
                )

    @property
    def route_name(self) -> str:
        """The name this request's figures go under."""
        if self.name:
            return self.name
        return "websocket" if self.api == "websocket" else f"{self.method.upper()} {self.path}"

    def wire(self) -> tuple[bytes | None, dict[str, str], bool]:
        """(body bytes or None, headers, binary): what goes on the wire for this request."""
        headers = dict(self.headers)
        if self.body is None:
            return None, headers, False
        if isinstance(self.body, bytes):
            return self.body, headers, True
        if isinstance(self.body, str):
            return self.body.encode(), headers, False
        if not any(key.lower() == "content-type" for key in headers):
            headers["Content-Type"] = "application/json"
        return json.dumps(self.body).encode(), headers, False


@dataclass(frozen=True, slots=True)
class RouteLoad:
    """What the users saw of one route (or, for a strategy, of one kind of report).

    ``requests``: answered (or failed) during the run; ``failures``: of them, those that failed
    (status 400 or more, a connection error, the gateway's own error message);
    ``gateway_timeouts``: of the failures, the gateway's integration-timeout answers (REST: 504
    ``{"message": "Endpoint request timed out"}``; HTTP API: 503 ``{"message":"Service
    Unavailable"}``; WebSocket: that message as the route's reply); ``other_failures``: the
    rest by kind (``"status 502"``, an exception name such as ``"ConnectionRefusedError"``,
    ``"gateway_error"``; for a strategy, reportclient's failure kinds); ``p50_s``, ``p95_s``,
    ``max_s``: response time in EMULATED seconds over every request (None: no request);
    ``rps``: requests per REAL second over the run.
    """

    name: str
    requests: int
    failures: int
    gateway_timeouts: int
    other_failures: Mapping[str, int]
    p50_s: float | None
    p95_s: float | None
    max_s: float | None
    rps: float

    @property
    def ok(self) -> int:
        """Requests that succeeded."""
        return self.requests - self.failures

    def line(self) -> str:
        """One line for ``LoadResult.summary``."""
        other = ", ".join(f"{kind} x{n}" for kind, n in sorted(self.other_failures.items()))
        return (
            f"{self.name}: {self.requests} requests, {self.ok} ok, "
            f"{self.gateway_timeouts} gateway timeouts"
            f"{f', other failures: {other}' if other else ''}; emulated s p50 "
            f"{_seconds(self.p50_s)}, p95 {_seconds(self.p95_s)}, max {_seconds(self.max_s)}; "
            f"{self.rps:.1f} req/real s"
        )


@dataclass(frozen=True, slots=True)
class LoadCost:
    """What the stack counted over the run (``/_emulator/metrics`` after minus before), priced.

    Counts: ``rest_api_requests``, ``http_api_requests`` (as the gateways answered them),
    ``websocket_messages`` (both ways), ``websocket_message_units`` (in AWS's 32 KB billing
    increments), ``websocket_connection_minutes`` (emulated minutes), ``bytes_in`` /
    ``bytes_out`` (bytes read from / written to the REST, HTTP API and WebSocket sockets,
    handshakes and headers included), ``lambda_invocations``, ``lambda_gb_s`` (GB-seconds,
    emulated, as Lambda bills them), ``lambda_wasted_gb_s`` (the part run after the caller was
    gone), ``backend_requests`` (what the handlers asked of S3 and DynamoDB).
    Dollars (US, ``prices.region``'s list rates): ``usd`` in all, ``usd_wasted`` (inside it),
    ``usd_per_million_requests`` (``usd`` per million requests the users made, for a strategy
    per million reports; 0 for none),
    ``bill`` by priced item (keys as ``scenarios.pricing.Usage``'s fields).
    """

    rest_api_requests: int
    http_api_requests: int
    websocket_messages: int
    websocket_message_units: int
    websocket_connection_minutes: float
    bytes_in: int
    bytes_out: int
    lambda_invocations: int
    lambda_gb_s: float
    lambda_wasted_gb_s: float
    backend_requests: int
    usd: float
    usd_wasted: float
    usd_per_million_requests: float
    bill: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class LoadResult:
    """A load run's figures. ``users``, ``spawn_rate`` (users per real second) as asked;
    ``duration_s``: real seconds Locust ran (load and stop); ``time_scale``: the stack's;
    ``routes``: per route, in the order of the requests given (for a strategy: the order first
    seen); ``total``: all routes together (named
    ``"total"``); ``cost``: the stack's counts and their price."""

    users: int
    spawn_rate: float
    duration_s: float
    time_scale: float
    routes: tuple[RouteLoad, ...]
    total: RouteLoad
    cost: LoadCost

    def route(self, name: str) -> RouteLoad:
        """The figures of the route ``name``; ``KeyError`` naming the known routes if none."""
        for route in self.routes:
            if route.name == name:
                return route
        known = ", ".join(repr(r.name) for r in self.routes) or "none (no request finished)"
        raise KeyError(f"no route named {name!r} in this load result; known: {known}")

    def summary(self) -> str:
        """A readable multi-line account of the run, for assertion messages."""
        cost = self.cost
        lines = [
            f"load: {self.users} users (spawn {self.spawn_rate:g}/s) for "
            f"{self.duration_s:.1f} real s at time scale {self.time_scale:g}",
            *(f"  {route.line()}" for route in self.routes),
            f"  {self.total.line()}",
            f"  stack: {cost.rest_api_requests} REST + {cost.http_api_requests} HTTP API "
            f"requests, {cost.websocket_messages} WebSocket messages "
            f"({cost.websocket_message_units} units, {cost.websocket_connection_minutes:.2f} "
            f"connection min), {cost.bytes_in} B in / {cost.bytes_out} B out, "
            f"{cost.lambda_invocations} Lambda invocations ({cost.lambda_gb_s:.3f} GB-s, "
            f"{cost.lambda_wasted_gb_s:.3f} wasted), {cost.backend_requests} backend requests",
            f"  cost: ${cost.usd:.6f} (${cost.usd_wasted:.6f} wasted), "
            f"${cost.usd_per_million_requests:.2f} per million requests",
        ]
        return "\n".join(lines)


def run_load(
    stack: LoadTarget,
    *,
    users: int,
    spawn_rate: float,
    duration_s: float,
    request: LoadRequest | Sequence[LoadRequest] | None = None,
    strategy: str | None = None,
    locust_args: Sequence[str] = (),
    timeout_s: float | None = None,
    stop_timeout_s: float | None = None,
    settle_s: float | None = None,
    prices: Prices | None = None,
) -> LoadResult:
    """Run Locust against ``stack`` and return its figures (see the module's guide).

    ``users`` (1 or more) run, started at ``spawn_rate`` per real second, for ``duration_s``
    real seconds; then they stop, requests in flight getting ``stop_timeout_s`` real seconds
    (default: the longest integration timeout, 30 emulated s, or for a strategy its longest
    report + 60 emulated s, at the time scale, + 5 s). ``timeout_s`` (real s, default
    ``duration_s + stop_timeout_s + 60``) bounds Locust's process. ``locust_args``: more
    Locust command-line options (a bundled strategy's ``--report-delay``, ...). After the run,
    the final metrics are read once no Lambda runs or waits any more (those that ran on after
    the gateway gave up are billed in full), waiting at most ``settle_s`` real seconds (default:
    Lambda's 900 s maximum at the time scale + 10 s). ``prices``: the rates to price with
    (default: ``scenarios.pricing.load_prices()``, the bundled us-east-1 ones).

    Raises ``ValueError`` (bad arguments: not exactly one of ``request`` / ``strategy``, an
    unknown strategy, an HTTP API request to a stack without one, duplicate route names, users
    below 1, a spawn rate, duration or timeout not above 0), ``TimeoutError`` (Locust killed at
    ``timeout_s``, with its stderr's tail), ``LoadError`` (Locust failed, with its stderr's
    tail), ``httpx.HTTPError`` (the control API cannot be read).
    """
    requests = _check_arguments(users, spawn_rate, duration_s, request, strategy, locust_args)
    for name, value in (
        ("timeout_s", timeout_s),
        ("stop_timeout_s", stop_timeout_s),
        ("settle_s", settle_s),
    ):
        if value is not None and not (_number(value) and value > 0):
            raise ValueError(f"{name} must be a number > 0 real seconds, not {value!r}")
    scale = float(stack.time_scale)
    if requests and any(r.api == "http_api" for r in requests) and not stack.http_api_url:
        raise ValueError("an http_api request, but the stack's service has no HTTP API")
    control = _Control(stack)
    if stop_timeout_s is None:
        stop_timeout_s = _default_stop_timeout(control, strategy, locust_args, scale)
    limit_s = timeout_s if timeout_s is not None else duration_s + stop_timeout_s + TIMEOUT_MARGIN_S
    spec = _phase_spec(stack, users, spawn_rate, duration_s, stop_timeout_s, strategy, locust_args)
    before = control.get("metrics")
    with _request_spec(requests, stack, scale, stop_timeout_s) as spec_args:
        spec["locust_args"] += spec_args
        try:
            outcome = run_phase_process(spec, limit_s=limit_s)
        except PhaseTimeout as exc:
            raise TimeoutError(str(exc)) from exc
        except PhaseError as exc:
            raise LoadError(str(exc), exc.stderr_tail) from exc
    if settle_s is None:
        settle_s = LAMBDA_MAX_S * scale + SETTLE_MARGIN_S
    # WebSockets are not waited for: the users closed theirs, and one the caller keeps open
    # would hold the wait to its end.
    after = settle(control.get, settle_s, websockets_too=False)
    # A strategy's report users time in emulated ms already; Locust's own requests in real ms.
    to_emulated_s = 1 / 1000 if strategy else 1 / 1000 / scale
    real_s = float(outcome["real_seconds"])
    names = [r.route_name for r in requests]
    routes = route_loads(outcome["samples"], to_emulated_s, real_s, names)
    total = _route_load("total", outcome["samples"], to_emulated_s, real_s)
    return LoadResult(
        users=users,
        spawn_rate=float(spawn_rate),
        duration_s=real_s,
        time_scale=scale,
        routes=routes,
        total=total,
        cost=load_cost(after, before, total.requests, prices or load_prices()),
    )


def route_loads(
    samples: list[dict], to_emulated_s: float, real_s: float, names: Sequence[str] = ()
) -> tuple[RouteLoad, ...]:
    """Per route, the figures of the phase's ``samples`` (``{"name", "ms", "error"}``): ``ms``
    times ``to_emulated_s`` is emulated seconds; ``real_s`` is the run's real length, for the
    rates. Routes come in the order of ``names`` (each one, even without a sample), then any
    other name in the order first seen."""
    names = list(dict.fromkeys([*names, *(s["name"] for s in samples)]))
    return tuple(
        _route_load(name, [s for s in samples if s["name"] == name], to_emulated_s, real_s)
        for name in names
    )


def _route_load(name: str, samples: list[dict], to_emulated_s: float, real_s: float) -> RouteLoad:
    times = [s["ms"] * to_emulated_s for s in samples]
    kinds = Counter(str(failure_kind(s["error"])) for s in samples if s["error"] is not None)
    timeouts = kinds.pop(GATEWAY_TIMEOUT, 0)
    return RouteLoad(
        name=name,
        requests=len(samples),
        failures=timeouts + sum(kinds.values()),
        gateway_timeouts=timeouts,
        other_failures=dict(sorted(kinds.items())),
        p50_s=percentile(times, 0.5),
        p95_s=percentile(times, 0.95),
        max_s=max(times, default=None),
        rps=len(samples) / real_s if real_s > 0 else 0.0,
    )


def load_cost(after: dict, before: dict, requests: int, prices: Prices) -> LoadCost:
    """The stack's counts between two ``/_emulator/metrics`` snapshots, priced at ``prices``;
    ``requests``: what the users made, for the per-million figure."""
    usage = Usage.from_metrics(after, before)
    bill: Bill = price(usage, prices)

    def grown(path: str) -> float:
        """How much the number (or the sum of the dict of numbers) at ``path`` grew."""
        return delta(after, before, path)

    backend = (
        sum(grown(f"backend.s3.{tier}_requests") for tier in ("tier1", "tier2", "free"))
        + grown("backend.dynamodb.operations")
        + grown("backend.other_requests")
    )
    sockets = ("rest", "http_api", "websocket")
    return LoadCost(
        rest_api_requests=round(usage.rest_api_requests),
        http_api_requests=round(usage.http_api_requests),
        websocket_messages=round(grown("websocket.messages_in") + grown("websocket.messages_out")),
        websocket_message_units=round(usage.websocket_message_units),
        websocket_connection_minutes=usage.websocket_connection_minutes,
        bytes_in=round(sum(grown(f"{where}.wire_bytes_in") for where in sockets)),
        bytes_out=round(sum(grown(f"{where}.wire_bytes_out") for where in sockets)),
        lambda_invocations=round(usage.lambda_requests),
        lambda_gb_s=usage.lambda_gb_seconds,
        lambda_wasted_gb_s=usage.lambda_wasted_gb_seconds,
        backend_requests=round(backend),
        usd=bill.total,
        usd_wasted=bill.wasted_usd,
        usd_per_million_requests=bill.per_million(requests),
        bill=dict(bill.items),
    )


# -- arguments -----------------------------------------------------------------------------------


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_arguments(
    users: int,
    spawn_rate: float,
    duration_s: float,
    request: LoadRequest | Sequence[LoadRequest] | None,
    strategy: str | None,
    locust_args: Sequence[str],
) -> tuple[LoadRequest, ...]:
    """The requests to make (none for a strategy); ``ValueError`` for bad arguments."""
    if not isinstance(users, int) or isinstance(users, bool) or users < 1:
        raise ValueError(f"users must be a whole number of 1 or more, not {users!r}")
    if not (_number(spawn_rate) and spawn_rate > 0):
        raise ValueError(f"spawn_rate must be a number > 0 users per real second: {spawn_rate!r}")
    if not (_number(duration_s) and duration_s > 0):
        raise ValueError(f"duration_s must be a number > 0 real seconds, not {duration_s!r}")
    if isinstance(locust_args, str) or not all(isinstance(a, str) for a in locust_args):
        raise ValueError(f"locust_args must be a sequence of strings, not {locust_args!r}")
    if (request is None) == (strategy is None):
        raise ValueError("give exactly one of request= (your own routes) or strategy=")
    if strategy is not None:
        if strategy not in USER_CLASSES:
            raise ValueError(f"no strategy {strategy!r}; known: {', '.join(STRATEGIES)}")
        return ()
    requests = (request,) if isinstance(request, LoadRequest) else tuple(request or ())
    if not requests or not all(isinstance(r, LoadRequest) for r in requests):
        raise ValueError(
            f"request must be a LoadRequest or a non-empty sequence of them: {request!r}"
        )
    named: dict[str, LoadRequest] = {}
    for one in requests:
        if named.setdefault(one.route_name, one) != one:
            raise ValueError(
                f"two different requests named {one.route_name!r}: give each a name= of its own"
            )
    return requests


def _default_stop_timeout(
    control: _Control, strategy: str | None, locust_args: Sequence[str], scale: float
) -> float:
    """Real seconds in-flight requests get when the users stop (see ``run_load``)."""
    if strategy is None:
        # The longest an API Gateway request waits: its integration timeout (REST's may be set
        # higher than HTTP APIs' 30 s maximum, https://docs.aws.amazon.com/apigateway/latest/
        # developerguide/limits.html).
        health = control.get("health")
        emulated = max(
            float(health.get("integration_timeout_s") or 0), HTTP_API_MAX_INTEGRATION_TIMEOUT
        )
    else:
        emulated = _longest_report_ms(locust_args) / 1000 + REPORT_SLACK_S
    return emulated * scale + STOP_MARGIN_S


def _longest_report_ms(locust_args: Sequence[str]) -> int:
    """The longest ``--report-delay`` among ``locust_args`` (ms), else the default delay."""
    args = list(locust_args)
    values = [args[i + 1] for i, arg in enumerate(args[:-1]) if arg == "--report-delay"]
    values += [arg.split("=", 1)[1] for arg in args if arg.startswith("--report-delay=")]
    delays = [int(part) for value in values for part in value.split(",") if part.strip().isdigit()]
    return max(delays, default=DEFAULT_REPORT_DELAY_MS)


def _phase_spec(
    stack: LoadTarget,
    users: int,
    spawn_rate: float,
    duration_s: float,
    stop_timeout_s: float,
    strategy: str | None,
    locust_args: Sequence[str],
) -> dict:
    """``scenarios.locust_phase``'s spec: one steady stage of ``duration_s`` real seconds."""
    scale = str(float(stack.time_scale))
    strategy_args = ["--ws-url", stack.ws_url, "--time-scale", scale] if strategy else []
    return {
        "label": strategy or "load",
        "user_classes": [USER_CLASSES[strategy] if strategy else REQUEST_USER],
        "stages": [vars(stage) for stage in steady(users, float(spawn_rate), float(duration_s))],
        "stop_timeout_s": stop_timeout_s,
        "record": "reports" if strategy else "all",
        "locust_args": ["--host", stack.rest_url, *strategy_args, *locust_args],
    }


@contextmanager
def _request_spec(
    requests: tuple[LoadRequest, ...], stack: LoadTarget, scale: float, stop_s: float
) -> Iterator[list[str]]:
    """Writes the requests' JSON for locustfiles/request.py to a temporary file, removed after;
    yields the Locust arguments naming it (none for a strategy run)."""
    if not requests:
        yield []
        return
    spec = {
        "requests": [_request_entry(r, stack) for r in requests],
        "time_scale": scale,
        # The client never cuts a request the gateway still holds.
        "network_timeout_s": stop_s + TIMEOUT_MARGIN_S,
    }
    with tempfile.TemporaryDirectory(prefix="timeoutlab-requests-") as tmp:
        path = os.path.join(tmp, "requests.json")
        with open(path, "w") as file:
            json.dump(spec, file)
        yield ["--request-spec", path]


def _request_entry(request: LoadRequest, stack: LoadTarget) -> dict:
    body, headers, binary = request.wire()
    if request.api == "websocket":
        url = stack.ws_url
    else:
        base = stack.rest_url if request.api == "rest" else stack.http_api_url
        url = f"{(base or '').rstrip('/')}{request.path}"
    return {
        "name": request.route_name,
        "api": request.api,
        "method": request.method.upper(),
        "url": with_query(url, request.query),
        "headers": headers,
        "body_b64": None if body is None else base64.b64encode(body).decode(),
        "binary": binary,
        "think_time_s": None if request.think_time_s is None else list(request.think_time_s),
    }


# -- the control API -----------------------------------------------------------------------------


class _Control:
    """Reads ``/_emulator/<what>`` of the stack, with its control token if it has one."""

    def __init__(self, stack: LoadTarget) -> None:
        self.url = stack.control_url.rstrip("/")
        token = getattr(stack, "control_token", None)
        self.headers = {"Authorization": f"Bearer {token}"} if token else bearer_headers(os.environ)

    def get(self, what: str) -> dict:
        # One shared verifying context (``settle`` polls 20 times a second; httpx would make
        # a new one, 20 ms of CPU, per request).
        response = httpx.get(
            f"{self.url}/{what}", headers=self.headers, timeout=30.0, verify=verify_context()
        )
        response.raise_for_status()
        return response.json()


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


__all__ = [
    "STRATEGIES",
    "LoadCost",
    "LoadError",
    "LoadRequest",
    "LoadResult",
    "LoadTarget",
    "RouteLoad",
    "run_load",
]
