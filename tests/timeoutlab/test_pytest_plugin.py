"""The pytest plugin, run as a user runs it: a project in a temporary folder, its own tests, a
fresh pytest process (pytester's ``runpytest_subprocess``)."""

from __future__ import annotations

import re
import textwrap
import tomllib
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from tests.timeoutlab.project import SCALE, write_project
from tests.timeoutlab.project import plugin_args as _plugin_args

ROOT = Path(__file__).resolve().parents[2]
#: Real seconds one inner pytest run may take on a loaded machine (it starts one or more stacks).
RUN_TIMEOUT_S = 600

INI = f"""
[pytest]
timeoutlab_time_scale = {SCALE}
"""

PASSING = (
    """
import httpx
import pytest

import timeoutlab


def test_fast_endpoint_answers(timeoutlab_stack):
    assert httpx.get(f"{timeoutlab_stack.rest_url}/fast").json() == {"ok": True}


def test_slow_endpoint_gets_the_gateway_timeout_and_the_lambda_runs_on(timeoutlab_stack):
    answer = httpx.post(f"{timeoutlab_stack.rest_url}/slow", json={"seconds": 40}, timeout=60)
    assert timeoutlab.assert_gateway_timeout(answer, at_s=29.0) >= 29.0
    figures = timeoutlab.assert_ran_on(timeoutlab_stack, "slow", at_least_s=35)
    assert figures.invocations >= 1


def test_http_api_answers_503_at_30_s(timeoutlab_stack):
    answer = httpx.post(f"{timeoutlab_stack.http_api_url}/slow", json={"seconds": 40}, timeout=60)
    timeoutlab.assert_gateway_timeout(answer, at_s=30.0)


def test_websocket_route_pushes_its_result(timeoutlab_stack):
    pushed = timeoutlab.assert_pushed(
        timeoutlab_stack, {"action": "push", "value": 7}, match={"pushed": 7, "connectionId": ...}
    )
    assert pushed["pushed"] == 7


def test_boto3_clients_reach_the_backend(timeoutlab_stack):
    assert "Buckets" in timeoutlab_stack.client("s3").list_buckets()


@pytest.mark.timeoutlab(integration_timeout=5, routes={"POST /slow": 2})
def test_marker_applies_timeouts(timeoutlab_stack):
    config = timeoutlab_stack.integration_timeouts()
    assert config.default_s == 5.0
    assert config.overrides == {"POST /slow": 2.0}
    assert config.http_api_overrides == {"POST /slow": 2.0}
    answer = httpx.post(f"{timeoutlab_stack.rest_url}/slow", json={"seconds": 40}, timeout=60)
    timeoutlab.assert_gateway_timeout(answer, at_s=2.0)


def test_marker_timeouts_are_reverted_after_the_test(timeoutlab_stack):
    config = timeoutlab_stack.integration_timeouts()
    assert config.default_s == 29.0 and config.overrides == {}
    assert config.http_api_overrides == {}


def test_session_stack_has_the_session_scale(timeoutlab_stack):
    assert timeoutlab_stack.time_scale == {scale}


@pytest.mark.timeoutlab(time_scale=0.05)
def test_another_time_scale_gets_a_stack_of_its_own(timeoutlab_stack):
    assert timeoutlab_stack.time_scale == 0.05  # the session's stack plays {scale}
    answer = httpx.post(f"{timeoutlab_stack.rest_url}/slow", json={{"seconds": 40}}, timeout=60)
    timeoutlab.assert_gateway_timeout(answer, at_s=29.0)


@pytest.mark.timeoutlab(routes={{"POST /slow": 1}})
def test_isolated_stack_is_its_own(timeoutlab_isolated_stack, timeoutlab_stack):
    assert timeoutlab_isolated_stack.rest_url != timeoutlab_stack.rest_url
    assert timeoutlab_isolated_stack.integration_timeouts().overrides == {{"POST /slow": 1.0}}
""".replace("{scale}", str(SCALE))
    .replace("{{", "{")
    .replace("}}", "}")
)

