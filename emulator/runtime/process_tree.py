"""An execution environment's process tree: reading it, keeping it whole, ending all of it.

On AWS an execution environment is a microVM (Firecracker) whose processes are the runtime, the
extensions and what they start; when it ends (shutdown, or a reset after a crash or a timeout),
every process in it ends too, daemons included
(https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html, "Shutdown phase"
and "Failures during the invoke phase"). Here an environment is a process, so timeoutlab keeps
what it starts together and ends it as one:

- the environment's runtime process is a *child subreaper* (Linux ``prctl(PR_SET_CHILD_SUBREAPER)``,
  https://man7.org/linux/man-pages/man2/PR_SET_CHILD_SUBREAPER.2const.html): a process its handler
  starts that detaches (``setsid``, ``start_new_session=True``) or is double-forked is reparented
  to the runtime, not to init, so it stays one of the runtime's descendants. The Python runtime
  sets it itself (``bootstraps/python``); Node.js cannot call prctl, so its command starts with
  ``SUBREAPER_SHIM``, which sets it and execs ``node`` (the attribute survives execve; a few ms
  more per cold start, no process more);
- ``Members`` remembers every descendant seen (the memory watch reads the tree during each
  invocation), so those seen are ended even when the runtime itself died first and they were
  reparented away;
- ``end_tree`` stops the runtime (so it starts nothing more), SIGKILLs its descendants round after
  round until only zombies are left (a killed process's children are reparented to the stopped
  runtime before it becomes a zombie, so the next round finds them), then the process group and
  the runtime.

Elsewhere (no prctl, no ``/proc``) the tree is read through psutil's parent links and a process
that detaches is not kept: ending the process group (which an environment leads) is what is
left, as before. A Linux runtime that dies on its own (``os._exit``, a signal) leaves its
descendants to init: those seen by a read of the tree are ended with the environment; one started
after the last read is not (documented in the README). Zombies of detached processes that exit
while their environment lives are reaped when the environment ends (they pass to init).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time

import psutil

#: ``prctl`` option number of PR_SET_CHILD_SUBREAPER (linux/prctl.h).
PR_SET_CHILD_SUBREAPER = 36
#: Whether environments can be subreapers here.
SUBREAPER_SUPPORTED = sys.platform.startswith("linux")
#: Run as ``python -I -S -c SUBREAPER_SHIM command...``: become a child subreaper, then exec
#: the command (the attribute is "preserved across execve(2)", prctl(2)). A failed prctl
#: (a kernel before 3.4) execs the command anyway.
SUBREAPER_SHIM = (
    "import ctypes, os, sys\n"
    f"ctypes.CDLL(None, use_errno=True).prctl({PR_SET_CHILD_SUBREAPER}, 1, 0, 0, 0)\n"
    "os.execvp(sys.argv[1], sys.argv[1:])\n"
)
#: How long (real seconds) ``end_tree`` keeps killing a tree that keeps growing or whose killed
#: members are not yet zombies; past it, what is left is reported.
END_TREE_LIMIT_S = 2.0
#: The pause between two rounds of ``end_tree`` that found killed members still running.
END_TREE_ROUND_S = 0.002
#: How many remembered members make ``Members.note`` forget those that have ended.
MEMBERS_PRUNE_AT = 64


def subreaper_command(command: list[str]) -> list[str]:
    """``command`` started as a child subreaper (through ``SUBREAPER_SHIM`` on this project's
    Python), or ``command`` itself where there are no subreapers."""
    if not SUBREAPER_SUPPORTED:
        return command
    return [sys.executable, "-I", "-S", "-c", SUBREAPER_SHIM, *command]


def descendants(pid: int) -> list[int]:
    """The ids of a process's descendants (depth first), ``[]`` when it is gone.

    On Linux, from each thread's ``/proc/<pid>/task/<tid>/children`` (the tree's own files);
    where the kernel has none, psutil's ``children``, which reads every process's parent."""
    if not _CHILDREN_FILES:
        return _psutil_descendants(pid)
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []  # gone
    found: list[int] = []
    for task in tasks:
        listed = read_proc(f"/proc/{pid}/task/{task}/children")
        if listed is None:
            continue  # the thread ended meanwhile
        for child in listed.split():
            found += [int(child), *descendants(int(child))]
    return found


def read_proc(path: str) -> bytes | None:
    """A small /proc file's bytes (one read, no buffered file object: this runs several times
    per invocation), or None when it cannot be read."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        data = os.read(fd, _PROC_READ)
        while len(data) % _PROC_READ == 0 and data:  # a full read: there may be more
            more = os.read(fd, _PROC_READ)
            if not more:
                break
            data += more
        return data
    except OSError:
        return None
    finally:
        os.close(fd)


