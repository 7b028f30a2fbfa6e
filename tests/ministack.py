"""MiniStack, a LocalStack-compatible emulator that runs without Docker, as a separate process.

It lives in a venv of its own (``make ministack``; it pins its own botocore), and runs the
functions it is given in subprocesses of that venv's Python, like a Lambda of its own.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from emulator.backends.moto_server import free_port

VENV = Path(__file__).parents[1] / os.environ.get("MINISTACK_VENV", ".venv-ministack")
BINARY = VENV / "bin" / "ministack"


class MiniStack:
    def __init__(self, services: str = "") -> None:
        self.services = services  # MiniStack's SERVICES filter; empty: all of them
        self.port = free_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self._log = tempfile.NamedTemporaryFile(prefix="ministack-", suffix=".log")  # noqa: SIM115
        # MiniStack leaves a folder per function it ran in the temporary folder: a private one,
        # removed at close, so that test runs do not pile them up in /tmp.
        self.tmp = tempfile.mkdtemp(prefix="ministack-tmp-")
        self._process: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> MiniStack:
        environment = {
            **os.environ,
            "GATEWAY_PORT": str(self.port),
            "BIND_HOST": "127.0.0.1",
            "IOT_MTLS_ENABLED": "0",  # no MQTT listener on 0.0.0.0:8883
            "SERVICES": self.services,
            "TMPDIR": self.tmp,
        }
        self._process = subprocess.Popen(
            [str(BINARY)], env=environment, stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"MiniStack exited at start:\n{self.log()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.endpoint_url}/_ministack/health", timeout=1).is_success:
                    return self
            time.sleep(0.1)
        self.close()
        raise RuntimeError(f"MiniStack did not answer within {timeout:.0f} s")

    def log(self) -> str:
        return Path(self._log.name).read_text(errors="replace")

    def close(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None
        self._log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)
