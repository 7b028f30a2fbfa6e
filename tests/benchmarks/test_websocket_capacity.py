"""The capacity benchmark's smoke run: it completes and measures what it says it measures.

Speed is the benchmark's printed output, not a test: no figure is compared with a goal here, and
nothing bounds a time. What is checked can still fail: round trips were completed, the first idle
level was opened at the gateway, and idle connections cost the emulator memory where a level held.
How many idle users were held is a capacity (cold starts of the $connect function's execution
environments on a busy machine decide it), so it is printed, not asserted.
"""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "websocket_capacity.py"
ROUND_TRIPS = r"report round trips per second sustained: (\d+(?:\.\d+)?) "
IDLE_USERS = r"concurrent idle WebSocket users held: (\d+) "
MEMORY = r"emulator memory per idle connection: (-?\d+(?:\.\d+)?|unavailable)"
# A row of the round-trip table: users, round trips/s, p50 ms, p95 ms, reports, failures, ...
# A row of the idle table: users, open at the gateway, held (yes, NO or -), ...
IDLE_ROW = re.compile(r"^ +(\d+) +(\d+) +(yes|NO|-) ", re.M)
STEP = re.compile(r"^ +(\d+) +(\d+\.\d) +(\d+|n/a) +(\d+|n/a) +(\d+) +(\d+) ", re.M)


def quick_plan():
    """The benchmark's own ``--quick`` plan, so its levels are not copied here."""
    spec = importlib.util.spec_from_file_location("websocket_capacity", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # for its dataclasses
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module.Plan.quick()


def figure(pattern: str, stdout: str) -> str:
    match = re.search(pattern, stdout)
    assert match, f"no match for {pattern!r} in:\n{stdout[-2000:]}"
    return match.group(1)


@pytest.mark.timeout(200)
def test_the_quick_run_measures_the_three_figures(tmp_path):
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick"],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    plan = quick_plan()

    # Report round trips: the first step (the fewest users) completed reports, none failed, and
    # the sustained figure is one of the steps' (or 0 where no step kept p95 within its bound,
    # which is a speed and so not checked).
    steps = [match.groups() for match in STEP.finditer(out)]
    assert [int(step[0]) for step in steps] == list(plan.round_trip_users[: len(steps)]), out
    users, rate, _, _, reports, failures = steps[0]
    assert int(reports) > 0, f"no report round trip completed at {users} users:\n{out}"
    assert float(rate) > 0, out
    assert int(failures) == 0, f"round trips failed at {users} users:\n{out}"
    sustained = figure(ROUND_TRIPS, out)
    assert sustained == "0" or sustained in {s[1] for s in steps if s[5] == "0"}, out

    # Idle users: the first level of the quick plan was opened, as the gateway counts them.
    levels = [(int(users), int(opened), held) for users, opened, held in IDLE_ROW.findall(out)]
    assert levels[0] == (0, 0, "-"), out
    users, opened, _ = levels[1]
    assert (users, opened) == (plan.idle_levels[0], plan.idle_levels[0]), out
    held = int(figure(IDLE_USERS, out))
    assert held in (0, *plan.idle_levels), out

    # Memory: more open connections, more emulator memory (read from /proc, Linux only).
    memory = figure(MEMORY, out)
    if not Path("/proc/self/status").exists() or held == 0:
        assert memory == "unavailable", out
    else:
        assert memory != "unavailable", out
        assert float(memory) > 0, f"idle connections cost the emulator no memory:\n{out}"
    assert re.search(r"\b\d+ CPUs\b", out)
