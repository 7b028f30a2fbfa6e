"""When the emulator reports its backend down, restarts it, or exits; how often it checks.

The backend (S3, DynamoDB, SQS for the handlers) is either the embedded moto server, a child
process of the emulator, or an external endpoint (LocalStack, MiniStack, a URL). This is not an
AWS behaviour: AWS's services do not go away under a function. It is the emulator's own promise
that a dead backend is never hidden: health says so at once and the log says so in one line.

- The embedded moto server is watched as a process: when it has exited, the policy
  (``--on-backend-exit``) says whether to start it again (``restart``, the default: empty, the
  service's resources recreated) or to stop the emulator with a non-zero exit code (``exit``).
  A restart that fails is tried again after a growing delay.
- An external backend is not ours to restart: it is checked with a cheap request every few
  real seconds; while it does not answer, it is reported down and checked again after a growing
  delay (backoff), so a backend that is gone for long is not hammered.

Pure rules: the caller says what it saw (alive or not, how many failures in a row) and gets a
typed decision; nothing here reads a clock or touches a process or a socket. Seconds are real
seconds (the backend's own time, which the emulated time scale does not touch).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class OnBackendExit(StrEnum):
    """What the emulator does when its embedded backend process exits (``--on-backend-exit``)."""

    RESTART = "restart"
    EXIT = "exit"


class BackendState(StrEnum):
    """What health says of the backend (``backend.state``)."""

    UP = "up"
    DOWN = "down"  # exited or not answering
    RESTARTING = "restarting"  # the embedded server is being started again


#: Health's ``status``: ``ok`` while the backend is up, else ``degraded``.
HEALTH_OK = "ok"
HEALTH_DEGRADED = "degraded"

#: The exit code of ``timeoutlab up`` stopped by ``--on-backend-exit exit`` (2 is a bad start).
BACKEND_EXIT_CODE = 3

#: How often the embedded server's process is looked at (real seconds): a ``poll()``, no I/O.
PROCESS_POLL_SECONDS = 0.2
#: An external backend is checked this often while it answers (real seconds)...
CHECK_INTERVAL_SECONDS = 3.0
#: ...and, while it does not, after a delay doubled per failure in a row up to this.
CHECK_BACKOFF_MAX_SECONDS = 30.0
#: A check's own time limit (real seconds): one cheap request.
CHECK_TIMEOUT_SECONDS = 2.0
#: A restart of the embedded server that failed is tried again after this, doubled per failure.
RESTART_DELAY_SECONDS = 1.0
RESTART_DELAY_MAX_SECONDS = 30.0


def health_status(state: BackendState) -> str:
    """Health's top-level ``status`` for a backend in ``state``: ``ok`` or ``degraded``."""
    return HEALTH_OK if state is BackendState.UP else HEALTH_DEGRADED


@dataclass(frozen=True)
class Restart:
    """Start the embedded server again after ``seconds`` (real; 0 for now)."""

    seconds: float = 0.0


@dataclass(frozen=True)
class Exit:
    """Stop the emulator: ``message`` is the one line it prints, ``code`` its exit code."""

    message: str
    code: int = BACKEND_EXIT_CODE


ExitDecision = Restart | Exit


def after_process_exit(
    policy: OnBackendExit, what: str, pid: int, returncode: int | None
) -> ExitDecision:
    """What follows the embedded backend process's exit (``what`` names it, e.g. "the embedded
    moto server"): a restart at once, or the emulator's exit with a one-line message."""
    if policy is OnBackendExit.RESTART:
        return Restart(0.0)
    return Exit(
        f"{what} (pid {pid}) exited with code {returncode}; --on-backend-exit exit: stopping "
        "the emulator (run with --on-backend-exit restart to have it started again, empty)"
    )


def backoff(failures: int, first: float, maximum: float) -> float:
    """``first`` doubled per failure in a row beyond the first, at most ``maximum`` (seconds);
    ``failures`` < 1 gives ``first``."""
    return min(first * 2 ** max(0, failures - 1), maximum)


def restart_delay(failed_restarts: int) -> float:
    """Seconds to wait before the next restart after ``failed_restarts`` failed ones in a row."""
    if failed_restarts <= 0:
        return 0.0
    return backoff(failed_restarts, RESTART_DELAY_SECONDS, RESTART_DELAY_MAX_SECONDS)


def next_check_delay(failures: int) -> float:
    """Seconds until the next check of an external backend that failed ``failures`` checks in a
    row (0: it answered): the steady interval while it answers, a growing one while it does not."""
    if failures <= 0:
        return CHECK_INTERVAL_SECONDS
    return backoff(failures, CHECK_INTERVAL_SECONDS, CHECK_BACKOFF_MAX_SECONDS)


@dataclass(frozen=True)
class Transition:
    """A change of the backend's state worth one log line (None when nothing changed)."""

    before: BackendState
    after: BackendState


def transition(before: BackendState, answered: bool) -> Transition | None:
    """The change a check's outcome makes to an external backend's state, if any: up -> down
    when it stops answering, down -> up when it answers again."""
    after = BackendState.UP if answered else BackendState.DOWN
    return None if after is before else Transition(before, after)


#: A werkzeug (moto server) access-log line: ``127.0.0.1 - - [30/Nov/2026 22:00:00] "GET / HTTP/1.1"
#: 200 -``. Such lines say what the server answered, never why it stopped.
_ACCESS_LOG_LINE = re.compile(r'^\S+ - \S+ \[[^\]]*\] "')


def last_words(lines: list[str], keep: int) -> list[str]:
    """The last ``keep`` of a dead server's stderr ``lines`` that say something: its access-log
    lines (one per request it answered) and blank lines left out, so the ``backend down`` line
    quotes its error (or nothing), not the requests it answered last."""
    meaningful = [line for line in lines if line.strip() and not _ACCESS_LOG_LINE.match(line)]
    return meaningful[-keep:] if keep > 0 else []


@dataclass
class FailureRun:
    """The usage proxy's requests that failed in a row because the backend did not answer: one
    log line when a run starts and one, with its count, when the backend answers again, instead
    of one per failed request (a dead backend under load fails hundreds)."""

    failed: int = 0

    def failure(self) -> bool:
        """Count a failed request; True when it starts a run (the one to log)."""
        self.failed += 1
        return self.failed == 1

    def answered(self) -> int:
        """The backend answered: the number of requests the run that ends here failed (0 when
        there was none; log it otherwise)."""
        ended, self.failed = self.failed, 0
        return ended
