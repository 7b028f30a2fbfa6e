"""The web UI's Costs tab: its rows from fake samples and totals, and live in a real Locust run.

The live runs start the real Locust CLI in a subprocess (Locust patches its process with gevent)
with its web UI on a free loopback port, and read the JSON the UI polls while the test runs. A run
lasts until the view shows what the test looks for, however slow the machine; then the test ends
it with SIGTERM, Locust's own way to stop and quit. Importing ``locustfiles.costs_view`` here is
fine: it does not import Locust.
"""

import csv
import html
import io
import json
import re
import subprocess
import time
from collections import Counter
from types import SimpleNamespace

import httpx
import pytest

from emulator.backends.moto_server import free_port
from emulator.stack import StackThread
from locustfiles import costs_view
from locustfiles.costs_view import (
    PRICED_GATEWAY_ONLY,
    PRICED_GATEWAY_SHARED,
    PRICED_SERVER,
    PRICED_WITH_SERVER,
    SERVER_ROW,
    UNAVAILABLE,
    LiveCosts,
    strategy_rows,
)
from scenarios.pricing import Usage, load_prices, price
from tests.locustfiles import cli
from tests.support import LOAD_SCALE, stack_config, warm_up

STRATEGIES = ["rest", "short_poll", "long_poll", "sse", "sse-streaming", "websocket"]
PRICES = load_prices()

# -- strategy_rows, from fake report samples and worker totals ----------------------------------


def environment() -> SimpleNamespace:
    return SimpleNamespace(parsed_options=SimpleNamespace(prices=""))


def reports(ms: float, n: int, error: str | None = None) -> list[dict]:
    """``n`` finished reports' samples, as ``locustfiles.common.SAMPLES`` keeps them."""
    return [{"ms": ms, "error": error}] * n


REST = Counter(
    requested=12, reports=10, delivered=6, gateway_timeouts=4, tcp_connections=10,
    http_requests=10, bytes_sent=3000, bytes_received=4000,
)  # fmt: skip
WEBSOCKET = Counter(
    requested=5, reports=4, delivered=4, tcp_connections=4, ws_messages_sent=4,
    ws_messages_received=8, ws_message_units=12, ws_connection_s=4 * 45.0, bytes_sent=2000,
    bytes_received=2400,
)  # fmt: skip
SERVER = Usage(
    rest_api_requests=999, lambda_requests=14, lambda_gb_seconds=60.0,
    lambda_wasted_gb_seconds=20.0, dynamodb_write_units=8, s3_tier1_requests=14,
    s3_tier2_requests=3,
)  # fmt: skip
SAMPLES = {
    "rest": reports(5000, 5) + reports(5100, 1) + reports(29000, 4, "gateway_timeout"),
    "websocket": reports(40000, 3) + reports(41000, 1),
    "sse-streaming": reports(1, 9),  # seen before its totals arrived
}
REST_ONLY = {"rest": SAMPLES["rest"]}


def by_strategy(rows: list[dict]) -> dict[str, dict]:
    return {row["strategy"]: row for row in rows}


def test_one_strategy_alone_is_priced_with_the_server_side_it_caused():
    (row,) = strategy_rows(
        environment(), SERVER, prices=PRICES, totals={"rest": REST}, samples=REST_ONLY
    )
    assert row["strategy"] == "rest"
    assert (row["reports_requested"], row["reports_finished"]) == (12, 10)
    assert (row["reports_delivered"], row["gateway_timeouts"]) == (6, 4)
    # nearest rank over the delivered reports, as the CLI's outcome_figures: not the 504s
    assert row["time_to_result_p50_s"] == 5.0
    assert row["time_to_result_p95_s"] == 5.1
    assert row["connections_per_report"] == row["requests_per_report"] == 1
    assert row["bytes_per_report"] == 700
    usage = Usage(
        rest_api_requests=10, **{k: getattr(SERVER, k) for k in costs_view.SERVER_FIELDS}
    )  # the gateway's requests as the clients counted them, not the emulator's 999
    bill = price(usage, PRICES)
    assert row["usd_per_million_reports"] == pytest.approx(bill.total / 10 * 1e6, abs=1e-4)
    assert row["wasted_usd_per_million_reports"] == pytest.approx(
        20.0 * PRICES.lambda_gb_seconds / 10 * 1e6, abs=1e-4
    )
    assert row["priced"] == PRICED_WITH_SERVER


