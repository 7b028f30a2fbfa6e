"""timeoutlab side by side with its peers, MiniStack and serverless-offline: one client, one run.

``python -m benchmarks.peers [--quick] [--repeats 3] [--concurrency 1,20] [--json PATH]`` (or
``make bench-peers``, which installs serverless-offline first). Two apps, the same serverless.yml
and Python handlers on every server (``benchmarks/peer_servers.py`` says how each is started):

- no-op (``benchmarks/peers/noop/``): ``rest`` (GET through a REST API, Lambda proxy),
  ``http_api`` (GET through an HTTP API, payload 2.0), ``ws_round_trip`` (connect, one message,
  its reply as the route response, close) and ``ws_message`` (a message and its reply on a
  connection already open);
- report (``reportapp/``): ``report_ws`` (connect, generateReport with 0 ms delay and 10 rows,
  the URL pushed through ``@connections``, close) and ``report_rest`` (POST /reports, 10 rows).

One asyncio + aiohttp client measures every (server, workload, concurrency) cell for
``--seconds`` real seconds with ``concurrency`` workers in a closed loop, interleaved (server A, B,
C, then A, B, C ...) and repeated ``--repeats`` times, after one unmeasured round trip per worker
(cold starts are not the subject). Per cell: round trips/s (median of the repeats), p50/p95
latency (ms, over every round trip of the repeats), server CPU ms per round trip (user + system
CPU of the server's process tree, sampled before and after each measurement; see ``TreeCpu``),
the peak RSS of the tree (MB) and its largest number of live processes, failures, and the ratio
of timeoutlab's figure to each peer's.

Everything binds 127.0.0.1, every measurement is bounded in time, and every server is stopped at
the end, on an error and on Ctrl-C / SIGTERM. Figures are for reading, never pass/fail.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import psutil

from benchmarks.peer_servers import (
    Endpoints,
    MiniStack,
    Server,
    ServerlessOffline,
    Timeoutlab,
)
from emulator.arguments import positive, positive_ints

#: workload -> (app, the API it needs, what one round trip is)
WORKLOADS: dict[str, tuple[str, str, str]] = {
    "rest": ("noop", "rest", "GET /dev/noop through a REST API"),
    "http_api": ("noop", "http_api", "GET /noop through an HTTP API"),
    "ws_round_trip": ("noop", "ws", "WebSocket connect, message, reply, close"),
    "ws_message": ("noop", "ws", "a message and its reply on an open WebSocket"),
    "report_ws": ("report", "ws", "connect, generateReport (0 ms, 10 rows), URL pushed, close"),
    "report_rest": ("report", "rest", "POST /dev/reports (0 ms, 10 rows), URL in the answer"),
}
SERVERS: dict[str, type[Server]] = {
    "timeoutlab": Timeoutlab,
    "ministack": MiniStack,
    "serverless-offline": ServerlessOffline,
}
REFERENCE = "timeoutlab"
REPORT_DEFINITION = {"delay": 0, "amountOfRows": 10}
#: Round trips each worker makes before a measurement, however long they take. One was not
#: enough: at 20 report clients the first round trips start some 80 environments at once
#: ($connect, generateReport, the async report, $disconnect), whose cold starts outlast a
#: 1 s warm-up on 2 cores and then ran into the measured seconds.
WARMUP_ROUND_TRIPS = 3
REQUEST_TIMEOUT_S = 30.0  # real seconds; one round trip past it counts as a failure
RSS_INTERVAL_S = 0.2

#: (server, app) -> why that server is not running that app in this run
not_running: dict[tuple[str, str], str] = {}


@dataclass
class Plan:
    """What to measure. ``--quick`` is a smoke run: timeoutlab's figures only, in seconds."""

    servers: tuple[str, ...] = tuple(SERVERS)
    workloads: tuple[str, ...] = tuple(WORKLOADS)
    concurrency: tuple[int, ...] = (1, 20)
    repeats: int = 3
    seconds: float = 2.0  # real seconds per measurement
    #: unmeasured real seconds of the same load before each measurement (at least WARMUP_ROUND_TRIPS
    #: per worker), so environments are warm: cold starts are not the subject
    warmup_seconds: float = 1.0

    @classmethod
    def quick(cls) -> Plan:
        return cls(
            servers=(REFERENCE,), concurrency=(1, 4), repeats=1, seconds=0.5, warmup_seconds=0.3
        )


