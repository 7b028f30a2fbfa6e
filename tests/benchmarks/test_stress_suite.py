"""benchmarks/stress_suite.py on a tiny test file of its own: exit status, summary, failed tests.

One run under one hog each; the runs' wall times are printed, never compared with anything.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "stress_suite.py"
WALL = r"(?:\d+m\d\ds|\d+\.\ds)"  # printed, never bounded: 4.2s or 3m12s

PASSING = """
def test_one():
    assert 1 + 1 == 2
"""

FAILING = """
def test_passes():
    assert True


def test_fails():
    assert 1 + 1 == 3
"""


def stress(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    test_file = tmp_path / "test_tiny.py"
    test_file.write_text(source)
    return subprocess.run(
        [
            *(sys.executable, str(SCRIPT), "--runs", "1", "--hogs", "1"),
            *("--log-dir", str(tmp_path / "logs"), "--", str(test_file)),
            # Test ids relative to the tiny file's folder, wherever the checkout lives.
            *("--rootdir", str(tmp_path)),
        ],
        capture_output=True,
        text=True,
        timeout=100,
    )


def summary(stdout: str) -> str:
    lines = [line for line in stdout.splitlines() if line.startswith("stress_suite: ")]
    assert len(lines) == 2, stdout  # the plan at the start and the result at the end
    return lines[-1]


def assert_hogs_stopped(stdout: str) -> None:
    """The hog was stopped and reaped: left running, it would live on, adopted by init."""
    pids = re.search(r"under 1 CPU hog \(pids (\d+)\)", stdout)
    assert pids, stdout
    with pytest.raises(ProcessLookupError):
        os.kill(int(pids.group(1)), 0)


def test_a_green_run_exits_0_and_says_so(tmp_path):
    result = stress(tmp_path, PASSING)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(rf"^run 1/1: PASS  1 passed in .+  \({WALL} wall\)$", result.stdout, re.M)
    assert re.fullmatch(
        r"stress_suite: 1 of 1 runs green under 1 CPU hog on \d+ CPUs "
        rf"\(pytest -q {re.escape(str(tmp_path / 'test_tiny.py'))} "
        rf"--rootdir {re.escape(str(tmp_path))}\), median {WALL}",
        summary(result.stdout),
    ), result.stdout
    assert "failed tests" not in result.stdout
    assert_hogs_stopped(result.stdout)
    assert (tmp_path / "logs" / "run-01.log").exists()


def test_a_failing_test_exits_1_and_is_named(tmp_path):
    result = stress(tmp_path, FAILING)
    assert result.returncode == 1, result.stdout + result.stderr
    assert re.search(
        rf"^run 1/1: FAIL  1 failed, 1 passed in .+  \({WALL} wall\)$", result.stdout, re.M
    )
    assert re.match(
        r"stress_suite: 0 of 1 runs green under 1 CPU hog on \d+ CPUs", summary(result.stdout)
    ), result.stdout
    # Once under the run, and once in the closing list with the number of runs it failed in.
    assert re.search(r"^    failed: test_tiny::test_fails$", result.stdout, re.M), result.stdout
    assert re.search(
        r"^failed tests \(runs failed in\):\n +1  test_tiny::test_fails$", result.stdout, re.M
    )
    assert "test_passes" not in result.stdout
    assert_hogs_stopped(result.stdout)
