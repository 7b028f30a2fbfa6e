"""The accounting of one Lambda invocation: how long it ran, what it billed, what was wasted.

On AWS the gateway giving up does not stop the Lambda: it runs to its end and is billed for it.
Work whose caller has gone is wasted; this record keeps both, in emulated time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum


class Outcome(StrEnum):
    SUCCESS = "success"
    ERROR = "error"  # the handler raised
    TIMEOUT = "timeout"  # the function ran past its own timeout and was stopped


@dataclass
class InvocationRecord:
    request_id: str
    function: str
    started_at: float  # emulated seconds
    timeout: float  # the function's timeout, seconds
    memory_mb: int
    invocation_type: str = "RequestResponse"
    ended_at: float | None = None
    outcome: Outcome | None = None
    caller_gone_at: float | None = None
    # A cold start's Init phase, in real seconds of the event loop's clock: when it began and,
    # once over, how long it took. Init runs at its real duration whatever the time scale
    # (a 300 ms import is 300 emulated ms), so callers credit its stretch to their deadlines.
    init_began: float | None = None
    init_real_s: float | None = None

    @property
    def init_ms(self) -> float | None:
        """The Init Duration of a cold start (ms, real = emulated); None on a warm start."""
        return None if self.init_real_s is None else self.init_real_s * 1000

    @property
    def initialising(self) -> bool:
        return self.init_began is not None and self.init_real_s is None

    def init_credit_real(self, now_real: float, scale: float) -> float:
        """Real seconds by which a caller's deadline moves for this invocation's cold start:
        the Init phase so far (real) counted as that many emulated seconds, not 1/scale times
        as many: ``init * (1 - scale)``. Zero on a warm start."""
        if self.init_began is None:
            return 0.0
        elapsed = self.init_real_s if self.init_real_s is not None else now_real - self.init_began
        return elapsed * (1 - scale)

    @property
    def running(self) -> bool:
        return self.ended_at is None

    def finish(self, now: float, outcome: Outcome) -> None:
        if self.ended_at is None:
            self.ended_at = now
            self.outcome = outcome

    def caller_gone(self, now: float) -> None:
        """The caller stopped waiting (gateway timeout, client hang-up); the work goes on."""
        if self.caller_gone_at is None and self.running:
            self.caller_gone_at = now

    @property
    def duration_ms(self) -> float:
        if self.ended_at is None:
            return 0.0
        return (self.ended_at - self.started_at) * 1000

    @property
    def billed_ms(self) -> int:
        """Lambda bills each invocation in 1 ms increments, never past the function timeout."""
        if self.ended_at is None:
            return 0
        return max(1, min(math.ceil(self.duration_ms), math.ceil(self.timeout * 1000)))

    @property
    def wasted_ms(self) -> int:
        """Billed time nobody received a result for: all of it, when the caller had gone."""
        return self.billed_ms if self.caller_gone_at is not None else 0

    @property
    def after_caller_gone_ms(self) -> float:
        """How long it ran on after the caller gave up (the part AWS keeps billing silently)."""
        if self.caller_gone_at is None or self.ended_at is None:
            return 0.0
        return max(0.0, (self.ended_at - self.caller_gone_at) * 1000)

    @property
    def gb_seconds(self) -> float:
        return self.billed_ms / 1000 * self.memory_mb / 1024