def test_several_strategies_price_their_gateway_and_share_one_server_side_row():
    totals = {"websocket": WEBSOCKET, "rest": REST, "sse": Counter()}  # sse: none yet
    rows = strategy_rows(environment(), SERVER, prices=PRICES, totals=totals, samples=SAMPLES)
    assert [r["strategy"] for r in rows] == ["rest", "sse-streaming", "websocket", SERVER_ROW]
    rows = by_strategy(rows)
    rest, ws, server = rows["rest"], rows["websocket"], rows[SERVER_ROW]
    assert rest["usd_per_million_reports"] == pytest.approx(3.5)  # one request per report
    assert rest["priced"] == ws["priced"] == PRICED_GATEWAY_SHARED
    assert ws["messages_per_report"] == 3
    assert ws["requests_per_report"] == 0
    assert ws["ws_connection_s_per_report"] == 45
    assert (ws["time_to_result_p50_s"], ws["time_to_result_p95_s"]) == (40.0, 41.0)
    ws_bill = price(
        Usage(websocket_message_units=12, websocket_connection_minutes=3.0), PRICES
    ).per_million(4)
    assert ws["usd_per_million_reports"] == pytest.approx(ws_bill, abs=1e-4)
    # reports only Locust has seen so far (their totals not yet arrived) still get a row
    assert rows["sse-streaming"]["reports_finished"] == 0
    assert rows["sse-streaming"]["usd_per_million_reports"] is None
    assert server["reports_finished"] == 14
    assert server["reports_requested"] == 17
    server_bill = price(Usage(**costs_view.server_side(SERVER)), PRICES)
    assert server["usd_per_million_reports"] == pytest.approx(server_bill.per_million(14), 1e-4)
    assert server["connections_per_report"] is None
    assert server["priced"] == PRICED_SERVER


def test_without_the_emulators_metrics_only_the_gateway_is_priced_and_the_view_says_so():
    totals = {"rest": REST, "websocket": WEBSOCKET}
    rows = by_strategy(
        strategy_rows(environment(), None, prices=PRICES, totals=totals, samples=SAMPLES)
    )
    assert rows["rest"]["usd_per_million_reports"] == pytest.approx(3.5)
    assert rows["rest"]["priced"] == PRICED_GATEWAY_ONLY
    assert rows[SERVER_ROW]["usd_per_million_reports"] is None
    assert rows[SERVER_ROW]["priced"] == UNAVAILABLE


def test_a_prices_file_overrides_the_bundled_rates(tmp_path):
    prices = tmp_path / "prices.toml"
    prices.write_text("[rates.rest_api_requests]\nusd = 7.00\n")  # per million, as bundled
    assert costs_view.prices_path(str(prices)) == str(prices)
    env = environment()
    env.parsed_options.prices = str(prices)
    (row,) = strategy_rows(env, None, totals={"rest": REST}, samples=REST_ONLY)
    assert row["usd_per_million_reports"] == pytest.approx(7.0)


def test_an_unreachable_emulator_is_reported_not_raised():
    live = LiveCosts()
    live.prices = PRICES
    live.fetch(f"http://127.0.0.1:{free_port()}/_emulator/metrics")
    usage, note = live.server_usage()
    assert usage is None
    assert note.startswith(f"{UNAVAILABLE} (URLError")
    (row,) = live.rows(environment(), totals={"rest": REST}, samples=REST_ONLY)
    assert row["priced"] == PRICED_GATEWAY_ONLY
    notes = live.notes([row])
    assert notes[0] == note  # said once, first
    assert costs_view.NOTES[PRICED_GATEWAY_ONLY] in notes


