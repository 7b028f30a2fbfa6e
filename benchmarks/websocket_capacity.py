"""How much WebSocket load the emulator and one Locust process sustain on this machine.

Run ``.venv/bin/python benchmarks/websocket_capacity.py [--quick]`` (or ``make bench``). It starts
``timeoutlab up`` as a process of its own on free loopback ports, so its process tree (the
emulator, its moto backend and its execution environments) can be read from /proc, and prints
three figures with the table each comes from:

1. idle WebSocket connections held, and what they cost in memory: a plain asyncio client
   (``benchmarks/idle_client.py``) opens connections up to each level (15,000 at most by
   default), a few opening handshakes at a time so ``$connect`` needs few execution environments,
   while the gateway's count of open connections is checked and the RSS of the whole server tree
   is read. It runs on an emulator of its own, so no environment left by other steps is counted;
2. concurrent WebSocket users from one Locust process: ``IdleWebsocketUser``s stepped up to each
   level (2,000 at most by default) and held, with Locust's own RSS and CPU;
3. the report round-trip ceiling: ``WebsocketUser``s with no think time (a closed loop: each user
   starts its next round trip when the last one ends, so the rate is what the system sustains,
   not what think time lets through), stepped up in users until the p95 time to result passes
   ``--p95-bound-ms`` (1 s). The ceiling is the highest round trips/s of a step with no failures
   and p95 within the bound; the step where p95 passed it is printed too.

Speed is a printed figure, never a pass/fail: it depends on the machine and what else runs on it.
Everything binds 127.0.0.1, every step is bounded in time, and the emulator, Locust and the idle
client are stopped on exit, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from emulator.backends.moto_server import MOTO_SERVE, free_ports
from emulator.runtime.environment import descendants

ROOT = Path(__file__).absolute().parent.parent
BIN = Path(sys.executable).parent
LOCUSTFILES = ROOT / "locustfiles"
HOST = "127.0.0.1"
TIME_SCALE = 1.0  # real time: latencies and the idle timeout mean what they say
#: AWS's and the emulator's default idle timeout; no idle close may happen while held
#: (https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html).
IDLE_TIMEOUT_S = 600
CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
#: Descriptors each process needs besides its WebSocket connections (moto sockets, the
#: environments' pipes, the Runtime API, logs): a level is tried only when the hard
#: RLIMIT_NOFILE leaves this much room above it.
SPARE_DESCRIPTORS = 1024
GIB_KB = 1024 * 1024
#: The benchmark's parts, each runnable alone (``--sections``): in this order.
SECTIONS = ("held", "locust", "ceiling")
#: Real seconds the held-connections emulator gets to stop cleanly before it is killed.
SHUTDOWN_GRACE_S = 3.0


@dataclass
class Plan:
    """What to measure; ``--quick`` is a smoke run of the same steps in under ~30 s."""

    held_levels: tuple[int, ...] = (2000, 5000, 10000, 15000)
    connect_in_flight: int = 4  # opening handshakes at once: $connect needs about as many envs
    held_seconds: float = 5.0
    locust_levels: tuple[int, ...] = (500, 1000, 2000)
    locust_spawn_rate: float = 50.0  # 100/s starved the gateway's loop with cold starts
    locust_hold_seconds: float = 5.0
    ceiling_users: tuple[int, ...] = (1, 2, 4, 8, 12, 16, 24, 32, 48, 64)
    step_seconds: float = 15.0
    report_delay_ms: int = 0  # the pipeline's own cost, not a report's wait
    report_rows: int = 10
    p95_bound_ms: float = 1000.0
    sections: tuple[str, ...] = SECTIONS

    @classmethod
    def quick(cls) -> Plan:
        return cls(
            held_levels=(50,),
            # One handshake at a time: the $connect environment the baseline warmed serves them
            # all, where 4 at once waited ~9 s for 3 cold starts on 2 busy cores.
            connect_in_flight=1,
            held_seconds=1.0,
            # Each new idle user's $connect may need an execution environment of its own: 50 cold
            # starts at once did not all finish within 5 s on 2 busy cores (45 and 25 of 50).
            locust_levels=(20,),
            locust_hold_seconds=2.0,
            ceiling_users=(2,),
            step_seconds=3.0,
        )


# -- processes -----------------------------------------------------------------------------------


def child_environment() -> dict[str, str]:
    """The checkout's code first, whatever the venv has installed."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path}


