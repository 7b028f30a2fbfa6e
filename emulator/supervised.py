"""``timeoutlab up`` run by another program (the ``timeoutlab`` package's ``Stack``, a CI script):
the ready file it waits for, and the watch that stops the emulator when that program dies.

- ``write_ready_file``: once every port serves, the ``/_emulator/health`` JSON (every URL) is
  written to a file atomically (a temporary file in the same folder, then a rename), so a reader
  never sees half of it.
- ``ParentWatch``: the emulator stops, through its own stop path (gateways, execution
  environments, the embedded moto server), when its standard input reaches end of file (the
  parent passes a pipe it never writes: the kernel closes it when the parent dies, SIGKILL
  included) or when its parent process is gone (it is re-parented). Both, because a process the
  parent forked may still hold the pipe open.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

#: Real seconds between two looks at the parent process id.
PARENT_POLL_S = 0.5


def write_ready_file(path: Path, health: dict) -> None:
    """Write ``health`` (the ``/_emulator/health`` answer) as JSON to ``path`` atomically: into a
    temporary file beside it, then renamed over it. Raises OSError when the folder is not
    writable."""
    path = Path(path)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            json.dump(health, stream)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


class ParentWatch:
    """Calls ``on_parent_gone`` (once, on the event loop ``loop``) when standard input reaches
    end of file or the parent process id changes from what it was at ``start``."""

    def __init__(self, loop: asyncio.AbstractEventLoop, on_parent_gone: Callable[[], None]):
        self._loop = loop
        self._on_parent_gone = on_parent_gone
        self._parent = os.getppid()
        self._fired = False
        self._poll: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin watching: a daemon thread reads standard input to its end, a task polls the
        parent id every ``PARENT_POLL_S`` real seconds."""
        threading.Thread(target=self._read_stdin, name="timeoutlab-parent", daemon=True).start()
        self._poll = self._loop.create_task(self._poll_parent())

    def stop(self) -> None:
        if self._poll is not None:
            self._poll.cancel()
            self._poll = None

    def _fire(self) -> None:
        if not self._fired:
            self._fired = True
            self._on_parent_gone()

    def _read_stdin(self) -> None:
        stream = sys.stdin.buffer if sys.stdin is not None else None
        try:
            while stream is not None and stream.read(65536):
                pass  # the parent never writes; whatever it does is dropped
        except (OSError, ValueError):
            pass  # a closed or unreadable stdin counts as the end of it
        with contextlib.suppress(RuntimeError):  # the loop is closed: the emulator stopped
            self._loop.call_soon_threadsafe(self._fire)

    async def _poll_parent(self) -> None:
        # Polled: the kernel tells a child nothing when its parent dies (no event to await).
        while os.getppid() == self._parent:  # noqa: ASYNC110
            await asyncio.sleep(PARENT_POLL_S)
        self._fire()
