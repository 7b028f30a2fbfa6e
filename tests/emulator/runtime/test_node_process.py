"""Node.js execution environments through real sockets: the handler runs in its own `node`
process on our bootstrap; each fault gets AWS's answer, the emulator keeps serving, and the
next request succeeds (in a fresh environment where AWS would make one)."""

from __future__ import annotations

import logging
import shutil
import textwrap
import time
from pathlib import Path

import httpx
import psutil
import pytest

from emulator.runtime.process_tree import running
from emulator.stack import StackThread
from tests.support import poll_until, run_on_runtime, stack_config

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None,
    reason="node is not installed (`make node-packages` installs Node.js as root)",
)

HANDLERS = """
let calls = 0;

export const ok = async (event, context) => {
  calls += 1;
  console.log("ok called", calls);
  return {
    statusCode: 200,
    body: JSON.stringify({
      colour: process.env.COLOUR ?? "",
      calls,
      remaining: context.getRemainingTimeInMillis(),
      requestId: context.awsRequestId,
      runtimeApi: Boolean(process.env.AWS_LAMBDA_RUNTIME_API),
    }),
  };
};

export const fault = async (event) => {
  const what = event.queryStringParameters?.what;
  if (what === "exit") process.exit(1);
  if (what === "kill") process.kill(process.pid, "SIGKILL");
  if (what === "throw") throw new TypeError("bad report definition");
  if (what === "uncaught") setTimeout(() => { throw new Error("boom"); }, 0);
  if (what === "uncaught") await new Promise((resolve) => setTimeout(resolve, 1000));
  if (what === "memory") {
    const hog = Buffer.alloc(400 * 1024 * 1024, 1);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    return { statusCode: 200, body: String(hog.length) };
  }
  if (what === "loop") for (;;) {}
  return ok(event, {getRemainingTimeInMillis: () => 0});
};
"""

STREAMING = """
export const handler = awslambda.streamifyResponse(async (event, responseStream, context) => {
  const stream = awslambda.HttpResponseStream.from(responseStream, {
    statusCode: 200,
    headers: { "Content-Type": "text/plain" },
  });
  for (const part of ["one ", "two ", "three"]) {
    stream.write(part);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  stream.end();
});
"""

BROKEN = "import 'no-such-package';\nexport const handler = async () => ({statusCode: 200});\n"

SERVERLESS = """
service: inline-node
provider:
  name: aws
  runtime: nodejs20.x
  stage: dev
functions:
  ok:
    handler: app.ok
    timeout: 30
    environment: {COLOUR: blue}
    events: [{http: GET ok}]
  other:
    handler: app.ok
    environment: {COLOUR: red}
    events: [{http: GET other}]
  fault:
    handler: app.fault
    timeout: 1
    memorySize: 128
    events: [{http: GET fault}]
  hog:
    handler: app.fault
    timeout: 900
    memorySize: 128
    events: [{http: GET hog}]
  broken:
    handler: broken.handler
    events: [{http: GET broken}]
  streamed:
    handler: streaming.handler
    events: [{http: GET streamed}]
custom:
  timeoutlab:
    streamingRoutes: [GET /streamed]
"""


@pytest.fixture(scope="module")
def stack(moto_server, tmp_path_factory):
    folder: Path = tmp_path_factory.mktemp("node-envs")
    (folder / "app.mjs").write_text(textwrap.dedent(HANDLERS))
    (folder / "broken.mjs").write_text(BROKEN)
    (folder / "streaming.mjs").write_text(STREAMING)
    (folder / "serverless.yml").write_text(textwrap.dedent(SERVERLESS))
    # Scale 0.25: the 1 s function timeout is 250 ms real, room for a cold `node` on a loaded
    # machine before a request that must succeed would time out.
    config = stack_config(
        moto_server.endpoint_url, service_path=folder / "serverless.yml", time_scale=0.25
    )
    with StackThread(config) as started:
        yield started


