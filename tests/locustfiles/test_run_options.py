"""The timeoutlab options: their rules directly, and through a real Locust start (headless, and
its web UI's start dialog over HTTP, as the browser posts it) against an emulator on loopback."""

import subprocess
import time

import httpx
import pytest

from emulator.backends.moto_server import free_port
from emulator.stack import StackThread
from locustfiles import run_options
from locustfiles.run_options import OptionError, RunOptions, TimeScaleMismatch, check
from tests.locustfiles import cli
from tests.support import LOAD_SCALE, stack_config, warm_up

HOST = "http://127.0.0.1:3000/dev"

# -- the rules ----------------------------------------------------------------------------------


def test_good_values_are_read_from_the_text_typed():
    assert check("5000, 40000", "7", "", 0.1, HOST) == RunOptions((5000, 40000), 7, 0.1)
    assert check("0", 1, "0.1", 0.1, HOST) == RunOptions((0,), 1, 0.1)
    # the emulator unreachable: an explicit time scale is taken as given
    assert check("5000", "100", "0.5", None, HOST).time_scale == 0.5


@pytest.mark.parametrize(
    ("delay", "rows", "scale", "line"),
    [
        ("-5", "100", "", "--report-delay: each delay must be 0..900000 ms, not '-5'"),
        ("900001", "100", "", "--report-delay: each delay must be 0..900000 ms"),
        ("5s", "100", "", "--report-delay: whole ms separated by commas"),
        ("5000", "0", "", "--report-rows: 1..1000000 rows, not 0"),
        ("5000", "1000001", "", "--report-rows: 1..1000000 rows, not 1000001"),
        ("5000", "ten", "", "--report-rows: a whole number of rows, not 'ten'"),
        ("5000", "100", "0", "--time-scale: must be more than 0, not '0'"),
        ("5000", "100", "-1", "--time-scale: must be more than 0, not '-1'"),
        ("5000", "100", "nan", "--time-scale: must be more than 0"),
        ("5000", "100", "fast", "--time-scale: a number of real seconds, not 'fast'"),
    ],
)
def test_bad_values_are_refused_with_one_line_naming_the_option(delay, rows, scale, line):
    with pytest.raises(OptionError) as refused:
        check(delay, rows, scale, 0.1, HOST)
    assert str(refused.value).startswith(line)
    assert "\n" not in str(refused.value)


def test_a_time_scale_unlike_the_emulators_is_refused_in_the_scenario_runners_words():
    with pytest.raises(TimeScaleMismatch) as refused:
        check("5000", "100", "1", 0.1, HOST)
    assert str(refused.value) == (
        f"the emulator at {HOST} runs at time scale 0.1; pass --time-scale 0.1"
    )
    with pytest.raises(OptionError, match="cannot read the time scale"):
        check("5000", "100", "", None, HOST)  # none given, none readable


def test_the_limits_are_the_report_apps():
    from reportapp.report import MAX_DELAY_MS, MAX_ROWS

    assert (run_options.MAX_DELAY_MS, run_options.MAX_ROWS) == (MAX_DELAY_MS, MAX_ROWS)


# -- through a real Locust start ----------------------------------------------------------------


@pytest.fixture(scope="module")
def stack(moto_server):
    with StackThread(stack_config(moto_server.endpoint_url, time_scale=LOAD_SCALE)) as running:
        warm_up(running, ("rest",))
        yield running


@pytest.mark.parametrize(
    ("option", "value", "line"),
    [
        ("--time-scale", "1", "runs at time scale 0.1; pass --time-scale 0.1"),
        ("--report-rows", "0", "--report-rows: 1..1000000 rows, not 0"),
    ],
)
def test_a_headless_run_with_a_bad_option_does_not_start(stack, tmp_path, option, value, line):
    command = [
        cli.LOCUST, "-f", cli.locustfile("rest.py"), "--headless", "-u", "1", "-r", "1",
        "-t", "30", "--host", stack.rest_url, option, value,
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, env=cli.ENV)
    assert result.returncode == 1, result.stderr[-2000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("timeoutlab: ")
    assert last.endswith(line)
    assert "Ramping" not in result.stderr  # no user was started


def swarm(ui: str, **fields: str) -> dict:
    """POST /swarm as the web UI's start dialog does: form fields, the options among them."""
    form = {"user_count": "2", "spawn_rate": "2", **fields}
    return httpx.post(f"{ui}/swarm", data=form, timeout=30).json()


def test_the_web_ui_refuses_bad_options_and_runs_with_the_values_typed_there(stack, tmp_path):
    port = free_port()
    command = [
        cli.LOCUST, "-f", cli.locustfile("rest.py"), "--web-host", "127.0.0.1",
        "--web-port", str(port), "--host", stack.rest_url, "--report-rows", "5",
        "--exit-code-on-error", "0",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=tmp_path, env=cli.ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    ui = f"http://127.0.0.1:{port}"
    try:
        index = ""
        while not index:
            assert process.poll() is None, "Locust ended before its web UI was up"
            try:
                index = httpx.get(ui, timeout=30).text
            except httpx.TransportError:
                time.sleep(0.2)
        for name in ("report_delay", "report_rows", "time_scale"):  # in the start dialog
            assert f'"{name}"' in index

        refused = swarm(ui, time_scale="1")
        assert refused["success"] is False
        assert refused["message"] == (
            f"timeoutlab: the emulator at {stack.rest_url} runs at time scale "
            f"{LOAD_SCALE:g}; pass --time-scale {LOAD_SCALE:g}"
        )
        refused = swarm(ui, report_rows="0")
        assert refused == {**refused, "success": False}
        assert refused["message"] == "timeoutlab: --report-rows: 1..1000000 rows, not 0"
        assert httpx.get(f"{ui}/stats/requests", timeout=30).json()["state"] == "ready"

        # 40 s typed in the dialog (the command line said 5 s): the gateway cuts it at 29 s
        assert swarm(ui, report_delay="40000", time_scale="")["success"] is True
        report = None
        while report is None:
            assert process.poll() is None, "Locust ended during the run"
            stats = httpx.get(f"{ui}/stats/requests", timeout=30).json()
            report = next(
                (s for s in stats["stats"] if s["name"] == "rest 40 s" and s["num_requests"]),
                None,
            )
            time.sleep(0.5)
        errors = httpx.get(f"{ui}/stats/requests", timeout=30).json()["errors"]
    finally:
        process.terminate()
        text = process.communicate(timeout=120)[0]
    assert report["method"] == "REPORT"
    assert report["num_failures"] == report["num_requests"]
    assert any("gateway_timeout" in e["error"] and e["name"] == "rest 40 s" for e in errors), text
