"""The console script as users run it: real processes, real ports."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from emulator.backends.moto_server import EmbeddedMoto, free_port
from tests.support import HANDLER_SCALE, aws_client, write_service

TIMEOUTLAB = [str(Path(sys.executable).parent / "timeoutlab")]


def run(*args: str, timeout: float = 120, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        TIMEOUTLAB + list(args),
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


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
    # The gentler HANDLER_SCALE: a long poll held 20 s must beat the 29 s timeout in real time.
    result = run("demo", "--time-scale", str(HANDLER_SCALE), "--rows", "50")
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
            assert seconds(time_to_result) >= 29.0  # never early (how late: tests/timing)
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
    # The gateway's own precision, measured at the gateway: REST and buffered SSE 40 s reports
    # made two integration timeouts; every delivered request was answered with a Lambda's result.
    precision = re.search(
        r"^gateway precision \(emulated s\): (\d+) integration timeout\(s\) answered late by "
        r"median (\d+\.\d+), max (\d+\.\d+); processing overhead median (\d+\.\d+), "
        r"p95 (\d+\.\d+) per request \((\d+) requests\)$",
        result.stdout,
        re.MULTILINE,
    )
    assert precision, result.stdout
    timeouts, late_median, late_max, added_median, added_p95, requests_measured = precision.groups()
    assert int(timeouts) == 2
    assert 0 <= float(late_median) <= float(late_max)  # never early at the gateway
    assert 0 <= float(added_median) <= float(added_p95)
    assert int(requests_measured) >= 1
    # Every row came out as the article predicts: its conclusion follows.
    assert "so API Gateway cuts them at 29 s while their Lambdas run on" in result.stdout


@contextmanager
def up(*args: str, env: dict | None = None) -> Iterator[tuple[str, list[str]]]:
    """``timeoutlab up`` on free ports until the block ends (then Ctrl-C): its banner, and the
    log lines it printed after it (filled in when it has stopped)."""
    process = subprocess.Popen(
        [*TIMEOUTLAB, "up", "--http-port", "0", "--ws-port", "0", "--time-scale", "0.02", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )
    after: list[str] = []
    try:
        banner = ""
        deadline = time.monotonic() + 60
        while "stop: Ctrl-C" not in banner and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            banner += line
        yield banner, after
    finally:
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=30)
        after.append(rest)
    assert process.returncode == 0, banner + rest


def endpoints(banner: str) -> tuple[str, str]:
    """The REST API's /reports URL and the WebSocket API's URL, from the banner."""
    match = re.search(r"POST (http://127\.0\.0\.1:\d+/dev/reports)", banner)
    assert match, banner
    return match.group(1), re.search(r"WebSocket (ws://127\.0\.0\.1:\d+/dev)", banner).group(1)


def test_up_serves_reports_on_the_embedded_backend_until_interrupted():
    # With --credentials: the handlers sign their Invoke and @connections calls with them.
    with up("--backend-port", "0", "--credentials", "AKIDCLI:cli-secret") as (banner, after):
        reports, ws_url = endpoints(banner)
        assert "backend   moto at http://127.0.0.1:" in banner
        assert "SigV4     signatures verified for access key AKIDCLI;" in banner
        page = re.search(r"page      (http://127\.0\.0\.1:\d+/_emulator/ui/) ", banner)
        assert page, banner
        assert page.group(1).startswith(reports.removesuffix("/dev/reports"))
        opened = httpx.get(page.group(1))
        assert opened.status_code == 200
        assert opened.headers["Content-Type"] == "text/html; charset=utf-8"
        unsigned = httpx.get(ws_url.replace("ws://", "http://") + "/@connections/nobody")
        assert unsigned.status_code == 403
        assert unsigned.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
        response = httpx.post(reports, json={"delay": 1000, "amountOfRows": 3}, timeout=30)
        assert response.status_code == 200
        assert httpx.get(response.json()["url"]).text.count("\n") == 4
        with connect(ws_url, open_timeout=60) as ws:  # $connect may cold-start
            ws.send(json.dumps({"action": "generateReport", "delay": 40000, "amountOfRows": 2}))
            assert json.loads(ws.recv(timeout=30))["status"] == "accepted"
            assert "url" in json.loads(ws.recv(timeout=30))
    assert "POST /dev/reports -> 200" in after[0]


@pytest.fixture
def separate_moto() -> Iterator[str]:
    """A moto server in a process of its own that outlives every ``up`` here, as a user's would."""
    server = EmbeddedMoto(port=free_port()).start()
    yield server.endpoint_url
    server.close()


