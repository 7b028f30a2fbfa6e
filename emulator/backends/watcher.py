"""The backend's watcher: notices a dead embedded moto server or a silent external backend.

The rules (when to report, restart or exit; how often to check) are in
``emulator.core.backend_watch``; this module owns the process and the sockets: it polls the
embedded server's process, restarts it on the same port and recreates the service's resources,
or checks an external endpoint with a cheap request. Every change of state is one log line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from emulator.backends.endpoint import Backend
from emulator.backends.moto_server import EmbeddedMoto
from emulator.core.backend_watch import (
    PROCESS_POLL_SECONDS,
    BackendState,
    Exit,
    OnBackendExit,
    after_process_exit,
    next_check_delay,
    restart_delay,
    transition,
)

log = logging.getLogger("timeoutlab.backend")

MOTO = "the embedded moto server"


class BackendWatcher:
    """Watches ``backend`` from the stack's event loop until ``stop``.

    ``recreate`` (blocking, run in a thread) creates the service's bucket(s), tables and queues
    on a restarted, empty server and raises BackendError when it cannot; ``on_exit`` is called
    once, on the event loop, when ``policy`` says the emulator must exit. External backends are
    only reported, never restarted. Restarts and checks are in real seconds.
    """

    def __init__(
        self,
        backend: Backend,
        policy: OnBackendExit,
        recreate: Callable[[], None],
        on_exit: Callable[[Exit], None],
    ) -> None:
        self.backend = backend
        self.policy = policy
        self.recreate = recreate
        self.on_exit = on_exit
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        """Begin watching (on the running event loop)."""
        if isinstance(self.backend, EmbeddedMoto):
            watch = self._watch_process(self.backend)
        else:
            watch = self._watch_endpoint()
        self._task = asyncio.get_running_loop().create_task(watch, name="backend-watcher")

    async def stop(self) -> None:
        """Stop watching (before the backend is closed, so a deliberate stop is not a death);
        a restart under way is cancelled."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _watch_process(self, moto: EmbeddedMoto) -> None:
        while True:
            await asyncio.sleep(PROCESS_POLL_SECONDS)
            code = moto.exit_code()
            if code is None:
                continue
            pid = moto.pid or 0
            last_words = moto.last_words(2)
            moto.state = BackendState.DOWN
            moto.down_reason = f"pid {pid} exited with code {code}"
            log.error(
                "backend down: %s (pid %d) exited with code %s%s",
                MOTO,
                pid,
                code,
                f": {last_words}" if last_words else "",
            )
            decision = after_process_exit(self.policy, MOTO, pid, code)
            if isinstance(decision, Exit):
                self.on_exit(decision)
                return
            await self._restart(moto)

    async def _restart(self, moto: EmbeddedMoto) -> None:
        """Start the server again until it comes up, with a growing delay between failures."""
        failures = 0
        moto.state = BackendState.RESTARTING
        while True:
            await asyncio.sleep(restart_delay(failures))
            try:
                await asyncio.to_thread(moto.restart)
                await asyncio.to_thread(self.recreate)
            except Exception as exc:  # BackendError, or an OSError starting the process
                failures += 1
                log.error(
                    "backend restart %d failed: %s; trying again in %g s",
                    failures,
                    exc,
                    restart_delay(failures),
                )
                continue
            moto.restarts += 1
            moto.state = BackendState.UP
            log.warning(
                "backend restarted: %s is up again at %s (pid %s), empty: the service's "
                "bucket(s), tables and queues were recreated; what they held is lost",
                MOTO,
                moto.endpoint_url,
                moto.pid,
            )
            return

    async def _watch_endpoint(self) -> None:
        failures = 0
        while True:
            await asyncio.sleep(next_check_delay(failures))
            try:
                answered = await asyncio.to_thread(self.backend.answers)
            except Exception:  # not an HTTP error: the check itself broke; count it as silence
                log.exception("backend check of %s failed", self.backend.endpoint_url)
                answered = False
            failures = 0 if answered else failures + 1
            change = transition(self.backend.state, answered)
            if change is None:
                continue
            self.backend.state = change.after
            if change.after is BackendState.DOWN:
                self.backend.down_reason = f"{self.backend.endpoint_url} does not answer"
                log.error(
                    "backend down: %s backend at %s does not answer; checking again in %g s "
                    "(it is not restarted by the emulator)",
                    self.backend.kind,
                    self.backend.endpoint_url,
                    next_check_delay(failures),
                )
            else:
                log.warning(
                    "backend up again: %s backend at %s answers",
                    self.backend.kind,
                    self.backend.endpoint_url,
                )
