"""The "Costs" tab of Locust's web UI: per strategy, what a report cost, live during the run.

Wired through the web UI's own extension points, so the stock React UI shows it: the
``extended_tabs``, ``extended_tables`` and ``extended_csv_files`` template args declare the tab,
its columns and a CSV download, and an ``after_request`` hook adds the rows to the
``/stats/requests`` JSON the UI polls (as ``extended_stats``). On a master the rows come from the
workers' totals as their reports arrive; a standalone runner has its own.

Dollars price what was measured, never a formula alone: the API Gateway part from what each
strategy's clients counted at their sockets, the server side (Lambda, DynamoDB, S3) from the
emulator's ``/_emulator/metrics`` since the test started, polled from a greenlet. Strategies that
run at once share the Lambda functions, so their server side cannot be split: with one strategy
its row includes it, with several it is one extra row per million reports of all of them.

The rows are figures (numbers, None for none yet): the ``/costs/json`` and CSV have them as
they are; the tab's table and the ``/costs/`` page (``costs_page``: the table, the notes once,
and two SVG charts) write them with their units. Time to result p50/p95 are
``scenarios.results.outcome_figures`` of each finished report's sample, as the CLI computes
them. Reports cut by the run's stop are counted as in flight at stop, not as failures.

Importing this module does not import Locust (which patches the process with gevent), so
``strategy_rows`` can be used, and tested, anywhere; ``register`` wires it into a Locust run.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import ssl
import urllib.request
from argparse import ArgumentTypeError
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.error import URLError
from urllib.parse import urlsplit, urlunsplit

from emulator.core.control_access import bearer_headers
from locustfiles import costs_page
from scenarios.pricing import Prices, Usage, load_prices, price
from scenarios.results import dollars_per_million, outcome_figures

logger = logging.getLogger(__name__)

TAB_KEY = "costs"
PAGE_PATH = "/costs/"  # the page with the table, its notes and the charts, beside the web UI
#: The strategy labels in the order the view lists them; others follow, sorted.
LABELS = ("rest", "short_poll", "long_poll", "sse", "sse-streaming", "websocket")
SERVER_ROW = "all strategies (server side)"
POLL_S = 2.0  # real seconds between two fetches of the emulator's metrics
FETCH_TIMEOUT_S = 2.0
#: API Gateway's default integration timeout, in seconds:
#: https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html
DEFAULT_TIMEOUT_S = 29.0
#: The usage the emulator measures and the clients cannot: priced from /_emulator/metrics.
SERVER_FIELDS = (
    "lambda_requests",
    "lambda_gb_seconds",
    "lambda_wasted_gb_seconds",
    "dynamodb_read_units",
    "dynamodb_write_units",
    "s3_tier1_requests",
    "s3_tier2_requests",
)

#: What a row's dollars include, as the "Priced" column says it; NOTES explain each once.
PRICED_WITH_SERVER = "gateway + server side"
PRICED_GATEWAY_SHARED = "gateway"
PRICED_SERVER = "server side"
PRICED_GATEWAY_ONLY = "gateway only"
UNAVAILABLE = "emulator metrics unavailable"
NOTES = {
    PRICED_WITH_SERVER: "gateway + server side: API Gateway as the clients counted it at their "
    "sockets, plus Lambda, DynamoDB and S3 as the emulator measured them since the test started.",
    PRICED_GATEWAY_SHARED: "gateway: API Gateway only, as the strategy's clients counted it; "
    f"strategies running at once share the Lambda functions, so their server side is one row, "
    f"'{SERVER_ROW}', per million reports of all of them.",
    PRICED_SERVER: "server side: Lambda, DynamoDB and S3 since the test started.",
    PRICED_GATEWAY_ONLY: "gateway only: the emulator's metrics could not be read, so only what "
    "the clients counted is priced.",
}
#: Notes every view shows once, under the table.
GENERAL_NOTES = (
    "Time to result: p50 and p95 of the delivered reports, in emulated seconds (nearest rank, "
    "as the scenario CLI computes them).",
    "Per report: divided by the reports finished. Dollars: per million reports, at the "
    "us-east-1 rates (or --prices); wasted: Lambda time billed after the caller gave up.",
    "In flight at stop: reports cut by the run's stop (a stream, a poll or a WebSocket wait): "
    "not failures, and not in the figures.",
)

#: The table's columns: (row key, title).
COLUMNS: tuple[tuple[str, str], ...] = (
    ("strategy", "Strategy"),
    ("reports_requested", "Requested"),
    ("reports_finished", "Finished"),
    ("reports_delivered", "Delivered"),
    ("gateway_timeouts", "504s"),
    ("in_flight_at_stop", "In flight at stop"),
    ("time_to_result_p50_s", "Time to result p50"),
    ("time_to_result_p95_s", "p95"),
    ("connections_per_report", "Connections / report"),
    ("requests_per_report", "Requests / report"),
    ("messages_per_report", "Messages / report"),
    ("bytes_per_report", "Bytes / report"),
    ("ws_connection_s_per_report", "WebSocket open / report"),
    ("usd_per_million_reports", "$ / million reports"),
    ("wasted_usd_per_million_reports", "of it wasted"),
    ("priced", "Priced"),
)


def prices_path(path: str) -> str:
    """``--prices``: refuse a file that cannot be used at the command line, not mid-run."""
    if path:
        try:
            load_prices(path)
        except (OSError, ValueError) as error:  # PricingError is a ValueError
            raise ArgumentTypeError(f"cannot use prices file {path!r}: {error}") from None
    return path


def report_times(samples: Mapping[str, list[dict]]) -> dict[str, dict]:
    """Per label: time to result p50/p95 (emulated s) of its finished reports' samples
    ({"ms", "error"}), by ``scenarios.results.outcome_figures``, as the CLI's figures are."""
    figures = {label: outcome_figures(list(items)) for label, items in samples.items()}
    return {
        label: {"p50_s": f["time_to_result_p50_s"], "p95_s": f["time_to_result_p95_s"]}
        for label, f in figures.items()
    }


