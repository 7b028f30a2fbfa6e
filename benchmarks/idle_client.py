"""Many silent WebSocket connections from one asyncio process: the capacity benchmark's client for
the idle-connection level (15,000 by default), far past what it asks of one Locust process.

``python -m benchmarks.idle_client WS_URL [--in-flight N]`` reads target counts on stdin, one a
line, opens connections until that many are open (at most ``--in-flight`` opening handshakes at
once, so the gateway's ``$connect`` invocations need at most that many execution environments),
and answers each line with one JSON line on stdout::

    {"open": <connections open now>, "failed": <handshakes refused or broken so far>,
     "closed": <connections the server closed so far>, "rss_kb": <this process's RSS>}

``stop`` or the end of stdin ends it; its connections close with the process (the benchmark stops
the emulator first). Each connection sends nothing: no pings (``ping_interval=None``), no
compression, the smallest incoming queue; what it costs the server is the figure measured.

Why not Locust for this level: a Locust user is a greenlet running websockets' threaded client
(about 40 KB of Locust memory per idle user, measured by this benchmark), so 15,000 of them cost
the client more than the server under test; the Locust figure the issue asks for is 2,000 users,
measured on its own.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

#: Real seconds an opening handshake may take ($connect runs under the 29 s integration timeout).
OPEN_TIMEOUT_S = 60.0


def rss_kb() -> int | None:
    """This process's VmRSS in KB from /proc (Linux); None elsewhere."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


class Holder:
    """Open connections, held silent until the process ends."""

    def __init__(self, url: str, in_flight: int) -> None:
        self.url = url
        self.in_flight = in_flight
        self.connections: list[ClientConnection] = []
        self.failed = 0

    @property
    def open(self) -> int:
        return sum(1 for ws in self.connections if ws.close_code is None)

    async def _one(self, gate: asyncio.Semaphore) -> None:
        async with gate:
            try:
                ws = await connect(
                    self.url,
                    compression=None,
                    ping_interval=None,
                    open_timeout=OPEN_TIMEOUT_S,
                    close_timeout=1.0,
                    max_queue=1,
                )
            except (WebSocketException, OSError, TimeoutError):
                self.failed += 1
                return
            self.connections.append(ws)

    async def reach(self, target: int) -> None:
        """Open connections until ``target`` are open, or as many as could be (failures are
        counted, not retried: a refused handshake at this level is a figure)."""
        gate = asyncio.Semaphore(self.in_flight)
        missing = target - self.open
        if missing > 0:
            await asyncio.gather(*(self._one(gate) for _ in range(missing)))

    def status(self) -> dict:
        closed = sum(1 for ws in self.connections if ws.close_code is not None)
        return {"open": self.open, "failed": self.failed, "closed": closed, "rss_kb": rss_kb()}


async def serve(url: str, in_flight: int) -> int:
    holder = Holder(url, in_flight)
    loop = asyncio.get_running_loop()
    while True:
        line = (await loop.run_in_executor(None, sys.stdin.readline)).strip()
        if not line or line == "stop":
            return 0
        await holder.reach(int(line))
        print(json.dumps(holder.status()), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("url", help="the WebSocket API, e.g. ws://127.0.0.1:3001/dev")
    parser.add_argument(
        "--in-flight", type=int, default=4, help="opening handshakes at once (default 4)"
    )
    args = parser.parse_args(argv)
    return asyncio.run(serve(args.url, max(1, args.in_flight)))


if __name__ == "__main__":
    sys.exit(main())
