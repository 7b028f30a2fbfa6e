"""``timeoutlab demo``: the article's experiment end to end, printed as a table.

A 5 s report and a 40 s report are requested over REST: the first arrives; the second gets API
Gateway's 504 at 29 s while its Lambda runs on to 40 s, billed and wasted. Then the same two over
the WebSocket API: both arrive, the 40 s one after 40 s, pushed through @connections. Time runs at
``--time-scale`` (0.1 by default: the demo takes seconds); figures are emulated.
"""

from __future__ import annotations

import csv
import io
import json
import time
from dataclasses import dataclass

import httpx
from websockets.sync.client import connect

from emulator.stack import Stack, StackConfig, StackThread

DEMO_TIME_SCALE = 0.1
DEMO_DELAYS_S = (5, 40)


@dataclass
class Row:
    strategy: str
    delay_s: float
    outcome: str
    status: int | None
    time_to_result_s: float
    csv_rows: int | None
    lambda_billed_s: float
    lambda_wasted_s: float


def _lambda_totals(stack: Stack) -> tuple[float, float, int]:
    functions = stack.metrics.snapshot()["lambda"]["functions"].values()
    return (
        sum(f["billed_ms"] for f in functions) / 1000,
        sum(f["wasted_ms"] for f in functions) / 1000,
        sum(f["running"] for f in functions),
    )


def _wait_for_lambdas(stack: Stack, limit_emulated_s: float) -> None:
    """Let invocations the gateway gave up on finish, so their wasted time is counted."""
    deadline = time.monotonic() + stack.clock.to_real(limit_emulated_s) + 5
    while _lambda_totals(stack)[2] and time.monotonic() < deadline:
        time.sleep(0.01)


def count_csv_rows(client: httpx.Client, url: str) -> int:
    """Download the report through its presigned URL; data rows, header excluded."""
    response = client.get(url, timeout=30)
    response.raise_for_status()
    return sum(1 for _ in csv.reader(io.StringIO(response.text))) - 1


def rest_report(client: httpx.Client, stack: Stack, delay_s: float, rows: int) -> Row:
    """One synchronous report request through the REST API, the way the article makes it."""
    billed0, wasted0, _ = _lambda_totals(stack)
    started = time.monotonic()
    response = client.post(
        f"{stack.rest_url}/reports",
        json={"delay": int(delay_s * 1000), "amountOfRows": rows},
        timeout=stack.clock.to_real(900) + 30,
    )
    elapsed = stack.clock.to_emulated(time.monotonic() - started)
    csv_rows = None
    if response.status_code == 200:
        outcome, csv_rows = "delivered", count_csv_rows(client, response.json()["url"])
    elif response.status_code == 504:
        outcome = "gateway timeout"
    else:
        outcome = f"failed: {response.text[:60]}"
    _wait_for_lambdas(stack, delay_s)
    billed1, wasted1, _ = _lambda_totals(stack)
    return Row(
        "rest",
        delay_s,
        outcome,
        response.status_code,
        elapsed,
        csv_rows,
        billed1 - billed0,
        wasted1 - wasted0,
    )


def websocket_report(client: httpx.Client, stack: Stack, delay_s: float, rows: int) -> Row:
    """The fix: ask over the WebSocket, get a job id at once, get the URL pushed when ready."""
    billed0, _, _ = _lambda_totals(stack)
    wait_real = stack.clock.to_real(900) + 30
    with connect(stack.ws_url, open_timeout=30, close_timeout=5) as ws:
        started = time.monotonic()
        ws.send(
            json.dumps(
                {"action": "generateReport", "delay": int(delay_s * 1000), "amountOfRows": rows}
            )
        )
        accepted = json.loads(ws.recv(timeout=wait_real))
        result = accepted if "error" in accepted else json.loads(ws.recv(timeout=wait_real))
        elapsed = stack.clock.to_emulated(time.monotonic() - started)
    csv_rows = None
    if "url" in result:
        outcome, csv_rows = "delivered", count_csv_rows(client, result["url"])
    else:
        outcome = f"failed: {result.get('error') or result.get('message')}"
    _wait_for_lambdas(stack, delay_s)
    billed1, _, _ = _lambda_totals(stack)
    return Row("websocket", delay_s, outcome, None, elapsed, csv_rows, billed1 - billed0, 0.0)


def format_table(rows: list[Row]) -> str:
    header = (
        "strategy",
        "delay",
        "outcome",
        "status",
        "time to result",
        "CSV rows",
        "Lambda billed",
        "Lambda wasted",
    )
    cells = [header] + [
        (
            r.strategy,
            f"{r.delay_s:g} s",
            r.outcome,
            str(r.status or "-"),
            f"{r.time_to_result_s:.2f} s",
            "-" if r.csv_rows is None else str(r.csv_rows),
            f"{r.lambda_billed_s:.2f} s",
            f"{r.lambda_wasted_s:.2f} s",
        )
        for r in rows
    ]
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


def run_demo(config: StackConfig, rows: int = 1000) -> list[Row]:
    with StackThread(config) as stack, httpx.Client() as client:
        print(
            f"timeoutlab demo: API Gateway (REST and WebSocket) with a {stack.timeouts.default:g} s"
            f" integration timeout, {stack.backend.kind if stack.backend else '?'} backend, "
            f"time scale {stack.clock.scale:g} (all times below are emulated seconds)\n"
        )
        results = [rest_report(client, stack, delay, rows) for delay in DEMO_DELAYS_S]
        results += [websocket_report(client, stack, delay, rows) for delay in DEMO_DELAYS_S]
    print(format_table(results))
    print(
        "\nOver REST the 40 s report's Lambda ran to the end after the gateway gave up: AWS bills"
        " that time and nobody receives the result. Over the WebSocket the request is answered at"
        " once with a job id and the URL is pushed when the report is ready."
    )
    return results
