"""Execution environments as processes, through real sockets: every fault of issue 12 gets
AWS's answer, the emulator keeps serving (health answers) and the next request succeeds."""

from __future__ import annotations

import logging

import httpx
import psutil
import pytest

from emulator.runtime.process import (
    MAX_ENVIRONMENTS_CEILING,
    MAX_ENVIRONMENTS_FLOOR,
    MEMORY_PER_ENVIRONMENT_BYTES,
    default_max_environments,
)
from emulator.runtime.process_tree import running
from emulator.stack import StackConfig, StackThread
from tests.support import (
    poll_until,
    run_on_runtime,
    stack_config,
    wait_until,
    write_service,
)

HANDLERS = """
import os
import signal
import sys
import time

def ok(event, context):
    return {"statusCode": 200, "body": os.environ.get("COLOUR", "")}

def fault(event, context):
    what = (event.get("queryStringParameters") or {}).get("what")
    if what == "exit":
        sys.exit(1)
    if what == "interrupt":
        raise KeyboardInterrupt
    if what == "raise":
        raise ValueError("kaboom")
    if what == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if what == "memory":
        hog = b"x" * (400 * 1024 * 1024)
        time.sleep(2)
        return {"statusCode": 200, "body": str(len(hog))}
    if what == "sleep":
        time.sleep(60)  # stuck in C code, far past the 1 s timeout
    if what == "loop":
        while True:
            print("still here")
    return ok(event, context)
"""

FUNCTIONS = """
ok:
  handler: app.ok
  environment: {COLOUR: blue}
  events: [{http: GET ok}]
other:
  handler: app.ok
  environment: {COLOUR: red}
  events: [{http: GET other}]
fault:
  handler: app.fault
  timeout: 30  # a crash is seen as a crash even when the machine is busy
  memorySize: 128
  events: [{http: GET fault}]
stuck:
  handler: app.fault
  timeout: 1
  memorySize: 128
  events: [{http: GET stuck}]
hog:
  handler: app.fault
  timeout: 900
  memorySize: 128
  events: [{http: GET hog}]
"""


@pytest.fixture(scope="module")
def stack(moto_server, tmp_path_factory):
    service = write_service(tmp_path_factory.mktemp("envs"), HANDLERS, FUNCTIONS)
    # Real time: the request after a fault of ``stuck`` must answer within its 1 s timeout, whose
    # clock runs from the event's handing over to the handler's answer, a few ms on an idle
    # machine; at scale 0.05 that was 50 ms real, which a busy machine's scheduling can use up.
    config = stack_config(moto_server.endpoint_url, service_path=service, time_scale=1.0)
    with StackThread(config) as started:
        yield started


def get(stack, path: str) -> httpx.Response:
    return httpx.get(f"{stack.rest_url}/{path}", timeout=60)


def healthy(stack) -> None:
    assert httpx.get(f"{stack.http_url}/_emulator/health", timeout=10).status_code == 200


def function_stats(stack, key: str) -> dict:
    return stack.metrics.snapshot()["lambda"]["functions"][stack.service.functions[key].name]


@pytest.mark.parametrize(
    ("function", "what", "error_type", "message"),
    [
        ("fault", "exit", "Runtime.ExitError", "Error: Runtime exited with error: exit status 1"),
        (
            "fault",
            "interrupt",
            "Runtime.ExitError",
            "Error: Runtime exited with error: signal: interrupt",
        ),
        ("fault", "kill", "Runtime.ExitError", "Error: Runtime exited with error: signal: killed"),
        (
            "hog",
            "memory",
            "Runtime.OutOfMemory",
            "Error: Runtime exited with error: signal: killed",
        ),
        ("stuck", "sleep", "Sandbox.Timedout", "Task timed out after 1.00 seconds"),
        ("stuck", "loop", "Sandbox.Timedout", "Task timed out after 1.00 seconds"),
    ],
)
def test_a_fault_gets_awss_answer_and_the_next_request_a_fresh_environment(
    stack, caplog, function, what, error_type, message
):
    with caplog.at_level(logging.INFO, logger="timeoutlab.lambda"):
        failed = get(stack, f"{function}?what={what}")
        assert failed.status_code == 502
        assert failed.json() == {"message": "Internal server error"}
        healthy(stack)
        stack.wait_idle()
    errors = [r.getMessage() for r in caplog.records if r.getMessage().startswith(error_type)]
    assert any(message in line for line in errors), errors
    cold_starts = function_stats(stack, function)["cold_starts"]
    again = get(stack, function)
    assert again.status_code == 200
    assert function_stats(stack, function)["cold_starts"] == cold_starts + 1


