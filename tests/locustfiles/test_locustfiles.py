"""The locustfiles run by the real Locust CLI, headless, against the emulator on loopback.

Locust monkey-patches the process with gevent, so it runs in a subprocess of its own; the
emulator runs here. The run is bounded by what it needs, not by a clock: a few users, time scaled
down, until every strategy has finished a report (each user finishes the report it is in).
"""

import csv
import subprocess

import pytest

from emulator.stack import StackThread
from tests.locustfiles import cli
from tests.support import LOAD_SCALE, stack_config, warm_up

STRATEGIES = ["long_poll", "rest", "short_poll", "sse", "sse-streaming", "websocket"]


@pytest.fixture(scope="module")
def stack(moto_server):
    with StackThread(stack_config(moto_server.endpoint_url, time_scale=LOAD_SCALE)) as running:
        warm_up(running)
        yield running


def run_locust(stack, tmp_path, locustfile: str, delay_ms: int, strategies: int) -> dict:
    """Its users until ``strategies`` strategies have each finished a report: what was written."""
    prefix = tmp_path / "run"
    command = [
        cli.LOCUST, "-f", cli.locustfile(locustfile, until=True), "--headless",
        "--users", "6", "--spawn-rate", "6", "--stop-timeout", "30",
        "--until-type", "REPORT", "--until-names", str(strategies),
        "--host", stack.rest_url, "--ws-url", stack.ws_url,
        "--time-scale", str(LOAD_SCALE), "--report-delay", str(delay_ms), "--report-rows", "5",
        *cli.outputs(prefix), "--exit-code-on-error", "0", "--only-summary",
    ]  # fmt: skip
    # No timeout of its own: a run that hangs is ended with the test by pytest-timeout.
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, env=cli.ENV)
    assert result.returncode == 0, result.stderr[-3000:]
    return {
        "stats": cli.final_stats(prefix),
        "failures": cli.final_failures(prefix),
        "costs": list(csv.DictReader((tmp_path / "run_costs.csv").open())),  # at test_stop
        "out": result,
    }


def test_every_strategy_at_load_with_rest_and_buffered_sse_failing_at_29_s(stack, tmp_path):
    run = run_locust(stack, tmp_path, "mixed.py", 40_000, strategies=len(STRATEGIES))
    reports = {name: row for (kind, name), row in run["stats"].items() if kind == "REPORT"}
    assert sorted(reports) == sorted(f"{s} 40 s" for s in STRATEGIES)
    failures = {(row["method"], row["name"]): row["error"] for row in run["failures"]}
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
        assert reports[name]["num_failures"] == reports[name]["num_requests"]
    steps = run["stats"]
    for strategy in STRATEGIES:
        connect = "websocket" if strategy == "websocket" else "tcp"
        assert steps["CONNECT", f"{strategy} {connect}"]["num_requests"] >= 1
    cut = steps["HTTP", "rest POST /reports"]
    assert cut["num_failures"] == cut["num_requests"] == reports["rest 40 s"]["num_requests"]
    # emulated ms, timed from before the request: the gateway's 29 s cannot have started sooner
    assert cut["min_response_time"] >= 29_000
    polls = steps["POLL", "short_poll GET /reports/jobs/{id}"]["num_requests"]
    assert polls > reports["short_poll 40 s"]["num_requests"]
    pushed = steps["WS", "websocket result"]
    assert pushed["num_requests"] == reports["websocket 40 s"]["num_requests"]
    assert pushed["min_response_time"] >= 40_000  # timed from before the message asking for it
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
    run = run_locust(stack, tmp_path, locustfile, 2_000, strategies=1)
    (report,) = [row for (kind, _), row in run["stats"].items() if kind == "REPORT"]
    assert report["num_requests"] >= 1
    assert report["num_failures"] == 0


def test_reports_cut_by_the_stop_are_in_flight_not_failures(stack, tmp_path):
    """The run stops once an SSE stream is open and a WebSocket waits for its push (a 300 s
    report): both are cut, and neither is a failure anywhere Locust reports one."""
    prefix = tmp_path / "run"
    opened = "sse-streaming POST /reports/jobs|websocket websocket"  # the stream is next
    command = [
        cli.LOCUST, "-f", cli.locustfile("mixed.py", until=True), "--headless",
        "SseStreamingUser", "WebsocketUser", "--users", "2", "--spawn-rate", "2",
        "--until-type", "", "--until-name", opened, "--until-names", "2",
        "--until-requests", "2", "--host", stack.rest_url, "--ws-url", stack.ws_url,
        "--report-delay", "300000", "--report-rows", "5", *cli.outputs(prefix),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, env=cli.ENV)
    assert result.returncode == 0, result.stderr[-3000:]
    assert cli.final_failures(prefix) == []
    assert all(entry["num_failures"] == 0 for entry in cli.final_stats(prefix).values())
    failures_csv = list(csv.DictReader((tmp_path / "run_failures.csv").open()))
    assert failures_csv == []
    costs = {row["strategy"]: row for row in csv.DictReader((tmp_path / "run_costs.csv").open())}
    assert {label: costs[label]["in_flight_at_stop"] for label in costs} == {
        "sse-streaming": "1",
        "websocket": "1",
    }
    assert {label: costs[label]["reports"] for label in costs} == {
        "sse-streaming": "0",
        "websocket": "0",
    }
    assert (
        "in flight at stop (cut by the stop, not failures): sse-streaming 1, websocket 1"
        in result.stdout
    )
    # Locust's own log lines stay; httpx's INFO line per request does not
    assert "Starting Locust" in result.stderr
    assert "HTTP Request:" not in result.stderr
