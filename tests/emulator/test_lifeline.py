"""No child outlives the emulator, however the emulator ends: real processes, real signals.

``timeoutlab up`` (the embedded moto server, a Python and a Node.js execution environment, and a
process a handler started) and ``timeoutlab scenario run`` (its Locust phase) are killed with
SIGKILL, which nothing in them can catch, and every process they had started must be gone.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx
import psutil
import pytest

from emulator.lifeline import LIFELINE_VARIABLE
from tests.support import LOAD_SCALE, write_service

TIMEOUTLAB = str(Path(sys.executable).parent / "timeoutlab")
#: Real seconds a killed emulator's children get to go (they go within milliseconds; the margin
#: is for a loaded machine).
GONE_WITHIN_S = 30.0
HAS_NODE = shutil.which("node") is not None

PYTHON_HANDLER = """
import json
import os
import subprocess

# Processes of the handler's own, started once per environment: they must go with it, the one
# in a session of its own (out of the environment's process group) too.
CHILD = subprocess.Popen(["sleep", "600"])
DETACHED = subprocess.Popen(["sleep", "601"], start_new_session=True)


def handler(event, context):
    body = {"pid": os.getpid(), "child": CHILD.pid, "detached": DETACHED.pid,
            "lifeline": os.environ.get("LIFELINE")}
    return {"statusCode": 200, "body": json.dumps(body)}
""".replace("LIFELINE", LIFELINE_VARIABLE)

NODE_HANDLER = """
import { spawn } from "node:child_process";

// Detached: a session of its own, out of the environment's process group.
const detached = spawn("sleep", ["602"], { detached: true, stdio: "ignore" });
detached.unref();

export const handler = async () => ({
  statusCode: 200,
  body: JSON.stringify({
    pid: process.pid, detached: detached.pid, lifeline: process.env.LIFELINE ?? null,
  }),
});
""".replace("LIFELINE", LIFELINE_VARIABLE)


def gone(process: psutil.Process) -> bool:
    """Ended (a zombie runs nothing: whoever inherited it may not reap it at once)."""
    try:
        return not process.is_running() or process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_gone(processes: list[psutil.Process], limit_s: float = GONE_WITHIN_S) -> list[str]:
    """Poll until every process has ended; the ones still running after ``limit_s`` (real)."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if all(gone(process) for process in processes):
            return []
        time.sleep(0.1)
    return [" ".join(p.cmdline()) for p in processes if not gone(p)]


def kill_all(processes: list[psutil.Process]) -> None:
    """Clean up after a failed test: leave nothing running."""
    for process in processes:
        with suppress(psutil.Error):
            process.kill()


def descendants(pid: int) -> list[psutil.Process]:
    return psutil.Process(pid).children(recursive=True)


def wait_for(condition, what: str, limit_s: float = 120.0):
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if found := condition():
            return found
        time.sleep(0.1)
    raise AssertionError(f"not within {limit_s:g} s: {what}")


def service(directory: Path) -> Path:
    functions = """
    python:
      handler: app.handler
      events:
        - http: {path: python, method: get}
    """
    if HAS_NODE:
        functions += """
    node:
      handler: node.handler
      runtime: nodejs20.x
      events:
        - http: {path: node, method: get}
    """
    path = write_service(directory, PYTHON_HANDLER, functions)
    (directory / "node.mjs").write_text(textwrap.dedent(NODE_HANDLER))
    return path