def test_warm_environments_are_reused_and_counted(stack):
    name = stack.service.functions["ok"].name
    before = stack.metrics.snapshot()["lambda"]["functions"].get(name, {})
    for _ in range(3):
        assert get(stack, "ok").status_code == 200
    after = function_stats(stack, "ok")
    cold = after["cold_starts"] - before.get("cold_starts", 0)
    warm = after["warm_starts"] - before.get("warm_starts", 0)
    assert (cold + warm, warm >= 2) == (3, True)
    assert after["init_ms"] > 0


def test_two_functions_have_their_own_values_of_one_variable(stack):
    assert get(stack, "ok").text == "blue"
    assert get(stack, "other").text == "red"


def test_a_cold_start_is_reported_with_its_init_duration(stack, caplog):
    with caplog.at_level(logging.INFO, logger="timeoutlab.lambda"):
        assert get(stack, "fault?what=exit").status_code == 502
        stack.wait_idle()
        assert get(stack, "fault").status_code == 200  # a fresh environment: a cold start
    reports = [r.getMessage() for r in caplog.records if r.getMessage().startswith("REPORT")]
    assert "Init Duration: " in reports[-1]


def test_an_import_error_fails_the_invocation_and_the_fixed_handler_then_runs(
    moto_server, tmp_path
):
    service = write_service(
        tmp_path,
        "import no_such_module\ndef ok(event, context):\n    return {'statusCode': 200}\n",
        "ok:\n  handler: app.ok\n  events: [{http: GET ok}]\n",
    )
    config = stack_config(moto_server.endpoint_url, service_path=service)
    with StackThread(config) as stack:
        assert get(stack, "ok").status_code == 502
        healthy(stack)
        (tmp_path / "app.py").write_text(
            "def ok(event, context):\n    return {'statusCode': 200}\n"
        )
        stack.wait_idle()
        assert get(stack, "ok").status_code == 200


def test_two_stacks_run_in_one_process_with_their_own_environments(moto_server, tmp_path):
    configs: list[StackConfig] = []
    for colour in ("green", "yellow"):
        service = write_service(
            tmp_path / colour,
            HANDLERS,
            f"ok:\n  handler: app.ok\n  environment: {{COLOUR: {colour}}}\n"
            "  events: [{http: GET ok}]\n",
        )
        configs.append(stack_config(moto_server.endpoint_url, service_path=service))
    with StackThread(configs[0]) as first, StackThread(configs[1]) as second:
        assert get(first, "ok").text == "green"
        assert get(second, "ok").text == "yellow"


def test_a_300_ms_import_at_scale_0_01_does_not_turn_a_short_route_into_a_504(
    moto_server, tmp_path
):
    """At scale 0.01 a 300 ms Init would be 30 emulated seconds, past the 29 s integration
    timeout, if it were stretched; it counts as 300 emulated ms, as on AWS."""
    service = write_service(
        tmp_path,
        "import time\ntime.sleep(0.3)\n"
        "def ok(event, context):\n    return {'statusCode': 200, 'body': 'ok'}\n",
        "ok:\n  handler: app.ok\n  events: [{http: GET ok}]\n",
    )
    config = stack_config(moto_server.endpoint_url, service_path=service, time_scale=0.01)
    with StackThread(config) as stack:
        response = get(stack, "ok")
        assert (response.status_code, response.text) == (200, "ok")
        stats = function_stats(stack, "ok")
        assert stats["cold_starts"] == 1
        assert stats["init_ms"] >= 300


ENVIRONMENT_HANDLERS = """
import os
import time

def variables(event, context):
    return dict(os.environ)

def slow(event, context):
    time.sleep(0.2)
    return "slow"
"""

ENVIRONMENT_FUNCTIONS = """
variables:
  handler: app.variables
slow:
  handler: app.slow
  timeout: 900
"""


def run_runtime(tmp_path, scenario, **options):
    """``scenario(runtime)`` on a ProcessRuntime of a small service (no backend, no gateway)."""
    ours = {"TIMEOUTLAB_TIME_SCALE": "0.5", "AWS_ENDPOINT_URL": "http://x", "NOT_OURS": "1"}
    service = write_service(tmp_path, ENVIRONMENT_HANDLERS, ENVIRONMENT_FUNCTIONS)
    return run_on_runtime(service, scenario, scale=0.5, variables=ours, **options)