def wait_idle(banner: str, hang_guard_s: float = 60.0) -> None:
    """Wait until the ``up`` of ``banner`` runs nothing (``/_emulator/health``'s ``busy`` is
    empty); the limit only keeps a broken run from hanging."""
    control = re.search(r"control   (http://127\.0\.0\.1:\d+)/_emulator", banner)
    assert control, banner
    deadline = time.monotonic() + hang_guard_s
    while busy := httpx.get(f"{control.group(1)}/_emulator/health", timeout=30).json()["busy"]:
        assert time.monotonic() < deadline, f"still busy after {hang_guard_s:g} s: {busy}"
        time.sleep(0.02)


def test_up_on_an_external_endpoint_bootstraps_it_once_and_leaves_it_running(separate_moto):
    with up("--backend", separate_moto) as (banner, _):
        reports, _ = endpoints(banner)
        assert f"backend   url at {separate_moto} (S3, DynamoDB)" in banner
        assert httpx.post(reports, json={"delay": 5000, "amountOfRows": 2}, timeout=30).is_success
        cut = httpx.post(reports, json={"delay": 40000, "amountOfRows": 2}, timeout=30)
        assert cut.status_code == 504
        # The 40 s Lambda runs on after the 504 (0.22 s real here): stopping now would leave it
        # only the shutdown's grace (5 s real), which a loaded machine can use up.
        wait_idle(banner)
    # The resources are on the user's server, and stay there when timeoutlab stops.
    s3 = aws_client("s3", separate_moto)
    assert "timeoutlab-reports-dev" in {b["Name"] for b in s3.list_buckets()["Buckets"]}
    # Both reports were written: the 40 s one's Lambda ran on after the gateway's 504.
    assert len(s3.list_objects_v2(Bucket="timeoutlab-reports-dev")["Contents"]) == 2
    tables = set(aws_client("dynamodb", separate_moto).list_tables()["TableNames"])
    assert {"timeoutlab-connections-dev", "timeoutlab-jobs-dev"} <= tables
    # Found again as localstack-client finds LocalStack; bootstrapping twice changes nothing.
    host = separate_moto.removeprefix("http://")
    with up("--backend", "localstack", env={"LOCALSTACK_HOST": host}) as (banner, _):
        reports, ws_url = endpoints(banner)
        assert f"backend   localstack at {separate_moto}" in banner
        with connect(ws_url, open_timeout=60) as ws:  # $connect may cold-start
            ws.send(json.dumps({"action": "generateReport", "delay": 40000, "amountOfRows": 2}))
            assert json.loads(ws.recv(timeout=30))["status"] == "accepted"
            assert "url" in json.loads(ws.recv(timeout=30))
    assert len(s3.list_objects_v2(Bucket="timeoutlab-reports-dev")["Contents"]) == 3


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
    remote = run("up", "--http-port", "0", "--backend-port", "0", "--lambda", "remote")
    assert remote.returncode == 2
    assert "--lambda remote needs a backend with Lambda" in remote.stderr
    keys = run("up", "--credentials", "no-colon-secret")
    assert keys.returncode == 2
    assert "credentials must be KEY:SECRET" in keys.stderr
    assert "no-colon-secret" not in keys.stderr  # it may be a secret: never echoed
    # $TIMEOUTLAB_CREDENTIALS is --credentials' default (out of ps), checked the same way.
    variable = run("up", env={"TIMEOUTLAB_CREDENTIALS": "variable-secret"})
    assert variable.returncode == 2
    assert "credentials must be KEY:SECRET" in variable.stderr
    assert "variable-secret" not in variable.stderr
    remote_keys = run(
        "up",
        "--http-port",
        "0",
        "--lambda",
        "remote",
        "--credentials",
        "AKID:secret",
        "--backend",
        "http://127.0.0.1:9",
    )
    assert remote_keys.returncode == 2
    assert "--credentials cannot go with --lambda remote" in remote_keys.stderr
    # Why, and what to do instead.
    assert "whose secret this emulator does not know" in remote_keys.stderr
    assert "Leave --credentials out" in remote_keys.stderr
    assert "--lambda local" in remote_keys.stderr
    alone = run("up", "--http-port", "0", "--start-localstack")
    assert alone.returncode == 2
    assert "--start-localstack goes with --backend localstack" in alone.stderr
    no_engine = subprocess.run(
        [*TIMEOUTLAB, "up", "--http-port", "0", "--backend", "localstack", "--start-localstack"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "DOCKER_HOST": f"tcp://127.0.0.1:{free_port()}"},
    )
    assert no_engine.returncode == 2
    assert "--start-localstack needs a Docker engine, and none answered" in no_engine.stderr
    missing = run("up", "--service", "/nonexistent/serverless.yml")
    assert missing.returncode == 2
    assert "cannot read /nonexistent/serverless.yml" in missing.stderr


