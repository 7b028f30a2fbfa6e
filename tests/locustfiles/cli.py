"""The real Locust CLI in a subprocess, as the locustfile tests run it, and what they read back.

A test reads only what Locust writes once, after the run has stopped: the ``--json-file`` stats
(written at exit) and the ``--html`` report (written when the run ends), and the timeoutlab CSVs
the locustfiles write at ``test_stop``. Never Locust's own ``--csv`` files: a greenlet rewrites
them once a second (``locust.stats.CSV_STATS_INTERVAL_SEC``) while the test runs, and nothing
rewrites them at exit (``shutdown`` only closes them), so they miss what happened after the last
rewrite, up to a second of a run or more on a loaded machine (locustio/locust#1806).
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]
LOCUST = str(Path(sys.executable).parent / "locust")
LOCUSTFILES = ROOT / "locustfiles"
#: The shape that ends a run on what the users did (see its docstring for why not --run-time).
UNTIL = str(Path(__file__).with_name("until.py"))
#: Locust imports this checkout's packages, whatever the venv has installed.
ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
}


def locustfile(name: str, *, until: bool = False) -> str:
    """The ``-f`` of a locustfile of ours, with the ``until`` shape beside it if asked."""
    path = str(LOCUSTFILES / name)
    return f"{path},{UNTIL}" if until else path


def outputs(prefix: Path) -> list[str]:
    """The options that make Locust write what ``final_stats`` and ``final_failures`` read, and
    give the locustfiles the prefix of their own CSVs."""
    return ["--csv", str(prefix), "--json-file", str(prefix), "--html", f"{prefix}.html"]


def final_stats(prefix: Path) -> dict[tuple[str, str], dict]:
    """Every request entry of the run, by (type, name), as Locust saved it at exit."""
    entries = json.loads(Path(f"{prefix}.json").read_text())
    return {(entry["method"], entry["name"]): entry for entry in entries}


def final_failures(prefix: Path) -> list[dict]:
    """Every failure of the run (method, name, error, occurrences), from the HTML report."""
    html = Path(f"{prefix}.html").read_text()
    match = re.search(r"window\.templateArgs = (.*)", html)
    assert match, "the HTML report has no templateArgs"
    return json.loads(match[1])["failures_statistics"]
