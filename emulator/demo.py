"""``timeoutlab demo``: the article's experiment end to end, every strategy, printed as a table.

A 5 s report and a 40 s report are fetched by each strategy of ``reportclient``: synchronous
REST and buffered SSE die at API Gateway's 29 s integration timeout (their Lambdas run on, billed
and wasted); short polling, long polling, streamed SSE and the WebSocket deliver both. Every cost
is measured at the client's sockets and the Lambda runtime. Time runs at ``--time-scale`` (0.1 by
default: the demo takes about a minute); figures are emulated seconds.
"""

from __future__ import annotations

import csv
import io
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx

from emulator.metrics import format_overhead_warning, format_precision
from emulator.service import ServiceSpec
from emulator.stack import Stack, StackConfig, StackThread
from reportclient import Endpoints, ReportResult, fetch_report

DEMO_TIME_SCALE = 0.1
DEMO_DELAYS_S = (5, 40)
#: (label, strategy, options): SSE twice, in the article's buffered world and with streaming.
DEMO_RUNS: tuple[tuple[str, str, dict], ...] = (
    ("rest", "rest", {}),
    ("short_poll", "short_poll", {}),
    ("long_poll", "long_poll", {}),
    ("sse (buffered)", "sse", {}),
    ("sse (streaming)", "sse", {"sse_streaming": True}),
    ("websocket", "websocket", {}),
)
#: The strategies that hold one request open for the whole report: the integration timeout cuts
#: them when the report takes longer.
HELD_REQUEST_LABELS = frozenset({"rest", "sse (buffered)"})
#: What the demo's strategies call (``reportclient``): the report app's REST routes (path
#: parameters by position; their names are the service's own) and its WebSocket route, chosen by
#: the ``action`` field of the message.
DEMO_REST_ROUTES = (
    "POST /reports",
    "POST /reports/jobs",
    "GET /reports/jobs/{jobId}",
    "GET /reports/jobs/{jobId}/events",
    "GET /reports/jobs/{jobId}/events/stream",
)
DEMO_WEBSOCKET_ROUTE = "generateReport"
DEMO_SELECTION_EXPRESSION = "$request.body.action"
_PARAMETER = re.compile(r"\{[^}/]*\}")


class DemoServiceError(Exception):
    """The service given to ``timeoutlab demo`` lacks what the demo calls; the message is one
    line naming what is missing and what to run instead."""


def missing_demo_routes(service: ServiceSpec) -> list[str]:
    """The routes of ``DEMO_REST_ROUTES`` and ``DEMO_WEBSOCKET_ROUTE`` that ``service`` lacks
    (``[]`` when it has them all), as route keys; a WebSocket API whose route selection
    expression is not ``$request.body.action`` lacks the WebSocket route. Path parameters
    match whatever their names."""
    rest = {_PARAMETER.sub("{}", route.key) for route in service.rest_routes}
    missing = [key for key in DEMO_REST_ROUTES if _PARAMETER.sub("{}", key) not in rest]
    websocket = {route.key for route in service.websocket_routes}
    if (
        DEMO_WEBSOCKET_ROUTE not in websocket
        or service.websocket_selection_expression != DEMO_SELECTION_EXPRESSION
    ):
        missing.append(f"WebSocket route {DEMO_WEBSOCKET_ROUTE} ({DEMO_SELECTION_EXPRESSION})")
    return missing


def check_demo_service(service: ServiceSpec, path: Path) -> None:
    """Refuses a service the demo cannot run (``service``, loaded from ``path``): raises
    DemoServiceError naming the missing routes."""
    missing = missing_demo_routes(service)
    if missing:
        raise DemoServiceError(
            f"the demo runs the report app's experiment and {path} lacks its routes: "
            f"{', '.join(missing)}. Run your own service with `timeoutlab up --service "
            f"{path}`; test and load it from pytest with the timeoutlab plugin and "
            "timeoutlab.load (README: Using it from your own tests)."
        )


@dataclass
class Row:
    label: str
    delay_s: float
    result: ReportResult
    csv_rows: int | None
    lambda_billed_ms: int
    lambda_wasted_ms: int


@dataclass(frozen=True)
class DemoReport:
    """What ``run_demo`` measured: its rows, the integration timeout they ran against (emulated
    s) and the rows whose outcome was not the expected one (see ``expected_outcome``)."""

    rows: list[Row]
    integration_timeout_s: float

    @property
    def unexpected(self) -> list[Row]:
        """The rows whose outcome differs from ``expected_outcome``."""
        return [
            row
            for row in self.rows
            if _outcome(row.result)
            != expected_outcome(row.label, row.delay_s, self.integration_timeout_s)
        ]

    @property
    def ok(self) -> bool:
        return not self.unexpected


def expected_outcome(label: str, delay_s: float, integration_timeout_s: float) -> str:
    """The outcome the article predicts for a row, as ``_outcome`` prints it: a strategy that
    holds one request for the whole report gets the gateway timeout when the report outlasts
    the integration timeout; every other row is delivered."""
    if label in HELD_REQUEST_LABELS and delay_s >= integration_timeout_s:
        return "gateway timeout"
    return "delivered"


def _lambda_totals(stack: Stack) -> tuple[int, int]:
    """Billed and wasted Lambda time so far, in whole milliseconds, as Lambda bills."""
    functions = stack.metrics.snapshot()["lambda"]["functions"].values()
    return sum(f["billed_ms"] for f in functions), sum(f["wasted_ms"] for f in functions)


