from scenarios.catalog import Expectation
from scenarios.results import (
    check_expectation,
    environment_figures,
    outcome_figures,
    percentile,
)


def report(name, seconds, error=None):
    return {"type": "REPORT", "name": name, "ms": seconds * 1000, "error": error}


TIMEOUT = 'gateway_timeout: {"message": "Endpoint request timed out"}'


def test_nearest_rank_percentiles():
    assert percentile([], 0.5) is None
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert percentile(list(range(1, 101)), 0.95) == 95


def test_time_to_result_counts_delivered_reports_only():
    figures = outcome_figures(
        [report("rest 5 s", 5.2), report("rest 40 s", 29.1, TIMEOUT), report("rest 5 s", 5.4)]
    )
    assert figures["reports_requested"] == 3
    assert figures["reports_delivered"] == 2
    assert figures["gateway_timeouts"] == 1
    assert figures["failures"] == {"gateway_timeout": 1}
    assert figures["time_to_result_p95_s"] == 5.4
    assert figures["time_to_failure_min_s"] == figures["time_to_failure_max_s"] == 29.1


def test_a_504_must_never_come_early_and_the_gateway_must_cut_on_time():
    expect = Expectation("rest", 40, "gateway_timeout")
    on_time = [report("rest 40 s", 29.2, TIMEOUT), report("rest 5 s", 5.1)]
    assert check_expectation(expect, on_time, 29, lateness_max_s=0.3) is None
    early = [report("rest 40 s", 28.0, TIMEOUT)]
    assert "early" in check_expectation(expect, early, 29)
    barely_early = [report("rest 40 s", 28.9, TIMEOUT)]  # timed from before the request: early
    assert "early" in check_expectation(expect, barely_early, 29)
    late = check_expectation(expect, on_time, 29, lateness_max_s=0.7)
    assert "the gateway answered an integration timeout 0.70 s late, over 2% of 29 s" in late
    # scaled down, a loaded event loop's real lateness weighs more emulated seconds
    assert check_expectation(expect, on_time, 29, lateness_max_s=0.7, time_scale=0.1) is None
    assert "2.60 s late" in check_expectation(
        expect, on_time, 29, lateness_max_s=2.6, time_scale=0.1
    )
    delivered = [report("rest 40 s", 40.1)]
    assert "did not end in a 504" in check_expectation(expect, delivered, 29)


def test_delivery_expectations_name_what_failed_and_what_never_ran():
    expect = Expectation("websocket", 5, "delivered")
    assert check_expectation(expect, [report("websocket 5 s", 5.3)], 29) is None
    lost = [report("websocket 5 s", 9.0, "connection_lost: gone")]
    assert "1 of 1 not delivered (connection_lost" in check_expectation(expect, lost, 29)
    assert "no report finished" in check_expectation(expect, [], 29)


def test_idle_connections_must_each_be_closed_by_the_gateway():
    expect = Expectation("websocket-idle", 0, "idle_closed")
    close = {"type": "WS", "name": "idle close", "ms": 600_100, "error": None}
    assert check_expectation(expect, [close], 29) is None
    assert "none was closed" in check_expectation(expect, [], 29)
    early = {**close, "error": "early: after 300 s"}
    assert "1 of 2 wrong (early" in check_expectation(expect, [close, early], 29)


def _functions(**by_name):
    return {"lambda": {"functions": by_name}}


def test_a_phase_counts_the_environments_its_invocations_started_and_waited_for():
    before = _functions(
        report={"cold_starts": 2, "warm_starts": 5, "init_ms": 800.0, "environment_waits": 1}
    )
    after = _functions(
        report={"cold_starts": 5, "warm_starts": 9, "init_ms": 2300.0, "environment_waits": 4},
        connect={"cold_starts": 1, "warm_starts": 0, "init_ms": 500.0, "environment_waits": 2},
    )
    assert environment_figures(after, before) == {
        "cold_starts": 4,
        "warm_starts": 4,
        "init_ms": 2000.0,
        "environment_waits": 5,
        "init_ms_mean": 500.0,
    }
    nothing = environment_figures(after, after)
    assert nothing["cold_starts"] == nothing["environment_waits"] == 0
    assert nothing["init_ms_mean"] is None
