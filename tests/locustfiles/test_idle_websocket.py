"""The idle WebSocket user, run by the real Locust CLI against an emulator with a short idle time.

Locust monkey-patches the process with gevent, so it runs in a subprocess; the emulator runs here.
A 40 s idle timeout at the test time scale closes each connection after 0.8 real seconds.
"""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from emulator.core.connection_limits import WebSocketLimits
from emulator.stack import StackThread
from tests.support import TEST_SCALE, stack_config

ROOT = Path(__file__).parents[2]
LOCUST = str(Path(sys.executable).parent / "locust")
LOCUSTFILE = str(ROOT / "locustfiles" / "idle_websocket.py")
#: Locust imports the checkout's packages, whatever the venv has installed.
ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
}
IDLE_TIMEOUT_S = 40.0
USERS = 3


@pytest.fixture
def stack(moto_server):
    limits = WebSocketLimits(idle_timeout=IDLE_TIMEOUT_S)
    with StackThread(stack_config(moto_server.endpoint_url, websocket_limits=limits)) as running:
        yield running


def run_idle_users(stack, tmp_path, idle_timeout_s: float, run_time: str) -> dict:
    prefix = tmp_path / "run"
    command = [
        LOCUST, "-f", LOCUSTFILE, "--headless",
        "--users", str(USERS), "--spawn-rate", str(USERS), "--run-time", run_time,
        "--host", stack.rest_url, "--ws-url", stack.ws_url,
        "--time-scale", str(TEST_SCALE), "--idle-timeout", str(idle_timeout_s),
        "--csv", str(prefix), "--json-file", str(prefix), "--exit-code-on-error", "0",
        "--only-summary",
    ]  # fmt: skip
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=60, cwd=tmp_path, env=ENV
    )
    assert result.returncode == 0, result.stderr[-3000:]
    read = lambda name: list(csv.DictReader((tmp_path / f"run_{name}.csv").open()))  # noqa: E731
    # The final stats: the stats CSV is rewritten once a second and may miss the last closes.
    stats = json.loads((tmp_path / "run.json").read_text())
    (closes,) = [row for row in stats if (row["method"], row["name"]) == ("WS", "idle close")]
    (costs,) = read("idle_costs")
    return {"closes": closes, "failures": read("failures"), "costs": costs, "out": result}


def test_idle_connections_are_closed_with_1001_at_the_idle_timeout_and_reopened(stack, tmp_path):
    run = run_idle_users(stack, tmp_path, IDLE_TIMEOUT_S, "3s")
    closes = run["closes"]
    count = closes["num_requests"]
    assert count >= USERS * 2  # each user was closed and came back at least once
    assert closes["num_failures"] == 0, run["failures"]
    assert closes["min_response_time"] >= IDLE_TIMEOUT_S * 1000 * 0.99  # never early
    costs = run["costs"]
    assert int(costs["idle_closes"]) == count
    assert int(costs["tcp_connections"]) >= count
    assert int(costs["bytes_sent"]) > 0
    assert int(costs["bytes_received"]) > 0
    assert float(costs["ws_connection_s"]) >= count * IDLE_TIMEOUT_S * 0.99
    assert "websocket-idle" in run["out"].stdout + run["out"].stderr
    closed = stack.metrics.snapshot()["websocket"]["connections_closed"]
    assert closed.get("1001", 0) >= count


def test_a_close_before_the_expected_idle_timeout_fails(stack, tmp_path):
    run = run_idle_users(stack, tmp_path, IDLE_TIMEOUT_S * 2, "2s")
    closes = run["closes"]
    assert closes["num_requests"] >= USERS
    assert closes["num_failures"] == closes["num_requests"]
    assert run["failures"]
    assert all("early" in row["Error"] for row in run["failures"])
    assert int(run["costs"]["early_closes"]) == closes["num_requests"]
