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
from dataclasses import dataclass

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


#: The processing overhead's p95 may be at most this share of the integration timeout before the
#: emulated times are called distorted (issue 16): the emulator's own processing is real time,
#: stretched by 1/scale in emulated seconds, while AWS's gateway adds milliseconds.
OVERHEAD_SHARE = 0.02


@dataclass(frozen=True)
class OverheadDistortion:
    """The processing overhead is over ``OVERHEAD_SHARE`` of the integration timeout.

    ``p95_s`` and ``timeout_s`` are emulated seconds; ``share`` is p95 / timeout; ``scale`` the
    time scale it was measured at (real seconds per emulated one) and ``scale_within`` the
    smallest time scale at which the same real overhead stays within the share.
    """

    p95_s: float
    timeout_s: float
    share: float
    scale: float
    scale_within: float


def overhead_distortion(
    p95_s: float | None, timeout_s: float, scale: float
) -> OverheadDistortion | None:
    """Whether the processing overhead's p95 (emulated seconds) distorts emulated times: an
    ``OverheadDistortion`` when it is over ``OVERHEAD_SHARE`` of the integration timeout
    ``timeout_s`` (emulated seconds), else None (also for no samples).

    The overhead is real time, so in emulated seconds it scales with 1/scale: the real p95 is
    ``p95_s * scale``, and it stays within the share from
    ``scale_within = p95_s * scale / (OVERHEAD_SHARE * timeout_s)`` on (rounded up to two
    significant digits). Raises ValueError for a scale or a timeout that is not positive.
    """
    if scale <= 0:
        raise ValueError(f"time scale must be positive, got {scale!r}")
    if timeout_s <= 0:
        raise ValueError(f"integration timeout must be positive, got {timeout_s!r}")
    if p95_s is None or p95_s <= OVERHEAD_SHARE * timeout_s:
        return None
    needed = p95_s * scale / (OVERHEAD_SHARE * timeout_s)
    return OverheadDistortion(
        p95_s=p95_s,
        timeout_s=timeout_s,
        share=p95_s / timeout_s,
        scale=scale,
        scale_within=_round_up(needed, 2),
    )


def _round_up(value: float, digits: int) -> float:
    """``value`` rounded up to ``digits`` significant digits (0.0123 -> 0.013 for 2)."""
    exponent = math.floor(math.log10(value)) - digits + 1
    step = 10.0**exponent
    return round(math.ceil(round(value / step, 9)) * step, max(0, -exponent))
