"""What one Node.js execution environment costs: cold start, warm invocation overhead, RSS.

Runs timeoutlab's Node.js bootstrap (``emulator/runtime/bootstraps/node/bootstrap.mjs``) against
a minimal stand-in Lambda Runtime API on a loopback port, with no gateway and no backend, so the
figures are the environment's own:

- cold start: from spawning ``node bootstrap.mjs`` to its first ``GET /invocation/next`` (the
  Init phase: node's start, the bootstrap, loading the handler), and to the first answer;
- warm overhead: from handing an event to a waiting ``/next`` to its ``/response`` arriving, for a
  handler that returns at once (the Runtime API round trip plus the bootstrap's own work);
- RSS of the warm environment's process (``/proc/<pid>/status`` VmRSS).

Two handlers: a no-op, and the Node.js example's report module (which loads the AWS SDK v3
clients for S3, DynamoDB, the Management API; run ``make node-packages`` first).

Then the no-op handler again through the emulator's ``ProcessRuntime`` at time scale 1, as
``benchmarks/lambda_environments.py`` measures Python: Init Duration as the runtime records it,
the warm round trip including the runtime's books, RSS of the environment's process tree; these
figures compare with the Python ones.

    .venv/bin/python -m benchmarks.node_environment --cold 10 --warm 300
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from benchmarks.lambda_environments import measure_service
from emulator.runtime.bootstraps import bootstrap_command

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "node-report"
PREFIX = "/2018-06-01/runtime"


@dataclass
class StandIn:
    """A Runtime API that hands out events one at a time and times their answers."""

    queue: asyncio.Queue[tuple[str, bytes]] = field(default_factory=asyncio.Queue)
    answers: dict[str, asyncio.Future[float]] = field(default_factory=dict)
    first_next: asyncio.Future[float] | None = None
    init_error: bytes | None = None

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get(f"{PREFIX}/invocation/next", self._next)
        app.router.add_post(f"{PREFIX}/invocation/{{id}}/response", self._answer)
        app.router.add_post(f"{PREFIX}/invocation/{{id}}/error", self._answer)
        app.router.add_post(f"{PREFIX}/init/error", self._init_error)
        return app

    async def _next(self, request: web.Request) -> web.StreamResponse:
        if self.first_next is not None and not self.first_next.done():
            self.first_next.set_result(time.perf_counter())
        request_id, event = await self.queue.get()
        headers = {
            "Lambda-Runtime-Aws-Request-Id": request_id,
            "Lambda-Runtime-Deadline-Ms": str(int(time.time() * 1000) + 60_000),
            "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:0:function:bench",
            "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000",
        }
        return web.Response(body=event, headers=headers, content_type="application/json")

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        future = self.answers.get(request.match_info["id"])
        if future is not None and not future.done():
            future.set_result(time.perf_counter())
        return web.json_response({"status": "OK"}, status=202)

    async def _init_error(self, request: web.Request) -> web.StreamResponse:
        self.init_error = await request.read()
        return web.json_response({"status": "OK"}, status=202)

    async def invoke(self, request_id: str) -> float:
        """Seconds from handing out the event to its answer."""
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.answers[request_id] = future
        began = time.perf_counter()
        await self.queue.put((request_id, b"{}"))
        return await asyncio.wait_for(future, 60) - began


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def environment(task_root: Path, handler: str, warm: int) -> dict[str, float]:
    """One environment: its cold start, ``warm`` warm invocations, its RSS when warm."""
    stand_in = StandIn()
    stand_in.first_next = asyncio.get_running_loop().create_future()
    runner = web.AppRunner(stand_in.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}",
        "LAMBDA_TASK_ROOT": str(task_root),
        "_HANDLER": handler,
        "AWS_REGION": "us-east-1",
        "AWS_LAMBDA_FUNCTION_NAME": "bench",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
        "AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED": "true",
        "REPORTS_BUCKET": "bench",
        "CONNECTIONS_TABLE": "bench",
    }
    spawned = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        *bootstrap_command("nodejs20.x"), env=env, cwd=task_root
    )
    try:
        init_s = await asyncio.wait_for(stand_in.first_next, 60) - spawned
        if stand_in.init_error is not None:
            raise RuntimeError(f"init failed: {stand_in.init_error.decode()}")
        first_s = await stand_in.invoke("cold") + init_s
        rounds = [await stand_in.invoke(f"warm-{i}") for i in range(warm)]
        rss = rss_mb(process.pid)
    finally:
        process.kill()
        await process.wait()
        await stand_in.queue.put(("closing", b"{}"))  # lets a /next still waiting return
        await runner.cleanup()
    return {
        "init_ms": init_s * 1000,
        "first_ms": first_s * 1000,
        "warm_ms": statistics.median(rounds) * 1000 if rounds else float("nan"),
        "warm_p95_ms": statistics.quantiles(rounds, n=20)[-1] * 1000
        if len(rounds) >= 20
        else float("nan"),
        "rss_mb": rss,
    }


async def measure(name: str, task_root: Path, handler: str, cold: int, warm: int) -> None:
    runs = [await environment(task_root, handler, warm) for _ in range(cold)]

    def median(key: str) -> float:
        return statistics.median(run[key] for run in runs)

    print(
        f"{name:<28} cold start (init) {median('init_ms'):7.1f} ms | to first answer "
        f"{median('first_ms'):7.1f} ms | warm invocation {median('warm_ms'):5.2f} ms "
        f"(p95 {median('warm_p95_ms'):5.2f}) | RSS warm {median('rss_mb'):6.1f} MB "
        f"[medians of {cold} environments x {warm} warm invocations]"
    )


async def through_runtime(directory: Path, cold: int, warm: int) -> None:
    """The no-op handler through ProcessRuntime (time scale 1), as Python is measured."""
    (directory / "serverless.yml").write_text(
        "service: bench\nprovider:\n  name: aws\n  runtime: nodejs20.x\nfunctions:\n"
        "  ok:\n    handler: app.handler\n"
    )
    figures = await measure_service(directory / "serverless.yml", cold, warm)
    init, round_trip, rss_mb = figures.values()
    print(
        f"{'no-op via ProcessRuntime':<28} Init Duration {init:7.1f} ms | "
        f"warm invocation round trip {round_trip:5.2f} ms | RSS warm "
        f"{rss_mb:6.1f} MB [medians of {cold} cold starts, {warm} warm invocations]"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cold", type=int, default=10, help="environments started (cold starts)")
    parser.add_argument("--warm", type=int, default=300, help="warm invocations per environment")
    args = parser.parse_args()
    version = await asyncio.create_subprocess_exec(
        "node", "--version", stdout=asyncio.subprocess.PIPE
    )
    out, _ = await version.communicate()
    print(f"node {out.decode().strip()}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as folder:
        noop = Path(folder)
        (noop / "app.mjs").write_text("export const handler = async () => ({ ok: true });\n")
        await measure("no-op handler (ESM)", noop, "app.handler", args.cold, args.warm)
        (noop / "cb.cjs").write_text(
            "exports.handler = (event, context, callback) => callback(null, { ok: true });\n"
        )
        await measure("no-op handler (callback)", noop, "cb.handler", args.cold, args.warm)
        await through_runtime(noop, args.cold, args.warm)
    if (EXAMPLE / "node_modules").is_dir():
        (EXAMPLE / "_bench_handler.mjs").write_text(
            'import "./report.js";\nimport "./websocket.js";\n'
            "export const handler = async () => ({ ok: true });\n"
        )
        try:
            await measure(
                "example (AWS SDK v3 loaded)",
                EXAMPLE,
                "_bench_handler.handler",
                args.cold,
                args.warm,
            )
        finally:
            (EXAMPLE / "_bench_handler.mjs").unlink()
    else:
        print(f"(skipped the example: no packages in {EXAMPLE}; run `make node-packages`)")


if __name__ == "__main__":
    asyncio.run(main())