def test_a_token_protected_emulator_is_read_with_the_token_from_the_environment(
    moto_server, monkeypatch
):
    with StackThread(stack_config(moto_server.endpoint_url, control_token="s3cret")) as stack:
        url = costs_view.metrics_url(stack.rest_url)
        live = LiveCosts()
        monkeypatch.delenv("TIMEOUTLAB_CONTROL_TOKEN", raising=False)
        live.fetch(url)
        assert "401" in (live.error or "")
        monkeypatch.setenv("TIMEOUTLAB_CONTROL_TOKEN", "s3cret")
        live.fetch(url)
        assert live.error is None
        assert "rest" in (live.latest or {})


def test_the_emulators_metrics_url_is_beside_the_rest_api():
    assert costs_view.metrics_url("http://127.0.0.1:3000/dev") == (
        "http://127.0.0.1:3000/_emulator/metrics"
    )
    assert costs_view.metrics_url("https://lab:8443/dev/") == "https://lab:8443/_emulator/metrics"


def test_the_csv_has_every_column_of_every_row():
    rows = strategy_rows(
        environment(),
        SERVER,
        prices=PRICES,
        totals={"rest": REST, "websocket": WEBSOCKET},
        samples=SAMPLES,
    )
    read = list(csv.DictReader(io.StringIO(costs_view.rows_csv(rows))))
    assert [r["strategy"] for r in read] == ["rest", "sse-streaming", "websocket", SERVER_ROW]
    assert read[0]["usd_per_million_reports"] == "3.5"
    assert read[-1]["connections_per_report"] == ""


# -- live, in Locust's web UI ------------------------------------------------------------------


@pytest.fixture(scope="module")
def stack(moto_server):
    with StackThread(stack_config(moto_server.endpoint_url, time_scale=LOAD_SCALE)) as running:
        warm_up(running)
        yield running


