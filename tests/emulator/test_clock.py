import asyncio
import time

import pytest

from emulator.clock import ManualClock, ScaledClock, validate_scale


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
    assert real == pytest.approx(0.1, abs=0.05)
    assert emulated == pytest.approx(real / 0.01, rel=0.01)


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