def test_an_environment_gets_awss_variables_and_only_ours_of_the_emulators(
    tmp_path, monkeypatch, caplog
):
    monkeypatch.setenv("EMULATOR_SECRET", "leak")

    async def scenario(runtime):
        return (await runtime.invoke("variables", {}).task).payload

    with caplog.at_level(logging.WARNING, logger="timeoutlab.lambda"):
        variables, _ = run_runtime(tmp_path, scenario)
    assert "EMULATOR_SECRET" not in variables
    assert "NOT_OURS" not in variables
    assert "AWS_SESSION_TOKEN" not in variables
    assert variables["TIMEOUTLAB_TIME_SCALE"] == "0.5"
    assert variables["AWS_ENDPOINT_URL"] == "http://x"
    assert variables["_HANDLER"] == "app.variables"
    assert variables["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.12"
    assert variables["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
    assert variables["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "1024"
    assert variables["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/inline-dev-variables"
    assert variables["LAMBDA_TASK_ROOT"] == str(tmp_path.resolve())
    assert variables["TZ"] == ":UTC"
    assert variables["AWS_LAMBDA_RUNTIME_API"].startswith("127.0.0.1:")
    mismatches = [r for r in caplog.records if "python3.12 runs on" in r.getMessage()]
    assert len(mismatches) == 1  # one warning for the runtime, not one per function


def test_past_the_machine_cap_an_invocation_waits_and_is_counted(tmp_path):
    async def scenario(runtime):
        first = runtime.invoke("slow", {})
        second = runtime.invoke("variables", {})
        return [(await first.task).ok, (await second.task).ok]

    results, metrics = run_runtime(tmp_path, scenario, max_environments=1)
    assert results == [True, True]
    functions = metrics.snapshot()["lambda"]["functions"]
    assert functions["inline-dev-variables"]["environment_waits"] >= 1


def test_prewarmed_environments_serve_the_first_calls_warm_as_provisioned_concurrency(
    moto_server, tmp_path
):
    handlers = (
        "import os\n\n"
        "def kind(event, context):\n"
        "    return {'statusCode': 200, 'body': os.environ['AWS_LAMBDA_INITIALIZATION_TYPE']}\n"
    )
    functions = "kind:\n  handler: app.kind\n  events: [{http: GET kind}]\n"
    service = write_service(tmp_path, handlers, functions)
    config = stack_config(moto_server.endpoint_url, service_path=service, prewarm=True)
    with StackThread(config) as stack:
        assert stack.runtime.environments == 1  # initialised before the first request
        answer = get(stack, "kind")
        assert (answer.status_code, answer.text) == (200, "provisioned-concurrency")
        figures = function_stats(stack, "kind")
        assert (figures["cold_starts"], figures["warm_starts"]) == (0, 1)


def test_a_handlers_traceback_is_logged_a_line_at_a_time_with_its_request_id(stack, caplog):
    with caplog.at_level(logging.INFO, logger="timeoutlab"):
        assert get(stack, "fault?what=raise").status_code == 502
        stack.wait_idle()
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("timeoutlab.lambda.")]
    assert not any("\r" in line for line in lines), lines
    (error,) = [line for line in lines if "[ERROR] ValueError: kaboom" in line]
    request_id = error.split("\t")[0]
    assert any(line.startswith(f"{request_id}\tTraceback") for line in lines), lines


def test_the_default_machine_cap_follows_the_memory_available_within_its_bounds():
    assert default_max_environments(2**30) == 2**30 // MEMORY_PER_ENVIRONMENT_BYTES
    assert default_max_environments(100 * 2**30) == MAX_ENVIRONMENTS_CEILING
    assert default_max_environments(100 * 2**20) == MAX_ENVIRONMENTS_FLOOR
    assert MAX_ENVIRONMENTS_FLOOR <= default_max_environments() <= MAX_ENVIRONMENTS_CEILING
    # a stack left without one takes this default; one given is kept
    assert MAX_ENVIRONMENTS_FLOOR <= StackConfig().max_environments <= MAX_ENVIRONMENTS_CEILING
    assert StackConfig(max_environments=5).max_environments == 5


# -- what a handler starts ends with its environment; a runtime that exits is replaced ----------

CONTAINED_HANDLERS = """
import os
import subprocess
import threading
import time

def detach(event, context):
    # A detached child (a session of its own), a child in the environment's group, and a
    # double-forked daemon whose parent has exited (its own session too).
    session = subprocess.Popen(["sleep", "300"], start_new_session=True)
    group = subprocess.Popen(["sleep", "301"])
    read, write = os.pipe()
    middle = os.fork()
    if middle == 0:
        os.setsid()
        daemon = os.fork()
        if daemon == 0:
            os.execvp("sleep", ["sleep", "302"])
        os.write(write, str(daemon).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(middle, 0)
    daemon = int(os.read(read, 32))
    os.close(read)
    return {"runtime": os.getpid(), "session": session.pid, "group": group.pid, "daemon": daemon}

def flaky(event, context):
    if event.get("exit"):
        def later():
            time.sleep(0.3)
            os._exit(1)
        threading.Thread(target=later).start()
    return os.getpid()

def boom(event, context):
    raise ValueError("kaboom")
"""

CONTAINED_FUNCTIONS = """
detach:
  handler: app.detach
  timeout: 900
flaky:
  handler: app.flaky
  timeout: 900
boom:
  handler: app.boom
"""


def run_contained(tmp_path, scenario, **options):
    """``scenario(runtime)`` on a ProcessRuntime of ``CONTAINED_HANDLERS`` (no gateway)."""
    service = write_service(tmp_path, CONTAINED_HANDLERS, CONTAINED_FUNCTIONS)
    return run_on_runtime(service, scenario, **options)


def test_detached_and_double_forked_children_end_with_their_environment_and_the_emulator(
    tmp_path,
):
    async def scenario(runtime):
        first = (await runtime.invoke("detach", {}).task).payload
        seen = {
            "running": all(running(first[k]) for k in ("session", "group", "daemon")),
            # The daemon's parent has exited: it was reparented to the runtime (a subreaper).
            "daemon_parent": psutil.Process(first["daemon"]).ppid(),
        }
        # At the machine cap of 1, another function's invocation ends the idle environment.
        assert (await runtime.invoke("flaky", {}).task).ok
        await poll_until(lambda: not any(running(first[k]) for k in ("session", "group", "daemon")))
        second = (await runtime.invoke("detach", {}).task).payload
        return first, seen, second

    (first, seen, second), _ = run_contained(tmp_path, scenario, max_environments=1)
    assert seen == {"running": True, "daemon_parent": first["runtime"]}
    # The emulator's stop (runtime.close) ended the second environment's tree too.
    for key in ("runtime", "session", "group", "daemon"):
        wait_until(lambda key=key: not running(second[key]))


def test_a_runtime_that_exits_between_invocations_is_replaced_and_blamed_on_its_code(
    tmp_path, caplog
):
    async def scenario(runtime):
        exiting = (await runtime.invoke("flaky", {"exit": True}).task).payload
        # The exit takes the environment out of the pool at once, without an invocation.
        await poll_until(lambda: runtime.environments == 0)
        after = await runtime.invoke("flaky", {}).task
        return exiting, after

    with caplog.at_level(logging.WARNING, logger="timeoutlab.lambda"):
        (exiting, after), metrics = run_contained(tmp_path, scenario)
    assert after.ok
    assert after.payload != exiting  # a new environment's process answered
    figures = metrics.snapshot()["lambda"]["functions"]["inline-dev-flaky"]
    assert (figures["cold_starts"], figures["warm_starts"]) == (2, 0)
    (line,) = [r.getMessage() for r in caplog.records if "between invocations" in r.getMessage()]
    assert line.startswith("inline-dev-flaky: the function's own code ended its runtime process")
    assert "Runtime exited with error: exit status 1" in line


def test_a_handlers_stack_trace_starts_at_its_own_file(tmp_path):
    async def scenario(runtime):
        return (await runtime.invoke("boom", {}).task).error

    error, _ = run_contained(tmp_path, scenario)
    assert (error["errorType"], error["errorMessage"]) == ("ValueError", "kaboom")
    first = error["stackTrace"][0]
    assert first.startswith(f'  File "{(tmp_path / "app.py").resolve()}", line '), first
    assert "in boom" in first
    assert not any("timeoutlab_bootstrap" in frame for frame in error["stackTrace"])
