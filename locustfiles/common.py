"""What every strategy's Locust user shares: the report to ask for, the emulator's endpoints and
time scale (as command-line options), and how a report's outcome and costs reach Locust.

Each report fires one ``events.request`` (type ``REPORT``) named after its strategy and delay,
with the time to result as its response time and the failure, if any, as its exception. Each step
on the way fires one too, named after its strategy and what it did:

- ``CONNECT``: a TCP connect or TLS handshake (``rest tcp``), a WebSocket opening (``websocket
  websocket``);
- ``HTTP``: a request and its whole response (``sse GET /reports/jobs/{id}/events``);
- ``POLL``: each poll (``short_poll GET /reports/jobs/{id}``);
- ``WS``: each message received (``websocket result``), timed from the message that asked for it.

Response times are emulated ms, as the emulator's clock counts them (real ms / time scale).
Each report's measured costs are summed per strategy (workers send theirs to the master), shown
live in the web UI's Costs tab (``costs_view``), printed when the test stops, and written to
``<--csv prefix>_costs.csv``.

The timeoutlab options are in the web UI's start dialog too, and are read when a test starts
(``run_options_of``), so a run started from the UI uses what was typed there. They are checked
when a run starts (``run_options.check``): headless, a bad value ends Locust with one line and
exit code 1; in the web UI the swarm is refused with that line. The time scale is the emulator's
(its ``/_emulator/health``) unless ``--time-scale`` names one, which must then be the same.

A report or step still in flight when the run stops (its user's greenlet killed: an SSE stream
or a long poll cut, a WebSocket waiting for its push) is no failure: no event is fired for it
and it is counted per strategy as ``in_flight_at_stop`` instead.
"""

from __future__ import annotations

import csv
import itertools
import json
import logging
import os
import random
import ssl
import sys
import urllib.request
from argparse import Namespace
from collections import Counter, defaultdict
from typing import Any, ClassVar
from urllib.error import URLError
from urllib.parse import urlsplit, urlunsplit

from gevent import GreenletExit
from locust import User, events, task
from locust.exception import StopUser
from locust.runners import STATE_STOPPED, STATE_STOPPING
from locust.user.task import LOCUST_STATE_STOPPING

from emulator.core.control_access import bearer_headers
from locustfiles import costs_view
from locustfiles.run_options import OptionError, RunOptions, check
from reportclient import Endpoints, Step, fetch_report
from scenarios.results import report_name

#: One INFO line per request from httpx would bury Locust's own output and fill the UI's Logs tab.
QUIET_LOGGERS = ("httpx", "httpcore")
HEALTH_TIMEOUT_S = 5.0  # real seconds to wait for the emulator's /_emulator/health
DEFAULT_HOST = "http://127.0.0.1:3000/dev"


def quiet_http_logs() -> None:
    """httpx and httpcore at WARNING: their errors still show, their per-request INFO not."""
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


quiet_http_logs()

#: The measured costs summed per strategy.
COUNTED = (
    "tcp_connections",
    "tls_handshakes",
    "http_requests",
    "empty_polls",
    "ws_messages_sent",
    "ws_messages_received",
    "ws_frames_sent",
    "ws_frames_received",
    "ws_message_units",
    "ws_connection_s",
    "reconnects",
    "bytes_sent",
    "bytes_received",
)
#: A step's kind -> the request type its Locust event carries.
STEP_TYPES = {"connect": "CONNECT", "request": "HTTP", "poll": "POLL", "message": "WS"}


def shared_totals(key: str) -> dict[str, Counter]:
    """Counters per label, summed in this process; a worker sends its own to the master with
    each report (under ``key``) and starts again from zero, and a new test starts at zero."""
    totals: dict[str, Counter] = defaultdict(Counter)

    @events.report_to_master.add_listener
    def _send(client_id, data) -> None:
        data[key] = {label: dict(counts) for label, counts in totals.items()}
        totals.clear()

    @events.worker_report.add_listener
    def _merge(client_id, data) -> None:
        for label, counts in data.get(key, {}).items():
            totals[label].update(counts)

    @events.test_start.add_listener
    def _reset(environment, **_) -> None:
        totals.clear()

    return totals


