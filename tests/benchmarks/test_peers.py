"""The peers benchmark's smoke run against timeoutlab, its process-tree CPU accounting, and how it
reports a peer that is not installed.

No figure is compared with a goal and nothing bounds a time: speed is the benchmark's printed
output. What is checked can still fail: the table prints a row per cell, the JSON has every
figure, each cell completed round trips that cost the server CPU, and no server is left running.
"""

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import psutil

from benchmarks import peer_servers, peers

ROOT = Path(__file__).parents[2]
WORKLOADS = ("rest", "ws_round_trip", "report_ws")
FIGURES = (
    "round_trips",
    "failures",
    "round_trips_per_s",
    "p50_ms",
    "p95_ms",
    "cpu_ms_per_round_trip",
    "peak_rss_mb",
)


def test_quick_run_against_timeoutlab_prints_the_table_and_writes_the_json(tmp_path):
    out = tmp_path / "peers.json"
    command = [sys.executable, "-m", "benchmarks.peers", "--quick", "--json", str(out)]
    command += ["--workloads", ",".join(WORKLOADS)]
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    done = subprocess.run(
        command,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": path},
        capture_output=True,
        text=True,
        timeout=600,  # a hang guard for a broken run, not a speed bound
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    quick = peers.Plan.quick()

    assert "| workload | clients | server | round trips/s | p50 ms | p95 ms |" in done.stdout
    for workload in WORKLOADS:
        for clients in quick.concurrency:
            row = rf"^\| {workload} \| {clients} \| timeoutlab \| [\d,.]+ \| [\d,.]+ \| [\d,.]+ \|"
            assert re.search(row, done.stdout, re.M), (workload, clients, done.stdout[-3000:])

    document = json.loads(out.read_text())
    assert document["machine"]["cpus"] >= 1
    assert document["plan"]["servers"] == ["timeoutlab"]
    cells = document["cells"]
    assert {(c["workload"], c["concurrency"]) for c in cells} == {
        (w, n) for w in WORKLOADS for n in quick.concurrency
    }
    for cell in cells:
        assert cell["server"] == "timeoutlab"
        assert all(cell[name] is not None for name in FIGURES), cell
        assert cell["round_trips"] > 0, cell
        assert cell["cpu_ms_per_round_trip"] > 0, cell  # the server tree worked for them
        assert cell["peak_rss_mb"] > 0, cell
        assert cell["p95_ms"] >= cell["p50_ms"] > 0, cell

    # every server stopped: nothing runs in the run's working folder any more
    workdir = re.search(r"logs in (\S+)", done.stdout).group(1)
    left = []
    for process in psutil.process_iter(["cwd"]):
        if process.info["cwd"] and process.info["cwd"].startswith(workdir):
            left.append(process)
    assert not left, left


BURN = "import time\nend = time.process_time() + {seconds}\nwhile time.process_time() < end: pass\n"


def test_cpu_of_children_that_exited_still_counts(tmp_path):
    # The root starts a child that burns CPU and exits, reaps it, then waits to be told to go.
    # It starts the child only once the figure before is taken: a child already burning then
    # (a test slowed by a busy machine) would have part of its CPU in it.
    go, start = tmp_path / "go", tmp_path / "start"
    script = (
        "import subprocess, sys, time, pathlib\n"
        f"while not pathlib.Path({str(start)!r}).exists(): time.sleep(0.02)\n"
        f"subprocess.run([sys.executable, '-c', {BURN.format(seconds=0.3)!r}])\n"
        f"pathlib.Path({str(go)!r}).write_text('child done')\n"
        f"while pathlib.Path({str(go)!r}).read_text() != 'stop': time.sleep(0.02)\n"
    )
    root = subprocess.Popen([sys.executable, "-c", script])
    try:
        account = peers.TreeAccount([root.pid])
        before = account.cpu_s()
        start.touch()
        deadline = time.monotonic() + 60  # a hang guard only
        while not go.exists():
            assert time.monotonic() < deadline, "the child never finished"
            account.refresh()
            time.sleep(0.02)
        assert not psutil.Process(root.pid).children()  # the child is gone and reaped
        assert account.cpu_s() - before >= 0.3
    finally:
        go.write_text("stop")
        root.wait(timeout=30)


def test_a_peer_that_is_not_installed_is_reported_as_na_with_the_reason(tmp_path, monkeypatch):
    monkeypatch.setattr(peer_servers, "SERVERLESS_JS", tmp_path / "none" / "serverless.js")
    monkeypatch.setattr(peer_servers, "MINISTACK_BINARY", tmp_path / "none" / "ministack")
    monkeypatch.setattr(peers, "not_running", {})
    plan = peers.Plan(
        servers=("ministack", "serverless-offline"), workloads=("rest",), concurrency=(1,)
    )
    cells = peers.run(plan, tmp_path)
    assert {(c.server, c.unsupported) for c in cells} == {
        ("ministack", f"not installed at {tmp_path / 'none' / 'ministack'}: run `make ministack`"),
        (
            "serverless-offline",
            f"not installed at {tmp_path}: run `make bench-peers`",
        ),
    }
    text = peers.table(cells, plan.servers)
    assert "| rest | 1 | serverless-offline | n/a (not installed at" in text
    assert not any(c.samples for c in cells)