@contextmanager
def up(directory: Path) -> Iterator[tuple[subprocess.Popen, str]]:
    """``timeoutlab up`` on free ports with an embedded moto server; its process and REST URL.
    Whatever is left of it and its children is killed at the end."""
    process = subprocess.Popen(
        [TIMEOUTLAB, "up", "--service", str(service(directory)), "--http-port", "0",
         "--ws-port", "0", "--http-api-port", "0", "--backend-port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    started: list[psutil.Process] = []
    try:
        banner = ""
        deadline = time.monotonic() + 120
        while "stop: Ctrl-C" not in banner and time.monotonic() < deadline:
            line = process.stdout.readline() if process.stdout else ""
            if not line:
                break
            banner += line
        match = re.search(r"GET (http://127\.0\.0\.1:\d+/dev)/python", banner)
        assert match, banner
        started = descendants(process.pid)
        yield process, match.group(1)
    finally:
        started += descendants(process.pid) if process.poll() is None else []
        process.kill()
        process.communicate(timeout=30)
        kill_all(started)


def warm(rest: str) -> tuple[list[psutil.Process], dict]:
    """One request to each function, so their environments exist: the processes they run in
    and what the handlers said. Node.js first: it makes the lifeline's (shared) pipe description
    non-blocking, which a Python environment started after it must cope with."""
    said = {}
    for name in ("node", "python") if HAS_NODE else ("python",):
        response = httpx.get(f"{rest}/{name}", timeout=60)
        assert response.status_code == 200, response.text
        said[name] = response.json()
    pids = [said["python"]["pid"], said["python"]["child"], said["python"]["detached"]]
    pids += [said["node"]["pid"], said["node"]["detached"]] if HAS_NODE else []
    return [psutil.Process(pid) for pid in pids], said


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGTERM], ids=["sigkill", "sigterm"])
def test_no_child_of_up_outlives_it(tmp_path, stop):
    with up(tmp_path) as (process, rest):
        environments, said = warm(rest)
        children = descendants(process.pid)
        try:
            commands = [" ".join(child.cmdline()) for child in children]
            assert any("emulator.backends.moto_serve" in c for c in commands), commands
            assert {p.pid for p in environments} <= {c.pid for c in children}
            # The handlers' environment is AWS's: the lifeline's variable is taken out of it.
            assert all(answer["lifeline"] is None for answer in said.values()), said

            os.kill(process.pid, stop)
            process.wait(timeout=60)
            left = wait_gone(children)
            assert not left, f"still running after the emulator got {stop.name}: {left}"
        finally:
            kill_all(children)  # what a failure left behind


def test_a_child_without_the_lifeline_would_outlive_a_killed_parent(tmp_path):
    """The control: a process that does not hold the lifeline survives its parent's SIGKILL, so
    the test above shows the lifeline at work (a gevent-patched holder, as a Locust phase is)."""
    script = tmp_path / "parent.py"
    script.write_text(
        textwrap.dedent(
            """
            import subprocess, sys, time
            from emulator.lifeline import child_environment, lifeline

            held = (
                "from gevent import monkey; monkey.patch_all(); "
                "from emulator.lifeline import hold; assert hold(); import time; time.sleep(600)"
            )
            for code in (held, "import time; time.sleep(600)"):
                child = subprocess.Popen([sys.executable, "-c", code], env=child_environment(),
                                         pass_fds=lifeline().pass_fds)
                print(child.pid, flush=True)
            time.sleep(600)
            """
        )
    )
    parent = subprocess.Popen(
        [sys.executable, str(script)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
    )
    assert parent.stdout is not None
    held, unheld = (psutil.Process(int(parent.stdout.readline())) for _ in range(2))
    try:
        time.sleep(0.5)  # let the holder get to its hold() (a kill before it is covered too)
        parent.kill()
        parent.wait(timeout=30)
        assert not wait_gone([held])
        time.sleep(0.5)
        assert not gone(unheld)
    finally:
        kill_all([held, unheld])


def test_a_scenario_runs_locust_phase_dies_with_the_runner(moto_server, tmp_path):
    runner = subprocess.Popen(
        [TIMEOUTLAB, "scenario", "run", "reproduction", "--users", "2", "--spawn-rate", "2",
         "--run-time", "600", "--time-scale", str(LOAD_SCALE),
         "--backend", moto_server.endpoint_url, "--json", str(tmp_path / "out.json")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    children: list[psutil.Process] = []
    try:

        def phase_and_environment() -> list[psutil.Process]:
            found = descendants(runner.pid)
            commands = [" ".join(child.cmdline()) for child in found]
            phase = any("scenarios.locust_phase" in command for command in commands)
            environment = any("timeoutlab_bootstrap" in command for command in commands)
            return found if phase and environment else []

        children = wait_for(phase_and_environment, "a Locust phase and an environment running")
        runner.kill()
        runner.wait(timeout=30)
        left = wait_gone(children)
        assert not left, f"still running after the runner got SIGKILL: {left}"
    finally:
        runner.kill()
        runner.wait(timeout=30)
        kill_all(children)
