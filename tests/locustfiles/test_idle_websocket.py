"""The idle WebSocket user, run by the real Locust CLI against an emulator with a short idle time.

Locust monkey-patches the process with gevent, so it runs in a subprocess; the emulator runs here.
A 40 s idle timeout at HANDLER_SCALE closes each connection after 2 real seconds. Each run lasts
until the users have seen the closes the test needs, however slow the machine.
"""

import csv
import subprocess

import pytest

from emulator.core.connection_limits import WebSocketLimits
from emulator.stack import StackThread
from scenarios.results import IDLE_CLOSE
from tests.locustfiles import cli
from tests.support import HANDLER_SCALE, stack_config, warm_connects, warm_up

IDLE_TIMEOUT_S = 40.0
USERS = 3


@pytest.fixture
def stack(moto_server):
    limits = WebSocketLimits(idle_timeout=IDLE_TIMEOUT_S)
    # Prewarmed: each test has a stack of its own, and on a loaded machine cold $connect and
    # report environments can outlast the scaled integration timeout several times over.
    # At HANDLER_SCALE, not the tests' usual scale: the users' reconnects run $connect against a
    # 29 s integration timeout, 0.58 s real at 0.02, which even a warm $connect has passed on two
    # cores shared by several test workers.
    config = stack_config(
        moto_server.endpoint_url,
        websocket_limits=limits,
        prewarm=True,
        time_scale=HANDLER_SCALE,
    )
    with StackThread(config) as running:
        warm_up(running, ("websocket",))  # $connect and $disconnect loaded
        warm_connects(running, USERS)  # the users connect together: as many warm $connects
        yield running


def run_idle_users(stack, tmp_path, idle_timeout_s: float, closes: int) -> dict:
    """Idle users until ``closes`` idle closes were judged; what Locust and the user wrote."""
    prefix = tmp_path / "run"
    kind, name = IDLE_CLOSE
    command = [
        cli.LOCUST, "-f", cli.locustfile("idle_websocket.py", until=True), "--headless",
        "--users", str(USERS), "--spawn-rate", str(USERS),
        "--until-requests", str(closes), "--until-type", kind, "--until-name", name,
        "--host", stack.rest_url, "--ws-url", stack.ws_url,
        "--time-scale", str(HANDLER_SCALE), "--idle-timeout", str(idle_timeout_s),
        *cli.outputs(prefix), "--exit-code-on-error", "0", "--only-summary",
    ]  # fmt: skip
    # No timeout of its own: a run that hangs is ended with the test by pytest-timeout.
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, env=cli.ENV)
    assert result.returncode == 0, result.stderr[-3000:]
    (costs,) = csv.DictReader((tmp_path / "run_idle_costs.csv").open())  # written at test_stop
    return {
        "closes": cli.final_stats(prefix)[IDLE_CLOSE],
        "failures": cli.final_failures(prefix),
        "costs": costs,
        "out": result,
    }


def test_idle_connections_are_closed_with_1001_at_the_idle_timeout_and_reopened(stack, tmp_path):
    run = run_idle_users(stack, tmp_path, IDLE_TIMEOUT_S, closes=USERS * 2)
    closes = run["closes"]
    count = closes["num_requests"]
    assert count >= USERS * 2  # each user was closed and came back at least once
    assert closes["num_failures"] == 0, run["failures"]
    # never early: each close is timed from before its handshake request, and the gateway's
    # idle timer cannot start before the request has reached it
    assert closes["min_response_time"] >= IDLE_TIMEOUT_S * 1000
    costs = run["costs"]
    assert int(costs["idle_closes"]) == count
    assert int(costs["tcp_connections"]) >= count
    assert int(costs["bytes_sent"]) > 0
    assert int(costs["bytes_received"]) > 0
    assert float(costs["ws_connection_s"]) >= count * IDLE_TIMEOUT_S  # counted from the request
    assert "websocket-idle" in run["out"].stdout + run["out"].stderr
    # The gateway counts a close once its side of the connection has ended, after the client
    # saw it: once no connection is left open (Locust has exited), every close is counted.
    stack.wait_idle()
    closed = stack.metrics.snapshot()["websocket"]["connections_closed"]
    assert closed.get("1001", 0) >= count


def test_a_close_before_the_expected_idle_timeout_fails(stack, tmp_path):
    # Expected far later than the gateway closes (at IDLE_TIMEOUT_S): every close is early, even
    # one a loaded machine delivers late.
    run = run_idle_users(stack, tmp_path, IDLE_TIMEOUT_S * 10, closes=USERS)
    closes = run["closes"]
    assert closes["num_requests"] >= USERS
    assert closes["num_failures"] == closes["num_requests"]
    assert run["failures"]
    assert all("early" in row["error"] for row in run["failures"])
    assert int(run["costs"]["early_closes"]) == closes["num_requests"]
