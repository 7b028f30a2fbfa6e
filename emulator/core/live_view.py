"""The live view's figures: what the gateway and Lambda are doing now, from one metrics snapshot.

The page at ``/_emulator/ui/`` shows them, updated over Server-Sent Events from
``/_emulator/live`` (``emulator.gateway.live``): current WebSocket connections, Lambdas running
and running after their caller gave up (a REST request cut at the integration timeout leaves its
Lambda running: AWS does not stop it), integration timeouts answered, asynchronous invocations
retried and waiting, and the Lambda time billed after the caller gave up (wasted). None of this is
an AWS API: it is the emulator's own view of what
https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html (the 29 s timeout) and
https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html (the retries)
make happen. No clock, no socket: the stream's server reads the snapshot and the clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

#: Real seconds between two looks at the figures; an event goes out only when one changed.
LIVE_PERIOD_S = 1.0
#: Real seconds without a change after which a comment line keeps proxies and the browser from
#: taking the stream for dead.
LIVE_KEEPALIVE_S = 15.0
#: Live streams open at once; more are refused (503), so a runaway page cannot pile them up.
MAX_LIVE_STREAMS = 32
#: The name of every event of the stream (the page listens for it).
LIVE_EVENT = "live"


@dataclass(frozen=True)
class LiveFigures:
    """What the live view shows, at one instant. Counts are since the last reset
    (``POST /_emulator/reset``) except the ``*_now`` ones, which are current; times are
    emulated milliseconds.

    - ``websocket_connections_now``: WebSocket connections open.
    - ``lambdas_running_now`` / ``lambdas_abandoned_now``: invocations running, and those of them
      whose caller has gone (the REST client got its 504, the WebSocket closed).
    - ``integration_timeouts``: integration timeouts the gateway answered (REST 504s, WebSocket
      routes cut at their timeout, HTTP API 503s).
    - ``async_retries`` / ``async_pending_now``: asynchronous invocations retried after an error,
      and events queued or waiting for their retry now.
    - ``lambda_billed_ms`` / ``lambda_wasted_ms``: billed time of the invocations that finished,
      and the part of it billed for invocations whose caller had given up.
    - ``running``: invocations running now, by function (only the functions with some).
    """

    websocket_connections_now: int = 0
    lambdas_running_now: int = 0
    lambdas_abandoned_now: int = 0
    integration_timeouts: int = 0
    async_retries: int = 0
    async_pending_now: int = 0
    lambda_billed_ms: int = 0
    lambda_wasted_ms: int = 0
    running: tuple[tuple[str, int], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """The figures as JSON-ready data (``running`` as an object by function)."""
        data = asdict(self)
        data["running"] = dict(self.running)
        return data


def live_figures(snapshot: Mapping[str, Any], *, async_pending: int = 0) -> LiveFigures:
    """The figures of ``snapshot`` (``Metrics.snapshot()``, as ``/_emulator/metrics`` serves it)
    and ``async_pending`` (events the async invoker holds now, queued or awaiting a retry)."""
    functions: Mapping[str, Mapping[str, Any]] = snapshot["lambda"]["functions"]
    return LiveFigures(
        websocket_connections_now=int(snapshot["websocket"]["current_connections"]),
        lambdas_running_now=sum(int(f["running"]) for f in functions.values()),
        lambdas_abandoned_now=sum(int(f["running_after_caller_gone"]) for f in functions.values()),
        integration_timeouts=int(snapshot["precision"]["integration_timeouts"]),
        async_retries=sum(int(f["async_events"].get("retried", 0)) for f in functions.values()),
        async_pending_now=async_pending,
        lambda_billed_ms=sum(int(f["billed_ms"]) for f in functions.values()),
        lambda_wasted_ms=sum(int(f["wasted_ms"]) for f in functions.values()),
        running=tuple(
            (name, int(f["running"])) for name, f in sorted(functions.items()) if f["running"]
        ),
    )


def changes(previous: LiveFigures | None, current: LiveFigures) -> dict[str, Any]:
    """What to send: every figure the first time (``previous`` None), then only those that
    changed ({} when none did). ``running`` goes whole when it changed."""
    now = current.as_dict()
    if previous is None:
        return now
    before = previous.as_dict()
    return {key: value for key, value in now.items() if before[key] != value}
