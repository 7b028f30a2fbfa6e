"""Emulated-time distortion under load: a scenario run at several time scales, side by side.

Processing is real time: what the client, the gateway and the handlers spend on the CPU counts
1/scale times in emulated seconds, and on a busy machine queueing for the cores (and for the
emulator's ``--max-environments`` execution environments) stretches it further. This runs
``timeoutlab scenario run`` (``scenarios.runner.run_scenario``, the emulator on free 127.0.0.1
ports in this process, Locust in a child process) once per time scale and prints, per scale:

- the REST 40 s reports' 504s **as the client saw them** (emulated s, min and max, p95) and
  whether the latest is within 2 % of the integration timeout (29.58 s for 29 s), else how many
  of them came later;
- the gateway's own precision (``/_emulator/metrics``): how late it answered its integration
  timeouts (median, max) and its processing overhead per request (median, p95);
- per strategy, the 5 s reports' time to result (p50, p95; and how many got a 504 instead,
  having waited past the timeout for an execution environment), also over those started after the
  warm-up (every user started, then one more cycle of reports: ``warm_after_real_s`` into the
  phase), dollars per million reports, cold starts and the invocations that waited for a free
  execution environment;
- the CPU seconds each part of the machine's work used during the run (psutil, sampled once a
  second over this process's tree): ``runner+emulator`` (this process: the gateway's event loop
  and the scenario runner), ``environments`` (the Lambda handlers' processes), ``backend`` (the
  embedded moto server) and ``locust`` (the load's own process), and their sum as a share of the
  machine's cores.

``--bisect`` searches instead (on a log scale, ``--steps`` runs) for the smallest scale between
two bounds whose REST 504s all reach the client within 2 %.

    .venv/bin/python -m benchmarks.time_scale --users 100 --scales 0.1,0.2,0.5 --strategies rest
    .venv/bin/python -m benchmarks.time_scale --users 100 --bisect 0.05,1 --strategies rest
    .venv/bin/python -m benchmarks.time_scale --users 200 --scales 0.2 --json /tmp/ts.json

Figures are for reading, not for passing; ``tests/benchmarks/test_time_scale.py`` runs a tiny
one and checks only that something was measured.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from emulator.arguments import positive, time_scale
from emulator.runtime.environment import descendants
from scenarios import catalog
from scenarios.pricing import load_prices
from scenarios.results import GATEWAY_TIMEOUT, failure_kind, percentile
from scenarios.runner import ScenarioError, ScenarioResult, run_scenario

#: A 504 reaches the client "within 2 %" when it comes at most this share past the timeout.
WITHIN_SHARE = 0.02
#: Seconds between two CPU samples of the process tree (real).
SAMPLE_INTERVAL_S = 1.0
PARTS = ("runner+emulator", "environments", "backend", "locust")
#: Emulated seconds of think time and slack after the longest report, in the warm-up.
WARM_UP_MARGIN_S = 5.0


def _part(command: str) -> str:
    """Which part of the work a child process of this one is, by its command line."""
    if "scenarios.locust_phase" in command:
        return "locust"
    if "moto" in command:
        return "backend"
    return "environments"  # the execution environments (timeoutlab_bootstrap, node bootstrap)


class CpuSampler:
    """User + system CPU seconds of this process and its descendants, by part (``PARTS``),
    from ``start()`` to ``stop()``.

    Each process's CPU is read once a second (a process that ends between two reads loses
    what it used since the last one: under a second of its life); a process already running at
    ``start()`` counts from there, one started later from zero."""

    def __init__(self, interval_s: float = SAMPLE_INTERVAL_S) -> None:
        self.interval_s = interval_s
        me = psutil.Process(os.getpid())
        self._processes: dict[int, tuple[psutil.Process, str]] = {me.pid: (me, PARTS[0])}
        self._first: dict[int, float] = {}
        self._last: dict[int, tuple[str, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cpu-sampler", daemon=True)

    def _read(self, initial: bool) -> None:
        # The tree from the kernel's own /proc children files (cheap), each process's part
        # from its command line once, when first seen.
        for pid in descendants(os.getpid()):
            if pid not in self._processes:
                try:
                    process = psutil.Process(pid)
                    self._processes[pid] = (process, _part(" ".join(process.cmdline())))
                except psutil.Error:
                    continue
        for pid, (process, part) in list(self._processes.items()):
            try:
                times = process.cpu_times()
            except psutil.Error:
                del self._processes[pid]  # ended: its last reading stays in _last
                continue
            used = times.user + times.system
            if pid not in self._first:
                self._first[pid] = used if initial else 0.0
            self._last[pid] = (part, used)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._read(initial=False)

    def start(self) -> None:
        self._read(initial=True)
        self._thread.start()

    def stop(self) -> dict[str, float]:
        """CPU seconds per part since ``start()``."""
        self._stop.set()
        self._thread.join()
        self._read(initial=False)
        parts = dict.fromkeys(PARTS, 0.0)
        for pid, (part, used) in self._last.items():
            parts[part] += used - self._first[pid]
        return {part: round(seconds, 2) for part, seconds in parts.items()}


def measure(
    scale: float,
    *,
    users: int,
    strategies: tuple[str, ...],
    run_time_s: float | None,
    spawn_rate: float | None,
    max_environments: int | None,
    say: Any = None,
) -> dict:
    """One run of the reproduction scenario (its phases limited to ``strategies``) at ``scale``:
    the figures of one row (see the module's docstring), emulated seconds unless named real."""
    scenario = catalog.get("reproduction")
    phases = tuple(p for p in scenario.phases if p.label in strategies)
    expectations = tuple(e for e in scenario.expectations if e.label in strategies)
    scenario = dataclasses.replace(scenario, phases=phases, expectations=expectations)
    load = os.getloadavg()[0]
    sampler = CpuSampler()
    started = time.monotonic()
    sampler.start()
    try:
        result = run_scenario(
            scenario,
            prices=load_prices(),
            users=users,
            spawn_rate=spawn_rate,
            run_time_s=run_time_s,
            time_scale=scale,
            max_environments=max_environments,
            say=say or (lambda line: print(line, file=sys.stderr, flush=True)),
        )
    finally:
        cpu = sampler.stop()
    real_s = time.monotonic() - started
    return row(result, cpu, real_s, load)


def row(result: ScenarioResult, cpu: dict[str, float], real_s: float, load: float) -> dict:
    """The figures of one run, from its result and the CPU it used (real seconds per part)."""
    settings = result.settings
    timeout_s = settings["integration_timeout_s"]
    precision = result.precision or {}
    late, added = precision.get("lateness_s") or {}, precision.get("overhead_s") or {}
    scale = settings["time_scale"]
    # After the warm-up: every user started, then one more cycle of reports (the longest report
    # and its think time), so environments have been made for the whole load.
    warm_after_s = (
        settings["users"] / settings["spawn_rate"]
        + (max(settings["delays_s"]) + WARM_UP_MARGIN_S) * scale
    )
    strategies = {}
    for phase in result.phases:
        figures = phase.figures
        five, forty = figures["by_delay"].get("5 s", {}), figures["by_delay"].get("40 s", {})
        warm = [
            sample["ms"] / 1000
            for sample in phase.samples
            if sample["type"] == "REPORT"
            and sample["name"] == f"{phase.label} 5 s"
            and sample["error"] is None
            and "at_s" in sample
            and sample["at_s"] - sample["ms"] / 1000 * scale >= warm_after_s
        ]
        strategies[phase.label] = {
            "reports": figures["reports_requested"],
            "delivered": figures["reports_delivered"],
            "gateway_timeouts": figures["gateway_timeouts"],
            "p50_5s": five.get("time_to_result_p50_s"),
            "p95_5s": five.get("time_to_result_p95_s"),
            "gateway_timeouts_5s": five.get("gateway_timeouts", 0),
            "warm_5s_reports": len(warm),
            "p50_5s_warm": percentile(warm, 0.5),
            "p95_5s_warm": percentile(warm, 0.95),
            "p50_40s": forty.get("time_to_result_p50_s"),
            "p95_40s": forty.get("time_to_result_p95_s"),
            "timeout_min_s": forty.get("time_to_failure_min_s"),
            "timeout_max_s": forty.get("time_to_failure_max_s"),
            "usd_per_million_reports": figures["usd_per_million_reports"],
            "lambda_gb_seconds": figures["usage"]["lambda_gb_seconds"],
            **figures.get("environments", {}),
        }
    rest = strategies.get("rest", {})
    latest = rest.get("timeout_max_s")
    limit_s = timeout_s * (1 + WITHIN_SHARE)
    # The scenario's 504s: its REST 40 s reports'. A 5 s report's 504 (it waited past 29 s for
    # an execution environment) is a failure of another kind, counted apart.
    cuts = [
        sample["ms"] / 1000
        for phase in result.phases
        if phase.label == "rest"
        for sample in phase.samples
        if sample["type"] == "REPORT"
        and sample["name"] == "rest 40 s"
        and failure_kind(sample["error"]) == GATEWAY_TIMEOUT
    ]
    cores = psutil.cpu_count() or 1
    return {
        "time_scale": settings["time_scale"],
        "users": settings["users"],
        "run_time_s": settings["run_time_s"],
        "max_environments": settings.get("max_environments"),
        "warm_after_real_s": round(warm_after_s, 1),
        "integration_timeout_s": timeout_s,
        "rest_504_client_min_s": rest.get("timeout_min_s"),
        "rest_504_client_max_s": latest,
        "rest_504_client_p95_s": percentile(cuts, 0.95),
        "rest_504s": len(cuts),
        "rest_504s_over_2pct": sum(cut > limit_s for cut in cuts),
        "rest_504_within_2pct": None if latest is None else latest <= limit_s,
        "gateway_lateness_median_s": late.get("median"),
        "gateway_lateness_max_s": late.get("max"),
        "overhead_median_s": added.get("median"),
        "overhead_p95_s": added.get("p95"),
        "strategies": strategies,
        "expectations_met": not result.expectation_failures,
        "cpu_s": cpu,
        "cpu_share_of_cores": round(sum(cpu.values()) / (real_s * cores), 3),
        "real_s": round(real_s, 1),
        "load_average_at_start": round(load, 2),
        "cores": cores,
    }


def _f(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def format_rows(rows: list[dict]) -> str:
    """A Markdown table, one line per run and strategy, then the CPU per part of each run."""
    lines = [
        "| scale | users | strategy | 504 at client min..max s | within 2 % | gateway late "
        "median/max s | overhead median/p95 s | 5 s p50/p95 | after warm-up (n) | 40 s p50/p95 | "
        "$/M reports | cold starts | env waits |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        for label, s in r["strategies"].items():
            cut = (
                f"{_f(s['timeout_min_s'])}..{_f(s['timeout_max_s'])}"
                if s["timeout_max_s"] is not None
                else "-"
            )
            within = "-"
            if label == "rest" and r["rest_504_within_2pct"] is not None:
                within = (
                    "yes"
                    if r["rest_504_within_2pct"]
                    else f"NO ({r['rest_504s_over_2pct']} of {r['rest_504s']} late)"
                )
            fives_cut = s.get("gateway_timeouts_5s", 0)
            cut_5s = f" ({fives_cut} got a 504)" if fives_cut else ""
            lines.append(
                f"| {r['time_scale']:g} | {r['users']} | {label} | {cut} | {within} | "
                f"{_f(r['gateway_lateness_median_s'], 3)}/{_f(r['gateway_lateness_max_s'], 3)} | "
                f"{_f(r['overhead_median_s'])}/{_f(r['overhead_p95_s'])} | "
                f"{_f(s['p50_5s'])}/{_f(s['p95_5s'])}{cut_5s} | "
                f"{_f(s.get('p50_5s_warm'))}/{_f(s.get('p95_5s_warm'))} "
                f"({s.get('warm_5s_reports', 0)}) | {_f(s['p50_40s'])}/{_f(s['p95_40s'])} | "
                f"{_f(s['usd_per_million_reports'])} | {s.get('cold_starts', '-')} | "
                f"{s.get('environment_waits', '-')} |"
            )
    lines += ["", "| scale | users | real s | load at start | CPU s: " + ", ".join(PARTS)
              + " | share of cores |", "|---|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        parts = ", ".join(f"{r['cpu_s'][p]:.1f}" for p in PARTS)
        lines.append(
            f"| {r['time_scale']:g} | {r['users']} | {r['real_s']:.0f} | "
            f"{r['load_average_at_start']:.2f} | {parts} | {100 * r['cpu_share_of_cores']:.0f} % |"
        )
    return "\n".join(lines)


def bisect(low: float, high: float, steps: int, run: Any) -> tuple[float | None, list[dict]]:
    """The smallest scale in [low, high] whose REST 504s all reach the client within 2 %, to
    within the ratio ``steps`` halvings of log(high/low) leave; ``run(scale)`` measures one row.
    ``high`` is measured first: (None, rows) when even it is not within."""
    rows = [run(high)]
    if not rows[-1]["rest_504_within_2pct"]:
        return None, rows
    for _ in range(steps - 1):
        middle = _round(math.sqrt(low * high))
        if middle in (low, high):
            break
        rows.append(run(middle))
        if rows[-1]["rest_504_within_2pct"]:
            high = middle
        else:
            low = middle
    return high, rows


def _round(scale: float) -> float:
    """Two significant digits: a scale someone can type."""
    return float(f"{scale:.2g}")


def _scales(text: str) -> list[float]:
    return [time_scale(part) for part in text.split(",") if part.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=positive(int), default=100)
    parser.add_argument("--scales", type=_scales, default=[0.05, 0.1, 0.2])
    parser.add_argument(
        "--bisect", type=_scales, metavar="LOW,HIGH", help="search between two scales instead"
    )
    parser.add_argument("--steps", type=positive(int), default=5, help="runs of a --bisect")
    parser.add_argument(
        "--strategies",
        default="rest,websocket",
        help="the reproduction scenario's phases to run (rest, websocket; default both)",
    )
    parser.add_argument("--run-time", type=float, help="emulated s per strategy (default 180)")
    parser.add_argument("--spawn-rate", type=float, help="users per real s (default 10)")
    parser.add_argument("--max-environments", type=positive(int))
    parser.add_argument("--json", type=Path, help="write the rows as JSON")
    args = parser.parse_args(argv)
    strategies = tuple(s.strip() for s in args.strategies.split(",") if s.strip())
    if not set(strategies) <= {"rest", "websocket"} or not strategies:
        parser.error("--strategies: rest and/or websocket")
    if args.bisect is not None and len(args.bisect) != 2:
        parser.error("--bisect takes two scales, LOW,HIGH")

    def run(scale: float) -> dict:
        print(f"time_scale: scale {scale:g}, {args.users} users", file=sys.stderr, flush=True)
        figures = measure(
            scale,
            users=args.users,
            strategies=strategies,
            run_time_s=args.run_time,
            spawn_rate=args.spawn_rate,
            max_environments=args.max_environments,
        )
        print(json.dumps(figures), flush=True)
        return figures

    try:
        if args.bisect is not None:
            low, high = sorted(args.bisect)
            found, rows = bisect(low, high, args.steps, run)
        else:
            rows = [run(scale) for scale in args.scales]
    except ScenarioError as error:  # the rows measured so far were printed as JSON lines
        print(f"time_scale: error: {error}", file=sys.stderr)
        return 2
    print()
    print(format_rows(rows))
    if args.bisect is not None:
        print()
        print(
            f"smallest scale with every REST 504 within 2 % at the client: {found:g}"
            if found is not None
            else f"even {high:g} leaves a REST 504 over 2 % late at the client"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
