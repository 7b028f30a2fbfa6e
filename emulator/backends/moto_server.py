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

import httpx

from emulator.backends.endpoint import Backend, BackendError

log = logging.getLogger("timeoutlab.backend")

DEFAULT_PORT = 4566
START_TIMEOUT_SECONDS = 30.0


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


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
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the server

    def start(self) -> EmbeddedMoto:
        if _port_in_use(self.host, self.port):
            raise BackendError(
                f"port {self.port} on {self.host} is already in use, so the embedded moto server "
                f"cannot start there: pass --backend-port PORT, or --backend {self.endpoint_url} "
                "to use what is listening"
            )
        command = [sys.executable, "-m", "moto.server", "-H", self.host, "-p", str(self.port)]
        self._process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=self._stderr, stdin=subprocess.DEVNULL
        )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self._stderr.seek(0)
                detail = self._stderr.read().decode(errors="replace").strip().splitlines()[-5:]
                raise BackendError("the embedded moto server exited: " + " | ".join(detail))
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

    def close(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None
        self._stderr.close()

    def describe(self) -> dict:
        described = super().describe()
        described["pid"] = self._process.pid if self._process else None
        return described