# -- the server's process tree -------------------------------------------------------------------


@dataclass
class _Seen:
    """A process once seen in a server's tree, and what it had used when last read."""

    process: psutil.Process
    parent: int | None  # its parent's pid when last read
    own_s: float = 0.0  # user + system CPU seconds of the process itself
    reaped_s: float = 0.0  # children_user + children_system: children it has reaped
    alive: bool = True


class TreeAccount:
    """CPU and memory of a server's process trees (the ``roots`` and all their descendants),
    counting processes that have exited.

    A live process counts its own CPU plus ``children_user``/``children_system``, where the kernel
    adds the time of each child it reaps (that child's reaped children included), so an execution
    environment that exits and is reaped by the server still counts through its parent. A process
    that leaves the tree otherwise (its parent dies first, or it is re-parented to init, as
    serverless-offline's Python runners are when it kills their shell) is remembered from when it
    was first seen: while alive it is read wherever it now hangs, and once gone its last reading
    counts (refreshed every ``RSS_INTERVAL_S`` by ``PeakRss``). Processes born and gone between
    two readings count only through a parent that reaps them.
    """

    def __init__(self, roots: list[int]) -> None:
        self.roots = roots
        self._seen: dict[tuple[int, float], _Seen] = {}
        self._lock = threading.Lock()

    def _walk(self) -> list[psutil.Process]:
        """Live processes under the roots and under every remembered process still alive."""
        starts = [*self.roots, *(s.process.pid for s in self._seen.values() if s.alive)]
        found: dict[int, psutil.Process] = {}
        for pid in starts:
            if pid in found:  # already under an earlier start
                continue
            try:
                top = psutil.Process(pid)
                for process in [top, *top.children(recursive=True)]:
                    found.setdefault(process.pid, process)
            except psutil.Error:
                continue
        return list(found.values())

    def refresh(self) -> tuple[int, int]:
        """Read every process once: the tree's RSS now (bytes, shared pages in each process) and
        how many processes are alive in it."""
        rss = alive = 0
        with self._lock:
            for process in self._walk():
                try:
                    key = (process.pid, process.create_time())
                except psutil.Error:
                    continue
                self._seen.setdefault(key, _Seen(process, None))
            for seen in self._seen.values():
                if not seen.alive:
                    continue
                try:
                    with seen.process.oneshot():
                        times = seen.process.cpu_times()
                        seen.parent = seen.process.ppid()
                        if seen.process.status() != psutil.STATUS_ZOMBIE:
                            rss += seen.process.memory_info().rss
                            alive += 1
                    seen.own_s = times.user + times.system
                    seen.reaped_s = times.children_user + times.children_system
                except psutil.Error:
                    seen.alive = False
        return rss, alive

    def cpu_s(self) -> float:
        """User + system CPU seconds the trees have used since their processes started."""
        self.refresh()
        with self._lock:
            alive = {s.process.pid for s in self._seen.values() if s.alive}
            total = 0.0
            for seen in self._seen.values():
                if seen.alive:
                    total += seen.own_s + seen.reaped_s
                elif seen.parent not in alive:
                    # gone with no live parent left to have reaped it: its last reading
                    total += seen.own_s + seen.reaped_s
            return total


class PeakRss:
    """The largest tree RSS seen, read every ``RSS_INTERVAL_S`` real seconds by a thread that
    also keeps ``account``'s readings of short-lived processes fresh."""

    def __init__(self, account: TreeAccount) -> None:
        self.account = account
        self.peak, self.processes = account.refresh()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(RSS_INTERVAL_S):
            self._note(*self.account.refresh())

    def _note(self, rss: int, processes: int) -> None:
        self.peak = max(self.peak, rss)
        self.processes = max(self.processes, processes)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self._note(*self.account.refresh())


# -- the client ----------------------------------------------------------------------------------


class RoundTripFailed(Exception):
    """A round trip that did not end as the workload expects; the message says how."""


RoundTrip = Callable[[], Awaitable[None]]


async def _expect_http(response: aiohttp.ClientResponse, want_url: bool) -> None:
    body = await response.read()
    if response.status != 200:
        raise RoundTripFailed(f"HTTP {response.status}: {body[:80]!r}")
    if want_url and b'"url"' not in body:
        raise RoundTripFailed(f"no url in {body[:80]!r}")


