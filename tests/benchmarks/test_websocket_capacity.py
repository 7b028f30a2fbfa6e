"""The capacity benchmark's smoke run: it completes and measures what it says it measures.

Speed and memory are the benchmark's printed output, not a test: no figure is compared with a goal
here, and nothing bounds a time. What is checked can still fail: the held connections were opened
at the gateway and the server tree's memory was read, the Locust users were opened at the gateway,
and the ceiling's first step completed round trips without failures. How many connections or
users held is a capacity (cold starts on a busy machine decide it), so only the first level is
asserted.
"""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "websocket_capacity.py"
CEILING = r"report round trips per second, ceiling: (\d+(?:\.\d+)?) "
HELD = r"idle WebSocket connections held: (\d+) "
MEMORY = r"memory per idle connection: (-?\d+(?:\.\d+)?|unavailable)"
LOCUST_USERS = r"concurrent WebSocket users from one Locust process: (\d+) "
# Rows of the three tables, each read within its own section of the output:
# held: connections, open at the gateway, held (yes, NO or -), tree RSS MB, emulator MB, ...
HELD_ROW = re.compile(r"^ +(\d+) +(\d+) +(yes|NO|-) +(\d+\.\d|n/a) ", re.M)
# Locust: users, open at the gateway, held, Locust RSS MB, CPU % opening, CPU % holding
LOCUST_ROW = re.compile(r"^ +(\d+) +(\d+) +(yes|NO) +(\d+\.\d|n/a) +(\d+|n/a) +(\d+|n/a)$", re.M)
# ceiling: users, round trips/s, p50 ms, p95 ms, reports, failures, ...
STEP = re.compile(r"^ +(\d+) +(\d+\.\d) +(\d+|n/a) +(\d+|n/a) +(\d+) +(\d+) ", re.M)


def benchmark():
    """The benchmark script as a module (it is run as a script, not imported as a package)."""
    spec = importlib.util.spec_from_file_location("websocket_capacity", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # for its dataclasses
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


def quick_plan():
    """The benchmark's own ``--quick`` plan, so its levels are not copied here."""
    return benchmark().Plan.quick()


def test_levels_past_the_open_files_limit_are_skipped():
    module = benchmark()
    spare = module.SPARE_DESCRIPTORS
    tried, skipped = module.levels_allowed((1000, 5000, 15000), 5000 + spare)
    assert (tried, skipped) == ((1000, 5000), (15000,))
    assert module.levels_allowed((15000,), module.resource.RLIM_INFINITY) == ((15000,), ())


def figure(pattern: str, stdout: str) -> str:
    match = re.search(pattern, stdout)
    assert match, f"no match for {pattern!r} in:\n{stdout[-2000:]}"
    return match.group(1)


def sections(out: str) -> dict[str, str]:
    """The output cut at its section headings: "1.", "2.", "3." and "Figures"."""
    marks = {name: out.index(mark) for name, mark in HEADINGS.items()}
    ordered = sorted(marks, key=marks.get)
    ends = [marks[name] for name in ordered[1:]] + [len(out)]
    return {name: out[marks[name] : end] for name, end in zip(ordered, ends, strict=True)}


HEADINGS = {
    "held": "\n1. Idle WebSocket connections held",
    "locust": "\n2. Concurrent WebSocket users from one Locust process",
    "ceiling": "\n3. Report round-trip ceiling",
    "figures": "\nFigures (",
}


@pytest.mark.timeout(240)
def test_the_quick_run_measures_the_three_figures(tmp_path):
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick"],
        capture_output=True,
        text=True,
        timeout=220,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = "\n" + result.stdout
    plan = quick_plan()
    part = sections(out)
    proc = Path("/proc/self/status").exists()

    # Held connections: the first level was opened, as the gateway counts them, with the tree's
    # memory read at it (and at the baseline row before it).
    rows = HELD_ROW.findall(part["held"])
    assert rows[0][:3] == ("0", "0", "-"), out
    connections, opened, _, tree_mb = rows[1]
    assert (int(connections), int(opened)) == (plan.held_levels[0], plan.held_levels[0]), out
    if proc:
        assert float(rows[0][3]) > 0, out
        assert float(tree_mb) > 0, out
    held = int(figure(HELD, part["figures"]))
    assert held in (0, *plan.held_levels), out
    memory = figure(MEMORY, part["figures"])
    if not proc or held == 0:
        assert memory == "unavailable", out
    else:
        assert memory != "unavailable", out

    # Locust users: the first level was opened at the gateway, with Locust's memory and CPU read.
    users, opened, _, rss, opening, holding = LOCUST_ROW.findall(part["locust"])[0]
    assert (int(users), int(opened)) == (plan.locust_levels[0], plan.locust_levels[0]), out
    if proc:
        assert "n/a" not in (rss, opening, holding), out
    assert int(figure(LOCUST_USERS, part["figures"])) in (0, *plan.locust_levels), out

    # The ceiling: the first step (the fewest users) completed reports without failures, and the
    # ceiling is one of the steps' rates (or 0 where no step kept p95 within its bound, which is
    # a speed and so not checked).
    steps = STEP.findall(part["ceiling"])
    assert [int(step[0]) for step in steps] == list(plan.ceiling_users[: len(steps)]), out
    users, rate, _, _, reports, failures = steps[0]
    assert int(reports) > 0, f"no report round trip completed at {users} users:\n{out}"
    assert float(rate) > 0, out
    assert int(failures) == 0, f"round trips failed at {users} users:\n{out}"
    ceiling = figure(CEILING, part["figures"])
    assert ceiling == "0" or ceiling in {s[1] for s in steps if s[5] == "0"}, out
    assert re.search(r"\b\d+ CPUs\b", out)