def _ordered(labels: Iterable[str]) -> list[str]:
    known = set(labels)
    return [x for x in LABELS if x in known] + sorted(known - set(LABELS))


def gateway_usage(totals: Mapping[str, float]) -> Usage:
    """What API Gateway bills, from what a strategy's clients counted."""
    messages = totals.get("ws_messages_sent", 0) + totals.get("ws_messages_received", 0)
    return Usage(
        rest_api_requests=totals.get("http_requests", 0),
        websocket_message_units=totals.get("ws_message_units", 0) or messages,
        websocket_connection_minutes=totals.get("ws_connection_s", 0) / 60,
    )


def server_side(usage: Usage) -> dict[str, float]:
    """The part of a measured usage the clients cannot see, to add to theirs."""
    return {name: getattr(usage, name) for name in SERVER_FIELDS}


def _per(total: float, reports: int) -> float | None:
    return round(total / reports, 3) if reports else None


def _dollars(usage: Usage, prices: Prices, reports: int) -> dict:
    if not reports:
        return {"usd_per_million_reports": None, "wasted_usd_per_million_reports": None}
    return dollars_per_million(price(usage, prices), reports)


def strategy_rows(
    environment: Any,
    server: Usage | None,
    *,
    prices: Prices | None = None,
    totals: Mapping[str, Mapping[str, float]] | None = None,
    samples: Mapping[str, list[dict]] | None = None,
) -> list[dict]:
    """Per strategy label, the Costs view's row of figures; one more for the shared server side.

    ``server`` is what the emulator measured over the run (``Usage.from_metrics(after,
    before)``), or None when unknown: then only the gateway part is priced (``priced``:
    PRICED_GATEWAY_ONLY). ``totals`` and ``samples`` default to ``locustfiles.common``'s
    TOTALS and SAMPLES (on a master: every worker's), ``prices`` to the bundled ones or
    ``--prices``. Seconds are emulated; dollars per million reports; None: no figure yet.
    """
    if totals is None or samples is None:
        from locustfiles import common  # here: it imports Locust

        totals = common.TOTALS if totals is None else totals
        samples = common.SAMPLES if samples is None else samples
    if prices is None:
        options = getattr(environment, "parsed_options", None)
        prices = load_prices(getattr(options, "prices", None) or None)
    times = report_times(samples)
    labels = _ordered(
        [
            label
            for label, counts in totals.items()
            if counts.get("requested") or counts.get("reports")
        ]
        + list(times)
    )
    alone = len(labels) == 1
    rows = []
    for label in labels:
        counts = totals.get(label, {})
        count = lambda key, counts=counts: counts.get(key, 0)  # noqa: E731
        finished = int(count("reports"))
        usage = gateway_usage(counts)
        if server is None:
            priced = PRICED_GATEWAY_ONLY
        elif alone:
            usage = usage + Usage(**server_side(server))
            priced = PRICED_WITH_SERVER
        else:
            priced = PRICED_GATEWAY_SHARED
        rows.append(
            {
                "strategy": label,
                "reports_requested": max(int(count("requested")), finished),
                "reports_finished": finished,
                "reports_delivered": int(count("delivered")),
                "gateway_timeouts": int(count("gateway_timeouts")),
                "in_flight_at_stop": int(count("in_flight_at_stop")),
                "time_to_result_p50_s": times.get(label, {}).get("p50_s"),
                "time_to_result_p95_s": times.get(label, {}).get("p95_s"),
                "connections_per_report": _per(count("tcp_connections"), finished),
                "requests_per_report": _per(count("http_requests"), finished),
                "messages_per_report": _per(
                    count("ws_messages_sent") + count("ws_messages_received"), finished
                ),
                "bytes_per_report": _per(count("bytes_sent") + count("bytes_received"), finished),
                "ws_connection_s_per_report": _per(count("ws_connection_s"), finished),
                **_dollars(usage, prices, finished),
                "priced": priced,
            }
        )
    if len(rows) > 1:
        rows.append(_server_row(rows, server, prices))
    return rows