class Child:
    """A process in a session of its own, so stopping it stops its children (moto) too."""

    def __init__(self, command: list[str], log: Path, cwd: Path, *, stdin: bool = False) -> None:
        self.log = log
        self.out = log.open("wb")
        self.process = subprocess.Popen(
            command,
            stdout=self.out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            cwd=cwd,
            env=child_environment(),
            start_new_session=True,
        )
        self.pid = self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def wait(self, timeout: float) -> int:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise RuntimeError(f"{self.log.stem} ran past its {timeout:.0f} s bound") from None

    def stop(self, grace: float = 15.0) -> None:
        """SIGTERM (a clean stop), then SIGKILL for the whole process group it leads.

        A second Ctrl-C waits until this is done rather than leave the process behind.
        """
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            if self.alive():
                self.process.send_signal(signal.SIGTERM)
                try:
                    self.process.wait(grace)
                except subprocess.TimeoutExpired:
                    # Still unreaped, so its group id is still its own: kill it, moto and all.
                    os.killpg(self.pid, signal.SIGKILL)
                    self.process.wait()
            if self.process.stdin is not None:
                with contextlib.suppress(OSError):
                    self.process.stdin.close()
            self.out.close()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)

    def tail(self, lines: int = 25) -> str:
        self.out.flush()
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def proc_rss_kb(pid: int) -> int | None:
    """VmRSS from /proc (Linux); None where there is no /proc."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def proc_cpu_s(pid: int, reaped: bool = False) -> float | None:
    """User + system CPU seconds of a process so far (Linux /proc, ``utime`` + ``stime``); with
    ``reaped``, also what the children it has waited for used (``cutime`` + ``cstime``)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    ticks = int(fields[11]) + int(fields[12])
    if reaped:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / CLK_TCK


def cpu_sample(pids: dict[str, list[int]]) -> tuple[float, dict[str, float | None]]:
    """(monotonic real seconds, CPU seconds so far per named group of processes: None when one
    of them could not be read)."""
    totals: dict[str, float | None] = {}
    for name, group in pids.items():
        values = [proc_cpu_s(pid) for pid in group]
        totals[name] = None if not group or None in values else sum(v or 0.0 for v in values)
    return time.monotonic(), totals


def cpu_percent(before: tuple, after: tuple) -> dict[str, float | None]:
    wall = after[0] - before[0]
    return {
        name: None
        if before[1][name] is None or after[1].get(name) is None or wall <= 0
        else 100 * (after[1][name] - before[1][name]) / wall
        for name in before[1]
    }


# -- the emulator --------------------------------------------------------------------------------


class Emulator(Child):
    """``timeoutlab up`` on free ports, with the connection rate limit out of the way."""

    def __init__(self, workdir: Path) -> None:
        self.http_port, self.ws_port, backend_port = free_ports(3)
        command = [
            str(BIN / "timeoutlab"), "up", "--host", HOST,
            "--http-port", str(self.http_port), "--ws-port", str(self.ws_port),
            "--backend-port", str(backend_port), "--time-scale", str(TIME_SCALE),
            "--ws-idle-timeout", str(IDLE_TIMEOUT_S), "--ws-connection-rate", "100000",
            "--log-level", "WARNING",
        ]  # fmt: skip
        super().__init__(command, workdir / "emulator.log", workdir)
        self.base = f"http://{HOST}:{self.http_port}"
        self.rest_url = f"{self.base}/dev"
        self.ws_url = f"ws://{HOST}:{self.ws_port}/dev"

    def wait_ready(self, timeout: float = 60.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"the emulator exited at start-up:\n{self.tail()}")
            try:
                return self._get("/_emulator/health")
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"the emulator was not healthy within {timeout:.0f} s:\n{self.tail()}")

    def _get(self, path: str) -> dict:
        # Generous: while hundreds of $connect invocations start, its answers can take seconds.
        with urllib.request.urlopen(f"{self.base}{path}", timeout=30) as response:
            return json.load(response)

    def metrics(self) -> dict:
        return self._get("/_emulator/metrics")

    def open_connections(self) -> int:
        return self.metrics()["websocket"]["current_connections"]

    def wait_quiet(self, timeout: float = 60.0) -> None:
        """Until no WebSocket is open and no Lambda runs ($disconnect, late reports)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            snapshot = self.metrics()
            running = sum(f["running"] for f in snapshot["lambda"]["functions"].values())
            if snapshot["websocket"]["current_connections"] == 0 and running == 0:
                return
            time.sleep(0.25)
        print(f"  (the emulator was still busy after {timeout:.0f} s; going on)")

    def cpu_parts(self) -> dict[str, float | None]:
        """CPU seconds so far of the emulator process and of its backend: moto and the
        execution environments, the live ones read now and the ended ones through the
        emulator's reaped-children times, so an environment that ends between two reads moves
        its time from one term to the other instead of spoiling the figure."""
        own = proc_cpu_s(self.pid)
        with_reaped = proc_cpu_s(self.pid, reaped=True)
        if own is None or with_reaped is None:
            return {"emulator": None, "backend": None}
        live = sum(proc_cpu_s(pid, reaped=True) or 0.0 for pid in descendants(self.pid))
        return {"emulator": own, "backend": live + with_reaped - own}


# -- Locust --------------------------------------------------------------------------------------


def locust_command(emulator: Emulator, locustfile: str, prefix: Path, *extra: str) -> list[str]:
    return [
        str(BIN / "locust"), "-f", locustfile, "--headless",
        "--host", emulator.rest_url, "--ws-url", emulator.ws_url,
        "--time-scale", str(TIME_SCALE), "--json-file", str(prefix), "--csv", str(prefix),
        "--only-summary", "--exit-code-on-error", "0", *extra,
    ]  # fmt: skip


def read_stats(prefix: Path, request_type: str, name_prefix: str = "") -> dict | None:
    """The final stats entry of one request type (the JSON file, written after the last event)."""
    path = prefix.with_name(prefix.name + ".json")
    if not path.exists():
        return None
    entries = [
        entry
        for entry in json.loads(path.read_text())
        if entry["method"] == request_type and entry["name"].startswith(name_prefix)
    ]
    return entries[0] if entries else None


def percentile(response_times: dict, fraction: float) -> float | None:
    """From Locust's bucketed response times (ms -> count)."""
    buckets = sorted((float(ms), count) for ms, count in response_times.items())
    total = sum(count for _, count in buckets)
    if not total:
        return None
    seen = 0
    for ms, count in buckets:
        seen += count
        if seen >= fraction * total:
            return ms
    return buckets[-1][0]


