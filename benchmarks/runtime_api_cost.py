"""Server CPU per invocation of one execution environment's Runtime API, for one or more checkouts.

A child process plays the runtime the way AWS's runtime interface clients do: one kept-alive
HTTP/1.1 connection (``http.client``), ``GET /2018-06-01/runtime/invocation/next``, then ``POST
/invocation/{id}/response`` with a small JSON body, again and again. The measuring process serves
the API with the checkout's ``emulator.runtime.runtime_api.RuntimeApiServer`` and hands out
``--invocations`` invocations, one at a time, after a warm-up; it reads its own CPU time
(``time.process_time``: user + system, real seconds) around them. The figure is that CPU divided
by the invocations, in microseconds: the server's side of two requests and two answers, the
socket calls included; the client is not counted.

    .venv/bin/python benchmarks/runtime_api_cost.py --code /work/main --code . --repeats 3

Each (checkout, repeat) runs in a fresh process with the checkout first on ``PYTHONPATH``, so one
venv serves both; the checkouts are interleaved (A, B, A, B, ...). Prints one JSON line per run
(``{"code", "invocations", "cpu_us_per_invocation", "seconds", "load_average"}``) and the medians.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from emulator.arguments import positive

#: The runtime: next, then a response, until the request id is ``stop``.
RUNTIME = r"""
import http.client, sys
connection = http.client.HTTPConnection(sys.argv[1])
while True:
    connection.request("GET", "/2018-06-01/runtime/invocation/next")
    answer = connection.getresponse()
    answer.read()
    request_id = answer.getheader("Lambda-Runtime-Aws-Request-Id")
    if request_id == "stop":
        break
    connection.request(
        "POST",
        f"/2018-06-01/runtime/invocation/{request_id}/response",
        body=b'{"statusCode": 200, "body": "ok"}',
        headers={"Content-Type": "application/json"},
    )
    connection.getresponse().read()
"""
WARM_UP = 200
#: Generous real-time bound for one invocation on a loaded machine (seconds).
INVOCATION_BOUND_S = 30.0


async def measure_here(invocations: int) -> dict[str, float]:
    """Serve one runtime with this process's ``RuntimeApiServer``; the CPU it took."""
    from emulator.core.runtime_api import Assignment
    from emulator.runtime.runtime_api import RuntimeApiServer

    server = RuntimeApiServer()
    await server.start()
    runtime = await asyncio.create_subprocess_exec(sys.executable, "-c", RUNTIME, server.address)
    try:
        await asyncio.wait_for(server.initialised, INVOCATION_BOUND_S)

        async def run(count: int) -> None:
            for number in range(count):
                assignment = Assignment(f"r{number}", b'{"n": 1}', 0, "arn:f", "Root=1")
                # Handed to the runtime's next ``next``, parked already or still to come.
                await asyncio.wait_for(server.invoke(assignment, None), INVOCATION_BOUND_S)

        await run(WARM_UP)
        cpu, began = time.process_time(), time.monotonic()
        await run(invocations)
        cpu, seconds = time.process_time() - cpu, time.monotonic() - began
        server.invoke(Assignment("stop", b"{}", 0, "arn:f", "Root=1"), None)
        await asyncio.wait_for(runtime.wait(), INVOCATION_BOUND_S)
    finally:
        if runtime.returncode is None:
            runtime.kill()
            await runtime.wait()
        await server.close()
    return {"cpu_us_per_invocation": round(1e6 * cpu / invocations, 1), "seconds": seconds}


def measure(code: Path, invocations: int) -> dict:
    """One run in a fresh process with ``code`` first on PYTHONPATH; its JSON figures."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    done = subprocess.run(
        [sys.executable, __file__, "--one", "--invocations", str(invocations)],
        env=env,
        cwd=str(code),
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    figures = json.loads(done.stdout.splitlines()[-1])
    return {
        "code": str(code),
        "invocations": invocations,
        "cpu_us_per_invocation": figures["cpu_us_per_invocation"],
        "seconds": round(figures["seconds"], 2),
        "load_average": round(os.getloadavg()[0], 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--code", type=Path, action="append", help="a checkout (repeatable)")
    parser.add_argument("--invocations", type=positive(int), default=3000)
    parser.add_argument("--repeats", type=positive(int), default=1)
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    if arguments.one:
        print(json.dumps(asyncio.run(measure_here(arguments.invocations))))
        return 0
    codes = [path.resolve() for path in arguments.code or [Path(__file__).parents[1]]]
    results: dict[str, list[float]] = {str(code): [] for code in codes}
    for _ in range(arguments.repeats):
        for code in codes:
            figures = measure(code, arguments.invocations)
            print(json.dumps(figures), flush=True)
            results[str(code)].append(figures["cpu_us_per_invocation"])
    print("medians:")
    for code, values in results.items():
        print(f"  {code}: {statistics.median(values):.0f} us of server CPU per invocation")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
