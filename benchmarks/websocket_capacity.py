"""How much WebSocket load one Locust process and the emulator sustain on this machine.

Run ``.venv/bin/python benchmarks/websocket_capacity.py [--quick]`` (or ``make bench``). It starts
``timeoutlab up`` as a process of its own on free loopback ports, so its memory can be read from
/proc, and prints three figures with the table each comes from:

- concurrent idle WebSocket users held open: ``IdleWebsocketUser`` in one Locust process, stepped
  up to each level and held there while the gateway's count of open connections is checked;
- the emulator's memory per idle connection: its RSS at those levels;
- report round trips per second: ``WebsocketUser`` in one Locust process, stepped up in users until
  failures appear or round trips per second stop growing. "Sustained" is the best step with no
  failures and a p95 time to result within ``--p95-bound-ms``.

Speed is a printed figure, never a pass/fail: it depends on the machine and what else runs on it.
Everything binds 127.0.0.1, every step is bounded in time, and the emulator and Locust processes
are stopped on exit, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
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

from emulator.backends.moto_server import free_ports
from emulator.runtime.environment import descendants

ROOT = Path(__file__).absolute().parent.parent
BIN = Path(sys.executable).parent
LOCUSTFILES = ROOT / "locustfiles"
HOST = "127.0.0.1"
TIME_SCALE = 1.0  # real time: think times, latencies and the idle timeout mean what they say
IDLE_TIMEOUT_S = 600  # AWS's and the emulator's default; no idle close may happen while held
CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass
class Plan:
    """What to measure; ``--quick`` is a smoke run of the same steps in under ~30 s."""

    round_trip_users: tuple[int, ...] = (10, 25, 50, 100, 200)
    step_seconds: float = 15.0
    report_delay_ms: int = 0  # the pipeline's own cost, not a report's wait
    report_rows: int = 10
    p95_bound_ms: float = 1000.0
    idle_levels: tuple[int, ...] = (250, 500, 1000, 2000)
    idle_spawn_rate: float = 250.0
    idle_hold_seconds: float = 3.0
    growth: float = 1.05  # a step must beat the best round trips/s by 5 % to count as growth

    @classmethod
    def quick(cls) -> Plan:
        return cls(
            round_trip_users=(5,),
            step_seconds=3.0,
            # Each new idle user's $connect may need an execution environment of its own: 50 cold
            # starts at once did not all finish within 5 s on 2 busy cores (45 and 25 of 50).
            idle_levels=(20,),
            idle_spawn_rate=100.0,
            idle_hold_seconds=5.0,
        )


# -- processes -----------------------------------------------------------------------------------


def child_environment() -> dict[str, str]:
    """The checkout's code first, whatever the venv has installed."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path}


