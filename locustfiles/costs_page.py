"""The Costs view written for people: the tab's table cells with their units, and the whole page
(``/costs/`` beside Locust's web UI) with the table, its notes once, and the two charts.

From the rows of figures ``costs_view.strategy_rows`` makes (numbers, None for none yet); pure
functions, no Locust, no I/O. Element ids a browser test can rely on: the table ``costs-table``
(one ``<tr data-strategy="...">`` per row), the notes ``costs-notes``, the charts
``costs-time-chart`` and ``costs-dollars-chart`` (see ``charts``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape
from typing import Any

from locustfiles import charts, units

TABLE_ID = "costs-table"
FRAME_ID = "costs-frame"
NOTES_ID = "costs-notes"
REFRESH_S = 5  # real seconds between two reloads of the page while it is open

#: Each column's key -> how its figure is written (the strategy and "priced" are text).
FORMATS: dict[str, Callable[[Any], str]] = {
    "reports_requested": units.whole,
    "reports_finished": units.whole,
    "reports_delivered": units.whole,
    "gateway_timeouts": units.whole,
    "in_flight_at_stop": units.whole,
    "time_to_result_p50_s": units.seconds,
    "time_to_result_p95_s": units.seconds,
    "connections_per_report": lambda v: units.count(v, "connections"),
    "requests_per_report": lambda v: units.count(v, "requests"),
    "messages_per_report": lambda v: units.count(v, "messages"),
    "bytes_per_report": units.size,
    "ws_connection_s_per_report": units.seconds,
    "usd_per_million_reports": units.usd,
    "wasted_usd_per_million_reports": units.usd,
}


def display_row(row: dict) -> dict[str, str]:
    """A row of figures as the table shows it: every number with its unit, None as empty."""
    return {
        key: FORMATS[key](value) if key in FORMATS else ("" if value is None else str(value))
        for key, value in row.items()
    }


def time_chart(rows: Sequence[dict], timeout_s: float) -> str:
    """Chart (a): time to result p50/p95 per strategy (``rows``: the strategies' rows) against
    the integration timeout (emulated s)."""
    bars = [
        charts.TimeBar(r["strategy"], r.get("time_to_result_p50_s"), r.get("time_to_result_p95_s"))
        for r in rows
    ]
    return charts.time_chart(bars, timeout_s)


def dollars_chart(rows: Sequence[dict]) -> str:
    """Chart (b): dollars per million reports per strategy (``rows``: the strategies' rows), the
    wasted part stacked on top."""
    bars = [
        charts.DollarBar(
            r["strategy"], r.get("usd_per_million_reports"), r.get("wasted_usd_per_million_reports")
        )
        for r in rows
    ]
    return charts.dollars_chart(bars)


def table(rows: Sequence[dict], columns: Sequence[tuple[str, str]]) -> str:
    """The ``costs-table``: one header row, one ``<tr data-strategy>`` per row."""
    head = "".join(f"<th>{escape(title)}</th>" for _, title in columns)
    body = []
    for row in rows:
        shown = display_row(row)
        cells = "".join(
            f'<td class="{escape(key)}">{escape(shown.get(key, ""))}</td>' for key, _ in columns
        )
        body.append(f'<tr data-strategy="{escape(str(row.get("strategy", "")))}">{cells}</tr>')
    return (
        f'<table id="{TABLE_ID}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def page(
    rows: Sequence[dict],
    columns: Sequence[tuple[str, str]],
    notes: Sequence[str],
    timeout_s: float,
    *,
    chart_rows: Sequence[dict] | None = None,
    embed: bool = False,
) -> str:
    """The whole page: the table (left out when ``embed``: the tab shows its own), the notes
    once, and both charts of ``chart_rows`` (default: every row); it reloads itself every
    REFRESH_S real seconds."""
    charted = rows if chart_rows is None else chart_rows
    listed = "".join(f"<li>{escape(note)}</li>" for note in notes)
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<meta http-equiv='refresh' content='{REFRESH_S}'><title>timeoutlab costs</title>"
        "<style>body{font-family:sans-serif;margin:1em}table{border-collapse:collapse}"
        "td,th{border-bottom:1px solid #e2e8f0;padding:4px 8px;text-align:right}"
        "td{white-space:nowrap}"
        "td:first-child,th:first-child{text-align:left}.charts{display:flex;flex-wrap:wrap;"
        "gap:1em}#costs-notes{color:#4a5568;font-size:0.9em}</style></head><body>"
        + ("" if embed else f"<h1>Costs per strategy</h1>{table(rows, columns)}")
        + f'<ul id="{NOTES_ID}">{listed}</ul>'
        # The dollars chart keeps the server-side row: in a mixed run the Lambda and backend
        # costs, and their wasted part, are only there (strategies share the functions).
        + f'<div class="charts">{time_chart(charted, timeout_s)}{dollars_chart(rows)}</div>'
        + "</body></html>"
    )


#: Loaded by Locust's web UI page (``costs_view`` adds it): while the Costs tab is open, the
#: page's notes and charts (``/costs/?embed=1``) are shown in ``iframe#costs-frame`` under the
#: tab's own table. Our few lines, no library: Locust's UI draws only text in a tab's table.
TAB_SCRIPT = """(function () {
  function place() {
    var onCosts = new URLSearchParams(location.search).get("tab") === "costs";
    var frame = document.getElementById("%(frame)s");
    if (!onCosts) { if (frame) { frame.remove(); } return; }
    if (frame) { return; }
    var heads = document.querySelectorAll("th"), table = null;
    for (var i = 0; i < heads.length && !table; i++) {
      if (heads[i].textContent === "%(marker)s") { table = heads[i].closest("table"); }
    }
    if (!table) { return; }
    var box = table.closest(".MuiTableContainer-root") || table;
    frame = document.createElement("iframe");
    frame.id = "%(frame)s";
    frame.title = "Costs: notes and charts";
    frame.src = "./costs/?embed=1";
    frame.style.cssText = "width:100%%;height:780px;border:0;margin-top:1em";
    box.insertAdjacentElement("afterend", frame);
  }
  new MutationObserver(place).observe(document.documentElement, {childList: true, subtree: true});
  place();
})();
"""


def tab_script(marker: str) -> str:
    """TAB_SCRIPT finding the Costs table by ``marker``, a column title only it has."""
    return TAB_SCRIPT % {"frame": FRAME_ID, "marker": marker.replace('"', "")}