def shared_samples(key: str) -> dict[str, list[dict]]:
    """Lists per label, kept in this process like ``shared_totals``: a worker sends its new
    items to the master with each report (under ``key``), a new test starts empty."""
    samples: dict[str, list[dict]] = defaultdict(list)

    @events.report_to_master.add_listener
    def _send(client_id, data) -> None:
        data[key] = {label: list(items) for label, items in samples.items()}
        samples.clear()

    @events.worker_report.add_listener
    def _merge(client_id, data) -> None:
        for label, items in data.get(key, {}).items():
            samples[label].extend(items)

    @events.test_start.add_listener
    def _reset(environment, **_) -> None:
        samples.clear()

    return samples


def reports_here(environment) -> bool:
    """Whether this process prints the totals when the test stops: not a worker, whose totals
    the master has."""
    return environment.runner is None or environment.runner.__class__.__name__ != "WorkerRunner"


#: strategy -> {"requested" (started, so in flight too), "reports" (finished), "delivered",
#: "gateway_timeouts", "in_flight_at_stop" (cut by the run's stop: no failure),
#: "steps_cut_at_stop" (their steps that ended in an error as they were cut), <COUNTED>...},
#: in this process.
TOTALS = shared_totals("timeoutlab_costs")


#: strategy -> each finished report as the scenario runner records it ({"ms": time to result in
#: emulated ms, "error": its failure kind or None}), so the Costs view's p50/p95 are computed
#: from the same samples, by the same function, as the CLI's (``scenarios.results``).
SAMPLES = shared_samples("timeoutlab_samples")


def add_report(strategy: str, costs: dict, delivered: bool, failure: str | None) -> None:
    SAMPLES[strategy].append(
        {
            "ms": costs["time_to_result_s"] * 1000,
            "error": None if delivered else failure or "failed",
        }
    )
    totals = TOTALS[strategy]
    totals["reports"] += 1
    totals["delivered"] += delivered
    totals["gateway_timeouts"] += failure == "gateway_timeout"
    for kind in COUNTED:
        totals[kind] += costs[kind]


costs_view.register(events)  # the web UI's live Costs tab, fed by TOTALS


def cost_rows() -> list[dict]:
    """Per strategy: reports, delivered, 504s, and each count in total and per report."""
    rows = []
    for strategy, totals in sorted(TOTALS.items()):
        reports = totals["reports"] or 1
        row = {
            "strategy": strategy,
            **{
                k: totals[k]
                for k in ("reports", "delivered", "gateway_timeouts", "in_flight_at_stop")
            },
        }
        for kind in COUNTED:
            row[kind] = totals[kind]
            row[f"{kind}_per_report"] = round(totals[kind] / reports, 3)
        rows.append(row)
    return rows


@events.test_stop.add_listener
def _report_costs(environment, **_) -> None:
    if not reports_here(environment):
        return
    rows = cost_rows()
    if not rows:
        return
    print("\ntimeoutlab costs per strategy (measured at the clients' sockets):")
    print(
        f"{'strategy':<16}{'reports':>8}{'delivered':>10}{'504s':>6}{'conns':>7}{'requests':>9}"
        f"{'messages':>9}{'bytes up':>10}{'bytes down':>11}  (per report)"
    )
    for r in rows:
        messages = r["ws_messages_sent_per_report"] + r["ws_messages_received_per_report"]
        print(
            f"{r['strategy']:<16}{r['reports']:>8}{r['delivered']:>10}{r['gateway_timeouts']:>6}"
            f"{r['tcp_connections_per_report']:>7.2f}{r['http_requests_per_report']:>9.2f}"
            f"{messages:>9.2f}{r['bytes_sent_per_report']:>10.0f}{r['bytes_received_per_report']:>11.0f}"
        )
    cut = {r["strategy"]: r["in_flight_at_stop"] for r in rows if r["in_flight_at_stop"]}
    if cut:
        listed = ", ".join(f"{label} {n}" for label, n in cut.items())
        print(f"in flight at stop (cut by the stop, not failures): {listed}")
    prefix = getattr(environment.parsed_options, "csv_prefix", None)
    if prefix:
        with open(f"{prefix}_costs.csv", "w", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)