async def _await_url(ws: aiohttp.ClientWebSocketResponse) -> None:
    """Messages until one whose JSON has ``url`` (the report) or ``error``."""
    while True:
        message = await ws.receive(timeout=REQUEST_TIMEOUT_S)
        if message.type != aiohttp.WSMsgType.TEXT:
            raise RoundTripFailed(f"WebSocket {message.type.name} before the URL")
        answer = json.loads(message.data)
        if "error" in answer:
            raise RoundTripFailed(f"error: {answer['error']}")
        if "url" in answer:
            return


async def _expect_echo(ws: aiohttp.ClientWebSocketResponse, sent: str) -> None:
    message = await ws.receive(timeout=REQUEST_TIMEOUT_S)
    if message.type != aiohttp.WSMsgType.TEXT or message.data != f"echo {sent}":
        raise RoundTripFailed(f"WebSocket reply {message.type.name} {str(message.data)[:60]!r}")


class Worker:
    """One closed-loop client: its round trip for a workload, and what it holds open."""

    def __init__(self, session: aiohttp.ClientSession, endpoints: Endpoints, index: int) -> None:
        self.session = session
        self.endpoints = endpoints
        self.index = index
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.sent = 0

    def round_trip(self, workload: str) -> RoundTrip:
        return getattr(self, workload)

    async def rest(self) -> None:
        async with self.session.get(f"{self.endpoints.rest}/noop") as response:
            await _expect_http(response, want_url=False)

    async def http_api(self) -> None:
        async with self.session.get(f"{self.endpoints.http_api}/noop") as response:
            await _expect_http(response, want_url=False)

    async def ws_round_trip(self) -> None:
        assert self.endpoints.ws is not None
        async with self.session.ws_connect(self.endpoints.ws, autoping=False) as ws:
            text = json.dumps({"action": "echo", "worker": self.index})
            await ws.send_str(text)
            await _expect_echo(ws, text)

    async def ws_message(self) -> None:
        if self.ws is None or self.ws.closed:
            assert self.endpoints.ws is not None
            self.ws = await self.session.ws_connect(self.endpoints.ws, autoping=False)
        self.sent += 1
        text = json.dumps({"action": "echo", "worker": self.index, "n": self.sent})
        await self.ws.send_str(text)
        await _expect_echo(self.ws, text)

    async def report_ws(self) -> None:
        assert self.endpoints.ws is not None
        async with self.session.ws_connect(self.endpoints.ws, autoping=False) as ws:
            await ws.send_str(json.dumps({"action": "generateReport", **REPORT_DEFINITION}))
            await _await_url(ws)

    async def report_rest(self) -> None:
        url = f"{self.endpoints.rest}/reports"
        async with self.session.post(url, json=REPORT_DEFINITION) as response:
            await _expect_http(response, want_url=True)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()


@dataclass
class Sample:
    """One measurement of one cell: ``seconds`` real seconds of ``concurrency`` workers."""

    round_trips: int
    failures: int
    seconds: float
    cpu_s: float
    peak_rss_bytes: int
    peak_processes: int
    latencies_ms: list[float]
    first_failure: str = ""

    @property
    def rate(self) -> float:
        return self.round_trips / self.seconds if self.seconds > 0 else 0.0


