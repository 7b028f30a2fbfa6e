"""When Lambda tries an asynchronous event again, and when it gives up on it.

A function error gets up to ``maximumRetryAttempts`` more attempts (default two), about one and
two minutes later; a throttled event waits and is tried again until it is ``maximumEventAge``
old (default six hours). Then the event ends with a condition: ``RetriesExhausted`` or
``EventAgeExceeded`` (``Success`` when an attempt succeeded), the ``condition`` of the invocation
record a destination gets.

Pure rules: the caller says how many attempts were made and how old the event is (emulated
seconds); the policy answers with a typed decision.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

#: Lambda's defaults and bounds for an asynchronous invocation configuration:
#: "MaximumRetryAttempts: Valid Range: Minimum value of 0. Maximum value of 2",
#: "MaximumEventAgeInSeconds: Valid Range: Minimum value of 60. Maximum value of 21600"
#: (https://docs.aws.amazon.com/lambda/latest/api/API_PutFunctionEventInvokeConfig.html).
DEFAULT_MAX_RETRIES = 2
MAX_RETRIES_RANGE = (0, 2)
DEFAULT_MAX_EVENT_AGE = 6 * 3600.0
MAX_EVENT_AGE_RANGE = (60, 21600)


class Condition(StrEnum):
    """Why an event's processing ended: the record's ``requestContext.condition``
    (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html)."""

    SUCCESS = "Success"
    RETRIES_EXHAUSTED = "RetriesExhausted"
    EVENT_AGE_EXCEEDED = "EventAgeExceeded"


@dataclass(frozen=True)
class Retry:
    """Try the event again after ``seconds`` (emulated)."""

    seconds: float


@dataclass(frozen=True)
class GiveUp:
    """Give up on the event after ``seconds`` (emulated; 0 for now), for ``condition``.

    An event whose next attempt would come after its maximum age stays queued until that age and
    is discarded then: AWS says Lambda keeps an event "up to" the maximum age, and does not
    document the moment it discards one that cannot be tried again in time
    (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html)."""

    condition: Condition
    seconds: float = 0.0


Decision = Retry | GiveUp


@dataclass(frozen=True)
class AsyncRetryPolicy:
    """Retries and event age of one function's asynchronous events (seconds, emulated).

    Defaults per https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html:
    "If the function returns an error, by default Lambda attempts to run it two more times, with
    a one-minute wait between the first two attempts, and two minutes between the second and
    third attempts"; throttles are retried "for up to 6 hours by default. The retry interval
    increases exponentially from 1 second after the first attempt to a maximum of 5 minutes."
    """

    max_retries: int = DEFAULT_MAX_RETRIES
    error_delays: tuple[float, ...] = (60.0, 120.0)  # seconds before retry 1, 2, ...
    throttle_delay: float = 1.0  # first wait after a throttle, doubled each time
    throttle_delay_max: float = 300.0
    max_event_age: float = DEFAULT_MAX_EVENT_AGE

    def configured(
        self, max_retries: int | None = None, max_event_age: float | None = None
    ) -> AsyncRetryPolicy:
        """This policy with a function's ``maximumRetryAttempts`` / ``maximumEventAge`` (None:
        keep this policy's)."""
        return replace(
            self,
            max_retries=self.max_retries if max_retries is None else max_retries,
            max_event_age=self.max_event_age if max_event_age is None else max_event_age,
        )

    def after_error(self, attempts: int, age: float) -> Decision:
        """What follows the ``attempts``-th failed attempt of an event ``age`` seconds old."""
        retries_done = attempts - 1
        if retries_done >= self.max_retries:
            return GiveUp(Condition.RETRIES_EXHAUSTED)
        delay = self.error_delays[min(retries_done, len(self.error_delays) - 1)]
        return self._within_age(delay, age)

    def after_throttle(self, throttles: int, age: float) -> Decision:
        """What follows the ``throttles``-th throttle of an event ``age`` seconds old."""
        delay = min(self.throttle_delay * 2 ** max(0, throttles - 1), self.throttle_delay_max)
        return self._within_age(delay, age)

    def _within_age(self, delay: float, age: float) -> Decision:
        if age + delay <= self.max_event_age:
            return Retry(delay)
        return GiveUp(Condition.EVENT_AGE_EXCEEDED, max(0.0, self.max_event_age - age))
