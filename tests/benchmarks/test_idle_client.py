"""The capacity benchmark's idle client, against a real WebSocket server on 127.0.0.1: it opens
connections up to each level asked for, keeps them open and silent, counts refusals, and ends on
``stop``."""

import asyncio
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

from websockets.asyncio.server import ServerConnection, serve

from emulator.backends.moto_server import free_ports

ROOT = Path(__file__).parents[2]


class Server:
    """A websockets server in a thread of its own that counts what its clients do."""

    def __init__(self) -> None:
        self.open = 0
        self.messages = 0
        self.ready = threading.Event()
        self.done: asyncio.Event | None = None
        self.port = 0

    async def _handler(self, ws: ServerConnection) -> None:
        self.open += 1
        try:
            async for _ in ws:
                self.messages += 1
        finally:
            self.open -= 1

    async def _main(self) -> None:
        self.done = asyncio.Event()
        async with serve(self._handler, "127.0.0.1", 0, ping_interval=None) as server:
            self.port = next(iter(server.sockets)).getsockname()[1]
            self.ready.set()
            await self.done.wait()

    def __enter__(self) -> "Server":
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self._main(),))
        self.thread.start()
        assert self.ready.wait(30)
        return self

    def __exit__(self, *_: object) -> None:
        assert self.done is not None
        self.loop.call_soon_threadsafe(self.done.set)
        self.thread.join(30)
        self.loop.close()


def until(condition, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def client(url: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "benchmarks.idle_client", url, "--in-flight", "2"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


def ask(process: subprocess.Popen, target: int) -> dict:
    assert process.stdin is not None
    assert process.stdout is not None
    process.stdin.write(f"{target}\n")
    process.stdin.flush()
    return json.loads(process.stdout.readline())


def test_it_opens_each_level_and_holds_the_connections_silent():
    with Server() as server:
        process = client(f"ws://127.0.0.1:{server.port}")
        try:
            first = ask(process, 3)
            assert (first["open"], first["failed"], first["closed"]) == (3, 0, 0)
            second = ask(process, 7)  # four more, the three still open
            assert (second["open"], second["failed"], second["closed"]) == (7, 0, 0)
            assert until(lambda: server.open == 7), server.open  # its handlers run a bit later
            assert server.messages == 0
            assert second["rss_kb"] is None or second["rss_kb"] > 0
            process.stdin.write("stop\n")
            process.stdin.flush()
            assert process.wait(60) == 0
        finally:
            process.kill()
            process.wait()


def test_refused_handshakes_are_counted_not_retried():
    (port,) = free_ports(1)  # nothing listens there
    process = client(f"ws://127.0.0.1:{port}")
    try:
        answer = ask(process, 4)
        assert (answer["open"], answer["failed"]) == (0, 4)
        process.stdin.close()  # the end of stdin ends it too
        assert process.wait(60) == 0
    finally:
        process.kill()
        process.wait()