async def measure(
    workload: str,
    endpoints: Endpoints,
    concurrency: int,
    seconds: float,
    account: TreeAccount,
    warmup_seconds: float = 0.0,
) -> Sample:
    """``concurrency`` workers run ``workload`` in a closed loop for ``seconds`` real seconds,
    after ``warmup_seconds`` (and at least ``WARMUP_ROUND_TRIPS`` round trips each) unmeasured;
    the server tree's CPU is read before and after the measured part."""
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        workers = [Worker(session, endpoints, index) for index in range(concurrency)]
        latencies: list[float] = []
        failures: list[str] = []
        failed = 0

        async def loop(worker: Worker, until: float, record: bool) -> None:
            nonlocal failed
            round_trip = worker.round_trip(workload)
            tries = 0  # a warm-up makes WARMUP_ROUND_TRIPS round trips, whatever the time
            while (not record and tries < WARMUP_ROUND_TRIPS) or time.perf_counter() < until:
                tries += 1
                began = time.perf_counter()
                try:
                    await round_trip()
                except (RoundTripFailed, aiohttp.ClientError, TimeoutError, ValueError) as exc:
                    if record:
                        failed += 1
                        failures.append(f"{type(exc).__name__}: {exc}"[:200])
                    continue
                if record:
                    latencies.append((time.perf_counter() - began) * 1000)

        warm_until = time.perf_counter() + warmup_seconds
        await asyncio.gather(*(loop(w, warm_until, record=False) for w in workers))
        with PeakRss(account) as rss:
            cpu_before = account.cpu_s()
            began = time.perf_counter()
            await asyncio.gather(*(loop(w, began + seconds, record=True) for w in workers))
            elapsed = time.perf_counter() - began
            # late work the round trips caused ($disconnect, a report's last writes) is theirs
            await asyncio.gather(*(w.close() for w in workers))
            await asyncio.sleep(0.2)
            cpu_after = account.cpu_s()
    return Sample(
        round_trips=len(latencies),
        failures=failed,
        seconds=elapsed,
        cpu_s=cpu_after - cpu_before,
        peak_rss_bytes=rss.peak,
        peak_processes=rss.processes,
        latencies_ms=latencies,
        first_failure=failures[0] if failures else "",
    )


# -- a run ---------------------------------------------------------------------------------------


@dataclass
class Cell:
    """One (server, workload, concurrency): its samples, or why it could not run."""

    server: str
    workload: str
    concurrency: int
    samples: list[Sample] = field(default_factory=list)
    unsupported: str | None = None

    def figures(self) -> dict:
        """The reported figures: medians of the repeats' rates and CPU, percentiles over every
        round trip, the largest RSS, and failures summed."""
        if self.unsupported is not None or not self.samples:
            return {"n/a": self.unsupported or "not measured"}
        latencies = sorted(ms for s in self.samples for ms in s.latencies_ms)
        round_trips = sum(s.round_trips for s in self.samples)
        cpu_ms = [1000 * s.cpu_s / s.round_trips for s in self.samples if s.round_trips]
        return {
            "round_trips": round_trips,
            "failures": sum(s.failures for s in self.samples),
            "round_trips_per_s": statistics.median(s.rate for s in self.samples),
            "p50_ms": _percentile(latencies, 0.50),
            "p95_ms": _percentile(latencies, 0.95),
            "cpu_ms_per_round_trip": statistics.median(cpu_ms) if cpu_ms else None,
            "peak_rss_mb": max(s.peak_rss_bytes for s in self.samples) / 2**20,
            "peak_processes": max(s.peak_processes for s in self.samples),
            "first_failure": next((s.first_failure for s in self.samples if s.first_failure), ""),
        }


def _percentile(ordered: list[float], fraction: float) -> float | None:
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def ratios(cells: list[Cell]) -> dict[str, dict[str, float | None]]:
    """timeoutlab's figure over each peer's, per ``"workload c=N"``: round trips/s (above 1 is
    faster) and CPU ms per round trip (below 1 is cheaper)."""
    by_key = {(c.server, c.workload, c.concurrency): c.figures() for c in cells}
    out: dict[str, dict[str, float | None]] = {}
    for (server, workload, concurrency), peer in by_key.items():
        ours = by_key.get((REFERENCE, workload, concurrency))
        if server == REFERENCE or ours is None:
            continue
        key = f"{workload} c={concurrency} vs {server}"
        out[key] = {
            "rate": _ratio(ours.get("round_trips_per_s"), peer.get("round_trips_per_s")),
            "cpu": _ratio(ours.get("cpu_ms_per_round_trip"), peer.get("cpu_ms_per_round_trip")),
        }
    return out


def _ratio(ours: float | None, theirs: float | None) -> float | None:
    return ours / theirs if ours and theirs else None


