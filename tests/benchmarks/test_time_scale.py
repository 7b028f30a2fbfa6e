"""The time-scale benchmark: a tiny real run measures the scenario's figures and the CPU of each
part, and the search halves its interval on a log scale. Figures are printed, never compared
with a goal."""

from benchmarks.time_scale import bisect, format_rows
from tests.benchmarks import first_json_line
from tests.support import LOAD_SCALE


def test_a_tiny_run_measures_the_504s_the_reports_and_the_cpu_of_each_part():
    row, output = first_json_line(
        "-m", "benchmarks.time_scale", "--users", "2", "--spawn-rate", "2",
        "--scales", str(LOAD_SCALE), "--run-time", "60", "--strategies", "rest",
    )  # fmt: skip
    assert (row["time_scale"], row["users"]) == (LOAD_SCALE, 2)
    rest = row["strategies"]["rest"]
    assert rest["reports"] >= 1
    assert 0 <= row["rest_504s_over_2pct"] <= row["rest_504s"]
    assert 0 <= rest["warm_5s_reports"] <= rest["reports"]
    assert rest["cold_starts"] >= 1
    # The load, the gateway, the handlers and moto all used the CPU during the run.
    assert all(row["cpu_s"][part] > 0 for part in ("runner+emulator", "environments", "locust"))
    assert row["cpu_share_of_cores"] > 0
    assert f"| {LOAD_SCALE:g} | 2 | rest |" in output


def test_the_search_halves_the_interval_on_a_log_scale_and_keeps_the_smallest_within():
    asked: list[float] = []

    def run(scale: float) -> dict:
        asked.append(scale)
        return {"rest_504_within_2pct": scale >= 0.3}

    found, rows = bisect(0.05, 1.0, 6, run)
    assert asked[0] == 1.0  # the upper bound first
    assert len(rows) == len(asked) <= 6
    assert found is not None
    assert found >= 0.3
    assert found == min(s for s in asked if s >= 0.3)
    assert bisect(0.05, 0.2, 3, run) == (None, [{"rest_504_within_2pct": False}])


def test_rows_read_as_a_table_per_run_and_strategy():
    row = {
        "time_scale": 0.2, "users": 100, "rest_504_within_2pct": False,
        "rest_504s": 40, "rest_504s_over_2pct": 3,
        "gateway_lateness_median_s": 0.01, "gateway_lateness_max_s": 0.05,
        "overhead_median_s": 0.3, "overhead_p95_s": 0.9,
        "strategies": {"rest": {
            "timeout_min_s": 29.1, "timeout_max_s": 29.5, "p50_5s": 5.2, "p95_5s": 5.9,
            "p50_5s_warm": 5.1, "p95_5s_warm": 5.3, "warm_5s_reports": 12,
            "gateway_timeouts_5s": 2,
            "p50_40s": None, "p95_40s": None, "usd_per_million_reports": 300.0,
            "cold_starts": 60, "environment_waits": 0,
        }},
        "cpu_s": {"runner+emulator": 10.0, "environments": 20.0, "backend": 5.0, "locust": 8.0},
        "cpu_share_of_cores": 0.5, "real_s": 43.0, "load_average_at_start": 1.5,
    }  # fmt: skip
    table = format_rows([row])
    assert (
        "| 0.2 | 100 | rest | 29.10..29.50 | NO (3 of 40 late) | 0.010/0.050 | 0.30/0.90 | "
        "5.20/5.90 (2 got a 504) | 5.10/5.30 (12) | -/- | 300.00 | 60 | 0 |"
    ) in table
    assert "| 0.2 | 100 | 43 | 1.50 | 10.0, 20.0, 5.0, 8.0 | 50 % |" in table
