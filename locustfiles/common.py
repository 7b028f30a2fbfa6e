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
"""

from __future__ import annotations

import csv
import itertools
import random
from argparse import ArgumentTypeError
from collections import Counter, defaultdict
from typing import ClassVar
from urllib.parse import urlsplit, urlunsplit

from locust import User, events, task

from locustfiles import costs_view
from reportclient import Endpoints, Step, fetch_report
from scenarios.results import report_name

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


def reports_here(environment) -> bool:
    """Whether this process prints the totals when the test stops: not a worker, whose totals
    the master has."""
    return environment.runner is None or environment.runner.__class__.__name__ != "WorkerRunner"


#: strategy -> {"requested" (started, so in flight too), "reports" (finished), "delivered",
#: "gateway_timeouts", <COUNTED>...}, in this process.
TOTALS = shared_totals("timeoutlab_costs")


def add_report(strategy: str, costs: dict, delivered: bool, failure: str | None) -> None:
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
            **{k: totals[k] for k in ("reports", "delivered", "gateway_timeouts")},
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
    prefix = getattr(environment.parsed_options, "csv_prefix", None)
    if prefix:
        with open(f"{prefix}_costs.csv", "w", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)


@events.init_command_line_parser.add_listener
def _options(parser) -> None:
    group = parser.add_argument_group("timeoutlab")
    group.add_argument(
        "--report-delay",
        type=delays_ms,
        default="5000",
        help="report delay in ms, or several separated by commas that each user asks for in "
        "turn, e.g. 5000,40000 (default 5000)",
    )
    group.add_argument("--report-rows", type=int, default=100, help="rows per report (default 100)")
    group.add_argument("--time-scale", type=float, default=1.0, help="the emulator's time scale")
    group.add_argument(
        "--ws-url", default="", help="WebSocket API URL (default: from --host, port 3001)"
    )
    group.add_argument(
        "--cafile", default="", help="CA to trust for https/wss (the emulator's --tls)"
    )
    group.add_argument(
        "--prices",
        type=costs_view.prices_path,
        default="",
        metavar="FILE",
        help="TOML file overriding the bundled us-east-1 rates of the web UI's Costs tab",
    )


def delays_ms(text: str) -> tuple[int, ...]:
    """``5000`` or ``5000,40000``: the report delays a user asks for in turn."""
    try:
        delays = tuple(int(part) for part in str(text).split(","))
    except ValueError:
        raise ArgumentTypeError(f"delays are whole ms, e.g. 5000,40000: {text!r}") from None
    if not delays or any(not 0 <= d <= 900_000 for d in delays):
        raise ArgumentTypeError(f"each delay must be 0..900000 ms: {text!r}")
    return delays


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
        parsed = self.environment.parsed_options
        rest_url = (self.host or "http://127.0.0.1:3000/dev").rstrip("/")
        self.endpoints = Endpoints(
            rest_url,
            (parsed.ws_url if parsed and parsed.ws_url else ws_url_for(rest_url)).rstrip("/"),
            cafile=(parsed.cafile if parsed and parsed.cafile else None),
        )
        delays = parsed.report_delay if parsed else (5000,)
        # The web UI hands custom options over as the text typed in.
        self.delays_ms = itertools.cycle(delays_ms(delays) if isinstance(delays, str) else delays)
        self.rows = parsed.report_rows if parsed else 100
        self.time_scale = parsed.time_scale if parsed else 1.0

    @property
    def label(self) -> str:
        return f"{self.strategy}{'-streaming' if self.options.get('sse_streaming') else ''}"

    @task
    def report(self) -> None:
        delay_ms = next(self.delays_ms)
        TOTALS[self.label]["requested"] += 1  # live views show reports still in flight
        result = fetch_report(
            self.strategy,
            self.endpoints,
            {"delay": delay_ms, "amountOfRows": self.rows},
            on_step=self.step,
            time_scale=self.time_scale,
            **self.options,
        )
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

    def step(self, step: Step) -> None:
        """Each connect, request, poll and message, as it ends, as a Locust request of its own."""
        self.environment.events.request.fire(
            request_type=STEP_TYPES[step.kind],
            name=f"{self.label} {step.name}",
            response_time=step.elapsed_s * 1000,
            response_length=step.bytes_received,
            exception=None if step.error is None else RuntimeError(step.error),
            context={"strategy": self.label},
        )
