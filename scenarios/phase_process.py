"""One Locust phase in a child process (``python -m scenarios.locust_phase SPEC OUT``), bounded.

Locust patches the process it is imported in with gevent, so it never runs in the caller's: this
module writes the phase's spec to a temporary directory, runs ``scenarios.locust_phase`` with the
caller's interpreter, waits at most a hard real-time limit and reads the outcome back. Shared by
``timeoutlab scenario run`` (``scenarios.runner``) and ``timeoutlab.run_load``; it imports
neither locust nor gevent.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from emulator.lifeline import child_environment, lifeline

#: The module run in the child process.
PHASE_MODULE = "scenarios.locust_phase"
#: How much of the child's stderr an error carries (characters, from the end).
STDERR_TAIL_CHARS = 4000


class PhaseError(RuntimeError):
    """The phase's process could not start, exited non-zero or wrote no outcome.

    ``stderr_tail`` holds the end of its stderr (empty when stderr was not captured)."""

    def __init__(self, message: str, stderr_tail: str = "") -> None:
        super().__init__(f"{message}\n--- Locust's stderr, last lines ---\n{stderr_tail}".rstrip())
        self.stderr_tail = stderr_tail


class PhaseTimeout(TimeoutError):
    """The phase's process outlived its hard limit and was killed; ``stderr_tail`` as above."""

    def __init__(self, message: str, stderr_tail: str = "") -> None:
        super().__init__(f"{message}\n--- Locust's stderr, last lines ---\n{stderr_tail}".rstrip())
        self.stderr_tail = stderr_tail


def run_phase_process(spec: dict, *, limit_s: float, capture_stderr: bool = True) -> dict:
    """Run one phase (``spec``: ``scenarios.locust_phase``'s JSON) and return its outcome dict
    (``samples``, ``totals``, ``real_seconds``).

    ``limit_s`` is a hard limit in real seconds: past it the child is killed and
    ``PhaseTimeout`` raised. With ``capture_stderr`` the child's stderr (its progress lines, its
    traceback) goes to a file whose tail the errors carry; otherwise it is the caller's stderr.
    Raises ``PhaseError`` for a child that cannot start, exits non-zero or writes no outcome.
    """
    with tempfile.TemporaryDirectory(prefix="timeoutlab-phase-") as tmp:
        spec_path, out_path = Path(tmp, "spec.json"), Path(tmp, "out.json")
        err_path = Path(tmp, "stderr.txt")
        spec_path.write_text(json.dumps(spec))
        command = [sys.executable, "-m", PHASE_MODULE, str(spec_path), str(out_path)]
        with err_path.open("w") as err:
            try:
                child = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=err if capture_stderr else None,
                    # The phase holds its parent's lifeline: it dies with the runner or the
                    # test process, however that ends (SIGKILL included).
                    env=child_environment(),
                    pass_fds=lifeline().pass_fds,
                )
            except OSError as exc:
                raise PhaseError(f"cannot start Locust ({' '.join(command)}): {exc}") from exc
            try:
                code = child.wait(timeout=limit_s)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
                raise PhaseTimeout(
                    f"Locust's phase {spec.get('label', '')!r} did not end within {limit_s:g} "
                    "real s and was killed",
                    _tail(err_path),
                ) from None
            except BaseException:  # interrupted: no orphaned Locust
                child.kill()
                child.wait()
                raise
        if code != 0 or not out_path.exists():
            raise PhaseError(
                f"Locust's phase {spec.get('label', '')!r} exited with {code}", _tail(err_path)
            )
        return json.loads(out_path.read_text())


def _tail(path: Path) -> str:
    try:
        return path.read_text(errors="replace")[-STDERR_TAIL_CHARS:]
    except OSError:
        return ""