def _server_row(rows: list[dict], server: Usage | None, prices: Prices) -> dict:
    finished = sum(r["reports_finished"] for r in rows)
    row: dict[str, Any] = {key: None for key, _ in COLUMNS}
    row.update(
        {
            "strategy": SERVER_ROW,
            **{
                key: sum(r[key] for r in rows)
                for key in (
                    "reports_requested",
                    "reports_finished",
                    "reports_delivered",
                    "gateway_timeouts",
                    "in_flight_at_stop",
                )
            },
            "priced": UNAVAILABLE if server is None else PRICED_SERVER,
        }
    )
    if server is not None:
        row.update(_dollars(Usage(**server_side(server)), prices, finished))
    return row


def rows_csv(rows: list[dict]) -> str:
    """The table as the view shows it, every column, for the Download Data tab."""
    out = io.StringIO()
    fields = list(dict.fromkeys(key for row in rows for key in row)) or [k for k, _ in COLUMNS]
    writer = csv.DictWriter(out, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def metrics_url(host: str | None, what: str = "metrics") -> str:
    """``/_emulator/<what>`` (metrics, health) at the origin of Locust's ``--host`` (the REST
    API's URL)."""
    parts = urlsplit(host or "http://127.0.0.1:3000/dev")
    return urlunsplit((parts.scheme or "http", parts.netloc, f"/_emulator/{what}", "", ""))


def _get_json(url: str, context: ssl.SSLContext | None) -> Any:
    """GET ``url``'s JSON; urllib, not httpx, whose per-request log lines would fill the console.
    Raises URLError, OSError or ValueError."""
    # With the emulator's --control-token in the environment, it is sent.
    request = urllib.request.Request(url, headers=bearer_headers(os.environ))
    with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_S, context=context) as answer:
        return json.load(answer)