class Child:
    """A process in a session of its own, so stopping it stops its children (moto) too."""

    def __init__(self, command: list[str], log: Path, cwd: Path) -> None:
        self.log = log
        self.out = log.open("wb")
        self.process = subprocess.Popen(
            command,
            stdout=self.out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
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


def proc_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def cpu_sample(pids: dict[str, list[int]]) -> tuple[float, dict[str, float | None]]:
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
        with urllib.request.urlopen(f"{self.base}{path}", timeout=10) as response:
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

    def cpu_pids(self) -> dict[str, list[int]]:
        return {"emulator": [self.pid], "backend": descendants(self.pid)}


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


# -- 1. concurrent idle users and memory ---------------------------------------------------------

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
class IdleLevel:
    users: int
    open_at_gateway: int
    held: bool
    emulator_rss_kb: int | None
    locust_rss_kb: int | None


@dataclass
class IdleResult:
    baseline_rss_kb: int | None
    levels: list[IdleLevel] = field(default_factory=list)
    failures: int = 0
    error: str = ""

    @property
    def held(self) -> int:
        held = [level.users for level in self.levels if level.held]
        return max(held) if held else 0

    def kb_per_connection(self) -> tuple[float | None, str]:
        """The RSS slope over the levels held; from the baseline when only one was held."""
        held = [lv for lv in self.levels if lv.held and lv.emulator_rss_kb is not None]
        if len(held) >= 2:
            low, high = held[0], held[-1]
            assert low.emulator_rss_kb is not None  # held: measured
            assert high.emulator_rss_kb is not None
            slope = (high.emulator_rss_kb - low.emulator_rss_kb) / (high.users - low.users)
            return slope, f"RSS slope from {low.users} to {high.users} open connections"
        if held and self.baseline_rss_kb is not None:
            level = held[0]
            assert level.emulator_rss_kb is not None  # held: measured
            per = (level.emulator_rss_kb - self.baseline_rss_kb) / level.users
            return per, f"RSS from 0 to {level.users} open connections"
        return None, "no level held"

    def locust_kb_per_user(self) -> float | None:
        """The client side's share: Locust's RSS slope over the levels held."""
        held = [lv for lv in self.levels if lv.held and lv.locust_rss_kb is not None]
        if len(held) < 2:
            return None
        low, high = held[0], held[-1]
        assert low.locust_rss_kb is not None  # held: measured
        assert high.locust_rss_kb is not None
        return (high.locust_rss_kb - low.locust_rss_kb) / (high.users - low.users)


def set_level(control: Path, value: str) -> None:
    """Atomically, so the shape never reads a half-written file."""
    partial = control.with_suffix(".partial")
    partial.write_text(value)
    partial.replace(control)


def warm_up(emulator: Emulator, connections: int = 20) -> None:
    """A few connections first, so the baseline has the $connect handlers loaded."""
    from websockets.sync.client import connect

    for _ in range(connections):
        with connect(emulator.ws_url, compression=None, open_timeout=30):
            pass
    emulator.wait_quiet()


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


def idle_users(emulator: Emulator, plan: Plan, workdir: Path) -> IdleResult:
    warm_up(emulator)
    time.sleep(1.0)
    result = IdleResult(baseline_rss_kb=proc_rss_kb(emulator.pid))
    control = workdir / "idle_level"
    set_level(control, "0")
    ramp_s = max(plan.idle_levels) / plan.idle_spawn_rate
    limit_s = len(plan.idle_levels) * (plan.idle_hold_seconds + 15) + 3 * ramp_s + 30
    shape = workdir / "idle_levels_shape.py"
    shape.write_text(
        SHAPE.format(
            control=str(control), levels=plan.idle_levels, rate=plan.idle_spawn_rate, limit=limit_s
        )
    )
    prefix = workdir / "idle"
    locustfile = f"{LOCUSTFILES / 'idle_websocket.py'},{shape}"
    command = locust_command(emulator, locustfile, prefix, "--idle-timeout", str(IDLE_TIMEOUT_S))
    command += ["--run-time", f"{int(limit_s) + 10}s"]
    locust = Child(command, workdir / "locust-idle.log", workdir)
    try:
        previous = 0
        for index, users in enumerate(plan.idle_levels):
            set_level(control, str(index))
            reach_s = 3 * (users - previous) / plan.idle_spawn_rate + 10
            deadline = time.monotonic() + reach_s
            while time.monotonic() < deadline and locust.alive():
                if emulator.open_connections() >= users:
                    break
                time.sleep(0.2)
            time.sleep(0.5)  # let the last handshakes and $connect calls settle
            reached = emulator.open_connections()
            rss, locust_rss = proc_rss_kb(emulator.pid), proc_rss_kb(locust.pid)
            time.sleep(plan.idle_hold_seconds)
            still = emulator.open_connections()
            held = reached == users and still == users and locust.alive()
            result.levels.append(IdleLevel(users, still, held, rss, locust_rss))
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
    emulator.wait_quiet()
    return result


def print_idle(result: IdleResult) -> None:
    print(
        f"  {'users':>6}  {'open at gateway':>15}  {'held':>4}  {'emulator RSS MB':>15}  "
        f"{'KB/conn from 0':>14}  {'Locust RSS MB':>13}"
    )
    base = result.baseline_rss_kb
    print(f"  {0:>6}  {0:>15}  {'-':>4}  {_mb(base):>15}  {'-':>14}  {'-':>13}")
    for lv in result.levels:
        per = (
            f"{(lv.emulator_rss_kb - base) / lv.users:.1f}"
            if base is not None and lv.emulator_rss_kb is not None
            else "n/a"
        )
        print(
            f"  {lv.users:>6}  {lv.open_at_gateway:>15}  {'yes' if lv.held else 'NO':>4}  "
            f"{_mb(lv.emulator_rss_kb):>15}  {per:>14}  {_mb(lv.locust_rss_kb):>13}"
        )
    if result.failures:
        print(f"  Locust reported {result.failures} failures: {result.error}")


def _mb(kb: int | None) -> str:
    return "n/a" if kb is None else f"{kb / 1024:.1f}"


# -- 2. report round trips -----------------------------------------------------------------------


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


def round_trip_step(emulator: Emulator, users: int, plan: Plan, workdir: Path) -> Step:
    prefix = workdir / f"round_trips_{users}"
    run_s = plan.step_seconds + 2  # spawning (a second at most) plus the measured window
    command = locust_command(
        emulator, str(LOCUSTFILES / "websocket.py"), prefix,
        "--users", str(users), "--spawn-rate", str(users), "--run-time", f"{run_s:g}s",
        "--reset-stats", "--report-delay", str(plan.report_delay_ms),
        "--report-rows", str(plan.report_rows),
    )  # fmt: skip
    locust = Child(command, workdir / f"locust-{users}.log", workdir)
    cpu: dict[str, float | None] = {}
    try:
        if wait_for_line(locust, "All users spawned", 60):
            pids = {**emulator.cpu_pids(), "locust": [locust.pid]}
            time.sleep(0.5)
            before = cpu_sample(pids)
            time.sleep(max(0.5, plan.step_seconds - 0.5))
            cpu = cpu_percent(before, cpu_sample(pids))
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


def round_trips(emulator: Emulator, plan: Plan, workdir: Path) -> list[Step]:
    print(
        f"  {'users':>6}  {'round trips/s':>13}  {'p50 ms':>7}  {'p95 ms':>7}  {'reports':>7}  "
        f"{'failures':>8}  {'emulator CPU%':>13}  {'backend CPU%':>12}  {'Locust CPU%':>11}"
    )
    steps: list[Step] = []
    best = 0.0
    for users in plan.round_trip_users:
        warm_environments(emulator, users)
        step = round_trip_step(emulator, users, plan, workdir)
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
        if step.failures:
            break  # failures appeared: the next step would only fail more
        if best and step.round_trips_per_s < best * plan.growth:
            break  # round trips per second stopped growing
        best = max(best, step.round_trips_per_s)
    return steps


def sustained(steps: list[Step], plan: Plan) -> Step | None:
    ok = [
        s
        for s in steps
        if s.failures == 0 and s.requests and s.p95_ms is not None and s.p95_ms <= plan.p95_bound_ms
    ]
    return max(ok, key=lambda s: s.round_trips_per_s, default=None)


def _ms(value: float | None) -> str:
    """Whole milliseconds or percent, or n/a where it could not be measured."""
    return "n/a" if value is None else f"{value:.0f}"


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


def raise_open_files_limit() -> None:
    """Each idle connection is a descriptor in both processes; children inherit the limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = 65536 if hard == resource.RLIM_INFINITY else hard
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, target), hard))


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
    emulator = Emulator(workdir)
    try:
        emulator.wait_ready()
        print(
            f"emulator: timeoutlab up (pid {emulator.pid}) at {emulator.rest_url} and "
            f"{emulator.ws_url}; one Locust process per measurement\n",
            flush=True,
        )
        print(
            f"1. Concurrent idle WebSocket users (IdleWebsocketUser, {plan.idle_spawn_rate:g} new "
            f"per second, each level held {plan.idle_hold_seconds:g} s)",
            flush=True,
        )
        idle = idle_users(emulator, plan, workdir)
        print_idle(idle)
        print(
            f"\n2. Report round trips (WebsocketUser: connect, generateReport, URL pushed; report "
            f"delay {plan.report_delay_ms} ms, {plan.report_rows} rows; {plan.step_seconds:g} s "
            f"per step, after one unmeasured round trip per user so the execution environments "
            f"are warm; sustained = no failures and p95 <= {plan.p95_bound_ms:g} ms)",
            flush=True,
        )
        steps = round_trips(emulator, plan, workdir)
    finally:
        emulator.stop()

    best = sustained(steps, plan)
    per_kb, how = idle.kb_per_connection()
    all_open = all(lv.held for lv in idle.levels) and not idle.failures
    print(f"\nFigures ({cpus} CPUs, {time.monotonic() - started:.0f} s run):")
    if best is None:
        print(
            f"  report round trips per second sustained: 0 (no step without failures and "
            f"p95 <= {plan.p95_bound_ms:g} ms)"
        )
    else:
        print(
            f"  report round trips per second sustained: {best.round_trips_per_s:.1f} "
            f"({best.users} WebSocket users, p50 {_ms(best.p50_ms)} ms, p95 {_ms(best.p95_ms)} ms, "
            "no failures)"
        )
    print(
        f"  concurrent idle WebSocket users held: {idle.held} "
        f"({'every level tried stayed open' if all_open else 'the next level did not hold'})"
    )
    if per_kb is None:
        print(f"  emulator memory per idle connection: unavailable ({how})")
    else:
        print(f"  emulator memory per idle connection: {per_kb:.1f} KB ({how})")
    locust_kb = idle.locust_kb_per_user()
    if locust_kb is not None:
        print(f"  (Locust's own memory per idle user: {locust_kb:.1f} KB, the same way)")
    return 0


def _users(text: str) -> tuple[int, ...]:
    values = tuple(int(part) for part in text.split(","))
    if not values or any(v <= 0 for v in values) or list(values) != sorted(set(values)):
        raise argparse.ArgumentTypeError(f"rising positive counts, e.g. 10,25,50: {text!r}")
    return values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=textwrap.dedent(__doc__ or "").split("\n\n")[0],
    )
    parser.add_argument("--quick", action="store_true", help="tiny steps, under ~30 s")
    parser.add_argument("--users", type=_users, help="round-trip steps (default 10,25,50,100,200)")
    parser.add_argument(
        "--idle-levels", type=_users, help="idle levels (default 250,500,1000,2000)"
    )
    parser.add_argument("--step-seconds", type=float, help="measured seconds per round-trip step")
    parser.add_argument(
        "--p95-bound-ms", type=float, help="p95 time to result a sustained step stays within"
    )
    args = parser.parse_args(argv)
    plan = Plan.quick() if args.quick else Plan()
    if args.users:
        plan.round_trip_users = args.users
    if args.idle_levels:
        plan.idle_levels = args.idle_levels
    if args.step_seconds:
        plan.step_seconds = max(1.0, args.step_seconds)
    if args.p95_bound_ms:
        plan.p95_bound_ms = args.p95_bound_ms
    for tool in ("timeoutlab", "locust"):
        if not (BIN / tool).exists():
            print(f"{BIN / tool} not found: run with the project's venv (make test sets it up)")
            return 2
    with tempfile.TemporaryDirectory(prefix="timeoutlab-bench-") as tmp, stopped_on_signals():
        try:
            return run(plan, Path(tmp))
        except KeyboardInterrupt:
            print("\ninterrupted: the emulator and Locust were stopped", file=sys.stderr)
            return 130
        except RuntimeError as exc:
            print(f"benchmark failed: {exc}", file=sys.stderr)
            return 1


if __name__ == "__main__":
    sys.exit(main())