FAILING = """
import httpx

import timeoutlab


def test_slow_report_answers_in_time(timeoutlab_stack):
    answer = httpx.post(f"{timeoutlab_stack.rest_url}/slow", json={"seconds": 40}, timeout=60)
    assert answer.status_code == 200, f"got {answer.status_code} {answer.text}"


def test_fast_endpoint_taken_for_a_timeout(timeoutlab_stack):
    answer = httpx.get(f"{timeoutlab_stack.rest_url}/fast")
    timeoutlab.assert_gateway_timeout(answer)


def test_fast_function_never_ran_on(timeoutlab_stack):
    assert httpx.get(f"{timeoutlab_stack.rest_url}/fast").status_code == 200
    timeoutlab.assert_ran_on(timeoutlab_stack, "fast")
"""


#: The plugin (unless installed), no cache in the temporary project, and looptime's plugin off as
#: this repository's own ini turns it off (installed here as a library, it needs pytest-asyncio).
ARGS = (*_plugin_args(), "-p", "no:cacheprovider", "-p", "no:looptime_plugin")


def _project(pytester: pytest.Pytester, tests: str) -> None:
    write_project(pytester.path)
    pytester.makeini(INI)
    pytester.makepyfile(test_user=textwrap.dedent(tests))


def test_a_user_project_passes_using_only_the_plugin_fixtures_and_helpers(
    pytester: pytest.Pytester,
) -> None:
    _project(pytester, PASSING)
    result = pytester.runpytest_subprocess(
        *ARGS, "-v", "--strict-markers",
        timeout=RUN_TIMEOUT_S,
    )  # fmt: skip
    result.assert_outcomes(passed=10)
    # The other scale's test got its own session stack, and says so in its id.
    result.stdout.fnmatch_lines(["*test_another_time_scale_gets_a_stack_of_its_own*scale-0.05*"])


def test_a_timeout_where_an_answer_was_expected_fails_readably(pytester: pytest.Pytester) -> None:
    _project(pytester, FAILING)
    result = pytester.runpytest_subprocess(*ARGS,
                                           timeout=RUN_TIMEOUT_S)  # fmt: skip
    result.assert_outcomes(failed=3)
    output = result.stdout.str()
    assert 'got 504 {"message":"Endpoint request timed out"}' in output
    # assert_gateway_timeout on a 200: what was expected and what came.
    assert "expected the REST API's integration timeout at 29 emulated s" in output
    assert "status 200, expected 504" in output
    assert re.search(r"answered EARLY: [\d.]+ emulated s < 29 s", output)
    assert re.search(r"elapsed:  [\d.]+ emulated s \([\d.]+ real s at time scale 0.02\)", output)
    assert re.search(r"request:  GET http://127\.0\.0\.1:\d+/dev/fast", output)
    # assert_ran_on on a function whose caller always got its answer.
    assert "Lambda 'fast': it never ran on after its caller gave up" in output


def test_a_missing_service_file_is_one_clear_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user="def test_one(timeoutlab_stack):\n    pass\n")
    result = pytester.runpytest_subprocess(*ARGS, "--timeoutlab-service", "nowhere.yml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*timeoutlab: service file not found: *nowhere.yml (--timeoutlab-service nowhere.yml)*"
         "--timeoutlab-service PATH or the ini key timeoutlab_service*"]
    )  # fmt: skip
    assert "Traceback" not in result.stderr.str()
    # The default one, missing: only the tests that use a stack fail, with the same message.
    pytester.makepyfile(test_other="def test_plain():\n    pass\n")
    result = pytester.runpytest_subprocess(*ARGS)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*service file not found: *serverless.yml (the default*"])


def test_a_run_that_uses_no_fixture_starts_nothing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_plain="""
        import psutil

        def test_no_child_process():
            assert psutil.Process().children(recursive=True) == []
        """
    )
    result = pytester.runpytest_subprocess(*ARGS,
                                           "--strict-markers")  # fmt: skip
    result.assert_outcomes(passed=1)


