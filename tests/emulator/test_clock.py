import asyncio
import time

import looptime
import pytest

from emulator.clock import Clock, ManualClock, ScaledClock, validate_scale


def test_scaled_clock_converts_both_ways():
    clock = ScaledClock(0.01)
    assert clock.to_real(29) == pytest.approx(0.29)
    assert clock.to_emulated(0.29) == pytest.approx(29)
    assert clock.to_real(-5) == 0.0


def test_scaled_clock_runs_emulated_time_faster_and_sleeps_real_time_scaled():
    clock = ScaledClock(0.01)
    real0, emulated0 = time.monotonic(), clock.now()
    asyncio.run(clock.sleep(10))  # 10 emulated seconds = 0.1 real seconds
    real, emulated = time.monotonic() - real0, clock.now() - emulated0
    assert real >= 0.1  # never early; how late depends on the machine, so no bound here
    assert emulated == pytest.approx(real / 0.01, rel=0.01)


@pytest.mark.parametrize("make", [ScaledClock, ManualClock], ids=["scaled", "manual"])
def test_both_clocks_satisfy_the_one_protocol_with_the_same_meaning(make):
    clock = make(scale=0.5)
    assert isinstance(clock, Clock)
    assert clock.scale == 0.5
    assert (clock.to_real(29), clock.to_emulated(14.5), clock.to_real(-1)) == (14.5, 29, 0.0)
    assert set(clock.handler_environment()) == {"TIMEOUTLAB_TIME_SCALE", "TIMEOUTLAB_EPOCH_ANCHOR"}


def test_a_clock_of_a_virtual_loop_moves_exactly_with_the_loops_timers():
    loop = looptime.new_event_loop(start=0.0)
    try:
        clock = ScaledClock.of_loop(loop, scale=0.01)
        epoch0 = clock.epoch()
        real0 = time.monotonic()
        loop.run_until_complete(clock.sleep(3600))  # an emulated hour, no real waiting
        assert clock.now() == pytest.approx(3600, abs=1e-6)
        assert clock.epoch() - epoch0 == pytest.approx(3600, abs=1e-3)
        assert time.monotonic() - real0 < 36  # the real hour * 0.01 was not waited for
    finally:
        loop.close()


def test_emulated_epoch_starts_at_the_anchor_and_is_shared_through_the_environment():
    clock = ScaledClock(0.5, anchor=time.time() - 10)
    assert clock.epoch() == pytest.approx(time.time() + 10, abs=0.5)  # 10 real s = 20 emulated
    env = clock.handler_environment()
    assert float(env["TIMEOUTLAB_TIME_SCALE"]) == 0.5
    assert float(env["TIMEOUTLAB_EPOCH_ANCHOR"]) == clock.anchor


@pytest.mark.parametrize("scale", [0, -1, 1001])
def test_nonsense_scales_are_refused(scale):
    with pytest.raises(ValueError, match="time scale"):
        validate_scale(scale)


def test_manual_clock_moves_only_when_told():
    clock = ManualClock(start=5, epoch=1000)
    assert (clock.now(), clock.epoch()) == (5, 1000)
    asyncio.run(clock.sleep(3))
    clock.advance(2)
    assert (clock.now(), clock.epoch()) == (10, 1005)
    with pytest.raises(ValueError, match="does not go back"):
        clock.advance(-1)
