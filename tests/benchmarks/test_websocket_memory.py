"""The gateway memory breakdown, run for real on a few connections: it opens them on a stack in
its process and reports Python allocations that grew with them, by file and by line. How much is
a figure (printed), not checked beyond being there and above zero."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
GREW = re.compile(r"^(\d+) idle connections beyond 20: Python allocations grew (\d+\.\d) KB", re.M)
ROW = re.compile(r"^ +(-?\d+) +(-?\d+\.\d\d)  (\S+)$", re.M)


@pytest.mark.timeout(200)
def test_it_measures_what_open_connections_allocate():
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.websocket_memory", "--connections", "30", "--top", "5"],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    opened, grew = GREW.search(out).groups()
    assert int(opened) == 30, out
    assert float(grew) > 0, out
    rows = ROW.findall(out)
    assert len(rows) == 10, out  # five files, five lines
    assert any(where.startswith("emulator/gateway/") for _, _, where in rows), out
