from emulator.clock import ManualClock
from emulator.core.invocations import InvocationRecord, Outcome


def record(clock: ManualClock, timeout: float = 900) -> InvocationRecord:
    return InvocationRecord("id", "fn", clock.now(), timeout, memory_mb=1024)


def test_a_delivered_invocation_bills_its_duration_and_wastes_nothing():
    clock = ManualClock()
    r = record(clock)
    clock.advance(5.0004)
    r.finish(clock.now(), Outcome.SUCCESS)
    assert r.billed_ms == 5001  # rounded up to the next millisecond
    assert r.wasted_ms == 0
    assert r.gb_seconds == 5.001


def test_an_invocation_the_gateway_gave_up_on_is_all_waste():
    clock = ManualClock()
    r = record(clock)
    clock.advance(29)
    r.caller_gone(clock.now())
    clock.advance(11)
    r.finish(clock.now(), Outcome.SUCCESS)
    assert r.billed_ms == 40_000
    assert r.wasted_ms == 40_000
    assert r.after_caller_gone_ms == 11_000


def test_billing_never_exceeds_the_function_timeout_and_is_at_least_1_ms():
    clock = ManualClock()
    r = record(clock, timeout=6)
    clock.advance(6.5)
    r.finish(clock.now(), Outcome.TIMEOUT)
    assert r.billed_ms == 6000
    quick = record(clock)
    quick.finish(clock.now(), Outcome.SUCCESS)
    assert quick.billed_ms == 1


def test_finishing_twice_keeps_the_first_end_and_late_hangups_do_not_count():
    clock = ManualClock()
    r = record(clock)
    clock.advance(1)
    r.finish(clock.now(), Outcome.ERROR)
    clock.advance(1)
    r.finish(clock.now(), Outcome.SUCCESS)
    r.caller_gone(clock.now())
    assert (r.outcome, r.duration_ms, r.wasted_ms) == (Outcome.ERROR, 1000, 0)
