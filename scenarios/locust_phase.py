"""One scenario phase with Locust as a library: ``python -m scenarios.locust_phase SPEC OUT``.

Locust patches the whole process with gevent when imported, so a phase runs in a process of its
own while the emulator stays on asyncio in the runner's (``scenarios.phase_process`` starts it).
SPEC is a JSON file: ``label``, ``user_classes`` ("module:Class"), ``stages`` (``shapes.Stage``),
``stop_timeout_s`` (real s), ``locust_args`` and optionally ``record`` (``"reports"``, the
default, or ``"all"``). OUT receives every report's outcome (with ``"all"``: every request event
the users fire, as ``timeoutlab.load`` asks for a user's own routes) with ``at_s``, the real
seconds into the phase when it ended, the costs the users counted at their sockets and the
phase's real seconds. Progress goes to stderr once a second.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
from pathlib import Path

import gevent
from locust import LoadTestShape, events
from locust.argument_parser import get_parser
from locust.env import Environment
from locust.log import setup_logging

from emulator.lifeline import hold
from locustfiles import common, idle_websocket  # their options and counters
from scenarios.results import recorded
from scenarios.shapes import Stage


class StagedShape(LoadTestShape):
    """Plays stages in order, then ends the test (Locust stops when ``tick`` returns None)."""

    def __init__(self, stages: list[Stage]) -> None:
        super().__init__()
        self.stages = stages

    def tick(self) -> tuple[int, float] | None:
        elapsed = self.get_run_time()
        for stage in self.stages:
            if elapsed < stage.until_s:
                return stage.users, stage.spawn_rate
        return None


def load_class(path: str) -> type:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def run(spec: dict) -> dict:
    setup_logging("WARNING")
    # Imported first: a user's module may add command-line options (locustfiles.request does).
    user_classes = [load_class(path) for path in spec["user_classes"]]
    options = get_parser(default_config_files=[]).parse_args(["--headless", *spec["locust_args"]])
    stages = [Stage(**stage) for stage in spec["stages"]]
    environment = Environment(
        user_classes=user_classes,
        shape_class=StagedShape(stages),
        events=events,
        host=options.host,
        parsed_options=options,
        stop_timeout=spec["stop_timeout_s"],
    )
    samples: list[dict] = []
    record_all = spec.get("record", "reports") == "all"
    counted = "requests" if record_all else "reports"

    def collect(request_type, name, response_time, exception, **_) -> None:
        if not (record_all or recorded(request_type, name)):
            return
        samples.append(
            {
                "type": request_type,
                "name": name,
                "ms": response_time,
                "error": None if exception is None else str(exception),
                "at_s": round(time.monotonic() - started, 3),  # real s into the phase, at its end
            }
        )

    environment.events.request.add_listener(collect)
    runner = environment.create_local_runner()
    events.init.fire(environment=environment, runner=runner, web_ui=None)

    started = time.monotonic()  # the load starts now: samples count their at_s from here
    total_s = stages[-1].until_s

    def progress() -> None:
        while True:
            gevent.sleep(1.0)
            reports = [s for s in samples if record_all or s["type"] == "REPORT"]
            failed = sum(1 for s in reports if s["error"])
            elapsed = time.monotonic() - started
            when = f"{elapsed:.0f} of {total_s:.0f} s" if elapsed <= total_s else "finishing"
            print(
                f"  {spec['label']}: {runner.user_count} users, {when}, {len(reports)} {counted} "
                f"done, {len(reports) - failed} {'ok' if record_all else 'delivered'}, "
                f"{failed} failed",
                file=sys.stderr,
                flush=True,
            )

    ticker = gevent.spawn(progress)
    runner.start_shape()
    runner.greenlet.join()
    ticker.kill()
    return {
        "samples": samples,
        "totals": {
            label: dict(counts)
            for totals in (common.TOTALS, idle_websocket.IDLE_TOTALS)
            for label, counts in totals.items()
        },
        "real_seconds": time.monotonic() - started,
    }


def main(argv: list[str]) -> int:
    hold()  # dies with the runner that started it, however the runner ends
    spec_path, out_path = argv
    result = run(json.loads(Path(spec_path).read_text()))
    Path(out_path).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