@contextmanager
def running(names: tuple[str, ...], app: str, workdir: Path) -> Iterator[dict[str, Server]]:
    """The named servers, started with ``app``; those that cannot start are left out with the
    reason in ``not_running``. Every started server is stopped on the way out."""
    with ExitStack() as stack:
        servers: dict[str, Server] = {}
        for name in names:
            kind = SERVERS[name]
            missing = getattr(kind, "missing", lambda: None)()
            if missing:
                not_running[(name, app)] = missing
                continue
            server = kind(app, workdir)
            stack.callback(server.stop)
            print(f"  starting {name} with the {app} app ...", flush=True)
            try:
                server.start()
            except Exception as exc:  # any peer's failure to start (a deploy's ClientError too)
                not_running[(name, app)] = f"did not start: {str(exc).splitlines()[0]}"
                print(f"  {name}: {exc}", flush=True)
                continue
            servers[name] = server
        yield servers


def run(plan: Plan, workdir: Path) -> list[Cell]:
    """Every cell of ``plan``: per app, its servers started together, then the measurements
    interleaved across servers and repeated."""
    cells: dict[tuple[str, str, int], Cell] = {}
    for app in ("noop", "report"):
        workloads = [w for w in plan.workloads if WORKLOADS[w][0] == app]
        if not workloads:
            continue
        with running(plan.servers, app, workdir) as servers:
            for name in plan.servers:
                for workload in workloads:
                    for concurrency in plan.concurrency:
                        cell = Cell(name, workload, concurrency)
                        cells[(name, workload, concurrency)] = cell
                        if name not in servers:
                            cell.unsupported = not_running.get((name, app), "not started")
                        elif getattr(servers[name].endpoints, WORKLOADS[workload][1]) is None:
                            cell.unsupported = f"the {app} app has no {WORKLOADS[workload][1]} API"
            accounts = {name: TreeAccount(s.root_pids()) for name, s in servers.items()}
            for repeat in range(plan.repeats):
                for workload in workloads:
                    for concurrency in plan.concurrency:
                        for name, server in servers.items():
                            cell = cells[(name, workload, concurrency)]
                            if cell.unsupported is not None:
                                continue
                            sample = asyncio.run(
                                measure(
                                    workload,
                                    server.endpoints,
                                    concurrency,
                                    plan.seconds,
                                    accounts[name],
                                    plan.warmup_seconds,
                                )
                            )
                            cell.samples.append(sample)
                            print(
                                f"  [{repeat + 1}/{plan.repeats}] {name:18} {workload:13} "
                                f"c={concurrency:<3} {sample.rate:8.1f}/s  "
                                f"failures {sample.failures}",
                                flush=True,
                            )
    return list(cells.values())


# -- output --------------------------------------------------------------------------------------