def test_up_on_every_interface_warns_keeps_the_backend_on_loopback_and_guards_control():
    token = {"TIMEOUTLAB_CONTROL_TOKEN": "s3cret"}  # --control-token's default
    with up("--host", "0.0.0.0", "--backend-port", "0", env=token) as (banner, _):
        assert "timeoutlab: warning: --host 0.0.0.0 is not loopback" in banner
        assert re.search(r"control plane /_emulator/ on 0\.0\.0\.0:\d+ \(protected", banner)
        # moto and the usage proxy stay on loopback, and so do the presigned URLs they make.
        assert "backend   moto at http://127.0.0.1:" in banner
        assert "handlers reach it through http://127.0.0.1:" in banner
        # URLs name a usable address, never 0.0.0.0 (the primary one here, or 127.0.0.1).
        assert "http://0.0.0.0:" not in banner
        port = re.search(r"POST http://[\d.]+:(\d+)/dev/reports", banner).group(1)
        base = f"http://127.0.0.1:{port}"
        report = httpx.post(f"{base}/dev/reports", json={"delay": 0, "amountOfRows": 2}, timeout=30)
        assert report.status_code == 200, report.text
        url = report.json()["url"]
        assert url.startswith("http://127.0.0.1:")
        assert httpx.get(url).text.count("\n") == 3
        health = httpx.get(f"{base}/_emulator/health")
        assert health.status_code == 200
        assert not health.json()["rest_api"].startswith("http://0.0.0.0:")
        # The page, opened as the banner says (localhost, not 0.0.0.0), needs no token.
        assert f"page      http://localhost:{port}/_emulator/ui/ " in banner
        assert httpx.get(f"http://localhost:{port}/_emulator/ui/").status_code == 200
        assert httpx.get(f"{base}/_emulator/config").status_code == 401
        bearer = {"Authorization": "Bearer s3cret"}
        assert httpx.get(f"{base}/_emulator/config", headers=bearer).status_code == 200


def test_a_malformed_allowed_origin_host_or_token_exits_2():
    bad = run("up", "--allowed-origin", "evil.example")
    assert bad.returncode == 2
    assert "--allowed-origin must look like http://host:port" in bad.stderr
    bad = run("up", "--allowed-host", "emulator:3000")
    assert bad.returncode == 2
    assert "--allowed-host must be a host name" in bad.stderr
    bad = run("up", "--control-token", "")
    assert bad.returncode == 2
    assert "--control-token must be non-empty" in bad.stderr


HTTP_API_EXAMPLE = Path(__file__).resolve().parents[2] / "examples/http-api-report/serverless.yml"


def test_up_prints_and_serves_the_http_api_routes_on_their_own_port():
    args = ("--service", str(HTTP_API_EXAMPLE), "--http-api-port", "0", "--backend-port", "0")
    with up(*args) as (banner, _):
        match = re.search(r"HTTP API  POST (http://127\.0\.0\.1:(\d+))/reports", banner)
        assert match, banner
        http_api, port = match.group(1), int(match.group(2))
        assert port not in (3000, 3001, 3002)
        # A cold start (not prewarmed): seconds on a loaded machine, past httpx's default 5 s.
        answer = httpx.post(f"{http_api}/reports", json={"delay": 0, "amountOfRows": 1}, timeout=60)
        assert answer.status_code == 200, answer.text
        assert answer.json()["url"].startswith("http")
        assert answer.headers["apigw-requestid"]
        control = re.search(r"control   (http://127\.0\.0\.1:\d+)/_emulator", banner).group(1)
        assert httpx.get(f"{control}/_emulator/health").json()["http_api"] == http_api
        assert httpx.get(f"{http_api}/_emulator/health").status_code == 404
        # The banner's example request is the service's own, and it names no WebSocket route.
        assert f"try:  curl -s -X POST {http_api}/reports" in banner
        assert "routes: none" in banner


def test_an_http_api_route_timeout_over_30_s_exits_2(tmp_path):
    path = write_service(
        tmp_path,
        "def handler(event, context):\n    return {}\n",
        "f:\n  handler: app.handler\n  events: [{httpApi: 'GET /a'}]",
        extra="custom:\n  timeoutlab:\n    httpApiRouteTimeouts: {GET /a: 45}\n",
    )
    refused = run("up", "--service", str(path), "--http-port", "0", "--ws-port", "0")
    assert refused.returncode == 2
    assert "httpApiRouteTimeouts.GET /a must be between 0.05 and 30 seconds" in refused.stderr


# -- first-run edges: a directory as --service, option names in refusals, the demo's service ------

USER_HANDLERS = """
import json


def hello(event, context):
    return {"statusCode": 200, "body": json.dumps({"hello": "world"})}
"""
USER_FUNCTIONS = "hello:\n  handler: app.hello\n  events: [{http: GET hello}]"