def get(stack, path: str) -> httpx.Response:
    return httpx.get(f"{stack.rest_url}/{path}", timeout=60)


def healthy(stack) -> None:
    assert httpx.get(f"{stack.http_url}/_emulator/health", timeout=10).status_code == 200


def function_stats(stack, key: str) -> dict:
    return stack.metrics.snapshot()["lambda"]["functions"][stack.service.functions[key].name]


def test_a_nodejs_handler_runs_warm_with_its_own_variables_and_emulated_remaining_time(stack):
    first = get(stack, "ok").json()
    second = get(stack, "ok").json()
    assert first["colour"] == "blue"
    assert first["runtimeApi"] is True
    assert second["calls"] == first["calls"] + 1  # the same environment, warm
    assert second["requestId"] != first["requestId"]
    # 30 s of emulated time at scale 0.25 is 7.5 s real: remaining time is emulated ms.
    assert 20_000 < second["remaining"] <= 30_000
    assert get(stack, "other").json()["colour"] == "red"
    stats = function_stats(stack, "ok")
    assert stats["cold_starts"] == 1
    assert stats["warm_starts"] >= 1


def test_a_handler_error_is_a_502_and_the_environment_stays_warm(stack):
    assert get(stack, "fault").status_code == 200
    cold_starts = function_stats(stack, "fault")["cold_starts"]
    failed = get(stack, "fault?what=throw")
    assert failed.status_code == 502
    assert failed.json() == {"message": "Internal server error"}
    assert get(stack, "fault").status_code == 200
    assert function_stats(stack, "fault")["cold_starts"] == cold_starts


@pytest.mark.parametrize(
    ("function", "what", "error_type", "message"),
    [
        ("fault", "exit", "Runtime.ExitError", "Error: Runtime exited with error: exit status 1"),
        ("fault", "kill", "Runtime.ExitError", "Error: Runtime exited with error: signal: killed"),
        # The runtime posts the error, then exits (129): the next request gets a new environment.
        ("fault", "uncaught", "Error", "boom"),
        (
            "hog",
            "memory",
            "Runtime.OutOfMemory",
            "Error: Runtime exited with error: signal: killed",
        ),
        ("fault", "loop", "Sandbox.Timedout", "Task timed out after 1.00 seconds"),
    ],
)
def test_a_fault_gets_awss_answer_and_the_next_request_a_fresh_environment(
    stack, caplog, function, what, error_type, message
):
    with caplog.at_level(logging.INFO, logger="timeoutlab"):
        failed = get(stack, f"{function}?what={what}")
        assert failed.status_code == 502
        assert failed.json() == {"message": "Internal server error"}
        healthy(stack)
        stack.wait_idle()
    lines = [r.getMessage() for r in caplog.records]
    assert any(error_type in line and message in line for line in lines), lines
    cold_starts = function_stats(stack, function)["cold_starts"]
    again = get(stack, function)
    assert again.status_code == 200
    assert function_stats(stack, function)["cold_starts"] == cold_starts + 1


def test_an_import_error_in_init_is_a_502_naming_runtime_importmoduleerror(stack, caplog):
    with caplog.at_level(logging.INFO, logger="timeoutlab"):
        failed = get(stack, "broken")
        assert failed.status_code == 502
        healthy(stack)
        stack.wait_idle()
    lines = [r.getMessage() for r in caplog.records]
    assert any("Runtime.ImportModuleError" in line for line in lines), lines
    assert get(stack, "ok").status_code == 200


def test_a_streamed_response_reaches_the_client_through_a_streaming_route(stack):
    response = get(stack, "streamed")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == "one two three"


# -- what a handler starts ends with its environment; a runtime that exits is replaced ----------

