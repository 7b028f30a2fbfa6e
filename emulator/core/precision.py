"""How precisely the gateway keeps its deadlines, and what it adds to a request: the rules.

Two figures, one definition each, in emulated seconds, measured with the emulator's clock at the
gateway (``emulator.metrics.Metrics`` keeps the samples; the gateways record them):

- **lateness**: for each deadline the gateway keeps (an integration timeout it answers: the REST
  504, the WebSocket route's timeout; a WebSocket connection it closes at its idle or maximum
  duration), how long after the deadline it actually answered (``lateness``). The deadline of an
  integration timeout is the invocation's start plus the route's integration timeout. Negative
  would mean early: the gateway must never be.
- **processing overhead**: for each request answered with a Lambda's result, the gateway's latency
  (request received to response ready) minus the invocation's duration (``overhead``): the time
  the emulator itself added.

How late is acceptable is said here once (``lateness_allowance``): the timing tests
(``tests/timing``) hold the emulator to it on a loaded machine, and so can later tools.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

#: Late by at most this share of the emulated duration ...
LATENESS_SHARE = 0.05
#: ... or by this many real seconds, whichever is more. 250 ms of real time covers what a loaded
#: two-core machine adds (scheduling, Python's garbage collector, a busy event loop) to a socket
#: round trip; at a small time scale it is many emulated seconds (12.5 s at 0.02).
LATENESS_FLOOR_REAL_S = 0.25


def lateness_allowance(emulated_duration_s: float, scale: float) -> float:
    """How late (emulated seconds) an event due ``emulated_duration_s`` after its start may come.

    ``max(LATENESS_SHARE * duration, LATENESS_FLOOR_REAL_S / scale)``: 5 % of the emulated
    duration, or 250 ms of real time (``scale`` real seconds per emulated one), whichever is more.
    Never early is a separate, exact rule: the allowance bounds lateness only.
    """
    if scale <= 0:
        raise ValueError(f"time scale must be positive, got {scale!r}")
    return max(LATENESS_SHARE * max(0.0, emulated_duration_s), LATENESS_FLOOR_REAL_S / scale)


def lateness(deadline: float, answered_at: float) -> float:
    """How long after ``deadline`` the gateway answered (emulated seconds; negative is early)."""
    return answered_at - deadline


def overhead(received_at: float, answered_at: float, invocation_s: float) -> float:
    """The gateway's own share of a request (emulated seconds): its latency, from ``received_at``
    to ``answered_at``, less ``invocation_s``, the duration of the invocation it waited on."""
    return (answered_at - received_at) - invocation_s


def median(samples: Sequence[float]) -> float | None:
    """The median (the mean of the two middle values for an even count); None for no samples."""
    return statistics.median(samples) if samples else None


def percentile(samples: Sequence[float], q: float) -> float | None:
    """The nearest-rank ``q`` percentile (0 < q <= 1) of ``samples``; None for no samples."""
    if not 0 < q <= 1:
        raise ValueError(f"percentile must be in (0, 1], got {q!r}")
    if not samples:
        return None
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]