class LiveCosts:
    """What the view knows between two polls: prices, the emulator's metrics then and now."""

    def __init__(self) -> None:
        self.prices: Prices | None = None
        self.prices_note = ""
        self.baseline: dict | None = None  # the metrics when the test started
        self.latest: dict | None = None
        self.error: str | None = None
        self.poller: Any = None  # the polling greenlet
        #: The emulator's default integration timeout (emulated s), from its health.
        self.timeout_s: float = DEFAULT_TIMEOUT_S

    def start(self, environment: Any) -> None:
        """A new test: fresh prices and baseline, and a poller of the emulator's metrics."""
        import gevent

        self.stop()
        options = environment.parsed_options
        path = (getattr(options, "prices", "") or "").strip()
        try:
            self.prices, self.prices_note = load_prices(path or None), ""
        except (OSError, ValueError) as error:  # typed into the web UI's form
            logger.error(
                "cannot use prices file %r (%s): pricing at the bundled rates", path, error
            )
            self.prices = load_prices(None)
            self.prices_note = f"Prices: the bundled rates ({path}: {error})."
        self.baseline = self.latest = None
        self.error = "not fetched yet"
        cafile = getattr(options, "cafile", "") or None
        context = ssl.create_default_context(cafile=cafile) if cafile else None
        self.poller = gevent.spawn(self._poll, metrics_url(environment.host), context)

    def stop(self) -> None:
        if self.poller is not None:
            self.poller.kill(block=False)
            self.poller = None

    def rebaseline(self) -> None:
        """Locust's stats were reset: count the server side from now on too."""
        self.baseline = self.latest

    def _poll(self, url: str, context: ssl.SSLContext | None) -> None:
        import gevent

        try:
            health = _get_json(url.replace("/_emulator/metrics", "/_emulator/health"), context)
            self.timeout_s = float(health.get("integration_timeout_s", DEFAULT_TIMEOUT_S))
        except (URLError, OSError, ValueError, TypeError, AttributeError) as error:
            logger.warning("emulator health unreadable (%s): timeout line at 29 s", error)
        while True:
            self.fetch(url, context)
            gevent.sleep(POLL_S)

    def fetch(self, url: str, context: ssl.SSLContext | None = None) -> None:
        """One snapshot of the emulator's metrics at ``url``; an error is kept, not raised."""
        try:
            metrics = _get_json(url, context)
        except (URLError, OSError, ValueError) as error:
            text = f"{type(error).__name__}: {error}"[:160]
            if text != self.error:  # say it once, not every poll
                logger.warning("%s at %s: %s", UNAVAILABLE, url, text)
            self.error = text
            return
        self.error = None
        if self.baseline is None:
            self.baseline = metrics
        self.latest = metrics

    def server_usage(self) -> tuple[Usage | None, str]:
        """The server side since the test started, or None and why not."""
        if self.baseline is None or self.latest is None:
            return None, f"{UNAVAILABLE} ({self.error})" if self.error else UNAVAILABLE
        return Usage.from_metrics(self.latest, self.baseline), ""

    def rows(
        self,
        environment: Any,
        totals: Mapping | None = None,
        samples: Mapping[str, list[dict]] | None = None,
    ) -> list[dict]:
        """The view's rows of figures (``strategy_rows``) with what the emulator measured."""
        server, _ = self.server_usage()
        return strategy_rows(
            environment, server, prices=self.prices, totals=totals, samples=samples
        )

    def notes(self, rows: list[dict]) -> list[str]:
        """What the view says once, under its table: how the figures are priced now (metrics
        unavailable or stale, prices), what each ``priced`` tag of these rows means, and the
        general notes."""
        server, why = self.server_usage()
        status = [why] if server is None else []
        if server is not None and self.error:
            status.append(f"{UNAVAILABLE} now ({self.error}): the server side is as last read.")
        if self.prices_note:
            status.append(self.prices_note)
        tags = dict.fromkeys(row.get("priced") for row in rows)
        return [*status, *(NOTES[tag] for tag in tags if tag in NOTES), *GENERAL_NOTES]


LIVE = LiveCosts()


def register(events: Any) -> None:
    """Wire the Costs tab into Locust's web UI (master or standalone) through ``events``."""

    @events.init.add_listener
    def _install(environment, web_ui=None, **_) -> None:
        if web_ui is not None:
            install(environment, web_ui)

    @events.test_start.add_listener
    def _start(environment, **_) -> None:
        if getattr(environment, "web_ui", None) is not None:
            LIVE.start(environment)

    @events.reset_stats.add_listener
    def _reset(**_) -> None:
        if LIVE.poller is not None:  # the UI's "reset stats": the costs start again too
            from locustfiles.common import SAMPLES, TOTALS

            TOTALS.clear()
            SAMPLES.clear()
            LIVE.rebaseline()

    @events.quitting.add_listener
    def _quit(**_) -> None:
        LIVE.stop()


