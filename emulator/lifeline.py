"""A lifeline: every child process the emulator starts dies when the emulator dies, however it dies.

The emulator (the process that runs ``timeoutlab up``, the demo, a scenario or a test) owns one
pipe. It keeps the write end, which no child inherits (``os.pipe`` makes both ends
non-inheritable, and children get only the read end, through ``pass_fds``), and never writes to
it. Each child gets the read end's number in ``TIMEOUTLAB_LIFELINE_FD`` and, first thing, starts a
thread blocked reading it (``hold``). The kernel closes the write end when the emulator's process
ends for any reason, SIGKILL and a crash included; every child's read then returns end-of-file,
and the child SIGKILLs itself, or its whole process group when it leads one. An execution
environment's runtime holds the line with its own copy of ``hold`` and ends its whole tree, what
its handler started included, detached or double-forked (``emulator/runtime/process_tree.py``).

Why a pipe and not ``prctl(PR_SET_PDEATHSIG)``: the death signal fires when the *thread* that forked
the child ends, not the process
(https://man7.org/linux/man-pages/man2/PR_SET_PDEATHSIG.2const.html), and the emulator starts
children from its event loop's thread, from ``asyncio.to_thread`` workers (the moto server,
restarted by the watcher) and from the caller's thread; setting it needs code between fork and exec
(``preexec_fn``, unsafe with threads) or a helper process exec'd first (an extra interpreter start
on every cold start); and Node.js cannot call prctl at all. A pipe's end-of-file depends on the
process alone, has no race (a child started after the emulator died reads end-of-file at once),
costs no process and is read as easily by Node.js (``bootstraps/node/bootstrap.mjs``) as by Python.
All children share the read end's open file description, whose O_NONBLOCK flag Node.js sets: the
Python side waits in ``select`` when a read would block, so it holds the line whichever runtime
started first.

The execution environments' Python bootstrap is self-contained (it imports nothing of the
emulator's), so it holds the line with a copy of ``hold``'s few lines; keep the three in step.
The two runtimes do one thing more: when their Runtime API fails (which the emulator does only
after killing the environment, so only while the emulator is dying), they wait up to 2 s for the
lifeline's end before exiting, so that their own exit cannot come first and leave what the
handler started running.
"""

from __future__ import annotations

import os
import select
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass

#: The variable naming the read end's file descriptor in a child (removed once read, so a
#: handler's environment stays as AWS sets it).
LIFELINE_VARIABLE = "TIMEOUTLAB_LIFELINE_FD"


@dataclass(frozen=True)
class Lifeline:
    """One process's pipe: ``read_fd`` goes to its children, ``write_fd`` stays with it."""

    read_fd: int
    write_fd: int
    owner_pid: int

    @property
    def environment(self) -> dict[str, str]:
        """What to add to a child's environment: ``{"TIMEOUTLAB_LIFELINE_FD": "<fd>"}``."""
        return {LIFELINE_VARIABLE: str(self.read_fd)}

    @property
    def pass_fds(self) -> tuple[int]:
        """The file descriptors to pass (``subprocess``'s and asyncio's ``pass_fds``)."""
        return (self.read_fd,)


_line: Lifeline | None = None


def lifeline() -> Lifeline:
    """This process's lifeline, made at the first call (a forked child makes its own: the
    inherited one belongs to its parent). The two file descriptors stay open until the process
    ends; that end is the whole point."""
    global _line
    if _line is None or _line.owner_pid != os.getpid():
        read_fd, write_fd = os.pipe()
        _line = Lifeline(read_fd, write_fd, os.getpid())
    return _line


def child_environment(environment: dict[str, str] | None = None) -> dict[str, str]:
    """``environment`` (default: this process's) plus the lifeline's variable, for a child
    started with ``pass_fds=lifeline().pass_fds``."""
    base = dict(os.environ if environment is None else environment)
    return {**base, **lifeline().environment}


def hold(kill: Callable[[], None] | None = None) -> bool:
    """In a child: take the lifeline from ``TIMEOUTLAB_LIFELINE_FD`` (removing the variable and
    keeping the descriptor from this process's own children) and watch it from a thread of its
    own; when the parent that started this process ends, ``kill`` runs (default: SIGKILL to this
    process's group if it leads one, else to itself). Returns False when there is no lifeline
    (the process was not started by timeoutlab), True once it is held.

    The thread is a real OS thread even under gevent's monkey patching (a Locust process), so
    its blocking read never stalls the hub."""
    text = os.environ.pop(LIFELINE_VARIABLE, None)
    if not text or not text.isdigit():
        return False
    fd = int(text)
    try:
        os.set_inheritable(fd, False)
    except OSError:
        return False  # not open: nothing to hold
    _start_thread(_watch, (fd, kill or _die))
    return True


def _watch(fd: int, kill: Callable[[], None]) -> None:
    """Block until the pipe's end-of-file, then ``kill()``. The read end's open file description
    is shared by every child, and Node.js (libuv) makes it non-blocking: a read that would block
    then waits in ``select`` instead, which reports end-of-file as readable."""
    while True:
        try:
            data = os.read(fd, 1)
        except BlockingIOError:
            select.select([fd], [], [])
            continue
        except OSError:
            return  # closed under us (not the parent's end): stop watching, kill nothing
        if not data:
            kill()
            return


def _die() -> None:
    """SIGKILL this process's group when it leads one (an execution environment: the handler's
    own children go too), else this process alone."""
    if os.getpgrp() == os.getpid():
        os.killpg(os.getpid(), signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)


def _start_thread(function: Callable[..., None], args: tuple) -> None:
    """``_thread.start_new_thread``, the original one if gevent has patched it."""
    if "gevent.monkey" in sys.modules:
        from gevent import monkey

        start = monkey.get_original("_thread", "start_new_thread")
    else:
        import _thread

        start = _thread.start_new_thread
    start(function, args)
