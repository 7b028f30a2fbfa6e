"""The Runtime API cost benchmark: a real short run against this checkout measures something.
Figures are printed, never compared with a goal."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]
SCRIPT = ROOT / "benchmarks" / "runtime_api_cost.py"


def test_a_short_run_measures_the_server_cpu_per_invocation():
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--code", str(ROOT), "--invocations", "20"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    figures = json.loads(done.stdout.splitlines()[0])
    assert (figures["code"], figures["invocations"]) == (str(ROOT.resolve()), 20)
    assert figures["cpu_us_per_invocation"] > 0
    assert "medians:" in done.stdout