def install(environment: Any, web_ui: Any) -> None:
    """Declare the tab, its table and CSV; add its rows to the stats JSON the UI polls."""
    from flask import Blueprint, jsonify, make_response, request

    args = web_ui.template_args
    args["extended_tabs"] = [
        *args.get("extended_tabs", []),
        {"title": "Costs", "key": TAB_KEY},
    ]
    args["extended_tables"] = [
        *args.get("extended_tables", []),
        {"key": TAB_KEY, "structure": [{"key": key, "title": title} for key, title in COLUMNS]},
    ]
    args["extended_csv_files"] = [
        *args.get("extended_csv_files", []),
        {"href": "./costs/csv", "title": "Download costs CSV"},
        {"href": f".{PAGE_PATH}", "title": "Costs: table, notes and charts"},
    ]

    def current_rows() -> list[dict]:
        try:
            return LIVE.rows(environment)
        except Exception as error:  # the view must never break the UI's stats
            logger.exception("timeoutlab costs view")
            return [{"strategy": "error", "priced": f"{type(error).__name__}: {error}"}]

    def current_page(embed: bool = False) -> str:
        rows = current_rows()
        return costs_page.page(
            rows,
            COLUMNS,
            LIVE.notes(rows),
            LIVE.timeout_s,
            chart_rows=[row for row in rows if row["strategy"] != SERVER_ROW],
            embed=embed,
        )

    @web_ui.app.after_request
    def _add_tab_script(response):
        """Locust's page loads the script that shows the notes and charts in the Costs tab."""
        if request.endpoint != "locust.index" or response.direct_passthrough:
            return response
        tag = f'<script src=".{PAGE_PATH}tab.js"></script></body>'
        response.set_data(response.get_data(as_text=True).replace("</body>", tag, 1))
        return response

    @web_ui.app.after_request
    def _add_costs(response):
        if request.endpoint != "locust.request_stats" or not response.is_json:
            return response
        payload = response.get_json()
        rows = current_rows()
        shown = [costs_page.display_row(row) for row in rows]
        # The notes once, as the table's last row, and where the charts are.
        shown.append({"strategy": f"Notes and charts: {PAGE_PATH}", "priced": ""})
        payload["extended_stats"] = [
            *(s for s in payload.get("extended_stats", []) if s.get("key") != TAB_KEY),
            {"key": TAB_KEY, "data": shown},
        ]
        response.set_data(json.dumps(payload))
        return response

    options = environment.parsed_options
    blueprint = Blueprint(
        "timeoutlab_costs", __name__, url_prefix=getattr(options, "web_base_path", None) or None
    )

    @blueprint.route("/costs/csv")
    @web_ui.auth_required_if_enabled
    def costs_csv():
        response = make_response(rows_csv(current_rows()))
        response.headers["Content-Type"] = "text/csv"
        response.headers["Content-Disposition"] = "attachment;filename=timeoutlab_costs.csv"
        return response

    @blueprint.route("/costs/json")
    @web_ui.auth_required_if_enabled
    def costs_json():
        rows = current_rows()
        return jsonify({"rows": rows, "notes": LIVE.notes(rows), "timeout_s": LIVE.timeout_s})

    @blueprint.route("/costs/tab.js")
    @web_ui.auth_required_if_enabled
    def costs_tab_script():
        response = make_response(costs_page.tab_script(dict(COLUMNS)["in_flight_at_stop"]))
        response.headers["Content-Type"] = "text/javascript; charset=utf-8"
        return response

    @blueprint.route("/costs/")
    @web_ui.auth_required_if_enabled
    def costs_html():
        response = make_response(current_page(embed=request.args.get("embed") == "1"))
        response.headers["Content-Type"] = "text/html; charset=utf-8"
        return response

    web_ui.app.register_blueprint(blueprint)
