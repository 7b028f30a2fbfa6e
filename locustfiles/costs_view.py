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

Importing this module does not import Locust (which patches the process with gevent), so
``strategy_rows`` can be used, and tested, anywhere; ``register`` wires it into a Locust run.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import ssl
import urllib.request
from argparse import ArgumentTypeError
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.error import URLError
from urllib.parse import urlsplit, urlunsplit

from emulator.core.control_access import bearer_headers
from scenarios.pricing import Prices, Usage, load_prices, price
from scenarios.results import dollars_per_million, seconds, split_report_name

logger = logging.getLogger(__name__)

TAB_KEY = "costs"
#: The strategy labels in the order the view lists them; others follow, sorted.
LABELS = ("rest", "short_poll", "long_poll", "sse", "sse-streaming", "websocket")
SERVER_ROW = "all strategies (server side)"
POLL_S = 2.0  # real seconds between two fetches of the emulator's metrics
FETCH_TIMEOUT_S = 2.0
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

PRICED_WITH_SERVER = "gateway (clients) + Lambda, DynamoDB, S3 (emulator) since the test started"
PRICED_GATEWAY_SHARED = f"gateway only, as its clients counted; server side: '{SERVER_ROW}'"
PRICED_SERVER = (
    "Lambda, DynamoDB, S3 since the test started, per million reports of all strategies "
    "(they share the functions, so it cannot be split between them)"
)
UNAVAILABLE = "emulator metrics unavailable"

#: The table's columns: (row key, title).
COLUMNS: tuple[tuple[str, str], ...] = (
    ("strategy", "Strategy"),
    ("reports_requested", "Requested"),
    ("reports_finished", "Finished"),
    ("reports_delivered", "Delivered"),
    ("gateway_timeouts", "504s"),
    ("time_to_result_p50_s", "Time to result p50 (s)"),
    ("time_to_result_p95_s", "p95 (s)"),
    ("connections_per_report", "Connections / report"),
    ("requests_per_report", "Requests / report"),
    ("messages_per_report", "Messages / report"),
    ("bytes_per_report", "Bytes / report"),
    ("ws_connection_s_per_report", "WebSocket open s / report"),
    ("usd_per_million_reports", "USD / million reports"),
    ("wasted_usd_per_million_reports", "of it wasted"),
    ("priced", "Dollars include"),
)


def prices_path(path: str) -> str:
    """``--prices``: refuse a file that cannot be used at the command line, not mid-run."""
    if path:
        try:
            load_prices(path)
        except (OSError, ValueError) as error:  # PricingError is a ValueError
            raise ArgumentTypeError(f"cannot use prices file {path!r}: {error}") from None
    return path


def _percentile(response_times: Mapping[float, int], q: float) -> float | None:
    """Nearest rank over Locust's {rounded ms: count} buckets."""
    count = sum(response_times.values())
    if not count:
        return None
    rank, seen = max(1, math.ceil(q * count)), 0
    for ms in sorted(response_times):
        seen += response_times[ms]
        if seen >= rank:
            return ms
    return None


def report_times(entries: Iterable[Any]) -> dict[str, dict]:
    """Per label: Locust's ``REPORT`` entries of every delay merged ({rounded ms: count})."""
    merged: dict[str, Counter] = {}
    for entry in entries:
        split = split_report_name(entry.name) if entry.method == "REPORT" else None
        if split:
            merged.setdefault(split[0], Counter()).update(entry.response_times)
    return {
        label: {
            "p50_s": seconds(_percentile(times, 0.5)),
            "p95_s": seconds(_percentile(times, 0.95)),
        }
        for label, times in merged.items()
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
    server_note: str = UNAVAILABLE,
) -> list[dict]:
    """Per strategy label, the Costs view's row; one more for the shared server side.

    ``server`` is what the emulator measured over the run (``Usage.from_metrics(after,
    before)``), or None when unknown: then only the gateway part is priced and each row says
    ``server_note``. ``totals`` default to ``locustfiles.common.TOTALS`` (on a master: every
    worker's), ``prices`` to the bundled ones or ``--prices``.
    """
    if totals is None:
        from locustfiles.common import TOTALS  # here: it imports Locust

        totals = TOTALS
    if prices is None:
        options = getattr(environment, "parsed_options", None)
        prices = load_prices(getattr(options, "prices", None) or None)
    times = report_times(environment.stats.entries.values())
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
            priced = f"gateway only: {server_note}"
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
        rows.append(_server_row(rows, server, prices, server_note))
    return rows


def _server_row(rows: list[dict], server: Usage | None, prices: Prices, note: str) -> dict:
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
                )
            },
            "priced": note if server is None else PRICED_SERVER,
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


def metrics_url(host: str | None) -> str:
    """``/_emulator/metrics`` at the origin of Locust's ``--host`` (the REST API's URL)."""
    parts = urlsplit(host or "http://127.0.0.1:3000/dev")
    return urlunsplit((parts.scheme or "http", parts.netloc, "/_emulator/metrics", "", ""))


class LiveCosts:
    """What the view knows between two polls: prices, the emulator's metrics then and now."""

    def __init__(self) -> None:
        self.prices: Prices | None = None
        self.prices_note = ""
        self.baseline: dict | None = None  # the metrics when the test started
        self.latest: dict | None = None
        self.error: str | None = None
        self.poller: Any = None  # the polling greenlet

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
            self.prices, self.prices_note = load_prices(None), f"; bundled rates ({path}: {error})"
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

        while True:
            self.fetch(url, context)
            gevent.sleep(POLL_S)

    def fetch(self, url: str, context: ssl.SSLContext | None = None) -> None:
        """One snapshot; urllib, not httpx, whose per-request log lines would fill the console."""
        try:
            # With the emulator's --control-token in the environment, it is sent.
            request = urllib.request.Request(url, headers=bearer_headers(os.environ))
            with urllib.request.urlopen(
                request, timeout=FETCH_TIMEOUT_S, context=context
            ) as answer:
                metrics = json.load(answer)
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

    def rows(self, environment: Any, totals: Mapping | None = None) -> list[dict]:
        server, note = self.server_usage()
        rows = strategy_rows(
            environment, server, prices=self.prices, totals=totals, server_note=note
        )
        stale = f"; {UNAVAILABLE} now ({self.error})" if server is not None and self.error else ""
        for row in rows:
            row["priced"] += stale + self.prices_note
        return rows


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
            from locustfiles.common import TOTALS

            TOTALS.clear()
            LIVE.rebaseline()

    @events.quitting.add_listener
    def _quit(**_) -> None:
        LIVE.stop()


def install(environment: Any, web_ui: Any) -> None:
    """Declare the tab, its table and CSV; add its rows to the stats JSON the UI polls."""
    from flask import Blueprint, make_response, request

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
    ]

    def current_rows() -> list[dict]:
        try:
            return LIVE.rows(environment)
        except Exception as error:  # the view must never break the UI's stats
            logger.exception("timeoutlab costs view")
            return [{"strategy": "error", "priced": f"{type(error).__name__}: {error}"}]

    @web_ui.app.after_request
    def _add_costs(response):
        if request.endpoint != "locust.request_stats" or not response.is_json:
            return response
        payload = response.get_json()
        payload["extended_stats"] = [
            *(s for s in payload.get("extended_stats", []) if s.get("key") != TAB_KEY),
            {"key": TAB_KEY, "data": current_rows()},
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

    web_ui.app.register_blueprint(blueprint)