CONTAINED = """
import { execFileSync, spawn } from "node:child_process";

export const detach = async () => {
  // A detached child (setsid: a session of its own), and a daemon whose parent (sh) has exited.
  const session = spawn("sleep", ["300"], { detached: true, stdio: "ignore" });
  session.unref();
  const daemon = Number(
    execFileSync("sh", ["-c", "setsid sleep 302 >/dev/null 2>&1 & echo $!"]).toString(),
  );
  return { runtime: process.pid, session: session.pid, daemon };
};

export const rejectLater = async () => {
  // Fires once the answer is posted and the environment is back in the warm pool: a second
  // later, where 5 ms could still be within the POST on a busy machine (rejectWhilePosting's
  // case, which the emulator never sees back in the pool).
  setTimeout(() => { Promise.reject(new Error("late rejection")); }, 1000);
  return process.pid;
};

export const rejectWhilePosting = async () => {
  // Fires while the bootstrap posts this invocation's answer (after the handler's promise
  // settled, during the POST's I/O).
  setImmediate(() => { Promise.reject(new Error("late rejection")); });
  return process.pid;
};
"""

CONTAINED_SERVERLESS = """
service: contained
provider: {name: aws, runtime: nodejs20.x, stage: dev}
functions:
  detach: {handler: contained.detach, timeout: 900}
  reject: {handler: contained.rejectLater, timeout: 900}
  rejectWhilePosting: {handler: contained.rejectWhilePosting, timeout: 900}
"""


def run_contained(tmp_path, scenario):
    """``scenario(runtime)`` on a ProcessRuntime of ``CONTAINED`` (no gateway, no backend)."""
    (tmp_path / "contained.mjs").write_text(textwrap.dedent(CONTAINED))
    (tmp_path / "serverless.yml").write_text(textwrap.dedent(CONTAINED_SERVERLESS))
    return run_on_runtime(tmp_path / "serverless.yml", scenario)


def test_detached_and_orphaned_children_of_a_nodejs_handler_end_with_the_emulator(tmp_path):
    async def scenario(runtime):
        started = (await runtime.invoke("detach", {}).task).payload
        # sh has exited: its orphan was reparented to the runtime (a subreaper), not to init.
        await poll_until(lambda: psutil.Process(started["daemon"]).ppid() == started["runtime"])
        assert running(started["session"])
        return started

    started, _ = run_contained(tmp_path, scenario)
    for key in ("runtime", "session", "daemon"):
        deadline = time.monotonic() + 30
        while running(started[key]):
            assert time.monotonic() < deadline, f"{key} still runs"
            time.sleep(0.02)


@pytest.mark.parametrize("function", ["reject", "rejectWhilePosting"])
def test_a_rejection_after_the_handler_returned_is_blamed_on_it_and_the_next_call_cold_starts(
    tmp_path, caplog, function
):
    """Whether the rejection comes after the answer was posted (a timer) or while it is being
    posted: the invocation keeps its answer, the function is blamed, the next call cold-starts."""

    async def scenario(runtime):
        first = await runtime.invoke(function, {}).task
        await poll_until(lambda: runtime.environments == 0)  # out of the pool at once
        return first, await runtime.invoke(function, {}).task

    with caplog.at_level(logging.INFO, logger="timeoutlab.lambda"):
        (first, after), metrics = run_contained(tmp_path, scenario)
    assert first.ok, first
    assert after.ok, after
    assert after.payload != first.payload  # another environment's process
    name = f"contained-dev-{function}"
    figures = metrics.snapshot()["lambda"]["functions"][name]
    assert (figures["cold_starts"], figures["warm_starts"]) == (2, 0)
    lines = [r.getMessage() for r in caplog.records]
    assert not any("Runtime API failed" in line for line in lines), lines
    assert not any("answered 403" in line for line in lines), lines  # no error for an answered one
    assert any(
        f"function {name}: its code raised Runtime.UnhandledPromiseRejection "
        "(Error: late rejection) between invocations" in line
        for line in lines
    ), lines
    if function == "reject":  # it exited while warm: the emulator says so too (while posting,
        # it exits before asking for more work, and so is never taken back into the pool)
        assert any(
            line.startswith(f"{name}: the function's own code ended its runtime")
            and "exit status 128" in line
            for line in lines
        ), lines
