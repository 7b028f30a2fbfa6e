import asyncio
import logging
import os
from pathlib import Path

import pytest

from emulator.clock import ScaledClock
from emulator.core.invocations import Outcome
from emulator.metrics import Metrics
from emulator.runtime.inprocess import InProcessRuntime
from emulator.service import ServiceError, load_service
from tests.support import TEST_SCALE, write_service

HANDLERS = """
import os
import threading
import time

def describe(event, context):
    print("describing", event["n"])
    print("no newline at the end", end="")
    return {
        "n": event["n"],
        "function_name": context.function_name,
        "function_version": context.function_version,
        "arn": context.invoked_function_arn,
        "memory": context.memory_limit_in_mb,
        "request_id": context.aws_request_id,
        "log_group": context.log_group_name,
        "remaining": context.get_remaining_time_in_millis(),
        "env": os.environ.get("GREETING"),
    }

def fail(event, context):
    raise ValueError("bad report definition")

#: Passed only when all 20 invocations are inside the handler at once.
TOGETHER = threading.Barrier(20, timeout=60)

def together(event, context):
    TOGETHER.wait()
    return "together"

def slow(event, context):
    # Waits in short slices, as reportapp's lambda_time does, then leaves a mark.
    for _ in range(100):
        time.sleep(0.002)
    with open(event["mark"], "w") as f:
        f.write("finished")
    return "done"
"""

FUNCTIONS = """
describe:
  handler: app.describe
  memorySize: 256
  timeout: 30
  environment:
    GREETING: hello
fail:
  handler: app.fail
slow:
  handler: app.slow
  timeout: 1
together:
  handler: app.together
  timeout: 900
"""


def run(service_path: Path, scenario, environment=None):
    """Start a runtime on the service, run ``scenario(runtime)`` in a loop, close it."""
    service = load_service(service_path)
    clock = ScaledClock(TEST_SCALE)
    metrics = Metrics()
    runtime = InProcessRuntime(service, clock, metrics, environment or {})

    async def main():
        runtime.start()
        try:
            return await scenario(runtime)
        finally:
            await runtime.close(grace_seconds=2)

    return asyncio.run(main()), metrics


@pytest.fixture
def app(tmp_path) -> Path:
    return write_service(tmp_path, HANDLERS, FUNCTIONS)


def test_handler_gets_an_aws_shaped_context_and_its_environment(app, caplog):
    caplog.set_level(logging.INFO, logger="timeoutlab.lambda")

    async def scenario(runtime):
        return await runtime.invoke("describe", {"n": 7}).task

    result, metrics = run(app, scenario)
    assert result.ok, result.error
    out = result.payload
    assert out["n"] == 7
    assert out["function_name"] == "inline-dev-describe"
    assert out["function_version"] == "$LATEST"
    assert out["arn"] == "arn:aws:lambda:us-east-1:000000000000:function:inline-dev-describe"
    assert out["memory"] == "256"
    assert out["request_id"] == result.record.request_id
    assert out["log_group"] == "/aws/lambda/inline-dev-describe"
    assert 29_000 < out["remaining"] <= 30_000
    assert out["env"] == "hello"
    assert result.record.outcome is Outcome.SUCCESS
    fn = metrics.snapshot()["lambda"]["functions"]["inline-dev-describe"]
    assert (fn["invocations"], fn["running"], fn["errors"]) == (1, 0, 0)
    assert fn["billed_ms"] >= 1
    # print() lands in the function's log, tagged with the request id, as in CloudWatch.
    lines = [r.getMessage() for r in caplog.records if r.name.endswith("inline-dev-describe")]
    assert f"{result.record.request_id}\tdescribing 7" in lines
    assert f"{result.record.request_id}\tno newline at the end" in lines
    assert any(
        "REPORT RequestId: " + result.record.request_id in r.getMessage() for r in caplog.records
    )


def test_environment_is_set_while_running_and_restored_after(app):
    async def scenario(runtime):
        return os.environ.get("GREETING"), os.environ.get("EXTRA_SETTING")

    (during, extra), _ = run(app, scenario, {"EXTRA_SETTING": "x"})
    assert (during, extra) == ("hello", "x")
    assert "GREETING" not in os.environ
    assert "EXTRA_SETTING" not in os.environ


