"""``timeoutlab up`` run by another program: ``--ready-file`` and ``--exit-with-parent``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from emulator.supervised import write_ready_file

#: Real seconds to wait on a loaded machine for the emulator to start or stop.
WITHIN_S = 120.0


def test_the_ready_file_is_written_whole_and_replaced(tmp_path: Path) -> None:
    ready = tmp_path / "ready.json"
    write_ready_file(ready, {"rest_api": "http://127.0.0.1:1/dev", "busy": {}})
    write_ready_file(ready, {"rest_api": "http://127.0.0.1:2/dev", "busy": {}})
    assert json.loads(ready.read_text()) == {"rest_api": "http://127.0.0.1:2/dev", "busy": {}}
    assert sorted(path.name for path in tmp_path.iterdir()) == ["ready.json"]  # no temporaries
    with pytest.raises(FileNotFoundError):
        write_ready_file(tmp_path / "missing" / "ready.json", {})


def _wait_for(path: Path, process: subprocess.Popen) -> dict:
    deadline = time.monotonic() + WITHIN_S
    while not path.exists():
        assert process.poll() is None, "timeoutlab up exited before it was ready"
        assert time.monotonic() < deadline, f"no ready file within {WITHIN_S:g} s"
        time.sleep(0.05)
    return json.loads(path.read_text())


def test_up_writes_the_ready_file_and_stops_when_its_stdin_closes(tmp_path: Path) -> None:
    ready, log = tmp_path / "ready.json", tmp_path / "up.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "emulator.cli", "up", "--http-port", "0", "--ws-port", "0",
             "--http-api-port", "0", "--backend-port", "0", "--no-prewarm",
             "--ready-file", str(ready), "--exit-with-parent"],
            stdin=subprocess.PIPE, stdout=output, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
    try:
        health = _wait_for(ready, process)
        assert health["busy"] == {}
        assert health["status"] == "ok"
        # Every URL is known, the free ports included, and serves.
        assert (
            httpx.get(health["rest_api"].rsplit("/", 1)[0] + "/_emulator/health").json()[
                "websocket_api"
            ]
            == health["websocket_api"]
        )
        assert process.stdin is not None
        process.stdin.close()  # what the kernel does when the parent dies
        assert process.wait(WITHIN_S) == 0
        assert "stopping..." in log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_up_help_documents_both_options() -> None:
    done = subprocess.run([sys.executable, "-m", "emulator.cli", "up", "--help"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    assert "--ready-file PATH" in done.stdout
    assert "--exit-with-parent" in done.stdout
