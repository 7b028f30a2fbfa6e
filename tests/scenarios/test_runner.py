"""The scenario runner: its reads of a running emulator's control plane (scenarios.runner.Target)
and the execution environments it starts the emulator with."""

import dataclasses
import re

import pytest

from emulator.stack import StackThread
from scenarios import catalog
from scenarios.pricing import load_prices
from scenarios.report import format_summary
from scenarios.runner import ScenarioError, Target, emulator, run_scenario
from tests.support import LOAD_SCALE, count_ssl_contexts, stack_config


def test_a_token_protected_emulator_is_read_with_the_token_from_the_environment(
    moto_server, monkeypatch
):
    with StackThread(stack_config(moto_server.endpoint_url, control_token="s3cret")) as stack:
        target = Target(stack.rest_url, stack.ws_url)
        monkeypatch.delenv("TIMEOUTLAB_CONTROL_TOKEN", raising=False)
        assert target.get("health")["status"] == "ok"  # health is open
        with pytest.raises(ScenarioError, match="401"):
            target.get("metrics")
        monkeypatch.setenv("TIMEOUTLAB_CONTROL_TOKEN", "s3cret")
        assert "rest" in target.get("metrics")


def test_invocations_waiting_at_the_environment_cap_are_counted_and_warned_about(moto_server):
    # One environment for three users: each report's invocation waits while another holds it.
    reproduction = catalog.get("reproduction")
    rest_only = dataclasses.replace(
        reproduction,
        phases=reproduction.phases[:1],
        expectations=(),
        delays_ms=(5000,),
    )
    result = run_scenario(
        rest_only,
        prices=load_prices(),
        users=3,
        spawn_rate=3,
        run_time_s=20,
        time_scale=LOAD_SCALE,
        backend=moto_server.endpoint_url,
        max_environments=1,
        say=lambda line: None,
    )
    assert result.settings["max_environments"] == 1
    rest = result.phases[0].figures
    environments = rest["environments"]
    assert environments["environment_waits"] >= 1
    assert environments["cold_starts"] >= 1
    # Every invocation started in an environment, cold or warm.
    assert (
        environments["cold_starts"] + environments["warm_starts"]
        == rest["usage"]["lambda_requests"]
        == rest["reports_requested"]
    )
    # Each outcome says when it came, in real seconds into the phase, in the order they came.
    ends = [sample["at_s"] for sample in result.phases[0].samples]
    assert ends == sorted(ends)
    assert ends[0] >= 0
    summary = format_summary(result).splitlines()
    assert any(
        re.fullmatch(
            r"  rest +Lambda: \d+ cold start\(s\) \(Init \d+\.\d\d s real each on average\), "
            r"\d+ warm, \d+ waited for a free execution environment",
            line,
        )
        for line in summary
    ), summary
    assert (
        f"WARNING: {environments['environment_waits']} invocation(s) waited for one of the "
        "emulator's 1 execution environments (AWS would have started more): the wait is in the "
        "times to result (and counts against the integration timeout); --max-environments "
        "raises the cap (each environment is a process)"
    ) in summary
    # The waits (seconds of another report's time) put the overhead over 2 % of 29 s, and the
    # summary says what the overhead holds besides the gateway's own processing.
    assert any(line.startswith("WARNING: processing overhead p95") for line in summary)
    assert any(
        re.fullmatch(
            r"  the overhead includes the Init of \d+ cold start\(s\) \(\d+\.\d\d s real each "
            r"on average, stretched by 1/scale like any processing\) and \d+ wait\(s\) for a free "
            r"execution environment \(not shortened by a larger --time-scale; see "
            r"--max-environments\)",
            line,
        )
        for line in summary
    ), summary


def test_a_running_emulator_keeps_its_own_environment_cap(moto_server):
    config = stack_config(moto_server.endpoint_url, max_environments=2)
    with StackThread(config) as stack:
        with emulator(config.time_scale, "moto", stack.rest_url, None, None, max_environments=2):
            pass  # the same cap: accepted
        with (
            pytest.raises(ScenarioError, match="runs with --max-environments 2"),
            emulator(config.time_scale, "moto", stack.rest_url, None, None, max_environments=3),
        ):
            pass


def test_reading_the_control_plane_again_makes_no_new_ssl_context(moto_server, monkeypatch):
    # ``settle`` reads the metrics 20 times a second while a phase's Lambdas run on; a context
    # per read (httpx's default) was 20 ms of CPU each, on the cores the run measures.
    with StackThread(stack_config(moto_server.endpoint_url)) as stack:
        target = Target(stack.rest_url, stack.ws_url)
        made = count_ssl_contexts(monkeypatch)
        for _ in range(3):
            assert "rest" in target.get("metrics")
        assert len(made) <= 1
