"""How often the test suite passes on a machine kept busy: the figure behind "passes under load".

Run ``.venv/bin/python benchmarks/stress_suite.py --runs 10 --hogs 2`` (or ``make stress``). It
starts K CPU hogs (each the equivalent of ``yes > /dev/null``: ``yes`` with its output thrown away,
or a Python busy loop where there is no ``yes``), then runs the project's test suite N times in a
row, each time as ``<this python> -m pytest -q`` from the repository root, so with the project's
own pytest configuration (``pyproject.toml``), and the checkout's code first on ``PYTHONPATH``.
The linters are not run.

Per run it prints pass or fail, pytest's summary line, the wall time and the tests that failed
(read from a JUnit XML report of the run, not from pytest's text output); at the end, how many runs
were green, under how many hogs on how many CPUs, the median wall time, and every test that failed
in any run with the number of runs it failed in.

Arguments after ``--`` go to pytest and replace the default test selection (the ``testpaths`` of
the configuration), e.g. ``-- tests/emulator -k timeout``. The hogs are always stopped, also on
an error, Ctrl-C or SIGTERM. Exit status: 0 when every run passed, 1 when any failed, 130 when
interrupted. Each run's full output is kept in ``--log-dir`` (a new temporary directory by default).
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).absolute().parent.parent
SUMMARY = re.compile(r"\b(passed|failed|errors?|skipped|xfailed|xpassed|no tests ran)\b.* in \d")


@dataclass
class Run:
    number: int
    returncode: int
    seconds: float
    summary: str
    failed: list[str] = field(default_factory=list)

    @property
    def green(self) -> bool:
        return self.returncode == 0


# -- the hogs ------------------------------------------------------------------------------------


def start_hog() -> subprocess.Popen[bytes]:
    """One busy CPU: ``yes > /dev/null``, or a Python busy loop where there is no ``yes``."""
    yes = shutil.which("yes")
    command = [yes] if yes else [sys.executable, "-c", "while True: pass"]
    return subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def stop(process: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def hogs(count: int) -> Iterator[list[int]]:
    """``count`` CPU hogs while the block runs; stopped however it ends."""
    started: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(count):
            started.append(start_hog())
        yield [hog.pid for hog in started]
    finally:
        # A second Ctrl-C waits until they are stopped rather than leave one running.
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            for hog in started:
                stop(hog)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


@contextmanager
def interrupted_by_signals() -> Iterator[None]:
    """Ctrl-C and SIGTERM end the run alike, stopping pytest and the hogs.

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


# -- one run of the suite ------------------------------------------------------------------------


def failed_tests(junit: Path) -> list[str]:
    """``module.Class::test[param]`` of every test case with a failure or an error."""
    failed: list[str] = []
    for case in ET.parse(junit).iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            name = f"{case.get('classname', '')}::{case.get('name', '')}"
            if name not in failed:
                failed.append(name)
    return failed


def summary_line(output: str) -> str:
    """pytest's last line ("3 passed, 1 skipped in 2.01s"), without its ``=`` frame."""
    for line in reversed(output.splitlines()):
        if SUMMARY.search(line):
            return line.strip("= ").strip()
    return "(no pytest summary line)"


def run_suite(number: int, pytest_args: list[str], log_dir: Path) -> Run:
    junit = log_dir / f"run-{number:02d}.xml"
    log = log_dir / f"run-{number:02d}.log"
    command = [sys.executable, "-m", "pytest", "-q", f"--junitxml={junit}", *pytest_args]
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    started = time.monotonic()
    with log.open("w") as out:
        # A session of its own: Ctrl-C reaches pytest once, from here, so its teardown runs whole.
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": path},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            returncode = process.wait()
        except KeyboardInterrupt:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            raise
    seconds = time.monotonic() - started
    output = log.read_text(errors="replace")
    if junit.exists():
        failed = failed_tests(junit)
    else:
        failed = [f"(no JUnit report: pytest exited with {returncode}; see {log})"]
    if returncode != 0 and not failed:
        failed = [f"(pytest exited with {returncode} but no test failed; see {log})"]
    return Run(number, returncode, seconds, summary_line(output), failed)


# -- the report ----------------------------------------------------------------------------------


def duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest:02d}s"


def cpu_hogs(count: int) -> str:
    return f"{count} CPU hog{'' if count == 1 else 's'}"


def report(runs: list[Run], planned: int, hog_count: int, pytest_args: list[str]) -> None:
    green = sum(run.green for run in runs)
    cpus = os.cpu_count() or 0
    command = shlex.join(["pytest", "-q", *pytest_args])
    median = duration(statistics.median(run.seconds for run in runs)) if runs else "n/a"
    done = "" if len(runs) == planned else f" (interrupted: {len(runs)} of {planned} runs done)"
    print(
        f"\nstress_suite: {green} of {len(runs)} runs green under {cpu_hogs(hog_count)} on "
        f"{cpus} CPUs ({command}), median {median}{done}"
    )
    failures = Counter(name for run in runs for name in run.failed)
    if failures:
        print("failed tests (runs failed in):")
        for name, count in failures.most_common():
            print(f"  {count:>3}  {name}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    split = argv.index("--") if "--" in argv else len(argv)
    own, pytest_args = argv[:split], argv[split + 1 :]
    parser = argparse.ArgumentParser(
        usage="%(prog)s [-h] [--runs N] [--hogs K] [--log-dir DIR] [-- PYTEST_ARGS ...]",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--runs", type=int, default=10, metavar="N", help="runs (default 10)")
    parser.add_argument(
        "--hogs", type=int, default=2, metavar="K", help="CPU hogs during the runs (default 2)"
    )
    parser.add_argument(
        "--log-dir",
        type=Path,
        metavar="DIR",
        help="where each run's output and JUnit XML go (default: a new temporary directory, kept)",
    )
    args = parser.parse_args(own)
    if args.runs < 1 or args.hogs < 0:
        parser.error("--runs must be at least 1 and --hogs at least 0")
    log_dir = args.log_dir or Path(tempfile.mkdtemp(prefix="stress_suite-"))
    log_dir.mkdir(parents=True, exist_ok=True)

    runs: list[Run] = []
    interrupted = False
    with interrupted_by_signals():
        try:
            with hogs(args.hogs) as pids:
                print(
                    f"stress_suite: {args.runs} runs of pytest -q under {cpu_hogs(args.hogs)} "
                    f"(pids {' '.join(map(str, pids)) or '-'}); output in {log_dir}",
                    flush=True,
                )
                for number in range(1, args.runs + 1):
                    run = run_suite(number, pytest_args, log_dir)
                    runs.append(run)
                    print(
                        f"run {number}/{args.runs}: {'PASS' if run.green else 'FAIL'}  "
                        f"{run.summary}  ({duration(run.seconds)} wall)",
                        flush=True,
                    )
                    for name in run.failed:
                        print(f"    failed: {name}", flush=True)
        except KeyboardInterrupt:
            interrupted = True
            print("\ninterrupted: pytest and the hogs were stopped", file=sys.stderr)
    report(runs, args.runs, args.hogs, pytest_args)
    if interrupted:
        return 130
    return 0 if all(run.green for run in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
