"""Cold start, warm invocation overhead and memory of a Python execution environment.

``python -m benchmarks.lambda_environments [--runs N]``: a trivial handler (returns at once) is
invoked through ``ProcessRuntime`` at time scale 1, so every figure is real ms: the Init Duration
of ``runs`` cold starts (spawn to the runtime's first ``next``), the round trip of ``runs`` warm
invocations (the runtime's books, the Runtime API and awslambdaric, with no handler work), and the
resident memory of one warm environment's process tree. Medians are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import psutil

from emulator.clock import ScaledClock
from emulator.metrics import Metrics
from emulator.runtime.process import ProcessRuntime
from emulator.service import load_service

HANDLER = "def ok(event, context):\n    return {'statusCode': 200}\n"
SERVICE = (
    "service: bench\nprovider:\n  name: aws\n  runtime: python3.11\nfunctions:\n"
    "  ok:\n    handler: app.ok\n"
)


async def measure(directory: Path, runs: int) -> dict[str, float]:
    """The Python figures: the no-op handler written to ``directory`` and measured there."""
    (directory / "app.py").write_text(HANDLER)
    (directory / "serverless.yml").write_text(SERVICE)
    return await measure_service(directory / "serverless.yml", runs, runs)


async def measure_service(service_path: Path, cold: int, warm: int) -> dict[str, float]:
    """Medians of ``cold`` cold starts and ``warm`` warm invocations of the function ``ok`` of
    ``service_path`` through ``ProcessRuntime`` at time scale 1 (real ms), and the RSS of one
    warm environment's process tree (MB). Any runtime the emulator runs can be measured so."""
    service = load_service(service_path)
    inits: list[float] = []
    for _ in range(cold):
        runtime = ProcessRuntime(service, ScaledClock(1.0), Metrics(), {})
        runtime.start()
        record = (await runtime.invoke("ok", {}).task).record
        assert record.init_ms is not None
        inits.append(record.init_ms)
        await runtime.close()
    runtime = ProcessRuntime(service, ScaledClock(1.0), Metrics(), {})
    runtime.start()
    await runtime.invoke("ok", {}).task  # the cold start
    rounds: list[float] = []
    for _ in range(warm):
        began = time.perf_counter()
        await runtime.invoke("ok", {}).task
        rounds.append((time.perf_counter() - began) * 1000)
    (env,) = runtime._live
    assert env.pid is not None
    root = psutil.Process(env.pid)
    rss = sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])
    await runtime.close()
    return {
        "cold start (Init Duration), median ms": statistics.median(inits),
        "warm invocation round trip, median ms": statistics.median(rounds),
        "RSS of one warm environment, MB": rss / 1024 / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        figures = asyncio.run(measure(Path(directory), args.runs))
    for name, value in figures.items():
        print(f"{name}: {value:.1f}")


if __name__ == "__main__":
    main()