XDIST = """
import os

import httpx


def test_one(timeoutlab_stack):
    assert httpx.get(f"{timeoutlab_stack.rest_url}/fast").status_code == 200
    print("STACK", os.environ["PYTEST_XDIST_WORKER"], timeoutlab_stack.rest_url)
"""


def test_under_xdist_each_worker_has_its_own_stack(pytester: pytest.Pytester) -> None:
    _project(pytester, XDIST)
    # --dist each: every worker runs the test, so both start a stack, at the same time.
    result = pytester.runpytest_subprocess(
        *ARGS, "-n", "2", "--dist", "each", "-rP",
        timeout=RUN_TIMEOUT_S,
    )  # fmt: skip
    result.assert_outcomes(passed=2)
    seen = dict(re.findall(r"STACK (gw\d) (\S+)", result.stdout.str()))
    assert sorted(seen) == ["gw0", "gw1"], result.stdout.str()
    assert seen["gw0"] != seen["gw1"]  # a stack each, on ports of its own


def test_the_entry_point_is_declared_and_installed() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["entry-points"]["pytest11"] == {
        "timeoutlab": "timeoutlab.pytest_plugin"
    }
    test_extra = project["project"]["optional-dependencies"]["test"]
    assert any(requirement.startswith("pytest-xdist") for requirement in test_extra)
    # The README's set-up installs the project, so pytest finds the plugin with no -p option.
    installed = {point.name: point.value for point in entry_points(group="pytest11")}
    assert installed.get("timeoutlab") == "timeoutlab.pytest_plugin", (
        "the timeoutlab pytest11 entry point is not installed: run the README's set-up "
        "(pip install -e '.[test]')"
    )


LOOPTIME_USER = """
import httpx


def test_the_stack_answers(timeoutlab_stack, tmp_path):
    assert httpx.get(f"{timeoutlab_stack.rest_url}/fast").status_code == 200


def test_looptime_plugin_is_blocked(request):
    assert request.config.pluginmanager.is_blocked("looptime_plugin")
"""


def _looptime_installed() -> bool:
    return any(point.name == "looptime_plugin" for point in entry_points(group="pytest11"))


def test_a_user_project_runs_with_looptime_installed_and_no_pytest_asyncio(
    pytester: pytest.Pytester,
) -> None:
    # The user's own ini (pytester's), without this repository's `-p no:looptime_plugin`: before
    # the fix every fixture setup errored in looptime's plugin (getplugin("asyncio") is None).
    assert _looptime_installed(), "looptime (the test extra) should be installed here"
    _project(pytester, LOOPTIME_USER)
    result = pytester.runpytest_subprocess(
        *_plugin_args(), "-p", "no:cacheprovider",
        timeout=RUN_TIMEOUT_S,
    )  # fmt: skip
    result.assert_outcomes(passed=2)
    assert "AttributeError" not in result.stdout.str()


ASYNCIO_STUB_CONFTEST = """
import types


def pytest_addoption(parser, pluginmanager):
    # Stands for pytest-asyncio, registered under its plugin name before pytest_configure.
    pluginmanager.register(types.ModuleType("asyncio_stub"), "asyncio")
"""

LOOPTIME_KEPT = """
def test_looptime_plugin_is_kept(request, tmp_path):
    manager = request.config.pluginmanager
    assert not manager.is_blocked("looptime_plugin")
    assert manager.getplugin("looptime_plugin") is not None
"""


def test_looptime_plugin_is_kept_where_pytest_asyncio_is_registered(
    pytester: pytest.Pytester,
) -> None:
    assert _looptime_installed(), "looptime (the test extra) should be installed here"
    pytester.makeini("[pytest]\n")
    pytester.makeconftest(ASYNCIO_STUB_CONFTEST)
    pytester.makepyfile(test_user=LOOPTIME_KEPT)
    result = pytester.runpytest_subprocess(*_plugin_args(), "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