def test_an_exception_becomes_awss_error_payload(app):
    async def scenario(runtime):
        return await runtime.invoke("fail", {}).task

    result, metrics = run(app, scenario)
    assert not result.ok
    assert result.error["errorType"] == "ValueError"
    assert result.error["errorMessage"] == "bad report definition"
    assert result.error["stackTrace"]
    assert result.record.outcome is Outcome.ERROR
    assert metrics.snapshot()["lambda"]["functions"]["inline-dev-fail"]["errors"] == 1


def test_the_function_timeout_fails_the_invocation_and_stops_the_handler(app, tmp_path):
    mark = tmp_path / "mark"

    async def scenario(runtime):
        result = await runtime.invoke("slow", {"mark": str(mark)}).task
        await asyncio.sleep(0.4)  # real time: twice what the handler would need to finish
        return result

    result, metrics = run(app, scenario)
    assert result.record.outcome is Outcome.TIMEOUT
    assert result.error["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in result.error["errorMessage"]
    assert result.record.billed_ms == 1000
    assert not mark.exists(), "the handler ran on past its timeout"
    assert metrics.snapshot()["lambda"]["functions"]["inline-dev-slow"]["timeouts"] == 1


def test_an_invocation_runs_on_after_its_caller_gives_up_and_is_counted_as_waste(app, tmp_path):
    mark = tmp_path / "mark"

    async def scenario(runtime):
        invocation = runtime.invoke("slow", {"mark": str(mark)})
        invocation.caller_gone()
        return await invocation.task

    # Run the slow handler with enough time: a 30 s timeout instead of 1 s.
    app.write_text(app.read_text().replace("timeout: 1", "timeout: 30"))
    result, metrics = run(app, scenario)
    assert result.ok
    assert mark.read_text() == "finished"
    fn = metrics.snapshot()["lambda"]["functions"]["inline-dev-slow"]
    assert fn["wasted_ms"] == fn["billed_ms"] > 0


def test_concurrent_invocations_run_in_parallel(app):
    async def scenario(runtime):
        invocations = [runtime.invoke("together", {}) for _ in range(20)]
        return await asyncio.gather(*(i.task for i in invocations))

    results, _ = run(app, scenario)
    # Each handler waits at a barrier for all 20: one at a time, the first would never pass.
    assert [r.payload for r in results] == ["together"] * 20, [r.error for r in results]


@pytest.mark.parametrize(
    ("handlers", "functions", "message"),
    [
        ("raise RuntimeError('boom at import')\n", "f:\n  handler: app.h", "boom at import"),
        ("x = 1\n", "f:\n  handler: app.h", "has no function 'h'"),
        (
            "def h(e, c):\n    pass\n",
            "f:\n  handler: app.h\n  environment: {A: '1'}\n"
            "g:\n  handler: app.h\n  environment: {A: '2'}",
            "differs between functions",
        ),
    ],
)
def test_broken_handlers_fail_at_start_with_a_clear_error(tmp_path, handlers, functions, message):
    path = write_service(tmp_path, handlers, functions)

    async def scenario(runtime):
        return None

    with pytest.raises(ServiceError, match=message):
        run(path, scenario)


def test_a_failed_start_leaves_the_process_environment_as_it_was(tmp_path):
    path = write_service(tmp_path, "raise ImportError('nope')\n", "f:\n  handler: app.h")

    async def scenario(runtime):
        return None

    with pytest.raises(ServiceError):
        run(path, scenario, {"TL_LEFTOVER": "1"})
    assert "TL_LEFTOVER" not in os.environ


def test_runtimes_alive_at_once_must_agree_on_the_environment(app):
    service = load_service(app)
    first = InProcessRuntime(service, ScaledClock(TEST_SCALE), Metrics(), {"TL_SCALE": "0.1"})
    same = InProcessRuntime(service, ScaledClock(TEST_SCALE), Metrics(), {"TL_SCALE": "0.1"})
    other = InProcessRuntime(service, ScaledClock(TEST_SCALE), Metrics(), {"TL_SCALE": "1"})

    async def main():
        first.start()
        same.start()
        try:
            with pytest.raises(ServiceError, match="another emulator in this process"):
                other.start()
        finally:
            await first.close()
        assert os.environ["TL_SCALE"] == "0.1"  # still claimed by the second runtime
        await same.close()

    asyncio.run(main())
    assert "TL_SCALE" not in os.environ
