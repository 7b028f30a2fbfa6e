"""The precision rules: lateness, overhead, their summaries and the one lateness allowance."""

import pytest

from emulator.core.precision import (
    LATENESS_FLOOR_REAL_S,
    LATENESS_SHARE,
    OVERHEAD_SHARE,
    OverheadDistortion,
    lateness,
    lateness_allowance,
    median,
    overhead,
    overhead_distortion,
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


def test_an_overhead_within_two_percent_of_the_timeout_is_no_distortion():
    assert OVERHEAD_SHARE == 0.02
    assert overhead_distortion(None, 29.0, 0.05) is None  # nothing measured
    assert overhead_distortion(0.5, 29.0, 0.05) is None
    assert overhead_distortion(0.58, 29.0, 0.05) is None  # exactly 2 %


def test_an_overhead_over_two_percent_names_the_scale_that_keeps_it_within():
    # 1 emulated s at scale 0.05 is 50 ms of real processing; 2 % of 29 s is 0.58 s, which
    # 50 ms is from scale 0.05 / 0.58 = 0.0862... on, rounded up to 0.087.
    distortion = overhead_distortion(1.0, 29.0, 0.05)
    assert distortion == OverheadDistortion(
        p95_s=1.0, timeout_s=29.0, share=pytest.approx(1 / 29), scale=0.05, scale_within=0.087
    )
    # Real time itself over 2 %: a scale above 1 (slower than real time) would be needed.
    assert overhead_distortion(3.0, 29.0, 0.2).scale_within == 1.1  # 0.6 / 0.58 = 1.03..
    assert overhead_distortion(0.7, 30.0, 1.0).scale_within == 1.2  # 0.7 / 0.6 = 1.16..


@pytest.mark.parametrize(("timeout_s", "scale"), [(29.0, 0.0), (29.0, -1.0), (0.0, 1.0)])
def test_distortion_needs_a_positive_scale_and_timeout(timeout_s, scale):
    with pytest.raises(ValueError, match="must be positive"):
        overhead_distortion(1.0, timeout_s, scale)
