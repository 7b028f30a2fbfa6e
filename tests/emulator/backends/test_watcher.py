"""The watched backend, through `timeoutlab up` as users run it: a real process, real ports, a
moto server killed for real; and no child process left behind on any exit."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psutil
import pytest

from emulator.backends.moto_server import EmbeddedMoto, free_port
from tests.support import aws_client

TIMEOUTLAB = str(Path(sys.executable).parent / "timeoutlab")
#: This checkout's code, whatever checkout the console script was installed from.
ROOT = str(Path(__file__).resolve().parents[3])
#: Hang guards only (real seconds): far longer than any of these waits takes on a loaded machine.
START_S = 90.0
WAIT_S = 60.0


class Up:
    """``timeoutlab up`` on free ports, its output read as it comes (so the pipe never fills)."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [
                TIMEOUTLAB,
                "up",
                "--http-port",
                "0",
                "--ws-port",
                "0",
                "--backend-port",
                "0",
                "--time-scale",
                "0.02",
                *args,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": ROOT},
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        assert self.until(lambda: "stop: Ctrl-C" in self.output, START_S), self.output
        found = re.search(r"control   (http://127\.0\.0\.1:\d+)/_emulator", self.output)
        assert found, self.output
        self.control = found.group(1)

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def until(self, condition: Callable[[], bool], seconds: float = WAIT_S) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if condition():
                return True
            if self.process.poll() is not None:
                return condition()
            time.sleep(0.02)
        return False

    def logged(self, text: str) -> bool:
        """Whether ``text`` reaches the output within the hang guard. The emulator logs a change
        right after making it, so health can show it before the reader thread has the line."""
        return self.until(lambda: text in self.output)

    def health(self) -> dict:
        return httpx.get(f"{self.control}/_emulator/health", timeout=10).json()

    def children(self) -> list[psutil.Process]:
        return psutil.Process(self.process.pid).children(recursive=True)

    def stop(self, sig: int = signal.SIGINT) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        code = self.process.wait(timeout=WAIT_S)
        self._reader.join(timeout=10)
        return code

    def kill(self) -> None:
        """The hang guard's last resort: the process and whatever it started."""
        if self.process.poll() is None:
            for child in self.children():
                child.kill()
            self.process.kill()
            self.process.wait()


@contextmanager
def up(*args: str) -> Iterator[Up]:
    running = Up(*args)
    try:
        yield running
    finally:
        running.kill()


def gone(processes: list[psutil.Process]) -> list[psutil.Process]:
    """Those of ``processes`` still running (a zombie is not: it has exited)."""
    left = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                left.append(process)
        except psutil.NoSuchProcess:
            pass
    return left


def wait_gone(processes: list[psutil.Process]) -> list[psutil.Process]:
    """Those of ``processes`` still running after a generous wait for their exit."""
    deadline = time.monotonic() + 30
    while (left := gone(processes)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def test_a_killed_moto_is_reported_then_restarted_empty_and_sigterm_leaves_no_child():
    with up("--prewarm") as emulator:
        health = emulator.health()
        assert health["status"] == "ok"
        backend = health["backend"]
        assert backend["state"] == "up"
        assert backend["restarts"] == 0
        pid, endpoint = backend["pid"], backend["endpoint"]
        bucket = next(iter(aws_client("s3", endpoint).list_buckets()["Buckets"]))["Name"]
        aws_client("s3", endpoint).put_object(Bucket=bucket, Key="before", Body=b"x")

        os.kill(pid, signal.SIGKILL)
        seen: list[dict] = []

        def restarted() -> bool:
            seen.append(emulator.health())
            return seen[-1]["backend"]["restarts"] == 1 and seen[-1]["status"] == "ok"

        assert emulator.until(restarted), emulator.output
        # Health said so while it was down or restarting, and named it.
        down = [h for h in seen if h["status"] == "degraded"]
        assert down, seen[:3]
        assert down[0]["backend"]["state"] in ("down", "restarting")
        assert f"pid {pid} exited with code -9" in down[0]["backend"]["down_reason"]
        after = seen[-1]["backend"]
        assert after["state"] == "up"
        assert after["pid"] not in (None, pid)
        assert after["endpoint"] == endpoint  # same port: handlers' endpoints still hold
        down_line = f"backend down: the embedded moto server (pid {pid}) exited with code -9"
        assert emulator.logged(down_line), emulator.output
        restarted_line = "backend restarted: the embedded moto server is up again"
        assert emulator.logged(restarted_line), emulator.output
        # Empty, with the service's bucket recreated.
        s3 = aws_client("s3", endpoint)
        assert bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]
        assert s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0
        # The report system works again on it.
        reports = f"{emulator.control}/dev/reports"
        answer = httpx.post(reports, json={"delay": 0, "amountOfRows": 3}, timeout=60)
        assert answer.status_code == 200, answer.text
        assert "url" in answer.json()

        children = emulator.children()
        assert any(c.pid == after["pid"] for c in children)
        assert len(children) >= 2  # moto and at least one execution environment
        assert emulator.stop(signal.SIGTERM) == 0, emulator.output
        assert wait_gone(children) == []


