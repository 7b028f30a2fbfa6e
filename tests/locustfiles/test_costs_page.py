"""The Costs page and the tab's cells: figures written with their units, the notes once."""

import re

from locustfiles import costs_page
from locustfiles.costs_view import COLUMNS, SERVER_ROW

ROWS = [
    {
        "strategy": "rest", "reports_requested": 12, "reports_finished": 10,
        "reports_delivered": 6, "gateway_timeouts": 4, "in_flight_at_stop": 1,
        "time_to_result_p50_s": 5.0123, "time_to_result_p95_s": 29.004,
        "connections_per_report": 1.0, "requests_per_report": 1.0, "messages_per_report": 0.0,
        "bytes_per_report": 1234.0, "ws_connection_s_per_report": 0.0,
        "usd_per_million_reports": 3.0949, "wasted_usd_per_million_reports": 0.00309,
        "priced": "gateway",
    },
    {
        "strategy": SERVER_ROW, "reports_requested": 12, "reports_finished": 10,
        "reports_delivered": 6, "gateway_timeouts": 4, "in_flight_at_stop": 1,
        "time_to_result_p50_s": None, "time_to_result_p95_s": None,
        "connections_per_report": None, "requests_per_report": None,
        "messages_per_report": None, "bytes_per_report": None,
        "ws_connection_s_per_report": None, "usd_per_million_reports": 583.6771,
        "wasted_usd_per_million_reports": 120.0, "priced": "server side",
    },
]  # fmt: skip


def test_a_row_is_written_with_units_and_dollars():
    shown = costs_page.display_row(ROWS[0])
    assert shown["time_to_result_p50_s"] == "5.01 s"
    assert shown["time_to_result_p95_s"] == "29.00 s"
    assert shown["requests_per_report"] == "1.00 requests"
    assert shown["connections_per_report"] == "1.00 connections"
    assert shown["bytes_per_report"] == "1.2 KB"
    assert shown["usd_per_million_reports"] == "$3.09"
    assert shown["wasted_usd_per_million_reports"] == "$0.0031"
    assert shown["in_flight_at_stop"] == "1"
    server = costs_page.display_row(ROWS[1])
    assert server["usd_per_million_reports"] == "$583.68"
    assert server["connections_per_report"] == ""


def test_the_page_has_the_table_the_notes_once_and_both_charts():
    notes = ["gateway: what the clients counted.", "Time to result: delivered reports."]
    page = costs_page.page(ROWS, COLUMNS, notes, 29.0, chart_rows=ROWS[:1])
    table = re.search(r'<table id="costs-table">.*?</table>', page)[0]
    assert re.findall(r'<tr data-strategy="([^"]+)">', table) == ["rest", SERVER_ROW]
    assert table.count("<th>") == len(COLUMNS)
    assert '<td class="usd_per_million_reports">$3.09</td>' in table
    for note in notes:
        assert page.count(note) == 1
    # Time to result per strategy; dollars also for the server side, where Lambda's cost is.
    for chart, bars in (
        ("costs-time-chart", ["rest"]),
        ("costs-dollars-chart", ["rest", SERVER_ROW]),
    ):
        svg = re.search(rf'<svg id="{chart}".*?</svg>', page)[0]
        assert re.findall(r'<g class="bar" data-strategy="([^"]+)"', svg) == bars
    assert 'class="timeout-line" data-seconds="29"' in page
    embedded = costs_page.page(ROWS, COLUMNS, notes, 29.0, embed=True)
    assert "costs-table" not in embedded
    assert 'id="costs-time-chart"' in embedded