def first_error(prefix: Path) -> str:
    path = prefix.with_name(prefix.name + "_failures.csv")
    lines = path.read_text().splitlines()[1:] if path.exists() else []
    return lines[0][:160] if lines else ""


def wait_for_line(child: Child, text: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and child.alive():
        if text in child.log.read_text(errors="replace"):
            return True
        time.sleep(0.1)
    return False


# -- the server's process tree -------------------------------------------------------------------


@dataclass(frozen=True)
class TreeMemory:
    """RSS (KB) of the emulator's process tree at one instant, by part, and how many execution
    environments were alive (the emulator's direct children other than the moto backend)."""

    emulator_kb: int
    backend_kb: int
    environments_kb: int
    environments: int

    @property
    def total_kb(self) -> int:
        return self.emulator_kb + self.backend_kb + self.environments_kb


def _cmdline(pid: int) -> str:
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return ""


def _parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def server_tree(pid: int) -> TreeMemory | None:
    """The tree's memory by part (Linux /proc); None where the emulator's RSS cannot be read.

    A process's RSS counts the shared libraries it maps, so the sum over processes is an upper
    bound of what the tree holds; execution environments are spawned programs, not forks, so
    they share no copied-on-write heap with the emulator."""
    own = proc_rss_kb(pid)
    if own is None:
        return None
    backend = environments = count = 0
    for child in descendants(pid):
        rss = proc_rss_kb(child) or 0  # gone meanwhile: nothing held
        if MOTO_SERVE in _cmdline(child):
            backend += rss
        else:
            environments += rss
            count += _parent(child) == pid
    return TreeMemory(own, backend, environments, count)


def _mb(kb: float | None) -> str:
    return "n/a" if kb is None else f"{kb / 1024:.1f}"


def _ms(value: float | None) -> str:
    """Whole milliseconds or percent, or n/a where it could not be measured."""
    return "n/a" if value is None else f"{value:.0f}"


def wait_held(emulator: Emulator, target: int, alive: Child, timeout: float) -> int:
    """Polls the gateway's count of open connections until it is ``target`` (or the time is
    up, or the client died); returns the last count."""
    deadline = time.monotonic() + timeout
    count = -1
    while count != target and time.monotonic() < deadline and alive.alive():
        with contextlib.suppress(OSError):  # timed out: the emulator is busy; ask again
            count = emulator.open_connections()
        if count != target:
            time.sleep(0.25)
    return count


def warm_up(emulator: Emulator, connections: int) -> None:
    """``connections`` opened and closed one after another, so a baseline read next has the
    $connect and $disconnect handlers loaded."""
    from websockets.sync.client import connect

    for _ in range(connections):
        with connect(emulator.ws_url, compression=None, open_timeout=30):
            pass
    emulator.wait_quiet()


# -- 1. idle connections held, and their memory --------------------------------------------------


@dataclass
class HeldLevel:
    connections: int
    open_at_gateway: int
    held: bool
    tree: TreeMemory | None
    client_rss_kb: int | None
    failed: int
    open_seconds: float  # real seconds the client took to reach the level from the last one


@dataclass
class HeldResult:
    baseline: TreeMemory | None
    nofile: tuple[int, int]  # (soft, hard) RLIMIT_NOFILE the emulator and the client run with
    levels: list[HeldLevel] = field(default_factory=list)
    skipped: tuple[int, ...] = ()  # levels the hard limit leaves no room for

    @property
    def held(self) -> HeldLevel | None:
        held = [level for level in self.levels if level.held]
        return held[-1] if held else None

    def kb_per_connection(self, part: str = "total_kb") -> tuple[float | None, str]:
        """(KB per connection, how it was found) for the tree or one part (a TreeMemory
        attribute): the RSS slope from the lowest to the highest level held, which leaves out
        one-off costs such as the $connect function's execution environments; from no
        connection when only one level held."""
        held = [level for level in self.levels if level.held and level.tree is not None]
        low: TreeMemory | None = self.baseline
        low_count = 0
        if len(held) >= 2:
            low, low_count = held[0].tree, held[0].connections
        if not held or low is None:
            return None, "no level held"
        high = held[-1]
        assert high.tree is not None  # filtered above
        grown = getattr(high.tree, part) - getattr(low, part)
        return grown / (high.connections - low_count), (
            f"RSS slope from {low_count} to {high.connections} connections"
        )


def levels_allowed(levels: tuple[int, ...], limit: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(levels tried, levels skipped) under the RLIMIT_NOFILE in force (``limit``, the soft
    one): each connection is a descriptor in the emulator and one in the client, and each
    process needs ``SPARE_DESCRIPTORS`` more."""
    fits = tuple(
        n for n in levels if limit == resource.RLIM_INFINITY or n + SPARE_DESCRIPTORS <= limit
    )
    return fits, tuple(n for n in levels if n not in fits)


def read_answer(client: Child, answers: int, timeout: float) -> dict | None:
    """The client's ``answers``-th JSON line (1-based) once written, None if it did not come."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and client.alive():
        lines = [ln for ln in client.log.read_text(errors="replace").splitlines() if ln[:1] == "{"]
        if len(lines) >= answers:
            return json.loads(lines[answers - 1])
        time.sleep(0.2)
    return None


def held_connections(emulator: Emulator, plan: Plan, workdir: Path) -> HeldResult:
    """Section 1 on ``emulator`` (its own, stopped here when done): ``plan.held_levels`` of
    silent connections from ``benchmarks.idle_client``, each level held ``plan.held_seconds``,
    with the tree's memory read at each. Levels past the hard RLIMIT_NOFILE are skipped, said so;
    the first level that does not hold ends the section."""
    # One connection, not more: each $disconnect that finds no free environment starts one
    # (20 quick connections in a row left 20 of ~55 MB each), which would be counted here.
    warm_up(emulator, 1)
    time.sleep(1.0)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    tried, skipped = levels_allowed(plan.held_levels, soft)  # raised to hard at start
    result = HeldResult(server_tree(emulator.pid), (soft, hard), skipped=skipped)
    command = [
        sys.executable, "-m", "benchmarks.idle_client", emulator.ws_url,
        "--in-flight", str(plan.connect_in_flight),
    ]  # fmt: skip
    client = Child(command, workdir / "idle-client.log", workdir, stdin=True)
    assert client.process.stdin is not None
    try:
        print_held_header(result)
        for index, connections in enumerate(tried, start=1):
            started = time.monotonic()
            client.process.stdin.write(f"{connections}\n".encode())
            client.process.stdin.flush()
            # A handshake takes well under 20 ms of the client's wait even on a busy machine.
            answer = read_answer(client, index, 60 + connections * 0.02)
            opened_s = time.monotonic() - started
            reached = wait_held(emulator, connections, client, 30)
            time.sleep(plan.held_seconds)
            still = emulator.open_connections()
            level = HeldLevel(
                connections,
                still,
                answer is not None and reached == still == connections,
                server_tree(emulator.pid),
                proc_rss_kb(client.pid),
                answer["failed"] if answer else 0,
                opened_s,
            )
            result.levels.append(level)
            print_held_level(result, level)
            if not level.held:
                if answer is None:
                    print(f"    the client did not answer: {client.tail(5)}")
                break
    finally:
        # The emulator first, with a short grace: its shutdown closes every connection with 1001
        # and would run their $disconnect routes (50 took it 10 s), which measure nothing here;
        # past the grace its process group is killed and its environments end with it. The
        # client then ends with its stdin.
        emulator.stop(grace=SHUTDOWN_GRACE_S)
        client.stop()
    return result


def print_held_header(result: HeldResult) -> None:
    soft, hard = result.nofile
    print(f"  RLIMIT_NOFILE of the emulator and the client: soft {soft}, hard {hard}")
    if result.skipped:
        which = "hard limit" if soft == hard else "soft limit (it could not be raised)"
        print(
            f"  the {which} {soft} is too low for {', '.join(map(str, result.skipped))} "
            f"connections (each is a descriptor in the emulator and in the client, plus "
            f"{SPARE_DESCRIPTORS} spare): those levels are skipped; raise the hard limit "
            "(ulimit -Hn, as root) to try them"
        )
    print(
        f"  {'connections':>11}  {'open at gateway':>15}  {'held':>4}  {'tree RSS MB':>11}  "
        f"{'emulator MB':>11}  {'moto MB':>7}  {'envs':>4}  {'envs MB':>7}  "
        f"{'KB/conn from 0':>14}  {'client MB':>9}  {'open s':>6}"
    )
    print(f"  {0:>11}  {0:>15}  {'-':>4}  {tree_columns(result.baseline)}", flush=True)


def tree_columns(tree: TreeMemory | None) -> str:
    """The tree's part of a table row: total, emulator, moto, environments (count, MB)."""
    if tree is None:
        return f"{'n/a':>11}  {'n/a':>11}  {'n/a':>7}  {'n/a':>4}  {'n/a':>7}"
    return (
        f"{_mb(tree.total_kb):>11}  {_mb(tree.emulator_kb):>11}  {_mb(tree.backend_kb):>7}  "
        f"{tree.environments:>4}  {_mb(tree.environments_kb):>7}"
    )


def print_held_level(result: HeldResult, level: HeldLevel) -> None:
    tree, base = level.tree, result.baseline
    per = (
        f"{(tree.total_kb - base.total_kb) / level.connections:.1f}"
        if tree is not None and base is not None
        else "n/a"
    )
    print(
        f"  {level.connections:>11}  {level.open_at_gateway:>15}  "
        f"{'yes' if level.held else 'NO':>4}  {tree_columns(tree)}  {per:>14}  "
        f"{_mb(level.client_rss_kb):>9}  {level.open_seconds:>6.1f}",
        flush=True,
    )
    if level.failed:
        print(f"    {level.failed} opening handshakes failed")


# -- 2. concurrent users from one Locust process -------------------------------------------------

SHAPE = '''
"""Levels of idle users, moved on by the benchmark through a control file."""
from pathlib import Path

from locust import LoadTestShape


class BenchmarkLevels(LoadTestShape):
    control = Path({control!r})
    levels = {levels!r}
    rate = {rate!r}
    limit_s = {limit!r}

    def tick(self):
        step = self.control.read_text().strip()
        if step == "stop" or self.get_run_time() > self.limit_s:
            return None
        return self.levels[int(step)], self.rate
'''


@dataclass
class LocustLevel:
    users: int
    open_at_gateway: int
    held: bool
    locust_rss_kb: int | None
    spawn_cpu: float | None  # Locust's CPU % (100 = one core) while it opened the level
    hold_cpu: float | None  # and while it held it


@dataclass
class LocustResult:
    levels: list[LocustLevel] = field(default_factory=list)
    failures: int = 0
    error: str = ""

    @property
    def held(self) -> LocustLevel | None:
        held = [level for level in self.levels if level.held]
        return held[-1] if held else None


def set_level(control: Path, value: str) -> None:
    """Atomically, so the shape never reads a half-written file."""
    partial = control.with_suffix(".partial")
    partial.write_text(value)
    partial.replace(control)


def locust_users(emulator: Emulator, plan: Plan, workdir: Path) -> LocustResult:
    result = LocustResult()
    control = workdir / "idle_level"
    set_level(control, "0")
    ramp_s = max(plan.locust_levels) / plan.locust_spawn_rate
    limit_s = len(plan.locust_levels) * (plan.locust_hold_seconds + 45) + 3 * ramp_s + 30
    shape = workdir / "idle_levels_shape.py"
    shape.write_text(
        SHAPE.format(
            control=str(control),
            levels=plan.locust_levels,
            rate=plan.locust_spawn_rate,
            limit=limit_s,
        )
    )
    prefix = workdir / "idle"
    locustfile = f"{LOCUSTFILES / 'idle_websocket.py'},{shape}"
    command = locust_command(emulator, locustfile, prefix, "--idle-timeout", str(IDLE_TIMEOUT_S))
    command += ["--run-time", f"{int(limit_s) + 10}s"]
    locust = Child(command, workdir / "locust-idle.log", workdir)
    print(
        f"  {'users':>6}  {'open at gateway':>15}  {'held':>4}  {'Locust RSS MB':>13}  "
        f"{'Locust CPU% opening':>19}  {'Locust CPU% holding':>19}",
        flush=True,
    )
    try:
        previous = 0
        for index, users in enumerate(plan.locust_levels):
            before = cpu_sample({"locust": [locust.pid]})
            set_level(control, str(index))
            reached = wait_held(
                emulator, users, locust, 3 * (users - previous) / plan.locust_spawn_rate + 30
            )
            spawn = cpu_percent(before, cpu_sample({"locust": [locust.pid]}))["locust"]
            before = cpu_sample({"locust": [locust.pid]})
            time.sleep(plan.locust_hold_seconds)
            hold = cpu_percent(before, cpu_sample({"locust": [locust.pid]}))["locust"]
            still = emulator.open_connections()
            held = reached == users and still == users and locust.alive()
            level = LocustLevel(users, still, held, proc_rss_kb(locust.pid), spawn, hold)
            result.levels.append(level)
            print(
                f"  {users:>6}  {still:>15}  {'yes' if held else 'NO':>4}  "
                f"{_mb(level.locust_rss_kb):>13}  {_ms(spawn):>19}  {_ms(hold):>19}",
                flush=True,
            )
            previous = users
            if not held:
                break
        set_level(control, "stop")
        locust.wait(60)
    finally:
        locust.stop()
    stats = read_stats(prefix, "WS", "idle close")
    # No close may happen while held (the idle timeout is 600 s): any event here is a failure.
    result.failures = stats["num_failures"] if stats else 0
    result.error = first_error(prefix)
    if result.failures:
        print(f"  Locust reported {result.failures} failures: {result.error}")
    emulator.wait_quiet(120)
    return result


# -- 3. the report round-trip ceiling ------------------------------------------------------------

CLOSED_LOOP = '''
"""WebsocketUser with no think time: a closed loop, each round trip starts when the last ends."""
import locustfiles.websocket as base


class ClosedLoopWebsocketUser(base.WebsocketUser):
    think_time_s = (0.0, 0.0)
'''


@dataclass
class Step:
    users: int
    round_trips_per_s: float
    p50_ms: float | None
    p95_ms: float | None
    requests: int
    failures: int
    cpu: dict[str, float | None]
    error: str = ""

    def within(self, plan: Plan) -> bool:
        """No failures, and a p95 time to result within the bound."""
        return (
            self.failures == 0
            and self.requests > 0
            and self.p95_ms is not None
            and self.p95_ms <= plan.p95_bound_ms
        )


def warm_environments(emulator: Emulator, users: int) -> None:
    """``users`` report round trips at once, unmeasured, so the step that follows measures warm
    execution environments (one per concurrent invocation of each function), not cold starts."""
    from concurrent.futures import ThreadPoolExecutor

    from reportclient import Endpoints, fetch_report

    endpoints = Endpoints(emulator.rest_url, emulator.ws_url)
    definition = {"delay": 0, "amountOfRows": 10}
    with ThreadPoolExecutor(users) as pool:
        list(pool.map(lambda _: fetch_report("websocket", endpoints, definition), range(users)))
    emulator.wait_quiet()


def ceiling_step(emulator: Emulator, users: int, plan: Plan, workdir: Path) -> Step:
    prefix = workdir / f"round_trips_{users}"
    locustfile = workdir / "closed_loop_websocket.py"
    locustfile.write_text(CLOSED_LOOP)
    run_s = plan.step_seconds + 2  # spawning (a second at most) plus the measured window
    command = locust_command(
        emulator, str(locustfile), prefix,
        "--users", str(users), "--spawn-rate", str(users), "--run-time", f"{run_s:g}s",
        "--reset-stats", "--report-delay", str(plan.report_delay_ms),
        "--report-rows", str(plan.report_rows),
    )  # fmt: skip
    locust = Child(command, workdir / f"locust-{users}.log", workdir)
    cpu: dict[str, float | None] = {}
    try:
        if wait_for_line(locust, "All users spawned", 60):

            def sample() -> tuple[float, dict[str, float | None]]:
                return time.monotonic(), {
                    **emulator.cpu_parts(),
                    "locust": proc_cpu_s(locust.pid),
                }

            time.sleep(0.5)
            before = sample()
            time.sleep(max(0.5, plan.step_seconds - 0.5))
            cpu = cpu_percent(before, sample())
        locust.wait(run_s + 60)
    finally:
        locust.stop()
    emulator.wait_quiet()  # in-flight reports finish and post to gone connections
    stats = read_stats(prefix, "REPORT")
    if stats is None:
        return Step(users, 0.0, None, None, 0, 0, cpu, f"no stats: {locust.tail(5)}")
    window = (stats["last_request_timestamp"] or stats["start_time"]) - stats["start_time"]
    rate = stats["num_requests"] / window if window > 0 else 0.0
    times = stats["response_times"]
    return Step(
        users,
        rate,
        percentile(times, 0.50),
        percentile(times, 0.95),
        stats["num_requests"],
        stats["num_failures"],
        cpu,
        first_error(prefix) if stats["num_failures"] else "",
    )


def ceiling_steps(emulator: Emulator, plan: Plan, workdir: Path) -> list[Step]:
    """Steps up in users until one has failures or a p95 over the bound (that step included)."""
    print(
        f"  {'users':>6}  {'round trips/s':>13}  {'p50 ms':>7}  {'p95 ms':>7}  {'reports':>7}  "
        f"{'failures':>8}  {'emulator CPU%':>13}  {'backend CPU%':>12}  {'Locust CPU%':>11}"
    )
    steps: list[Step] = []
    for users in plan.ceiling_users:
        warm_environments(emulator, users)
        step = ceiling_step(emulator, users, plan, workdir)
        steps.append(step)
        print(
            f"  {users:>6}  {step.round_trips_per_s:>13.1f}  {_ms(step.p50_ms):>7}  "
            f"{_ms(step.p95_ms):>7}  {step.requests:>7}  {step.failures:>8}  "
            f"{_ms(step.cpu.get('emulator')):>13}  {_ms(step.cpu.get('backend')):>12}  "
            f"{_ms(step.cpu.get('locust')):>11}",
            flush=True,
        )
        if step.error:
            print(f"          first failure: {step.error}")
        if not step.within(plan):
            break  # p95 passed the bound (or failures appeared): more users only queue longer
    return steps


def ceiling(steps: list[Step], plan: Plan) -> tuple[Step | None, Step | None]:
    """(the step with the highest round trips/s within the bound, the first step past it)."""
    ok = [s for s in steps if s.within(plan)]
    past = next((s for s in steps if not s.within(plan)), None)
    return max(ok, key=lambda s: s.round_trips_per_s, default=None), past


# -- the run -------------------------------------------------------------------------------------


@contextmanager
def stopped_on_signals() -> Iterator[None]:
    """Ctrl-C and SIGTERM end the run the same way, so the cleanup always runs.

    SIGINT is set explicitly: a shell starts background jobs with it ignored.
    """

    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def raise_open_files_limit() -> tuple[int, int]:
    """The soft RLIMIT_NOFILE up to the hard one (children inherit it: ``timeoutlab up`` does
    not raise its own); returns the limits now in force. Each idle connection is a descriptor in
    the emulator and one in its client."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = 1 << 20 if hard == resource.RLIM_INFINITY else hard
        with contextlib.suppress(ValueError, OSError):  # e.g. above the kernel's nr_open
            resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, target), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def started_emulator(workdir: Path, name: str) -> Emulator:
    emulator = Emulator(workdir / name)
    try:
        emulator.wait_ready()
    except BaseException:
        emulator.stop()
        raise
    print(
        f"emulator: timeoutlab up (pid {emulator.pid}) at {emulator.rest_url} and "
        f"{emulator.ws_url}\n",
        flush=True,
    )
    return emulator


def run(plan: Plan, workdir: Path) -> int:
    cpus = os.cpu_count() or 0
    print(
        f"timeoutlab WebSocket capacity on this machine: {cpus} CPUs, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}; time scale {TIME_SCALE:g} "
        "(emulated = real time)",
        flush=True,
    )
    if hasattr(os, "getloadavg"):  # other work on the machine lowers every figure
        print(f"load average before the run: {os.getloadavg()[0]:.2f} (1 min)")
    if proc_rss_kb(os.getpid()) is None:
        print("  (no /proc here: memory and CPU figures are unavailable)")
    raise_open_files_limit()
    started = time.monotonic()
    held: HeldResult | None = None
    users: LocustResult | None = None
    steps: list[Step] | None = None

    if "held" in plan.sections:
        print(
            f"1. Idle WebSocket connections held (benchmarks/idle_client.py, one asyncio process, "
            f"at most {plan.connect_in_flight} opening handshakes at once; each level held "
            f"{plan.held_seconds:g} s; RSS of the emulator's whole tree: the emulator, its moto "
            f"backend and the execution environments alive)",
            flush=True,
        )
        (workdir / "held").mkdir()
        held = held_connections(started_emulator(workdir, "held"), plan, workdir / "held")

    if "locust" in plan.sections or "ceiling" in plan.sections:
        (workdir / "load").mkdir()
        emulator = started_emulator(workdir, "load")
        try:
            if "locust" in plan.sections:
                print(
                    f"2. Concurrent WebSocket users from one Locust process (IdleWebsocketUser, "
                    f"{plan.locust_spawn_rate:g} new per second, each level held "
                    f"{plan.locust_hold_seconds:g} s; CPU 100 % = one core)",
                    flush=True,
                )
                users = locust_users(emulator, plan, workdir / "load")
            if "ceiling" in plan.sections:
                print(
                    f"\n3. Report round-trip ceiling (closed loop: WebsocketUser with no think "
                    f"time, connect, generateReport, URL pushed; report delay "
                    f"{plan.report_delay_ms} ms, {plan.report_rows} rows; {plan.step_seconds:g} s "
                    f"per step after one unmeasured round trip per user so the execution "
                    f"environments are warm; stepped up until p95 passes {plan.p95_bound_ms:g} ms)",
                    flush=True,
                )
                steps = ceiling_steps(emulator, plan, workdir / "load")
        finally:
            emulator.stop()

    print(f"\nFigures ({cpus} CPUs, {time.monotonic() - started:.0f} s run):")
    if steps is not None:
        print_ceiling(steps, plan)
    if held is not None:
        print_held(held)
    if users is not None:
        print_users(users)
    return 0


def print_users(users: LocustResult) -> None:
    level = users.held
    if level is None:
        print("  concurrent WebSocket users from one Locust process: 0 (no level held)")
        return
    print(
        f"  concurrent WebSocket users from one Locust process: {level.users} idle users "
        f"held (Locust RSS {_mb(level.locust_rss_kb)} MB, CPU {_ms(level.spawn_cpu)} % "
        f"opening, {_ms(level.hold_cpu)} % holding"
        f"{'' if level is users.levels[-1] else '; the next level did not hold'})"
    )


def print_ceiling(steps: list[Step], plan: Plan) -> None:
    best, past = ceiling(steps, plan)
    if past is None:
        passed = f"p95 stayed within {plan.p95_bound_ms:g} ms up to {steps[-1].users} users"
    else:
        why = f"{past.failures} failures" if past.failures else f"p95 {_ms(past.p95_ms)} ms"
        passed = f"passed at {past.users} users: {past.round_trips_per_s:.1f}/s, {why}"
    if best is None:
        print(
            f"  report round trips per second, ceiling: 0 (no step without failures and "
            f"p95 <= {plan.p95_bound_ms:g} ms; {passed})"
        )
    else:
        print(
            f"  report round trips per second, ceiling: {best.round_trips_per_s:.1f} "
            f"({best.users} closed-loop users, p50 {_ms(best.p50_ms)} ms, p95 "
            f"{_ms(best.p95_ms)} ms; {passed})"
        )


def print_held(held: HeldResult) -> None:
    level = held.held
    if level is None or level.tree is None:
        print("  idle WebSocket connections held: 0 (no level held, or no /proc)")
        return
    tree = level.tree
    verdict = "within" if tree.total_kb <= GIB_KB else "over"
    print(
        f"  idle WebSocket connections held: {level.connections} in "
        f"{_mb(tree.total_kb)} MB of server RSS ({verdict} 1 GiB: emulator "
        f"{_mb(tree.emulator_kb)}, moto {_mb(tree.backend_kb)}, {tree.environments} execution "
        f"environments {_mb(tree.environments_kb)})"
    )
    if held.skipped:
        print(
            f"  (not tried: {', '.join(map(str, held.skipped))} connections, over what "
            f"RLIMIT_NOFILE {held.nofile[0]} allows)"
        )
    per, how = held.kb_per_connection()
    own, _ = held.kb_per_connection("emulator_kb")
    if per is None or own is None:
        print(f"  memory per idle connection: unavailable ({how})")
    else:
        print(
            f"  memory per idle connection: {per:.1f} KB of the server tree, {own:.1f} KB of "
            f"it in the emulator ({how})"
        )


def _counts(text: str) -> tuple[int, ...]:
    values = tuple(int(part) for part in text.split(","))
    if not values or any(v <= 0 for v in values) or list(values) != sorted(set(values)):
        raise argparse.ArgumentTypeError(f"rising positive counts, e.g. 10,25,50: {text!r}")
    return values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=textwrap.dedent(__doc__ or "").split("\n\n")[0],
    )
    defaults = Plan()
    parser.add_argument("--quick", action="store_true", help="tiny steps, under ~30 s")
    parser.add_argument(
        "--users",
        type=_counts,
        help=f"closed-loop users per ceiling step (default {_joined(defaults.ceiling_users)})",
    )
    parser.add_argument(
        "--held",
        type=_counts,
        help=f"idle connection levels (default {_joined(defaults.held_levels)})",
    )
    parser.add_argument(
        "--locust-users",
        type=_counts,
        help=f"Locust idle user levels (default {_joined(defaults.locust_levels)})",
    )
    parser.add_argument("--step-seconds", type=float, help="measured seconds per ceiling step")
    parser.add_argument(
        "--p95-bound-ms", type=float, help="the p95 time to result the ceiling stays within"
    )
    parser.add_argument(
        "--in-flight", type=int, help="opening handshakes at once for the held connections"
    )
    parser.add_argument(
        "--sections",
        type=_sections,
        help=f"which parts to run (default {','.join(SECTIONS)})",
    )
    args = parser.parse_args(argv)
    plan = Plan.quick() if args.quick else Plan()
    if args.sections:
        plan.sections = args.sections
    if args.users:
        plan.ceiling_users = args.users
    if args.held:
        plan.held_levels = args.held
    if args.locust_users:
        plan.locust_levels = args.locust_users
    if args.step_seconds:
        plan.step_seconds = max(1.0, args.step_seconds)
    if args.p95_bound_ms:
        plan.p95_bound_ms = args.p95_bound_ms
    if args.in_flight:
        plan.connect_in_flight = max(1, args.in_flight)
    for tool in ("timeoutlab", "locust"):
        if not (BIN / tool).exists():
            print(f"{BIN / tool} not found: run with the project's venv (make test sets it up)")
            return 2
    with tempfile.TemporaryDirectory(prefix="timeoutlab-bench-") as tmp, stopped_on_signals():
        try:
            return run(plan, Path(tmp))
        except KeyboardInterrupt:
            print(
                "\ninterrupted: the emulator, Locust and the client were stopped", file=sys.stderr
            )
            return 130
        except RuntimeError as exc:
            print(f"benchmark failed: {exc}", file=sys.stderr)
            return 1


def _sections(text: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [name for name in names if name not in SECTIONS]
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"some of {','.join(SECTIONS)}: {text!r}")
    return names


def _joined(values: tuple[int, ...]) -> str:
    return ",".join(map(str, values))


if __name__ == "__main__":
    sys.exit(main())