@events.init_command_line_parser.add_listener
def _options(parser) -> None:
    # Text, checked when a run starts (run_options): the web UI's start dialog shows these and
    # hands back what was typed, converted to each default's type, so a typed default would
    # turn "5000,40000" into a tuple of characters or make a typo a server error.
    # On the parser itself: Locust marks only its own add_argument's options for the web UI.
    parser.add_argument(
        "--report-delay",
        default="5000",
        include_in_web_ui=True,
        help="report delay in emulated ms, or several separated by commas that each user asks "
        "for in turn, e.g. 5000,40000 (default 5000)",
    )
    parser.add_argument(
        "--report-rows", default="100", include_in_web_ui=True, help="rows per report (100)"
    )
    parser.add_argument(
        "--time-scale",
        default="",
        include_in_web_ui=True,
        help="real seconds per emulated second (default: the emulator's, from its health; "
        "another value is refused)",
    )
    parser.add_argument(
        "--ws-url",
        default="",
        include_in_web_ui=True,
        help=(
            "WebSocket API URL (default: --host's host on the port after --host's, as timeoutlab "
            "up's 3000 and 3001; pass it when up ran with --ws-port 0)"
        ),
    )
    parser.add_argument(
        "--cafile", default="", help="CA to trust for https/wss (the emulator's --tls)"
    )
    parser.add_argument(
        "--prices",
        type=costs_view.prices_path,
        default="",
        metavar="FILE",
        include_in_web_ui=True,
        help="TOML file overriding the bundled us-east-1 rates of the web UI's Costs tab",
    )


def emulator_health(host: str | None, cafile: str | None = None) -> dict | None:
    """The emulator's ``/_emulator/health`` at the origin of ``host`` (the REST API's URL), or
    None when it cannot be read (down, not an emulator)."""
    parts = urlsplit(host or DEFAULT_HOST)
    url = urlunsplit((parts.scheme or "http", parts.netloc, "/_emulator/health", "", ""))
    context = ssl.create_default_context(cafile=cafile) if cafile else None
    try:
        request = urllib.request.Request(url, headers=bearer_headers(os.environ))
        with urllib.request.urlopen(request, timeout=HEALTH_TIMEOUT_S, context=context) as answer:
            health = json.load(answer)
    except (URLError, OSError, ValueError):
        return None
    return health if isinstance(health, dict) else None


def checked_options(values: Any, host: str | None) -> RunOptions:
    """``values`` (parsed options, or anything with their attribute names) checked against the
    emulator at ``host``. Raises run_options.OptionError with the one line to show."""
    health = emulator_health(host, getattr(values, "cafile", "") or None)
    scale = health.get("time_scale") if health else None
    return check(
        values.report_delay,
        values.report_rows,
        values.time_scale,
        float(scale) if isinstance(scale, (int, float)) else None,
        (host or DEFAULT_HOST).rstrip("/"),
    )


class _ThisRun:
    """The options of the test under way in this process, checked once when first asked for."""

    options: RunOptions | None = None


def run_options_of(environment: Any) -> RunOptions:
    """This test's options, as its start (command line or web UI) set them. Raises OptionError
    (a worker whose master did not check them, or an emulator gone since)."""
    if _ThisRun.options is None:
        _ThisRun.options = checked_options(environment.parsed_options, environment.host)
    return _ThisRun.options


@events.test_start.add_listener
def _new_run(environment, **_) -> None:
    _ThisRun.options = None  # read again: the web UI may have changed them


@events.init.add_listener
def _check_at_start(environment, runner=None, web_ui=None, **_) -> None:
    quiet_http_logs()  # again, after Locust configured logging
    options = environment.parsed_options
    if options is None or getattr(options, "worker", False):
        return  # a worker runs what its master checked
    if web_ui is not None:
        _check_swarms(environment, web_ui)
    if getattr(options, "headless", False) or getattr(options, "autostart", False):
        try:
            checked_options(options, environment.host)
        except OptionError as error:
            sys.exit(f"timeoutlab: {error}")  # one line on stderr, exit code 1


def _check_swarms(environment: Any, web_ui: Any) -> None:
    """The web UI's start (and edit) dialog: refuse a swarm whose options fail the checks, with
    the line that says why, as Locust refuses a bad user count."""
    from flask import jsonify, request

    @web_ui.app.before_request
    def _refuse_bad_options():
        if request.endpoint != "locust.swarm" or request.method != "POST":
            return None
        parsed = environment.parsed_options
        keys = ("report_delay", "report_rows", "time_scale", "cafile")
        values = Namespace(**{key: request.form.get(key, getattr(parsed, key, "")) for key in keys})
        host = request.form.get("host") or environment.host
        try:
            checked_options(values, host)
        except OptionError as error:
            logging.getLogger(__name__).error("timeoutlab: %s", error)
            return jsonify({"success": False, "message": f"timeoutlab: {error}", "host": host})
        return None