#: Bytes read of a /proc file: ``status`` is about 1.5 KB, a ``children`` list a few bytes.
_PROC_READ = 16 * 1024


#: Whether this kernel lists each thread's children in /proc (Linux with CONFIG_PROC_CHILDREN).
_CHILDREN_FILES = os.path.exists(f"/proc/{os.getpid()}/task/{os.getpid()}/children")


def _psutil_descendants(pid: int) -> list[int]:
    try:
        return [p.pid for p in psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return []


def running(pid: int) -> bool:
    """Whether ``pid`` is a process that has not ended (a zombie has ended: it waits only for
    its parent to read its status). Checked before each warm invocation, so on Linux it reads
    the state field of ``/proc/<pid>/stat`` (proc(5): the letter after the command's closing
    parenthesis) in one read; elsewhere psutil."""
    if _PROC_STAT:
        stat = read_proc(f"/proc/{pid}/stat")
        if stat is None:
            return False  # gone
        state = stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3]
        return state not in (b"Z", b"X")  # zombie, dead
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


#: Whether this system has Linux's /proc/<pid>/stat.
_PROC_STAT = os.path.exists(f"/proc/{os.getpid()}/stat")


class Members:
    """The processes ever seen in one environment's tree, by id, each with its start time (so a
    reused id is never mistaken for a member: psutil checks it before signalling)."""

    def __init__(self) -> None:
        self._seen: dict[int, psutil.Process] = {}
        self._prune_at = MEMBERS_PRUNE_AT

    def __len__(self) -> int:
        return len(self._seen)

    def note(self, pids: list[int]) -> None:
        """Remember ``pids`` (descendants just read); ids already known cost a dict lookup.
        Members that have ended are forgotten once there are ``MEMBERS_PRUNE_AT`` (or twice as
        many as the last pruning kept), so a handler that runs a command per invocation does
        not grow the list for ever."""
        for pid in pids:
            if pid not in self._seen:
                with contextlib.suppress(psutil.Error):
                    self._seen[pid] = psutil.Process(pid)
        if len(self._seen) >= self._prune_at:
            self._seen = {pid: p for pid, p in self._seen.items() if _alive(p)}
            self._prune_at = max(MEMBERS_PRUNE_AT, 2 * len(self._seen))

    def kill(self) -> int:
        """SIGKILL every remembered member still running (not one whose id was reused): how
        many were."""
        killed = 0
        for process in self._seen.values():
            with contextlib.suppress(psutil.Error):
                if process.status() != psutil.STATUS_ZOMBIE:
                    process.kill()
                    killed += 1
        self._seen.clear()
        return killed


def _alive(process: psutil.Process) -> bool:
    """Still the process first seen (not a reused id) and not ended."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def end_tree(leader: int, members: Members | None = None) -> list[int]:
    """End an environment: SIGSTOP ``leader`` (its runtime), SIGKILL its descendants round after
    round until none is running (at most ``END_TREE_LIMIT_S`` real seconds), then its process
    group and ``leader`` itself, then ``members`` seen earlier that have left the tree. Returns
    the ids of descendants still running at the limit (``[]`` when the tree is gone). Never
    raises for processes already gone."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(leader, signal.SIGSTOP)
    killed: set[int] = set()
    deadline = time.monotonic() + END_TREE_LIMIT_S
    left: list[int] = []
    while True:
        left = [pid for pid in descendants(leader) if running(pid)]
        for pid in left:
            if pid not in killed:
                killed.add(pid)
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
        if not left or time.monotonic() > deadline:
            break
        time.sleep(END_TREE_ROUND_S)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(leader, signal.SIGKILL)
    end_group(leader, members)
    return left


def end_group(pgid: int, members: Members | None = None) -> None:
    """SIGKILL what is left of the process group ``pgid`` (an environment's: its runtime leads
    it) and ``members``. For a runtime already reaped too: the kernel does not give a process
    group's id to a new process while the group has members, so the signal reaches only the
    environment's processes, if any."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
    if members is not None:
        members.kill()