def test_on_backend_exit_exit_stops_the_emulator_with_code_3_and_no_child_left():
    with up("--prewarm", "--on-backend-exit", "exit") as emulator:
        pid = emulator.health()["backend"]["pid"]
        children = emulator.children()
        assert any(c.pid == pid for c in children)
        assert len(children) >= 2
        os.kill(pid, signal.SIGKILL)
        code = emulator.process.wait(timeout=WAIT_S)
        emulator.stop()
        assert code == 3, emulator.output
        assert (
            f"timeoutlab: error: the embedded moto server (pid {pid}) exited with code -9; "
            "--on-backend-exit exit" in emulator.output
        )
        assert wait_gone(children) == []


@pytest.fixture
def own_moto() -> Iterator[EmbeddedMoto]:
    """A moto server of this test's own (the session's must not be killed)."""
    server = EmbeddedMoto(port=free_port()).start()
    yield server
    server.close()


def test_an_external_backend_that_stops_answering_is_reported_and_recovers_when_it_answers(
    own_moto,
):
    with up("--backend", own_moto.endpoint_url) as emulator:
        assert emulator.health()["status"] == "ok"
        own_moto.close()
        assert emulator.until(lambda: emulator.health()["status"] == "degraded"), emulator.output
        backend = emulator.health()["backend"]
        assert backend["state"] == "down"
        assert backend["restarts"] == 0
        assert "does not answer" in backend["down_reason"]
        down_line = f"backend down: url backend at {own_moto.endpoint_url} does not answer"
        assert emulator.logged(down_line), emulator.output
        own_moto.start()  # not restarted by the emulator: someone else brings it back
        assert emulator.until(lambda: emulator.health()["status"] == "ok"), emulator.output
        assert emulator.logged("backend up again: url backend at"), emulator.output
        assert emulator.stop() == 0, emulator.output


def test_a_start_that_fails_after_the_backend_started_leaves_no_moto_server():
    backend_port = free_port()
    with socket.socket() as taken:  # the HTTP port is taken: the start fails after moto's
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = subprocess.run(
            [
                TIMEOUTLAB,
                "up",
                "--http-port",
                str(taken.getsockname()[1]),
                "--ws-port",
                "0",
                "--backend-port",
                str(backend_port),
            ],
            capture_output=True,
            text=True,
            timeout=START_S,
            env={**os.environ, "PYTHONPATH": ROOT},
        )
    assert result.returncode == 2, result.stderr
    assert "moto server ready" in result.stderr  # it did start, before the failure
    assert "timeoutlab: error: cannot serve on 127.0.0.1" in result.stderr
    left = [
        process
        for process in psutil.process_iter(["cmdline"])
        if "moto.server" in (process.info["cmdline"] or [])
        and str(backend_port) in (process.info["cmdline"] or [])
    ]
    assert left == []