def _wait_for_lambdas(stack: Stack, limit_emulated_s: float) -> None:
    """Let invocations the gateway gave up on finish, so their wasted time is counted."""
    try:
        stack.wait_idle(timeout_s=stack.clock.to_real(limit_emulated_s) + 30)
    except TimeoutError as exc:
        print(f"timeoutlab demo: warning: figures may be incomplete: {exc}", file=sys.stderr)


def count_csv_rows(url: str) -> int:
    """Download the report through its presigned URL; data rows, header excluded."""
    response = httpx.get(url, timeout=30)
    response.raise_for_status()
    return sum(1 for _ in csv.reader(io.StringIO(response.text))) - 1


def run_one(
    stack: Stack, label: str, strategy: str, options: dict, delay_s: float, rows: int
) -> Row:
    billed0, wasted0 = _lambda_totals(stack)
    result = fetch_report(
        strategy,
        Endpoints(
            stack.rest_url,
            stack.ws_url,
            cafile=str(stack.certificate.certfile) if stack.certificate else None,
        ),
        {"delay": int(delay_s * 1000), "amountOfRows": rows},
        time_scale=stack.clock.scale,
        **options,
    )
    csv_rows = count_csv_rows(result.url) if result.url else None
    _wait_for_lambdas(stack, delay_s)
    billed1, wasted1 = _lambda_totals(stack)
    return Row(label, delay_s, result, csv_rows, billed1 - billed0, wasted1 - wasted0)


def _outcome(result: ReportResult) -> str:
    if result.ok:
        return "delivered"
    failure = result.failure
    assert failure is not None  # a result without a URL has its failure
    if failure.kind == "gateway_timeout":
        return "gateway timeout"
    return f"{failure.kind.replace('_', ' ')} {failure.status or ''}".rstrip()  # "http error 502"


def format_table(rows: list[Row]) -> str:
    header = (
        "strategy", "delay", "outcome", "time to result", "conns", "requests", "messages",
        "bytes up", "bytes down", "CSV rows", "Lambda billed", "Lambda wasted",
    )  # fmt: skip
    cells = [header]
    for r in rows:
        c = r.result.costs
        cells.append(
            (
                r.label,
                f"{r.delay_s:g} s",
                _outcome(r.result),
                f"{c.time_to_result_s:.2f} s",
                str(c.tcp_connections),
                str(c.http_requests),
                str(c.ws_messages_sent + c.ws_messages_received),
                str(c.bytes_sent),
                str(c.bytes_received),
                "-" if r.csv_rows is None else str(r.csv_rows),
                f"{r.lambda_billed_ms / 1000:.2f} s",
                f"{r.lambda_wasted_ms / 1000:.2f} s",
            )
        )
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = [
        "  ".join(
            c.ljust(w) if i < 3 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def run_demo(config: StackConfig, rows: int = 1000) -> DemoReport:
    """Runs the experiment on a stack of ``config`` and prints its table. Raises
    DemoServiceError (before starting anything) when the service lacks the report app's
    routes. The closing conclusion is printed only when every row came out as the article
    predicts; otherwise the unexpected rows are named on stderr and ``DemoReport.ok`` is
    False."""
    running = StackThread(config)  # loads the service (with its --param values); starts nothing
    try:
        check_demo_service(running.stack.service, config.service_path)
    except DemoServiceError:
        running.stop()
        raise
    with running as stack:
        timeout_s = stack.timeouts.default
        print(
            f"timeoutlab demo: API Gateway (REST and WebSocket) with a {timeout_s:g} s"
            f" integration timeout, {stack.backend.kind if stack.backend else '?'} backend, "
            f"time scale {stack.clock.scale:g} (times are emulated seconds)\n",
            flush=True,
        )
        results = []
        for label, strategy, options in DEMO_RUNS:
            for delay in DEMO_DELAYS_S:
                row = run_one(stack, label, strategy, options, delay, rows)
                results.append(row)
                print(
                    f"  {label}, {delay:g} s report: {_outcome(row.result)} after "
                    f"{row.result.costs.time_to_result_s:.2f} s",
                    file=sys.stderr,
                    flush=True,
                )
        precision = stack.metrics.snapshot()["precision"]
        warning = format_overhead_warning(precision, stack.timeouts.default, stack.clock.scale)
    print(format_table(results))
    print(format_precision(precision))
    if warning is not None:
        print(warning)
    report = DemoReport(results, timeout_s)
    unexpected = report.unexpected
    if unexpected:
        print(
            f"timeoutlab demo: error: {len(unexpected)} of {len(results)} reports did "
            "not come out as the article predicts, so no conclusion is drawn: "
            + "; ".join(
                f"{row.label}, {row.delay_s:g} s report: {_outcome(row.result)}, expected "
                f"{expected_outcome(row.label, row.delay_s, timeout_s)}"
                for row in unexpected
            ),
            file=sys.stderr,
        )
        return report
    print(
        "\nREST and buffered SSE hold one request open for the whole report, so API Gateway cuts"
        f" them at {timeout_s:g} s while their Lambdas run on, billed and wasted. The others"
        " answer at once with a job and deliver the URL later: by polling, by a streamed"
        " response, or pushed over the WebSocket."
    )
    return report
