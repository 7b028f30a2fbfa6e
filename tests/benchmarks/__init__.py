"""Smoke tests of the benchmarks: real short runs that measure something, never a goal."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]


def first_json_line(*arguments: str) -> tuple[dict, str]:
    """Run ``python ARGUMENTS`` in the checkout (a hang guard of 600 s, not a speed bound), check
    it exits 0, and return the JSON of its first output line and all of its output."""
    done = subprocess.run(
        [sys.executable, *arguments],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout.splitlines()[0]), done.stdout