def start_locust(stack, tmp_path, locustfile: str, *extra: str) -> tuple[subprocess.Popen, str]:
    """Locust with its web UI, running its users until ``finish`` ends it."""
    port = free_port()
    command = [
        cli.LOCUST, "-f", cli.locustfile(locustfile),
        "--web-host", "127.0.0.1", "--web-port", str(port),
        "--autostart", "--stop-timeout", "2",
        "--users", "6", "--spawn-rate", "6",
        "--host", stack.rest_url, "--ws-url", stack.ws_url,
        "--time-scale", str(LOAD_SCALE), "--report-delay", "5000", "--report-rows", "5",
        "--exit-code-on-error", "0", *extra,
    ]  # fmt: skip
    # --stop-timeout: a master forgets stopped workers for --stop-timeout seconds, and quitting
    # meanwhile would leave them running without it.
    process = subprocess.Popen(
        command,
        cwd=tmp_path,
        env=cli.ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return process, f"http://127.0.0.1:{port}"


def tab_rows(stats: dict) -> list[dict]:
    """The Costs tab's rows, as the UI's stats JSON carries them (written with their units)."""
    (costs,) = [s for s in stats.get("extended_stats", []) if s["key"] == "costs"]
    return costs["data"]


def watch_costs(process, ui: str, ready) -> list[dict]:
    """Poll the view's figures until, while the test runs, ``ready(rows)``: those rows.

    No deadline: the run goes on until the view shows what the test looks for; a run that never
    gets there is ended with the test by pytest-timeout."""
    rows: list[dict] = []
    while process.poll() is None:
        try:
            stats = httpx.get(f"{ui}/stats/requests", timeout=30).json()
            rows = httpx.get(f"{ui}/costs/json", timeout=30).json()["rows"]
        except httpx.TransportError:
            time.sleep(0.2)  # the UI is not up yet
            continue
        if stats["state"] in ("spawning", "running") and ready(rows):
            return rows
        time.sleep(0.5)
    pytest.fail(f"Locust ended before the costs were as expected: {rows}\n{output(process)}")


def output(process: subprocess.Popen) -> str:
    """What the process printed, once it has ended (killed if it had not); read once."""
    if process.poll() is None:
        process.kill()
    if process.stdout is None or process.stdout.closed:
        return ""  # already read
    return process.communicate()[0][-3000:]


def finish(process: subprocess.Popen) -> str:
    """End the run as Locust ends on SIGTERM: stop the users, print the summaries, quit."""
    process.terminate()
    text = process.communicate()[0]
    assert process.returncode == 0, text[-3000:]
    return text


def test_the_costs_tab_shows_every_strategy_live_with_its_dollars(stack, tmp_path):
    process, ui = start_locust(stack, tmp_path, "mixed.py")
    try:

        def ready(rows: list[dict]) -> bool:
            costs = by_strategy(rows)
            server = costs.get(SERVER_ROW, {})
            return all(costs.get(s, {}).get("reports_finished") for s in STRATEGIES) and bool(
                server.get("usd_per_million_reports")
            )

        rows = watch_costs(process, ui, ready)  # seen while the test ran
        index = httpx.get(ui, timeout=30).text
        download = httpx.get(f"{ui}/costs/csv", timeout=30)
        tab = tab_rows(httpx.get(f"{ui}/stats/requests", timeout=30).json())
        page = httpx.get(f"{ui}/costs/", timeout=30).text
        script = httpx.get(f"{ui}/costs/tab.js", timeout=30)
    except BaseException:
        output(process)
        raise
    text = finish(process)

    template_args = json.loads(re.search(r"window\.templateArgs = (.*)", index)[1])
    assert {"title": "Costs", "key": "costs"} in template_args["extended_tabs"]
    (table,) = [t for t in template_args["extended_tables"] if t["key"] == "costs"]
    assert {"key": "usd_per_million_reports", "title": "$ / million reports"} in table["structure"]
    assert {"href": "./costs/csv", "title": "Download costs CSV"} in template_args[
        "extended_csv_files"
    ]

    costs = by_strategy(rows)
    assert list(costs) == [*STRATEGIES, SERVER_ROW]
    for strategy in STRATEGIES:
        row = costs[strategy]
        assert row["reports_requested"] >= row["reports_finished"] >= 1
        assert row["reports_delivered"] == row["reports_finished"]  # 5 s reports: all delivered
        assert row["gateway_timeouts"] == 0
        # at least the delay; the clients' own processing time is not scaled down
        assert 5 <= row["time_to_result_p50_s"] <= row["time_to_result_p95_s"]
        assert row["connections_per_report"] >= 1
        assert row["bytes_per_report"] > 0
        assert row["usd_per_million_reports"] > 0
        assert row["priced"] == PRICED_GATEWAY_SHARED
    rest_request = price(Usage(rest_api_requests=1), PRICES).total * 1e6
    assert costs["rest"]["requests_per_report"] == 1
    assert costs["rest"]["usd_per_million_reports"] == pytest.approx(rest_request)
    assert costs["short_poll"]["requests_per_report"] >= 2
    ws = costs["websocket"]
    assert (ws["messages_per_report"], ws["requests_per_report"]) == (3, 0)  # 1 sent, 2 received
    assert ws["ws_connection_s_per_report"] >= 5  # open until the 5 s report arrived
    ws_floor = price(Usage(websocket_message_units=3), PRICES).total * 1e6
    assert ws["usd_per_million_reports"] > ws_floor  # the messages, and connection minutes
    server = costs[SERVER_ROW]
    assert server["reports_finished"] == sum(costs[s]["reports_finished"] for s in STRATEGIES)
    assert server["priced"] == PRICED_SERVER

    # the tab: every figure with its unit, and one row pointing at the notes and charts
    shown = by_strategy(tab)
    assert list(shown) == [*STRATEGIES, SERVER_ROW, "Notes and charts: /costs/"]
    assert shown["rest"]["requests_per_report"] == "1.00 requests"
    assert shown["rest"]["usd_per_million_reports"] == "$3.50"
    for strategy in STRATEGIES:
        assert re.fullmatch(r"\d+\.\d\d s", shown[strategy]["time_to_result_p50_s"])
        assert re.fullmatch(r"\$\d+\.\d\d|\$0\.\d+", shown[strategy]["usd_per_million_reports"])
        assert shown[strategy]["priced"] == PRICED_GATEWAY_SHARED  # the explanation: a note
    # the page: the table, the notes once, one bar per strategy in each chart, the 29 s line
    assert page.count('id="costs-table"') == page.count('id="costs-notes"') == 1
    assert page.count(html.escape(costs_view.NOTES[PRICED_GATEWAY_SHARED])) == 1  # once, escaped
    # Time to result per strategy; dollars also for the server side, where Lambda's cost is.
    for chart, bars in (
        ("costs-time-chart", STRATEGIES),
        ("costs-dollars-chart", [*STRATEGIES, SERVER_ROW]),
    ):
        svg = re.search(rf'<svg id="{chart}".*?</svg>', page)[0]
        assert re.findall(r'<g class="bar" data-strategy="([^"]+)"', svg) == bars
    assert 'class="timeout-line" data-seconds="29"' in page
    # Locust's page loads the script that shows the notes and charts under the tab's table
    assert '<script src="./costs/tab.js"></script></body>' in index
    assert script.headers["content-type"].startswith("text/javascript")
    assert '"costs-frame"' in script.text
    assert '"./costs/?embed=1"' in script.text
    assert '"In flight at stop"' in script.text  # the column title it finds the table by

    read = list(csv.DictReader(io.StringIO(download.text)))
    assert download.headers["content-type"].startswith("text/csv")
    assert [r["strategy"] for r in read] == [*STRATEGIES, SERVER_ROW]
    assert "timeoutlab costs per strategy" in text  # the stop summary still prints


def test_workers_costs_reach_the_masters_view_and_one_strategy_includes_the_server_side(
    stack, tmp_path
):
    master = str(free_port())  # not Locust's default 5557: other runs may hold it
    process, ui = start_locust(
        stack, tmp_path, "websocket.py", "--processes", "2",
        "--master-bind-port", master, "--master-port", master,
    )  # fmt: skip
    try:

        def ready(rows: list[dict]) -> bool:
            """A websocket row priced with the server side, once the view's snapshot of the
            emulator's metrics (taken every few seconds) includes the reports' Lambdas."""
            costs = by_strategy(rows)
            row = costs.get("websocket", {})
            return (
                bool(row.get("reports_finished"))
                and row["priced"] == PRICED_WITH_SERVER
                and row["usd_per_million_reports"] > gateway_only(row) * 1.01
            )

        rows = watch_costs(process, ui, ready)
        workers = httpx.get(f"{ui}/stats/requests", timeout=30).json()["worker_count"]
    except BaseException:
        output(process)
        raise
    finish(process)
    assert workers == 2
    (row,) = rows  # one strategy: no shared server-side row
    assert row["messages_per_report"] == 3
    assert row["usd_per_million_reports"] > gateway_only(row) * 1.01  # Lambda, DynamoDB, S3 too


def gateway_only(row: dict) -> float:
    """What a websocket row's reports cost at the gateway alone, per million."""
    usage = Usage(
        websocket_message_units=3,
        websocket_connection_minutes=row["ws_connection_s_per_report"] / 60,
    )
    return price(usage, PRICES).total * 1e6


def test_an_unusable_prices_file_is_refused_at_the_command_line(tmp_path):
    bad = tmp_path / "prices.toml"
    bad.write_text("[rates.rest_api_requests]\nusd = -1\n")
    command = [cli.LOCUST, "-f", cli.locustfile("rest.py"), "--headless", "--prices", str(bad)]
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, env=cli.ENV)
    assert result.returncode != 0
    assert "--prices" in result.stderr
    assert "rates.rest_api_requests.usd: must be a number >= 0" in result.stderr
