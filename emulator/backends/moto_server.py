"""The embedded backend: moto's server in a child process on loopback.

A separate process keeps moto's work off the gateway's event loop and GIL, so the 29 s timeout
stays precise under load, and gives it a real port like LocalStack's.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import subprocess
import sys
import tempfile
import time
from typing import IO

import httpx

from emulator.backends.endpoint import Backend, BackendError
from emulator.core.backend_watch import BackendState, last_words
from emulator.core.log_text import printable
from emulator.lifeline import child_environment, lifeline

log = logging.getLogger("timeoutlab.backend")

DEFAULT_PORT = 4566
START_TIMEOUT_SECONDS = 30.0
#: moto's application with keep-alive, behind the emulator's lifeline.
MOTO_SERVE = "emulator.backends.moto_serve"


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct free TCP ports on ``host``: all bound at once, then released, so none
    is given twice (another process may still take one before the caller binds it)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind((host, 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def free_port(host: str = "127.0.0.1") -> int:
    """One free TCP port on ``host`` (see ``free_ports``)."""
    return free_ports(1, host)[0]


def _port_in_use(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


class EmbeddedMoto(Backend):
    """A moto server started and stopped by timeoutlab."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = DEFAULT_PORT, region: str = "us-east-1"
    ):
        super().__init__("moto", f"http://{host}:{port}", region)
        self.host, self.port = host, port
        self._process: subprocess.Popen | None = None
        self._stderr: IO[bytes] | None = None  # the running server's stderr, for its last words

    @property
    def pid(self) -> int | None:
        """The server process's id, None before start and after close."""
        return self._process.pid if self._process is not None else None

    def exit_code(self) -> int | None:
        """The server's exit code once it has exited (a negative signal number if killed);
        None while it runs, or when it was never started. A ``poll()``: no I/O."""
        return None if self._process is None else self._process.poll()

    def start(self) -> EmbeddedMoto:
        """Start the server on ``host:port`` and wait until it answers (at most
        ``START_TIMEOUT_SECONDS``); raises BackendError when the port is taken or it does not
        come up."""
        if _port_in_use(self.host, self.port):
            raise BackendError(
                f"port {self.port} on {self.host} is already in use, so the embedded moto server "
                f"cannot start there: pass --backend-port PORT, or --backend {self.endpoint_url} "
                "to use what is listening"
            )
        # moto's application with keep-alive (emulator/backends/moto_serve.py), not moto.server,
        # dying with this process however it ends (emulator.lifeline).
        command = [sys.executable, "-m", MOTO_SERVE, "-H", self.host, "-p", str(self.port)]
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the server
        self._process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
            stdin=subprocess.DEVNULL,
            env=child_environment(),
            pass_fds=lifeline().pass_fds,
        )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                detail = self.last_words()
                self.close()
                raise BackendError("the embedded moto server exited: " + detail)
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.endpoint_url}/moto-api/data.json", timeout=1.0).is_success:
                    log.info(
                        "moto server ready at %s (pid %d)", self.endpoint_url, self._process.pid
                    )
                    return self
            time.sleep(0.05)
        self.close()
        raise BackendError(
            f"the embedded moto server did not answer within {START_TIMEOUT_SECONDS:.0f} s"
        )

    def last_words(self, lines: int = 5) -> str:
        """The last ``lines`` lines the server wrote to stderr that are not access-log lines,
        joined by `` | `` (one line, control characters escaped); "" when there are none."""
        if self._stderr is None or self._stderr.closed:
            return ""
        self._stderr.seek(0)
        text = self._stderr.read().decode(errors="replace").splitlines()
        # Its access-log lines are left out: they say what it answered, not why it stopped.
        return printable(" | ".join(last_words(text, lines)), limit=2000)

    def restart(self) -> EmbeddedMoto:
        """Start a new, empty server on the same port after the old one exited (handlers and
        the usage proxy keep their endpoint); raises BackendError as ``start`` does."""
        self.close()
        return self.start()

    def close(self) -> None:
        """Stop the server (SIGTERM, SIGKILL after 5 s) and reap it; safe to call again."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None
        if self._stderr is not None:
            self._stderr.close()

    def describe(self) -> dict:
        """``Backend.describe`` with the server's ``pid``; a server that has exited is ``down``
        at once, before the watcher has even seen it."""
        described = super().describe()
        described["pid"] = self.pid
        code = self.exit_code()
        if code is not None and self.state is BackendState.UP:
            described["state"] = BackendState.DOWN.value
            described["down_reason"] = f"pid {self.pid} exited with code {code}"
        return described
