"""What an idle WebSocket connection's memory is made of in the gateway: the Python allocations
that stay per open connection, by source line, from two tracemalloc snapshots.

``python -m benchmarks.websocket_memory [--connections N] [--top K]`` runs a stack in this process
(a service with only a ``$default`` route, so opening and closing connections invokes no Lambda:
what is measured is the gateway's own cost), opens 20 connections from ``benchmarks.idle_client``
and takes a snapshot, opens ``N`` more (2,000 by default) and takes another, then prints the
traced growth per connection (KB) and the ``K`` source files and source lines that grew most,
in bytes and allocated blocks per connection. Kernel socket buffers are not Python allocations
and are not counted; the process's RSS is not shown, as tracemalloc's own books inflate it.
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from emulator.stack import StackConfig, StackThread

ROOT = Path(__file__).absolute().parent.parent
BASELINE = 20
FRAMES = 10  # traceback depth kept per allocation
SERVICE = """service: memory
provider:
  name: aws
  runtime: python3.11
functions:
  default:
    handler: app.default
    events:
      - websocket:
          route: $default
"""
HANDLER = "def default(event, context):\n    return {'statusCode': 200}\n"


class Client:
    """``benchmarks.idle_client`` in a process of its own, asked for levels over its stdin."""

    def __init__(self, url: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.idle_client", url, "--in-flight", "8"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )

    def reach(self, target: int) -> dict:
        """Asks for ``target`` open connections; the client's status once it has them."""
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(f"{target}\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the idle client ended without an answer")
        return json.loads(line)

    def stop(self) -> None:
        self.process.kill()  # its connections drop: with no $disconnect route, nothing runs
        self.process.wait()


def settled_snapshot(stack_connections: dict, target: int) -> tracemalloc.Snapshot:
    """Once the gateway holds ``target`` connections (polled) and its loop has gone quiet."""
    deadline = time.monotonic() + 60
    while len(stack_connections) != target and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)  # the last handshakes' short-lived objects are freed
    gc.collect()
    return tracemalloc.take_snapshot()


def measure(connections: int, top: int) -> int:
    with tempfile.TemporaryDirectory(prefix="timeoutlab-memory-") as tmp:
        (Path(tmp) / "serverless.yml").write_text(SERVICE)
        (Path(tmp) / "app.py").write_text(HANDLER)
        config = StackConfig(
            http_port=0,
            ws_port=0,
            http_api_port=0,
            backend_port=0,
            service_path=Path(tmp) / "serverless.yml",
        )
        tracemalloc.start(FRAMES)
        with StackThread(config) as stack:
            assert stack.websocket is not None
            held = stack.websocket.connections
            client = Client(stack.ws_url)
            try:
                client.reach(BASELINE)
                before = settled_snapshot(held, BASELINE)
                status = client.reach(BASELINE + connections)
                after = settled_snapshot(held, BASELINE + connections)
                opened = len(held) - BASELINE
            finally:
                client.stop()
        tracemalloc.stop()
    if opened <= 0:
        print(f"no connection opened beyond the first {BASELINE}: {status}")
        return 1
    ignored = [tracemalloc.Filter(False, tracemalloc.__file__)]
    before, after = before.filter_traces(ignored), after.filter_traces(ignored)
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    print(
        f"{opened} idle connections beyond {BASELINE}: Python allocations grew "
        f"{grown / opened / 1024:.1f} KB per connection (tracemalloc, {FRAMES} frames)"
    )
    for group, title in (("filename", "source file"), ("lineno", "source line")):
        print(f"  {'B/conn':>7}  {'blocks/conn':>11}  {title} (where the memory was allocated)")
        for stat in after.compare_to(before, group)[:top]:
            frame = stat.traceback[0]
            where = _short(frame.filename) + (f":{frame.lineno}" if group == "lineno" else "")
            print(f"  {stat.size_diff / opened:>7.0f}  {stat.count_diff / opened:>11.2f}  {where}")
    return 0


def _short(filename: str) -> str:
    """The path from the package root: ``emulator/...``, ``websockets/...``, ``asyncio/...``."""
    parts = Path(filename).parts
    for anchor in ("site-packages", "python3.11", "python3.12", "python3.13"):
        if anchor in parts:
            return "/".join(parts[parts.index(anchor) + 1 :])
    try:
        return str(Path(filename).relative_to(ROOT))
    except ValueError:
        return filename


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=2000, help="default 2000")
    parser.add_argument("--top", type=int, default=15, help="source lines shown (default 15)")
    args = parser.parse_args(argv)
    return measure(max(1, args.connections), max(1, args.top))


if __name__ == "__main__":
    sys.exit(main())
