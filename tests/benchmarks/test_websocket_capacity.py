"""The capacity benchmark's smoke run: it completes and prints its three figures as numbers.

Speed is the benchmark's printed output, not a test: no figure is compared with a goal here.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "websocket_capacity.py"
FIGURES = {
    "round trips": r"report round trips per second sustained: (\d+(?:\.\d+)?) ",
    "idle users": r"concurrent idle WebSocket users held: (\d+) ",
    "memory": r"emulator memory per idle connection: (\d+(?:\.\d+)?) KB",
}


@pytest.mark.timeout(200)
def test_the_quick_run_prints_the_three_figures(tmp_path):
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick"],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    figures = dict(FIGURES)
    if not Path("/proc/self/status").exists():  # memory is read from /proc (Linux)
        figures["memory"] = r"emulator memory per idle connection: ()unavailable"
    for figure, pattern in figures.items():
        match = re.search(pattern, result.stdout)
        assert match, f"no {figure} figure in:\n{result.stdout[-2000:]}"
        assert match.group(1) == "" or float(match.group(1)) >= 0
    assert re.search(r"\b\d+ CPUs\b", result.stdout)
