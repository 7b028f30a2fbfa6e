"""`timeoutlab scenario run` end to end: the emulator, Locust phases in subprocesses, the figures.

Bounded: a few users, a few emulated minutes at a time scale that plays them in seconds.
"""

import json
import re
import threading

import httpx
import pytest

from emulator.cli import main
from emulator.metrics import format_overhead_warning
from emulator.stack import StackThread
from tests.support import LOAD_SCALE, stack_config

SMALL = ["--users", "6", "--spawn-rate", "6", "--run-time", "60", "--time-scale", str(LOAD_SCALE)]
#: The reproduction must see a 40 s WebSocket report within its run, and each user asks for its
#: 40 s report only once its first (5 s) report has arrived. The emulator the run starts has no
#: execution environment yet, so that first report waits for three cold starts in series
#: ($connect, generateReport, deliverReport), six users' Inits at once on two cores each time.
#: Init is real time, which the client's clock stretches by 1/scale: beside two CPU hogs and
#: another test run, the last user's first report arrived 81 emulated s (8.1 real s) into the
#: phase, with a mean Init of 1.8 s real (up to 3.3 s was seen), 0.9 s real short of a 90 s run.
#: 150 emulated s (15 real s) leave 6.9 real s beyond the slowest first report seen.
REPRODUCTION = [*SMALL[:4], "--run-time", "150", *SMALL[6:]]


def test_reproduction_rest_dies_at_29_s_and_websocket_delivers(moto_server, tmp_path, capsys):
    out = tmp_path / "reproduction.json"
    code = main(
        ["scenario", "run", "reproduction", *REPRODUCTION, "--backend", moto_server.endpoint_url,
         "--json", str(out)]
    )  # fmt: skip
    printed = capsys.readouterr()
    assert code == 0, printed.out + printed.err
    assert "expectations met" in printed.out
    assert "phase rest" in printed.err  # progress
    result = json.loads(out.read_text())
    rest, websocket = result["strategies"]["rest"], result["strategies"]["websocket"]

    late_40 = rest["by_delay"]["40 s"]
    assert late_40["reports_requested"] >= 1
    assert late_40["gateway_timeouts"] == late_40["reports_requested"]
    # Never before the 29 s: a report is timed from before its request, which starts the gateway's
    # timeout when it arrives. How late the 504 reaches a client is the client's own unscaled
    # time, not bounded here; how close to 29 s the gateway cut is one of the expectations.
    assert 29 <= late_40["time_to_failure_min_s"] <= late_40["time_to_failure_max_s"]
    assert (
        rest["by_delay"]["5 s"]["reports_delivered"] == rest["by_delay"]["5 s"]["reports_requested"]
    )
    for figures in websocket["by_delay"].values():
        assert figures["reports_delivered"] == figures["reports_requested"] >= 1
    assert websocket["time_to_result_p50_s"] >= 5

    # Costs: counted per report at the clients, priced from what the emulator measured.
    assert rest["requests_per_report"] == 1
    assert rest["connections_per_report"] >= 1
    assert websocket["requests_per_report"] == 0
    assert websocket["messages_per_report"] == 3  # generateReport up; accepted and url down
    assert websocket["usage"]["websocket_message_units"] == 3 * websocket["reports_requested"]
    assert rest["usage"]["rest_api_requests"] == rest["reports_requested"]
    assert rest["usage"]["websocket_message_units"] == 0
    for figures in (rest, websocket):
        bill = figures["bill_usd"]
        assert figures["usd_per_million_reports"] > 0
        assert figures["usd_per_million_reports"] == pytest.approx(
            sum(bill["items"].values()) / figures["reports_requested"] * 1e6, rel=1e-3
        )
        assert figures["usage"]["lambda_gb_seconds"] > 0
        assert figures["usage"]["s3_tier1_requests"] >= figures["reports_delivered"]
    assert rest["wasted_usd_per_million_reports"] > 0  # 40 s Lambdas ran on after their 504
    assert websocket["wasted_usd_per_million_reports"] == 0
    assert all(check["ok"] for checks in result["cross_check"].values() for check in checks)
    # Every invocation of a phase started in an execution environment, cold or warm.
    for label, figures in (("rest", rest), ("websocket", websocket)):
        environments = figures["environments"]
        assert environments["cold_starts"] >= 1
        assert (
            environments["cold_starts"] + environments["warm_starts"]
            == figures["usage"]["lambda_requests"]
        )
        assert re.search(rf"^  {label} +Lambda: \d+ cold start\(s\)", printed.out, re.MULTILINE)
    assert result["settings"]["max_environments"] >= 8  # timeoutlab up's default, by memory
    assert out.with_suffix(".png").read_bytes().startswith(b"\x89PNG")

    # The gateway's precision over the run, as measured at the gateway: figures, no upper bounds.
    precision = result["gateway_precision"]
    assert precision["integration_timeouts"] >= late_40["gateway_timeouts"]
    assert 0 <= precision["lateness_s"]["median"] <= precision["lateness_s"]["max"]
    assert precision["overhead_s"]["samples"] >= rest["by_delay"]["5 s"]["reports_delivered"]
    assert 0 <= precision["overhead_s"]["median"] <= precision["overhead_s"]["p95"]
    assert re.search(
        r"^gateway precision \(emulated s\): \d+ integration timeout\(s\) answered late by "
        r"median \d+\.\d+, max \d+\.\d+; processing overhead median \d+\.\d+, p95 \d+\.\d+ "
        r"per request \(\d+ requests\), over the whole run$",
        printed.out,
        re.MULTILINE,
    ), printed.out
    # The distortion warning is there exactly when the measured overhead is over 2 % of 29 s.
    settings = result["settings"]
    warning = format_overhead_warning(
        precision, settings["integration_timeout_s"], settings["time_scale"]
    )
    if warning is None:
        assert "WARNING: processing overhead" not in printed.out
    else:
        assert warning in printed.out.splitlines()


def test_a_running_emulator_with_traffic_the_clients_did_not_make_fails_the_cross_check(
    moto_server, capsys
):
    with StackThread(stack_config(moto_server.endpoint_url, time_scale=LOAD_SCALE)) as stack:
        done = threading.Event()

        def interfere() -> None:
            # A hang guard, not httpx's default 5 s: the first request cold-starts the report
            # Lambda beside the run's own cold starts, and a timeout would end the interference.
            with httpx.Client(timeout=60) as client:
                while not done.wait(0.02):
                    client.post(f"{stack.rest_url}/reports", content=b"not json")

        intruder = threading.Thread(target=interfere)
        intruder.start()
        try:
            code = main(
                ["scenario", "run", "spike", *SMALL, "--host", stack.rest_url]
            )  # fmt: skip
        finally:
            done.set()
            intruder.join()
    printed = capsys.readouterr()
    assert code == 3, printed.out + printed.err
    assert "MISMATCH" in printed.out
    assert "cannot be trusted" in printed.err


def test_scenarios_are_listed_and_a_bad_name_or_run_time_is_refused(capsys):
    assert main(["scenario", "list"]) == 0
    listed = capsys.readouterr().out
    for name in ("reproduction", "compare", "spike", "soak"):
        assert name in listed
    assert main(["scenario", "run", "nope"]) == 2
    assert "no scenario named 'nope'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["scenario", "run", "reproduction", "--run-time", "soon"])
    assert "not a duration" in capsys.readouterr().err


def test_handlers_in_a_lambda_need_a_backend_that_has_one(capsys):
    assert main(["scenario", "run", "reproduction", "--lambda", "remote"]) == 2
    assert "--lambda remote needs a backend with Lambda" in capsys.readouterr().err