def test_up_takes_a_directory_as_its_serverless_yml(tmp_path):
    write_service(tmp_path / "svc", USER_HANDLERS, USER_FUNCTIONS)
    with up("--service", str(tmp_path / "svc"), "--backend-port", "0") as (banner, _):
        assert "timeoutlab is up: service inline" in banner, banner
        hello = re.search(r"GET (http://127\.0\.0\.1:\d+/dev/hello)", banner)
        assert hello, banner
        assert httpx.get(hello.group(1)).json() == {"hello": "world"}


def test_a_directory_without_a_service_file_and_a_frame_over_the_message_size_exit_2(tmp_path):
    (tmp_path / "serverless.ts").write_text("export default {}\n")
    empty = run("up", "--service", str(tmp_path))
    assert empty.returncode == 2
    assert f"argument --service: directory {tmp_path} has no serverless.yml" in empty.stderr
    assert "it has serverless.ts" in empty.stderr
    assert "Is a directory" not in empty.stderr
    frame = run("up", "--ws-max-frame", "200000")
    assert frame.returncode == 2
    assert (
        "--ws-max-frame (200000 bytes) must be at most --ws-max-message (131072 bytes)"
        in frame.stderr
    )
    assert "max_frame_bytes" not in frame.stderr
    # Raised together, they are accepted (the demo then refuses the service, before any start).
    service = write_service(tmp_path / "svc", USER_HANDLERS, USER_FUNCTIONS)
    both = run("demo", "--ws-max-frame", "200000", "--ws-max-message", "200000",
               "--service", str(service))  # fmt: skip
    assert both.returncode == 2
    assert "--ws-max-frame" not in both.stderr


@pytest.mark.parametrize("command", ["up", "demo"])
def test_an_option_combination_error_shows_the_command_s_own_usage(command):
    # Checked after parsing (a frame over the message limit), reported as argparse reports an
    # option's own error: under the subcommand's usage line, not the top-level one.
    frame = run(command, "--ws-max-frame", "200000")
    assert frame.returncode == 2
    assert frame.stderr.startswith(f"usage: timeoutlab {command} [-h]"), frame.stderr
    assert "usage: timeoutlab [-h] COMMAND" not in frame.stderr
    assert f"\ntimeoutlab {command}: error: --ws-max-frame (200000 bytes)" in frame.stderr


def test_the_demo_refuses_a_service_without_the_report_routes_in_one_line(tmp_path):
    write_service(tmp_path, USER_HANDLERS, USER_FUNCTIONS)
    refused = run("demo", "--service", str(tmp_path))
    assert refused.returncode == 2
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1, refused.stderr
    assert lines[0].startswith("timeoutlab: error: the demo runs the report app's experiment")
    assert "lacks its routes: POST /reports, POST /reports/jobs" in lines[0]
    assert "WebSocket route generateReport" in lines[0]
    assert f"timeoutlab up --service {tmp_path / 'serverless.yml'}" in lines[0]
    assert refused.stdout == ""  # nothing started, no table


def test_the_demo_reads_the_service_with_its_param_values(tmp_path):
    # ${param:greeting} has no value but --param's: the demo loads the service as `up` does,
    # so what it reports is the missing routes, not a missing parameter.
    environment = "environment:\n  GREETING: ${param:greeting}"
    write_service(tmp_path, USER_HANDLERS, USER_FUNCTIONS, provider=environment)
    refused = run("demo", "--service", str(tmp_path), "--param", "greeting=hi")
    assert refused.returncode == 2
    assert "lacks its routes: POST /reports" in refused.stderr, refused.stderr
    assert "has no value" not in refused.stderr


BROKEN_HANDLERS = """
def broken(event, context):
    raise RuntimeError("this service answers nothing")
"""
# The report app's routes (parameters named otherwise), every one on a handler that fails.
BROKEN_FUNCTIONS = """
broken:
  handler: app.broken
  events:
    - http: POST reports
    - http: POST reports/jobs
    - http: GET reports/jobs/{id}
    - http: GET reports/jobs/{id}/events
    - http: GET reports/jobs/{id}/events/stream
    - websocket: generateReport
"""


def test_demo_rows_that_fail_leave_out_the_conclusion_and_exit_1(tmp_path):
    service = write_service(tmp_path, BROKEN_HANDLERS, BROKEN_FUNCTIONS)
    result = run("demo", "--service", str(service), "--time-scale", str(HANDLER_SCALE),
                 "--rows", "1", "--no-prewarm")  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    rows = demo_rows(result.stdout)
    assert len(rows) == 12, result.stdout
    assert all(cells[0] != "delivered" for cells in rows.values()), result.stdout
    assert "hold one request open" not in result.stdout  # no conclusion the rows do not show
    assert "timeoutlab demo: error: 12 of 12 reports did not come out as the article" in (
        result.stderr
    )
    assert "rest, 5 s report: http error 502, expected delivered;" in result.stderr
