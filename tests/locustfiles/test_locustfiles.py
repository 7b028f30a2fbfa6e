"""The locustfiles run by the real Locust CLI, headless, against the emulator on loopback.

Locust monkey-patches the process with gevent, so it runs in a subprocess of its own; the
emulator runs here. The run is bounded: a few users, a few seconds, time scaled down.
"""

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from emulator.stack import StackThread
from tests.support import TEST_SCALE, stack_config

LOCUST = str(Path(sys.executable).parent / "locust")
LOCUSTFILES = Path(__file__).parents[2] / "locustfiles"
STRATEGIES = ["long_poll", "rest", "short_poll", "sse", "sse-streaming", "websocket"]


@pytest.fixture(scope="module")
def stack(moto_server):
    with StackThread(stack_config(moto_server.endpoint_url)) as running:
        yield running


def run_locust(stack, tmp_path, locustfile: str, delay_ms: int) -> dict:
    prefix = tmp_path / "run"
    command = [
        LOCUST, "-f", str(LOCUSTFILES / locustfile), "--headless",
        "--users", "6", "--spawn-rate", "6", "--run-time", "3s", "--stop-timeout", "30",
        "--host", stack.rest_url, "--ws-url", stack.ws_url,
        "--time-scale", str(TEST_SCALE), "--report-delay", str(delay_ms), "--report-rows", "5",
        "--csv", str(prefix), "--exit-code-on-error", "0", "--only-summary",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    read = lambda name: list(csv.DictReader((tmp_path / f"run_{name}.csv").open()))  # noqa: E731
    return {
        "stats": read("stats"),
        "failures": read("failures"),
        "costs": read("costs"),
        "out": result,
    }


def test_every_strategy_at_load_with_rest_and_buffered_sse_failing_at_29_s(stack, tmp_path):
    run = run_locust(stack, tmp_path, "mixed.py", 40_000)
    reports = {row["Name"]: row for row in run["stats"] if row["Type"] == "REPORT"}
    assert sorted(reports) == sorted(f"{s} 40 s" for s in STRATEGIES)
    failures = {(row["Method"], row["Name"]): row["Error"] for row in run["failures"]}
    assert failures.keys() == {
        ("REPORT", "rest 40 s"),
        ("REPORT", "sse 40 s"),
        ("HTTP", "rest POST /reports"),  # the step the gateway cut
        ("HTTP", "sse GET /reports/jobs/{id}/events"),
    }
    assert all(
        ("gateway_timeout" if kind == "REPORT" else "HTTP 504") in error
        for (kind, _), error in failures.items()
    )
    for name in ("rest 40 s", "sse 40 s"):
        assert reports[name]["Failure Count"] == reports[name]["Request Count"]
    steps = {(row["Type"], row["Name"]): row for row in run["stats"] if row["Type"] != "REPORT"}
    for strategy in STRATEGIES:
        connect = "websocket" if strategy == "websocket" else "tcp"
        assert int(steps["CONNECT", f"{strategy} {connect}"]["Request Count"]) >= 1
    cut = steps["HTTP", "rest POST /reports"]
    assert cut["Failure Count"] == cut["Request Count"] == reports["rest 40 s"]["Request Count"]
    assert float(cut["Min Response Time"]) >= 29_000  # emulated ms: the gateway's 29 s
    polls = int(steps["POLL", "short_poll GET /reports/jobs/{id}"]["Request Count"])
    assert polls > int(reports["short_poll 40 s"]["Request Count"])
    pushed = steps["WS", "websocket result"]
    assert pushed["Request Count"] == reports["websocket 40 s"]["Request Count"]
    assert float(pushed["Min Response Time"]) >= 40_000
    costs = {row["strategy"]: row for row in run["costs"]}
    assert sorted(costs) == STRATEGIES
    for strategy, row in costs.items():
        reports_done = int(row["reports"])
        assert reports_done >= 1
        if strategy in ("rest", "sse"):
            assert int(row["gateway_timeouts"]) == reports_done
            assert int(row["delivered"]) == 0
        else:
            assert int(row["delivered"]) == reports_done
        assert float(row["tcp_connections_per_report"]) >= 1
        assert int(row["bytes_received"]) > 0
    assert float(costs["websocket"]["ws_messages_received_per_report"]) == 2
    assert float(costs["websocket"]["http_requests_per_report"]) == 0
    assert float(costs["short_poll"]["empty_polls_per_report"]) > 1
    assert "timeoutlab costs per strategy" in run["out"].stdout + run["out"].stderr


@pytest.mark.parametrize("locustfile", ["rest.py", "websocket.py"])
def test_each_strategy_has_its_own_locustfile(stack, tmp_path, locustfile):
    run = run_locust(stack, tmp_path, locustfile, 2_000)
    (report,) = [row for row in run["stats"] if row["Type"] == "REPORT"]
    assert int(report["Request Count"]) >= 1
    assert int(report["Failure Count"]) == 0
