"""An environment's process tree against real processes: a child subreaper keeps what it starts,
detached and double-forked included, and ``end_tree`` ends all of it."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator

import psutil
import pytest

from emulator.runtime import process_tree
from emulator.runtime.process_tree import (
    SUBREAPER_SUPPORTED,
    Members,
    descendants,
    end_tree,
    running,
    subreaper_command,
)
from tests.support import wait_until

pytestmark = pytest.mark.skipif(not SUBREAPER_SUPPORTED, reason="child subreapers are Linux's")

#: A runtime stand-in: starts a child in a session of its own and a double-forked daemon (its
#: parent exits at once), prints their ids, then waits.
LEADER = """
import os, subprocess, sys, time
session = subprocess.Popen(["sleep", "300"], start_new_session=True)
read, write = os.pipe()
middle = os.fork()
if middle == 0:
    os.setsid()
    daemon = os.fork()
    if daemon == 0:
        os.execvp("sleep", ["sleep", "302"])
    os.write(write, str(daemon).encode())
    os._exit(0)
os.waitpid(middle, 0)
print(session.pid, int(os.read(read, 32)), flush=True)
time.sleep(300)
"""


@contextlib.contextmanager
def started(command: list[str]) -> Iterator[tuple[subprocess.Popen, int, int]]:
    """``command`` (``LEADER``) running: the leader, its detached child's and its daemon's ids.
    The test ends the tree; whatever of the two it left running is killed after."""
    leader = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert leader.stdout is not None
    session, daemon = (int(pid) for pid in leader.stdout.readline().split())
    try:
        yield leader, session, daemon
    finally:
        for pid in (session, daemon):
            with contextlib.suppress(psutil.Error):
                psutil.Process(pid).kill()


def ended(leader: subprocess.Popen, session: int, daemon: int) -> None:
    """Wait for the leader, its detached child and its daemon to have ended."""
    leader.wait(timeout=30)
    wait_until(lambda: not running(session) and not running(daemon))


def test_a_subreaper_keeps_detached_and_double_forked_children_and_end_tree_ends_them():
    with started(subreaper_command([sys.executable, "-c", LEADER])) as (leader, session, daemon):
        # The shim exec'd the command (same process) and left it a subreaper: the daemon,
        # whose parent exited, was reparented to it.
        assert psutil.Process(daemon).ppid() == leader.pid
        assert set(descendants(leader.pid)) >= {session, daemon}
        assert end_tree(leader.pid) == []
        ended(leader, session, daemon)


def test_without_a_subreaper_the_daemon_leaves_the_tree_and_only_members_seen_end_it():
    """The control: a plain process loses its double-forked daemon to another ancestor, so
    ``end_tree`` alone would miss it; a member seen before is still ended."""
    with started([sys.executable, "-c", LEADER]) as (leader, session, daemon):
        assert daemon not in descendants(leader.pid)
        members = Members()
        members.note([session, daemon])
        assert end_tree(leader.pid, members) == []
        ended(leader, session, daemon)


def test_an_unknown_member_is_not_remembered_and_an_exited_runtime_is_no_error():
    stranger = subprocess.Popen(["sleep", "30"])
    try:
        members = Members()
        members.note([999_999_999])  # no such process: not remembered
        assert members.kill() == 0
        # A runtime that has exited but is not reaped yet (its id is still its own).
        exited = subprocess.Popen(["true"], start_new_session=True)
        wait_until(lambda: not running(exited.pid))
        assert end_tree(exited.pid, members) == []
        exited.wait(timeout=30)
        assert running(stranger.pid)
    finally:
        stranger.kill()
        stranger.wait(timeout=30)


def test_members_that_ended_are_forgotten_past_the_pruning_size(monkeypatch):
    monkeypatch.setattr(process_tree, "MEMBERS_PRUNE_AT", 3)
    lasting = subprocess.Popen(["sleep", "30"])
    brief = [subprocess.Popen(["true"]) for _ in range(2)]
    try:
        for process in brief:  # ended, not yet reaped: still there to be noted
            wait_until(lambda process=process: not running(process.pid))
        members = Members()
        members.note([lasting.pid, *(process.pid for process in brief)])
        assert len(members) == 1  # the two that ended were forgotten
        assert members.kill() == 1
        assert lasting.wait(timeout=30) == -9
    finally:
        for process in [lasting, *brief]:
            with contextlib.suppress(OSError):
                process.kill()
            process.wait(timeout=30)
