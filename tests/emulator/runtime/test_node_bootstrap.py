"""timeoutlab's Node.js bootstrap against the Lambda Runtime API's documented contract.

A stand-in Runtime API (aiohttp on a loopback port) hands the bootstrap one or two invocations
and records every request it makes; the tests assert those requests: paths, headers, bodies, the
error shape, init errors. The contract:
https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html and
https://docs.aws.amazon.com/lambda/latest/dg/runtimes-custom.html
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import textwrap
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from emulator.runtime.bootstraps import NODE_BOOTSTRAP, bootstrap_command, bootstrap_for
from emulator.runtime.process_tree import subreaper_command
from emulator.service import load_service

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None,
    reason="node is not installed (`make node-packages` installs Node.js as root; see README)",
)

PREFIX = "/2018-06-01/runtime"
ARN = "arn:aws:lambda:us-east-1:000000000000:function:inline-dev-f"


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Invocation:
    request_id: str
    event: Any
    deadline_ms: int | None = None
    headers: dict[str, str] = field(default_factory=dict)


class StandInRuntimeApi:
    """The Runtime API of one execution environment: hands out the invocations it is given,
    records every request, and lets a test wait for the n-th answer."""

    def __init__(self, invocations: list[Invocation]) -> None:
        self.pending = list(invocations)
        self.requests: list[Recorded] = []
        self._changed = asyncio.Event()
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.address = ""

    async def start(self) -> StandInRuntimeApi:
        app = web.Application()
        app.router.add_get(f"{PREFIX}/invocation/next", self._next)
        app.router.add_post(f"{PREFIX}/invocation/{{id}}/response", self._answer)
        app.router.add_post(f"{PREFIX}/invocation/{{id}}/error", self._answer)
        app.router.add_post(f"{PREFIX}/init/error", self._answer)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.address = f"127.0.0.1:{port}"
        return self

    async def close(self) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _record(self, request: web.Request) -> None:
        body = await request.read()
        self.requests.append(Recorded(request.method, request.path, dict(request.headers), body))
        self._changed.set()

    async def _next(self, request: web.Request) -> web.StreamResponse:
        await self._record(request)
        if not self.pending:
            await self._closing.wait()  # no more work: the environment waits, as on AWS
            raise web.HTTPServiceUnavailable()
        invocation = self.pending.pop(0)
        deadline = invocation.deadline_ms or int(time.time() * 1000) + 30_000
        headers = {
            "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
            "Lambda-Runtime-Deadline-Ms": str(deadline),
            "Lambda-Runtime-Invoked-Function-Arn": ARN,
            "Lambda-Runtime-Trace-Id": f"Root=1-{invocation.request_id}",
            **invocation.headers,
        }
        return web.json_response(invocation.event, headers=headers)

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        await self._record(request)
        return web.json_response({"status": "OK"}, status=202)

    def answers(self) -> list[Recorded]:
        return [r for r in self.requests if r.method == "POST"]

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        async with asyncio.timeout(30):
            while not predicate():
                self._changed.clear()
                await self._changed.wait()


def environment(task_root: Path, handler: str, api: str, **extra: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_LAMBDA_RUNTIME_API": api,
        "LAMBDA_TASK_ROOT": str(task_root),
        "_HANDLER": handler,
        "AWS_LAMBDA_FUNCTION_NAME": "inline-dev-f",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/inline-dev-f",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2024/01/01/[$LATEST]abc",
        **extra,
    }


Scenario = Callable[[StandInRuntimeApi, asyncio.subprocess.Process], Awaitable[None]]


def run_bootstrap(
    tmp_path: Path,
    files: dict[str, str],
    handler: str,
    invocations: list[Invocation],
    scenario: Scenario,
    **extra: str,
) -> tuple[StandInRuntimeApi, int | None, str]:
    """Write the handler files, start the bootstrap against a stand-in Runtime API, run the
    scenario (which waits for what it expects), then stop the process. Returns the stand-in, the
    process's exit code if it ended by itself, and its output."""
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(textwrap.dedent(text))

    async def main() -> tuple[StandInRuntimeApi, int | None, str]:
        api = await StandInRuntimeApi(invocations).start()
        process = await asyncio.create_subprocess_exec(
            *bootstrap_command("nodejs20.x"),
            env=environment(tmp_path, handler, api.address, **extra),
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            await scenario(api, process)
            exited = process.returncode
        finally:
            if process.returncode is None:
                process.kill()
            assert process.stdout is not None
            output = (await process.stdout.read()).decode()
            await process.wait()
            await api.close()
        return api, exited, output

    return asyncio.run(main())


def answered(count: int) -> Scenario:
    """Until ``count`` invocations are answered and the environment asks for the next one."""

    async def scenario(api: StandInRuntimeApi, process: asyncio.subprocess.Process) -> None:
        await api.wait_for(
            lambda: (
                len(api.answers()) >= count and sum(r.method == "GET" for r in api.requests) > count
            )
        )

    return scenario


async def exits(api: StandInRuntimeApi, process: asyncio.subprocess.Process) -> None:
    async with asyncio.timeout(30):
        await process.wait()


def test_bootstrap_command_is_node_on_our_bootstrap():
    assert bootstrap_command("nodejs20.x") == ["node", str(NODE_BOOTSTRAP)]
    assert NODE_BOOTSTRAP.is_file()
    with pytest.raises(ValueError, match=r"ruby3\.3"):
        bootstrap_command("ruby3.3")


def test_nodejs_functions_of_a_service_get_our_bootstrap(tmp_path):
    (tmp_path / "app.mjs").write_text("export const handler = async () => 1;\n")
    (tmp_path / "serverless.yml").write_text(
        "service: s\nprovider:\n  name: aws\n  runtime: nodejs20.x\n"
        "functions:\n  f:\n    handler: app.handler\n"
    )
    bootstrap = bootstrap_for(load_service(tmp_path / "serverless.yml").functions["f"])
    # Started as a child subreaper (through the shim, which execs node), where there are any.
    assert bootstrap.command == subreaper_command(["node", str(NODE_BOOTSTRAP)])
    assert bootstrap.runtime_dir == NODE_BOOTSTRAP.parent


def test_async_handler_gets_event_and_context_and_its_result_is_posted(tmp_path):
    files = {
        "app.js": """
            exports.handler = async (event, context) => {
              console.log("hello from", context.awsRequestId);
              return {
                event,
                functionName: context.functionName,
                functionVersion: context.functionVersion,
                invokedFunctionArn: context.invokedFunctionArn,
                memoryLimitInMB: context.memoryLimitInMB,
                awsRequestId: context.awsRequestId,
                logGroupName: context.logGroupName,
                logStreamName: context.logStreamName,
                remaining: context.getRemainingTimeInMillis(),
                waits: context.callbackWaitsForEmptyEventLoop,
                clientContext: context.clientContext,
                identity: context.identity,
                trace: process.env._X_AMZN_TRACE_ID,
              };
            };
        """
    }
    deadline = int(time.time() * 1000) + 10_000
    invocations = [
        Invocation(
            "req-1",
            {"n": 1},
            deadline,
            {
                "Lambda-Runtime-Client-Context": json.dumps({"custom": {"a": 1}}),
                "Lambda-Runtime-Cognito-Identity": json.dumps({"cognitoIdentityId": "id-1"}),
            },
        ),
        Invocation("req-2", {"n": 2}),
    ]
    api, _, output = run_bootstrap(
        tmp_path, files, "app.handler", invocations, answered(2), TIMEOUTLAB_TIME_SCALE="0.5"
    )
    gets = [r for r in api.requests if r.method == "GET"]
    assert gets[0].path == f"{PREFIX}/invocation/next"
    first, second = api.answers()
    assert first.path == f"{PREFIX}/invocation/req-1/response"
    assert first.headers["Content-Type"] == "application/json"
    body = first.json()
    assert body["event"] == {"n": 1}
    assert body["functionName"] == "inline-dev-f"
    assert body["functionVersion"] == "$LATEST"
    assert body["invokedFunctionArn"] == ARN
    assert body["memoryLimitInMB"] == "256"
    assert body["awsRequestId"] == "req-1"
    assert body["logGroupName"] == "/aws/lambda/inline-dev-f"
    assert body["logStreamName"] == "2024/01/01/[$LATEST]abc"
    assert body["waits"] is True
    assert body["clientContext"] == {"custom": {"a": 1}}
    assert body["identity"] == {"cognitoIdentityId": "id-1"}
    assert body["trace"] == "Root=1-req-1"
    # 10 s of real time left at time scale 0.5 is 20 s of emulated time.
    assert 15_000 < body["remaining"] <= 20_000
    assert second.path == f"{PREFIX}/invocation/req-2/response"
    assert second.json()["event"] == {"n": 2}
    assert second.json()["trace"] == "Root=1-req-2"
    assert "hello from req-1" in output
    # After each answer the environment asks for the next invocation (one at a time).
    assert [r.method for r in api.requests] == ["GET", "POST", "GET", "POST", "GET"]


def test_callback_handler_and_esm_module(tmp_path):
    files = {
        "cb.cjs": """
            exports.handler = (event, context, callback) => {
              // The default callbackWaitsForEmptyEventLoop: the answer waits for this timer.
              setTimeout(() => { globalThis.late = "timer ran"; }, 50);
              callback(null, { via: "callback", late: globalThis.late ?? null });
            };
        """,
        "nested/esm.mjs": """
            export const handlers = { report: async (event) => ({ via: "esm", n: event.n }) };
        """,
    }
    api, _, _ = run_bootstrap(tmp_path, files, "cb.handler", [Invocation("r1", {})], answered(1))
    assert api.answers()[0].json() == {"via": "callback", "late": None}
    api, _, _ = run_bootstrap(
        tmp_path, files, "nested/esm.handlers.report", [Invocation("r2", {"n": 7})], answered(1)
    )
    assert api.answers()[0].json() == {"via": "esm", "n": 7}


def test_callback_waits_for_the_empty_event_loop_unless_told_not_to(tmp_path):
    files = {
        "app.js": """
            let ticks = 0;
            exports.waits = (event, context, callback) => {
              setTimeout(() => { ticks += 1; }, 200);
              callback(null, "sent");
            };
            exports.count = async () => ticks;
            exports.nowait = (event, context, callback) => {
              context.callbackWaitsForEmptyEventLoop = false;
              setTimeout(() => {}, 60_000);
              callback(null, "at once");
            };
            exports.nothing = (event, context) => {};
        """,
        "package.json": '{"type": "commonjs"}',
    }
    started = time.monotonic()
    api, _, _ = run_bootstrap(tmp_path, files, "app.waits", [Invocation("a", {})], answered(1))
    assert time.monotonic() - started >= 0.2
    assert api.answers()[0].json() == "sent"
    api, _, _ = run_bootstrap(tmp_path, files, "app.nowait", [Invocation("b", {})], answered(1))
    assert api.answers()[0].json() == "at once"
    api, _, _ = run_bootstrap(tmp_path, files, "app.nothing", [Invocation("c", {})], answered(1))
    assert api.answers()[0].json() is None


def test_handler_errors_are_posted_in_the_error_shape(tmp_path):
    files = {
        "app.mjs": """
            export const throws = async () => { throw new TypeError("bad report definition"); };
            export const callsBack = (event, context, callback) => callback(new RangeError("no"));
            export const rejectsString = async () => Promise.reject("just a string");
        """
    }
    invocations = [Invocation("e1", {})]
    api, _, _ = run_bootstrap(tmp_path, files, "app.throws", invocations, answered(1))
    error = api.answers()[0]
    assert error.path == f"{PREFIX}/invocation/e1/error"
    assert error.headers["Lambda-Runtime-Function-Error-Type"] == "TypeError"
    body = error.json()
    assert body["errorType"] == "TypeError"
    assert body["errorMessage"] == "bad report definition"
    assert body["trace"][0] == "TypeError: bad report definition"
    assert len(body["trace"]) > 1

    api, _, _ = run_bootstrap(tmp_path, files, "app.callsBack", [Invocation("e2", {})], answered(1))
    assert api.answers()[0].json()["errorType"] == "RangeError"
    api, _, _ = run_bootstrap(
        tmp_path, files, "app.rejectsString", [Invocation("e3", {})], answered(1)
    )
    assert api.answers()[0].json() == {
        "errorType": "string",
        "errorMessage": "just a string",
        "trace": [],
    }


def test_an_uncaught_exception_fails_the_invocation_and_ends_the_environment(tmp_path):
    files = {
        "app.js": """
            exports.handler = (event, context, callback) => {
              setTimeout(() => { throw new Error("boom in a timer"); }, 10);
            };
        """
    }
    api, code, _ = run_bootstrap(tmp_path, files, "app.handler", [Invocation("u1", {})], exits)
    assert code == 129
    error = api.answers()[0]
    assert error.path == f"{PREFIX}/invocation/u1/error"
    assert error.json()["errorMessage"] == "boom in a timer"


@pytest.mark.parametrize(
    ("files", "handler", "error_type", "message"),
    [
        ({}, "missing.handler", "Runtime.ImportModuleError", "Cannot find module 'missing'"),
        (
            {"app.js": "require('no-such-package');\n"},
            "app.handler",
            "Runtime.ImportModuleError",
            "no-such-package",
        ),
        (
            {"app.mjs": "import 'no-such-package';\n"},
            "app.handler",
            "Runtime.ImportModuleError",
            "no-such-package",
        ),
        ({"app.js": "exports.other = () => 1;\n"}, "app.handler", "Runtime.HandlerNotFound", ""),
        (
            {"app.js": "exports.handler = 42;\n"},
            "app.handler",
            "Runtime.HandlerNotFound",
            "is not a function",
        ),
        ({"app.js": "exports.handler = (;\n"}, "app.handler", "Runtime.UserCodeSyntaxError", ""),
        ({}, "nodots", "Runtime.MalformedHandlerName", "Bad handler"),
    ],
)
def test_init_errors_are_posted_to_init_error_and_the_process_exits(
    tmp_path, files, handler, error_type, message
):
    api, code, _ = run_bootstrap(tmp_path, files, handler, [Invocation("never", {})], exits)
    assert code == 1
    assert [r.path for r in api.requests] == [f"{PREFIX}/init/error"]  # never asked for work
    init_error = api.requests[0]
    assert init_error.headers["Lambda-Runtime-Function-Error-Type"] == error_type
    body = init_error.json()
    assert body["errorType"] == error_type
    assert message in body["errorMessage"]
    assert isinstance(body["trace"], list)


def test_streamed_response_uses_streaming_mode_and_the_http_prelude(tmp_path):
    files = {
        "app.mjs": """
            export const handler = awslambda.streamifyResponse(async (event, stream, context) => {
              stream = awslambda.HttpResponseStream.from(stream, {
                statusCode: 201, headers: { "x-id": context.awsRequestId },
              });
              stream.write("first,");
              await new Promise((resolve) => setTimeout(resolve, 20));
              stream.end("second");
            });
        """
    }
    api, _, _ = run_bootstrap(tmp_path, files, "app.handler", [Invocation("s1", {})], answered(1))
    streamed = api.answers()[0]
    assert streamed.path == f"{PREFIX}/invocation/s1/response"
    assert streamed.headers["Lambda-Runtime-Function-Response-Mode"] == "streaming"
    assert streamed.headers["Transfer-Encoding"] == "chunked"
    assert streamed.headers["Content-Type"] == "application/vnd.awslambda.http-integration-response"
    metadata, _, rest = streamed.body.partition(b"\x00" * 8)
    assert json.loads(metadata) == {"statusCode": 201, "headers": {"x-id": "s1"}}
    assert rest == b"first,second"


def test_a_streaming_handler_that_does_not_end_its_stream_fails(tmp_path):
    files = {
        "app.mjs": """
            export const silent = awslambda.streamifyResponse(async () => {});
            export const sync = awslambda.streamifyResponse(() => {});
        """
    }
    for handler in ("app.silent", "app.sync"):
        api, _, _ = run_bootstrap(tmp_path, files, handler, [Invocation("s", {})], answered(1))
        error = api.answers()[0]
        assert error.path == f"{PREFIX}/invocation/s/error"
        assert error.json()["errorMessage"] in (
            "Response stream is not finished.",
            "Streaming does not support non-async handlers.",
        )
