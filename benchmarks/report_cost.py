"""Server CPU per WebSocket report round trip, and round trips per second, for one checkout.

Starts ``timeoutlab up`` from the checkout named by ``--code`` (its directory goes first on
``PYTHONPATH``, so two checkouts can be compared with one venv) on free 127.0.0.1 ports at time
scale 1, warms it, then runs report round trips with ``clients`` concurrent WebSocket clients:
connect, ``{"action": "generateReport", "delay": 0, "amountOfRows": 10}``, wait for the message
carrying ``"url"`` (pushed through ``@connections``), close. Around each batch it reads the user +
system CPU (psutil) of the emulator's process tree: the emulator, its execution environments, the
embedded moto server, and what its reaped children used. Prints one JSON line per measurement:
``{"code", "clients", "round_trips", "seconds", "round_trips_per_s", "cpu_ms_per_round_trip",
"load_average"}``.

    .venv/bin/python benchmarks/report_cost.py --code /work/main --code . --repeats 3

``--repeats`` interleaves the checkouts (A, B, A, B, ...), each on a fresh stack, and prints the
medians at the end. The client (this process) is not counted in the CPU figures.

``--profile DIR`` also records each batch with py-spy (``pip install py-spy``; ``py-spy record
--subprocesses``, raw collapsed stacks, 50 samples/s, written to DIR) and prints a flame summary
of it: the share of samples per part and the frames most often on the stack in each.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil
import websockets

from emulator.arguments import positive, positive_ints
from emulator.backends.moto_server import free_ports

HOST = "127.0.0.1"
BIN = Path(sys.executable).parent
MESSAGE = json.dumps({"action": "generateReport", "delay": 0, "amountOfRows": 10})
#: Generous real-time bound for one round trip on a loaded machine (seconds).
ROUND_TRIP_BOUND_S = 60.0


class Stack:
    """``timeoutlab up`` from checkout ``code`` in a session of its own."""

    def __init__(self, code: Path, workdir: Path) -> None:
        http_port, ws_port, backend_port = free_ports(3)
        self.base = f"http://{HOST}:{http_port}"
        self.ws_url = f"ws://{HOST}:{ws_port}/dev"
        env = {**os.environ, "PYTHONPATH": str(code)}
        self.log = (workdir / "emulator.log").open("wb")
        command = [
            str(BIN / "python"), "-m", "emulator.cli", "up", "--host", HOST,
            "--http-port", str(http_port), "--ws-port", str(ws_port),
            "--backend-port", str(backend_port), "--time-scale", "1",
            "--ws-connection-rate", "100000", "--log-level", "WARNING",
            "--service", str(code / "reportapp" / "serverless.yml"),
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=code,
            env=env,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the emulator exited at start-up (see {self.log.name})")
            try:
                with urllib.request.urlopen(f"{self.base}/_emulator/health", timeout=5):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"the emulator was not healthy within {timeout:.0f} s")

    def cpu_seconds(self) -> dict[str, float]:
        """User + system CPU seconds so far by part: ``emulator`` (the gateway process, with
        what its reaped children used), ``backend`` (moto) and ``environments`` (the rest)."""
        root = psutil.Process(self.process.pid)
        times = root.cpu_times()
        parts = {
            "emulator": times.user + times.system + times.children_user + times.children_system,
            "backend": 0.0,
            "environments": 0.0,
        }
        for child in root.children(recursive=True):
            try:
                t, command = child.cpu_times(), " ".join(child.cmdline())
            except psutil.NoSuchProcess:
                continue
            parts["backend" if "moto" in command else "environments"] += t.user + t.system
        return parts

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()


async def round_trip(ws_url: str) -> None:
    """One report round trip; raises when the answer is an error or never comes."""
    async with websockets.connect(ws_url, open_timeout=ROUND_TRIP_BOUND_S) as ws:
        await ws.send(MESSAGE)
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), ROUND_TRIP_BOUND_S))
            if "error" in message:
                raise RuntimeError(f"report failed: {message}")
            if "url" in message:
                return


async def batch(ws_url: str, clients: int, round_trips: int) -> None:
    """``round_trips`` round trips shared by ``clients`` concurrent clients."""
    remaining = iter(range(round_trips))

    async def client() -> None:
        for _ in remaining:
            await round_trip(ws_url)

    await asyncio.gather(*(client() for _ in range(clients)))


@dataclass
class Measurement:
    code: str
    clients: int
    round_trips: int
    seconds: float
    round_trips_per_s: float
    cpu_ms_per_round_trip: float
    cpu_ms_by_part: dict[str, float]
    load_average: float


#: Frames every stack has (interpreter start, event loops, thread and server plumbing): left out
#: of flame summaries, which are about where the work is.
_PLUMBING = re.compile(
    r"runpy|base_events|asyncio/events|asyncio/runners|threading\.py|socketserver|<module>"
    r"|^main \(|gevent/hub|gevent/baseserver|greenlet"
)


def _frame(raw: str) -> str:
    """``function (file:line)`` as ``function (package/module.py)``."""
    match = re.match(r"(.*) \((.*?):\d+\)$", raw)
    if match is None:
        return raw[:80]
    function, path = match.groups()
    path = re.sub(r".*site-packages/", "", path)
    path = re.sub(r".*/(emulator|reportapp|benchmarks)/", r"\1/", path)
    return f"{function} ({path})"


def _part(frames: list[str]) -> str:
    processes = " ".join(f for f in frames if f.startswith("process "))
    if "moto" in processes:
        return "backend"
    return "environments" if "timeoutlab_bootstrap" in processes else "emulator"


def flame_summary(raw_path: Path, top: int = 8) -> str:
    """A text flame summary of py-spy's raw output (``stack;frames count`` lines): per part
    (emulator, environments, backend) its share of all samples, then the ``top`` frames most
    often on its stacks, each with the share of all samples it was on (inclusive)."""
    total = 0
    per_part: collections.Counter[str] = collections.Counter()
    frames_in: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for line in raw_path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = stack.split(";")
        part, samples = _part(frames), int(count)
        total += samples
        per_part[part] += samples
        for frame in {_frame(f) for f in frames if not f.startswith("process ")}:
            if not _PLUMBING.search(frame):
                frames_in[part][frame] += samples
    if total == 0:
        return "  (no samples)"
    lines = []
    for part, samples in per_part.most_common():
        lines.append(f"  {part}: {100 * samples / total:.0f} % of {total} samples")
        ranked = sorted(frames_in[part].items(), key=lambda item: (-item[1], item[0]))
        for frame, on in ranked[:top]:
            lines.append(f"    {100 * on / total:5.1f} %  {frame}")
    return "\n".join(lines)


def _spy(pid: int, out: Path) -> subprocess.Popen | None:
    binary = shutil.which("py-spy", path=str(BIN)) or shutil.which("py-spy")
    if binary is None:
        raise RuntimeError("--profile needs py-spy: pip install py-spy")
    command = [binary, "record", "--subprocesses", "--nonblocking", "-r", "50", "-f", "raw"]
    return subprocess.Popen(
        [*command, "-o", str(out), "-p", str(pid)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def measure(
    code: Path, clients_levels: list[int], round_trips: int, profile: Path | None = None
) -> list[Measurement]:
    """One fresh stack from ``code``: a warm-up, then one batch per client level (recorded
    by py-spy into ``profile`` when given)."""
    results = []
    with tempfile.TemporaryDirectory(prefix="timeoutlab-cost-") as tmp:
        stack = Stack(code, Path(tmp))
        try:
            stack.wait_ready()
            asyncio.run(batch(stack.ws_url, max(clients_levels), 2 * max(clients_levels)))
            for clients in clients_levels:
                time.sleep(1.0)  # let $disconnects and late work settle
                spy, raw = None, None
                if profile is not None:
                    raw = profile / f"{code.name}-{clients}-{int(time.time())}.txt"
                    spy = _spy(stack.process.pid, raw)
                    time.sleep(2.0)  # py-spy attaches
                cpu0, t0 = stack.cpu_seconds(), time.monotonic()
                asyncio.run(batch(stack.ws_url, clients, round_trips))
                seconds = time.monotonic() - t0
                time.sleep(0.5)  # the last $disconnects, counted with their round trips
                cpu1 = stack.cpu_seconds()
                by_part = {k: round(1000 * (cpu1[k] - cpu0[k]) / round_trips, 1) for k in cpu1}
                cpu = sum(cpu1.values()) - sum(cpu0.values())
                results.append(
                    Measurement(
                        code=str(code),
                        clients=clients,
                        round_trips=round_trips,
                        seconds=round(seconds, 2),
                        round_trips_per_s=round(round_trips / seconds, 1),
                        cpu_ms_per_round_trip=round(1000 * cpu / round_trips, 1),
                        cpu_ms_by_part=by_part,
                        load_average=round(os.getloadavg()[0], 2),
                    )
                )
                print(json.dumps(asdict(results[-1])), flush=True)
                if spy is not None and raw is not None:
                    spy.send_signal(signal.SIGINT)  # py-spy writes its output and exits
                    spy.wait(120)
                    print(f"flame summary ({raw}):\n{flame_summary(raw)}", flush=True)
        finally:
            stack.stop()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--code", action="append", type=Path, help="checkout to run (repeatable; default: .)"
    )
    parser.add_argument(
        "--clients", type=positive_ints, default=(1, 20), help="client levels (default: 1,20)"
    )
    parser.add_argument(
        "--round-trips", type=positive(int), default=200, help="per level (default: 200)"
    )
    parser.add_argument(
        "--repeats", type=positive(int), default=1, help="interleaved repeats (default: 1)"
    )
    parser.add_argument("--profile", type=Path, help="record each batch with py-spy into DIR")
    args = parser.parse_args(argv)
    codes = [c.resolve() for c in (args.code or [Path(".")])]
    for code in codes:
        if not (code / "emulator" / "cli.py").is_file():
            parser.error(f"--code {code}: not a timeoutlab checkout (no emulator/cli.py)")
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    levels = list(args.clients)
    everything: list[Measurement] = []
    for _ in range(args.repeats):
        for code in codes:
            everything += measure(code, levels, args.round_trips, args.profile)
    print("medians:")
    for code in codes:
        for clients in levels:
            runs = [m for m in everything if m.code == str(code) and m.clients == clients]
            print(
                f"  {code} clients={clients}: "
                f"{statistics.median(m.round_trips_per_s for m in runs):.1f} round trips/s, "
                f"{statistics.median(m.cpu_ms_per_round_trip for m in runs):.1f} CPU ms/round trip"
                f" (load average {statistics.median(m.load_average for m in runs):.2f},"
                f" {len(runs)} runs)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
