"""The precision rules: lateness, overhead, their summaries and the one lateness allowance."""

import pytest

from emulator.core.precision import (
    LATENESS_FLOOR_REAL_S,
    LATENESS_SHARE,
    lateness,
    lateness_allowance,
    median,
    overhead,
    percentile,
)


def test_lateness_is_how_long_after_the_deadline_and_negative_when_early():
    assert lateness(deadline=129.0, answered_at=129.25) == 0.25
    assert lateness(deadline=129.0, answered_at=129.0) == 0.0
    assert lateness(deadline=129.0, answered_at=128.5) == -0.5


def test_overhead_is_the_latency_less_the_invocation():
    assert overhead(received_at=10.0, answered_at=15.5, invocation_s=5.25) == 0.25
    assert overhead(received_at=10.0, answered_at=10.0, invocation_s=0.0) == 0.0


def test_median_and_nearest_rank_percentile_with_exact_numbers():
    assert median([]) is None
    assert median([3.0]) == 3.0
    assert median([5.0, 1.0, 3.0]) == 3.0
    assert median([4.0, 1.0, 3.0, 2.0]) == 2.5
    samples = [float(n) for n in range(1, 21)]  # 1..20
    assert percentile(samples, 0.95) == 19.0  # rank ceil(0.95 * 20) = 19
    assert percentile(samples, 0.5) == 10.0
    assert percentile(samples, 1.0) == 20.0
    assert percentile([7.0], 0.95) == 7.0
    assert percentile([], 0.95) is None
    with pytest.raises(ValueError, match="percentile"):
        percentile(samples, 0)


def test_the_allowance_is_5_percent_or_250_ms_real_whichever_is_more():
    assert (LATENESS_SHARE, LATENESS_FLOOR_REAL_S) == (0.05, 0.25)
    assert lateness_allowance(29, scale=1.0) == pytest.approx(1.45)  # 5 % of 29 s
    assert lateness_allowance(4, scale=1.0) == 0.25  # 250 ms real
    assert lateness_allowance(29, scale=0.02) == 12.5  # 250 ms real is 12.5 emulated s
    assert lateness_allowance(600, scale=0.02) == 30.0  # 5 % of 10 min
    with pytest.raises(ValueError, match="time scale"):
        lateness_allowance(29, scale=0)