def ws_url_for(rest_url: str) -> str:
    """The WebSocket API beside a REST API on timeoutlab's default ports (3000 -> 3001)."""
    parts = urlsplit(rest_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    port = (parts.port or 3000) + 1
    return urlunsplit((scheme, f"{parts.hostname}:{port}", parts.path, "", ""))


class ReportUser(User):
    """Asks for one report after another by ``strategy``; subclasses name the strategy."""

    abstract = True
    strategy = ""
    options: ClassVar[dict] = {}
    think_time_s = (0.5, 1.5)  # emulated seconds between reports

    def wait_time(self) -> float:
        """Think time runs on the emulator's clock too, so load keeps its shape at any scale."""
        return random.uniform(*self.think_time_s) * self.time_scale

    def on_start(self) -> None:
        """This test's options, read now: a run started from the web UI has the UI's values."""
        parsed = self.environment.parsed_options
        rest_url = (self.host or DEFAULT_HOST).rstrip("/")
        self.endpoints = Endpoints(
            rest_url,
            (parsed.ws_url if parsed and parsed.ws_url else ws_url_for(rest_url)).rstrip("/"),
            cafile=(parsed.cafile if parsed and parsed.cafile else None),
        )
        options = run_options_of(self.environment)
        self.delays_ms = itertools.cycle(options.delays_ms)
        self.rows = options.rows
        self.time_scale = options.time_scale
        self.cut_steps: list[Step] = []  # failed steps of the report under way, held

    @property
    def label(self) -> str:
        return f"{self.strategy}{'-streaming' if self.options.get('sse_streaming') else ''}"

    @task
    def report(self) -> None:
        delay_ms = next(self.delays_ms)
        TOTALS[self.label]["requested"] += 1  # live views show reports still in flight
        self.cut_steps = []
        try:
            result = fetch_report(
                self.strategy,
                self.endpoints,
                {"delay": delay_ms, "amountOfRows": self.rows},
                on_step=self.step,
                time_scale=self.time_scale,
                **self.options,
            )
        except (GreenletExit, StopUser):  # stopped mid-report: in flight, not failed
            self._in_flight_at_stop()
            raise
        except Exception as error:
            if not self.stopping():
                raise
            self._in_flight_at_stop()  # e.g. a socket closed under it as the run stopped
            raise StopUser() from error
        for step in self.cut_steps:  # the report ended: its failed steps were real failures
            self._fire_step(step)
        self.cut_steps = []
        failure = result.failure
        exception = None
        if not result.ok:
            assert failure is not None  # a report without a URL always says why
            exception = RuntimeError(f"{failure.kind}: {failure.detail[:80]}")
        self.environment.events.request.fire(
            request_type="REPORT",
            name=report_name(self.label, delay_ms / 1000),
            response_time=result.costs.time_to_result_s * 1000,
            response_length=result.costs.bytes_received,
            exception=exception,
            context={"strategy": self.label},
        )
        add_report(self.label, result.costs.as_dict(), result.ok, failure.kind if failure else None)

    def stopping(self) -> bool:
        """Whether the run (or this user) is being stopped."""
        runner = self.environment.runner
        return (runner is not None and runner.state in (STATE_STOPPING, STATE_STOPPED)) or (
            self._state == LOCUST_STATE_STOPPING
        )

    def _in_flight_at_stop(self) -> None:
        TOTALS[self.label]["in_flight_at_stop"] += 1
        TOTALS[self.label]["steps_cut_at_stop"] += len(self.cut_steps)
        self.cut_steps = []

    def step(self, step: Step) -> None:
        """Each connect, request, poll and message, as it ends, as a Locust request of its own.

        A step that ended in an error waits for its report's end: a stop that cuts the report
        (an SSE stream ends in an error as its greenlet is killed) makes it no failure."""
        if step.error is not None:
            self.cut_steps.append(step)
            return
        self._fire_step(step)

    def _fire_step(self, step: Step) -> None:
        self.environment.events.request.fire(
            request_type=STEP_TYPES[step.kind],
            name=f"{self.label} {step.name}",
            response_time=step.elapsed_s * 1000,
            response_length=step.bytes_received,
            exception=None if step.error is None else RuntimeError(step.error),
            context={"strategy": self.label},
        )