def _number(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def table(cells: list[Cell], servers: tuple[str, ...]) -> str:
    """A Markdown table: one row per workload and concurrency, per server."""
    peers = [s for s in servers if s != REFERENCE]
    rate_ratios = ratios(cells)
    head = (
        "| workload | clients | server | round trips/s | p50 ms | p95 ms | CPU ms/round trip "
        "| peak RSS MB | processes | failures |" + "".join(f" x {p} (rate / CPU) |" for p in peers)
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for cell in sorted(
        cells,
        key=lambda c: (
            list(WORKLOADS).index(c.workload),
            c.concurrency,
            list(servers).index(c.server),
        ),
    ):
        f = cell.figures()
        left = f"| {cell.workload} | {cell.concurrency} | {cell.server} |"
        if "n/a" in f:
            row = left + f" n/a ({f['n/a']}) | | | | | | |"
        else:
            row = left + (
                f" {_number(f['round_trips_per_s'])} | {_number(f['p50_ms'])} "
                f"| {_number(f['p95_ms'])} | {_number(f['cpu_ms_per_round_trip'])} "
                f"| {_number(f['peak_rss_mb'], 0)} | {f['peak_processes']} | {f['failures']} |"
            )
        for peer in peers:
            ratio = rate_ratios.get(f"{cell.workload} c={cell.concurrency} vs {peer}")
            if cell.server == REFERENCE and ratio is not None:
                row += f" {_number(ratio['rate'], 2)} / {_number(ratio['cpu'], 2)} |"
            else:
                row += " |"
        lines.append(row)
    return "\n".join(lines)


def machine() -> dict:
    """What the figures were measured on."""
    return {
        "cpus": os.cpu_count(),
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "load_average_at_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }


def report(cells: list[Cell], plan: Plan, started: datetime, elapsed_s: float) -> dict:
    """The JSON document: settings, machine, one entry per cell (its samples included), ratios."""
    return {
        "date": started.isoformat(timespec="seconds"),
        "elapsed_s": round(elapsed_s, 1),
        "machine": machine(),
        "plan": asdict(plan),
        "workloads": {name: what for name, (_, _, what) in WORKLOADS.items()},
        "cells": [
            {
                "server": c.server,
                "workload": c.workload,
                "concurrency": c.concurrency,
                **c.figures(),
                "samples": [
                    {
                        "round_trips": s.round_trips,
                        "failures": s.failures,
                        "seconds": round(s.seconds, 3),
                        "cpu_s": round(s.cpu_s, 4),
                        "peak_rss_mb": round(s.peak_rss_bytes / 2**20, 1),
                        "peak_processes": s.peak_processes,
                    }
                    for s in c.samples
                ],
            }
            for c in cells
        ],
        "ratios": ratios(cells),
    }


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="timeoutlab only, in seconds")
    parser.add_argument("--servers", help=f"comma-separated, of {', '.join(SERVERS)}")
    parser.add_argument("--workloads", help=f"comma-separated, of {', '.join(WORKLOADS)}")
    parser.add_argument(
        "--concurrency", type=positive_ints, help="comma-separated client counts (default 1,20)"
    )
    parser.add_argument("--repeats", type=positive(int), help="measurements per cell (default 3)")
    parser.add_argument(
        "--seconds", type=positive(float), help="real seconds per measurement (default 2)"
    )
    parser.add_argument(
        "--warmup", type=float, help="unmeasured real seconds before each measurement (default 1)"
    )
    parser.add_argument("--json", type=Path, help="where to write the JSON (default: a temp dir)")
    return parser.parse_args(argv)


def _known_names(text: str, known: Iterable[str], what: str) -> tuple[str, ...]:
    """``text``'s comma-separated names, each one of ``known``; SystemExit naming the others."""
    names = tuple(text.split(","))
    unknown = set(names) - set(known)
    if unknown:
        raise SystemExit(f"unknown {what}: {', '.join(sorted(unknown))}")
    return names


def plan_from(arguments: argparse.Namespace) -> Plan:
    plan = Plan.quick() if arguments.quick else Plan()
    if arguments.servers:
        plan.servers = _known_names(arguments.servers, SERVERS, "servers")
    if arguments.workloads:
        plan.workloads = _known_names(arguments.workloads, WORKLOADS, "workloads")
    if arguments.concurrency:
        plan.concurrency = arguments.concurrency
    if arguments.repeats:
        plan.repeats = arguments.repeats
    if arguments.seconds:
        plan.seconds = arguments.seconds
    if arguments.warmup is not None:
        plan.warmup_seconds = arguments.warmup
    return plan


def _terminate(signum: int, frame: object) -> None:
    """SIGINT and SIGTERM: unwind through every server's stop, wherever the run is.

    Set for SIGINT too because asyncio.run's own SIGINT handling only cancels the running task,
    which a client call may absorb; a handler of our own makes asyncio leave SIGINT alone."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    plan = plan_from(arguments)
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, _terminate)
    workdir = Path(tempfile.mkdtemp(prefix="bench-peers-"))
    json_path = arguments.json or workdir / "peers.json"
    started, clock = datetime.now(UTC), time.monotonic()
    print(
        f"peers: {', '.join(plan.servers)}; {plan.repeats} repeat(s) of {plan.seconds:g} s per "
        f"cell at {', '.join(map(str, plan.concurrency))} client(s); logs in {workdir}",
        flush=True,
    )
    try:
        cells = run(plan, workdir)
    except KeyboardInterrupt:
        print("interrupted: every server stopped", file=sys.stderr)
        return 130
    document = report(cells, plan, started, time.monotonic() - clock)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(document, indent=2))
    m = document["machine"]
    print()
    print(
        f"{started:%Y-%m-%d %H:%M} UTC, {m['cpus']} CPUs, {m['system']}, Python {m['python']}, "
        f"{m['memory_gb']} GB; ratios are timeoutlab's round trips/s and CPU ms per round trip "
        "over the peer's"
    )
    print(table(cells, plan.servers))
    for (server, app), why in sorted(not_running.items()):
        print(f"- {server} ({app} app): {why}")
    print(f"\nJSON: {json_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
