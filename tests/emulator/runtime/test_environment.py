"""The execution environment's process-tree reads, against real process trees."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time

import psutil

from emulator.runtime.environment import descendants, tree_memory_bytes

#: A child that holds 64 MiB and a grandchild that sleeps, under a parent that waits.
TREE = (
    "import subprocess, sys, time\n"
    "kid = subprocess.Popen([sys.executable, '-c', "
    "'import subprocess, sys, time\\n"
    'g = subprocess.Popen(["sleep", "30"])\\n'
    "hog = bytearray(64 * 1024 * 1024)\\n"
    'print("ready", flush=True)\\n'
    "time.sleep(30)'], stdout=sys.stdout)\n"
    "kid.wait()\n"
)
MIB = 1024 * 1024


def _wait_for(condition, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_descendants_and_their_memory_are_the_whole_tree() -> None:
    parent = subprocess.Popen([sys.executable, "-c", TREE], stdout=subprocess.PIPE)
    try:
        assert parent.stdout is not None
        assert parent.stdout.readline().strip() == b"ready"
        _wait_for(lambda: len(descendants(parent.pid)) == 2)
        found = descendants(parent.pid)
        expected = [p.pid for p in psutil.Process(parent.pid).children(recursive=True)]
        assert sorted(found) == sorted(expected)
        own = psutil.Process(parent.pid).memory_info().rss
        # The 64 MiB the child holds counts, though the parent itself is small.
        assert tree_memory_bytes(parent.pid) >= own + 64 * MIB
    finally:
        for pid in [*descendants(parent.pid), parent.pid]:
            with contextlib.suppress(psutil.Error):
                psutil.Process(pid).kill()
        parent.wait()


def test_a_gone_process_has_no_descendants_and_no_memory() -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    assert descendants(gone.pid) == []
    assert tree_memory_bytes(gone.pid) == 0
