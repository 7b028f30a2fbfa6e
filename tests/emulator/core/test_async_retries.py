"""The asynchronous retry policy: AWS's delays, a function's own retries and maximum age."""

from emulator.core.async_retries import AsyncRetryPolicy, Condition, GiveUp, Retry


def test_default_policy_retries_errors_twice_and_throttles_until_six_hours():
    policy = AsyncRetryPolicy()
    assert policy.after_error(attempts=1, age=0) == Retry(60)
    assert policy.after_error(attempts=2, age=60) == Retry(120)
    assert policy.after_error(attempts=3, age=180) == GiveUp(Condition.RETRIES_EXHAUSTED)
    assert policy.after_throttle(1, age=0) == Retry(1)
    assert policy.after_throttle(4, age=0) == Retry(8)
    assert policy.after_throttle(30, age=0) == Retry(300)
    assert policy.after_throttle(1, age=6 * 3600) == GiveUp(Condition.EVENT_AGE_EXCEEDED, 0.0)


def test_a_functions_settings_replace_the_defaults():
    none = AsyncRetryPolicy().configured(max_retries=0)
    assert none.after_error(attempts=1, age=0) == GiveUp(Condition.RETRIES_EXHAUSTED)
    assert none.max_event_age == 6 * 3600  # unchanged where the function says nothing
    minute = AsyncRetryPolicy().configured(max_event_age=60)
    assert minute.max_retries == 2
    # A retry due after the maximum age never comes: the event expires at that age.
    assert minute.after_error(attempts=1, age=0.5) == GiveUp(Condition.EVENT_AGE_EXCEEDED, 59.5)
    assert minute.after_throttle(5, age=15) == Retry(16)  # due at 31 s
    assert minute.after_throttle(6, age=31) == GiveUp(Condition.EVENT_AGE_EXCEEDED, 29)
