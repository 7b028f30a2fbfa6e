"""The console script as users run it: real processes, real ports."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from websockets.sync.client import connect

TIMEOUTLAB = [str(Path(sys.executable).parent / "timeoutlab")]


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(TIMEOUTLAB + list(args), capture_output=True, text=True, timeout=timeout)


def demo_rows(out: str) -> dict[tuple[str, int], list[str]]:
    """The demo table's rows by (strategy, delay): the cells after the delay."""
    rows = {}
    for line in out.splitlines():
        found = re.match(r"^(\w+(?: \(\w+\))?)\s+(\d+) s\s+(.*)$", line)
        if found:
            rows[(found.group(1), int(found.group(2)))] = re.split(r"\s{2,}", found.group(3))
    return rows


def seconds(cell: str) -> float:
    return float(cell.removesuffix(" s"))


def test_demo_shows_every_strategy_with_rest_and_buffered_sse_failing_at_29_s():
    result = run("demo", "--time-scale", "0.02", "--rows", "50")
    assert result.returncode == 0, result.stderr
    rows = demo_rows(result.stdout)
    strategies = [
        "rest",
        "short_poll",
        "long_poll",
        "sse (buffered)",
        "sse (streaming)",
        "websocket",
    ]
    assert sorted(rows) == sorted((s, d) for s in strategies for d in (5, 40)), result.stdout
    for (strategy, delay), cells in rows.items():
        outcome, time_to_result, conns, requests, messages, up, down, csv_rows, billed, wasted = (
            cells
        )
        if delay == 40 and strategy in ("rest", "sse (buffered)"):
            assert outcome == "gateway timeout", cells
            assert 29.0 <= seconds(time_to_result) < 29.0 + 10  # late by processing, never early
            assert csv_rows == "-"
            assert 29.0 <= seconds(wasted) <= seconds(billed)  # the Lambda ran on, for nothing
        else:
            assert outcome == "delivered", (strategy, delay, cells)
            assert seconds(time_to_result) >= delay
            assert csv_rows == "50"
            assert seconds(wasted) == 0
        assert int(conns) >= 1
        assert int(up) > 0
        assert int(down) > 0
        assert seconds(billed) >= min(delay, 29)
        if strategy == "websocket":
            assert (int(requests), int(messages)) == (0, 3)
        else:
            assert int(requests) >= 1


def test_up_serves_reports_on_the_embedded_backend_until_interrupted():
    process = subprocess.Popen(
        [
            *TIMEOUTLAB,
            "up",
            "--http-port",
            "0",
            "--ws-port",
            "0",
            "--backend-port",
            "0",
            "--time-scale",
            "0.02",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        banner = ""
        deadline = time.monotonic() + 60
        while "stop: Ctrl-C" not in banner and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            banner += line
        match = re.search(r"POST (http://127\.0\.0\.1:\d+/dev/reports)", banner)
        assert match, banner
        assert "backend   moto at http://127.0.0.1:" in banner
        response = httpx.post(match.group(1), json={"delay": 1000, "amountOfRows": 3}, timeout=30)
        assert response.status_code == 200
        assert httpx.get(response.json()["url"]).text.count("\n") == 4
        ws_url = re.search(r"WebSocket (ws://127\.0\.0\.1:\d+/dev)", banner).group(1)
        with connect(ws_url) as ws:
            ws.send(json.dumps({"action": "generateReport", "delay": 40000, "amountOfRows": 2}))
            assert json.loads(ws.recv(timeout=30))["status"] == "accepted"
            assert "url" in json.loads(ws.recv(timeout=30))
    finally:
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=30)
    assert process.returncode == 0, banner + rest
    assert "POST /dev/reports -> 200" in rest


def test_bad_options_and_backends_exit_2_with_a_message():
    bad_scale = run("up", "--time-scale", "0")
    assert bad_scale.returncode == 2
    assert "time scale must be > 0" in bad_scale.stderr
    bad_timeout = run("up", "--integration-timeout", "0.001")
    assert bad_timeout.returncode == 2
    assert "--integration-timeout must be between 0.05 and 900" in bad_timeout.stderr
    down = run("up", "--http-port", "0", "--backend", "http://127.0.0.1:9")
    assert down.returncode == 2
    assert "timeoutlab: error: url backend at http://127.0.0.1:9 does not serve s3" in down.stderr
    missing = run("up", "--service", "/nonexistent/serverless.yml")
    assert missing.returncode == 2
    assert "cannot read /nonexistent/serverless.yml" in missing.stderr
