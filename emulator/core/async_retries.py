"""When Lambda tries an asynchronous event again.

A function error gets up to two more attempts, about one and two minutes later; a throttled event
waits and is tried again until it is six hours old. After that the event is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AsyncRetryPolicy:
    max_retries: int = 2
    error_delays: tuple[float, ...] = (60.0, 120.0)  # seconds before retry 1, 2, ...
    throttle_delay: float = 1.0  # first wait after a throttle, doubled each time
    throttle_delay_max: float = 300.0
    max_event_age: float = 6 * 3600.0

    def after_error(self, attempts: int, age: float) -> float | None:
        """Seconds to wait before the next attempt after ``attempts`` failed ones, or None."""
        retries_done = attempts - 1
        if retries_done >= self.max_retries:
            return None
        delay = self.error_delays[min(retries_done, len(self.error_delays) - 1)]
        return delay if age + delay <= self.max_event_age else None

    def after_throttle(self, throttles: int, age: float) -> float | None:
        delay = min(self.throttle_delay * 2 ** max(0, throttles - 1), self.throttle_delay_max)
        return delay if age + delay <= self.max_event_age else None
