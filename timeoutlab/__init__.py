"""timeoutlab's public Python API: run your own ``serverless.yml`` behind a faithful API Gateway
and Lambda emulator, and assert how it behaves at the integration timeout.

Everything documented is importable from ``timeoutlab`` (see ``__all__``); other modules are
internal. Importing this package is cheap: the heavy parts load on first use.

Stacks
------
``start_stack(StackSettings(service=Path("serverless.yml"), time_scale=0.01)) -> Stack`` (or
``with Stack.start(settings) as stack:``) runs ``timeoutlab up`` in a child process on free
loopback ports, with the embedded moto backend, and returns once every port serves. Nothing leaks
into the calling process (environment, ``sys.path``, ``sys.modules``, stdout); several stacks run
side by side; the child stops when its parent dies. ``StackError`` (its message ends with the
child's last lines of output) when it cannot start within ``start_timeout_s`` real seconds.

- Time: ``time_scale`` is real seconds per emulated second. 0.01 plays a 40 s handler in 0.4 s,
  and the 29 s integration timeout in 0.29 s; handlers see the scale as
  ``TIMEOUTLAB_TIME_SCALE`` and scale their own waits by it. Durations are emulated unless their
  name or docstring says real.
- ``Stack``: ``rest_url`` (stage included), ``http_api_url`` (None without ``httpApi`` events),
  ``ws_url``, ``connections_url``, ``control_url``, ``time_scale``, ``settings``;
  ``client("s3" | "dynamodb" | "sqs" | "apigatewaymanagementapi" | "lambda")`` (boto3 clients
  signed with the stack's credentials); ``set_integration_timeout(route, seconds)`` (``None`` or
  ``"*"``: the default; ValueError for what API Gateway refuses), ``integration_timeouts()`` and
  ``restore_integration_timeouts(saved)``; ``reset()`` (metrics); ``wait_idle(timeout_s=30.0)``
  (real s; TimeoutError naming what is busy); ``metrics`` (a ``MetricsSnapshot``); ``health()``;
  ``log_path`` / ``output_tail()`` (the child's log and the handlers' prints, until ``stop``);
  ``stop()`` (idempotent). Control-plane failures raise ``StackError``, a refused token
  ``PermissionError``.
- ``StackSettings``: ``service``, ``time_scale`` (1.0), ``integration_timeout_s`` (None: the
  service's, else 29), ``credentials`` (``"KEY:SECRET"``: SigV4 verified on ``@connections``
  and Lambda Invoke), ``control_token`` (bearer token for ``/_emulator/``), ``host``
  (127.0.0.1), ``start_timeout_s`` (120 real s), ``prewarm`` (True), ``extra_args`` (more
  ``timeoutlab up`` options). ValueError for a bad value.

Figures
-------
``stack.metrics`` is a frozen ``MetricsSnapshot``: ``rest`` and ``http_api`` (``ApiMetrics``:
per-route ``RouteMetrics`` with requests, status counts, integration timeouts, latency in
emulated ms; bytes at the socket), ``websocket`` (``WebSocketMetrics``: connections, messages,
bytes, 32 KB message units), ``functions`` / ``function(name)`` (``FunctionMetrics``:
invocations, cold starts, errors, timeouts, ``running_after_caller_gone``, ``wasted_ms``,
``after_caller_gone_ms``), ``backend`` (S3 and DynamoDB usage as billed), ``precision`` (the
gateway's lateness and overhead, emulated s), ``clock``, and ``raw`` (the JSON).

Assertions
----------
Plain ``AssertionError`` with a message saying what was expected and what came:

- ``assert_gateway_timeout(response, at_s=29.0, *, stack=None, tolerance_s=None)``: an httpx or
  requests response is the gateway's timeout answer (REST 504 ``{"message": "Endpoint request
  timed out"}``, HTTP API 503 ``{"message":"Service Unavailable"}``), at ``at_s`` emulated s and
  never earlier; returns the emulated seconds it took.
- ``assert_pushed(stack, message, *, match=None, within_s=60.0, headers=None, query=None)``:
  sends ``message`` over a new WebSocket (``headers`` and ``query``: what a ``$connect``
  authorizer reads, e.g. ``query={"token": "good"}``) and returns the first pushed message
  ``match`` accepts (a dict subset, ``...`` for any value, or a callable); a refused handshake
  fails naming its HTTP status and body.
- ``assert_ran_on(stack, function, *, at_least_s=None)``: the Lambda ran on after its caller gave
  up; returns its ``FunctionMetrics``.

Load
----
``run_load(stack, *, users, spawn_rate, duration_s, request=LoadRequest(...) | strategy=...)
-> LoadResult``: Locust in a child process for ``duration_s`` real seconds against your own
routes (``LoadRequest(method, path, api="rest" | "http_api" | "websocket", body=, headers=,
query=)``)
or a bundled report strategy; per-route ``RouteLoad`` (requests, failures, gateway timeouts,
p50/p95/max in emulated seconds from every sample) and the run's ``LoadCost`` in dollars from
the stack's own counts. ``LoadError`` (with Locust's stderr tail), ``TimeoutError``,
``ValueError``. See ``timeoutlab.load``.

pytest plugin
-------------
Installed with the package (entry point ``pytest11`` ``timeoutlab``): fixtures
``timeoutlab_stack`` (session; one per xdist worker) and ``timeoutlab_isolated_stack``
(function), options ``--timeoutlab-service`` / ini ``timeoutlab_service`` (default
``serverless.yml`` in the rootdir) and ``--timeoutlab-time-scale`` / ini
``timeoutlab_time_scale`` (1.0), marker ``@pytest.mark.timeoutlab(time_scale=...,
integration_timeout=..., routes={...})``. See ``timeoutlab.pytest_plugin``.

Versioning
----------
Semantic versioning from 1.0. Until then (0.x) a minor version may change this API; the
changelog says so whenever it does. What ``__all__`` lists is the API; nothing else is.
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from timeoutlab.assertions import assert_gateway_timeout, assert_pushed, assert_ran_on
    from timeoutlab.load import (
        LoadCost,
        LoadError,
        LoadRequest,
        LoadResult,
        RouteLoad,
        run_load,
    )
    from timeoutlab.metrics import (
        ApiMetrics,
        BackendMetrics,
        ClockMetrics,
        FunctionMetrics,
        MetricsSnapshot,
        PrecisionMetrics,
        RouteMetrics,
        WebSocketMetrics,
    )
    from timeoutlab.settings import StackSettings
    from timeoutlab.stack import ApiKind, Stack, StackError, TimeoutConfig, start_stack

try:
    __version__ = version("timeoutlab")
except PackageNotFoundError:  # run from a source tree that is not installed
    __version__ = "0.0.0+unknown"

#: Where each public name lives; loaded on first access (PEP 562), so ``import timeoutlab`` (and
#: the pytest plugin, in every test run) stays cheap.
_LAZY = {
    "Stack": "timeoutlab.stack",
    "StackError": "timeoutlab.stack",
    "start_stack": "timeoutlab.stack",
    "ApiKind": "timeoutlab.stack",
    "TimeoutConfig": "timeoutlab.stack",
    "StackSettings": "timeoutlab.settings",
    "MetricsSnapshot": "timeoutlab.metrics",
    "ApiMetrics": "timeoutlab.metrics",
    "RouteMetrics": "timeoutlab.metrics",
    "WebSocketMetrics": "timeoutlab.metrics",
    "FunctionMetrics": "timeoutlab.metrics",
    "BackendMetrics": "timeoutlab.metrics",
    "PrecisionMetrics": "timeoutlab.metrics",
    "ClockMetrics": "timeoutlab.metrics",
    "assert_gateway_timeout": "timeoutlab.assertions",
    "assert_pushed": "timeoutlab.assertions",
    "assert_ran_on": "timeoutlab.assertions",
    "run_load": "timeoutlab.load",
    "LoadRequest": "timeoutlab.load",
    "LoadResult": "timeoutlab.load",
    "RouteLoad": "timeoutlab.load",
    "LoadCost": "timeoutlab.load",
    "LoadError": "timeoutlab.load",
}

__all__ = [
    "ApiKind",
    "ApiMetrics",
    "BackendMetrics",
    "ClockMetrics",
    "FunctionMetrics",
    "LoadCost",
    "LoadError",
    "LoadRequest",
    "LoadResult",
    "MetricsSnapshot",
    "PrecisionMetrics",
    "RouteLoad",
    "RouteMetrics",
    "Stack",
    "StackError",
    "StackSettings",
    "TimeoutConfig",
    "WebSocketMetrics",
    "__version__",
    "assert_gateway_timeout",
    "assert_pushed",
    "assert_ran_on",
    "run_load",
    "start_stack",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'timeoutlab' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
