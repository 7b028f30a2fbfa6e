"""examples/ci-regression: a user's own service tested with timeoutlab's pytest plugin alone.

The example's own ``pytest`` run, in a fresh process from the example's folder, as its CI
workflow runs it: its tests use only the plugin's fixture and marker and ``timeoutlab``'s
helpers (``assert_gateway_timeout``, ``assert_ran_on``, ``assert_pushed``, ``run_load``).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ci-regression"
#: Real seconds: the example's run takes about 30 s on an idle machine.
RUN_TIMEOUT_S = 600


def test_the_examples_own_pytest_run_passes() -> None:
    run = subprocess.run(
        # This repository's venv also has looptime, whose plugin needs pytest-asyncio; a user's
        # does not, so it is left out here as this repository's own pytest.ini does.
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:looptime_plugin",
         "-v", "-rA"],
        cwd=EXAMPLE, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False,
    )  # fmt: skip
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    for test in (
        "test_the_quote_answers_at_once",
        "test_a_synchronous_export_hits_the_29_second_wall",
        "test_the_websocket_export_pushes_the_result",
        "test_a_route_timeout_of_5_seconds_cuts_the_export_sooner",
        "test_the_quote_stays_fast_under_50_users",
    ):
        assert f"{test} PASSED" in output, output
