"""``timeoutlab.run_load``: real Locust runs (child processes) against real stacks on loopback.

Each run is a few real seconds at a small time scale; the figures are checked against what the
stack itself counted.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from types import SimpleNamespace

import pytest

from emulator.stack import Stack, StackThread
from scenarios.pricing import load_prices
from tests.support import LOAD_SCALE, count_ssl_contexts, stack_config, warm_up, write_service
from timeoutlab.load import (
    LoadError,
    LoadRequest,
    LoadResult,
    _Control,
    load_cost,
    route_loads,
    run_load,
)

#: 29 s is 2.9 real s here: room for the unscaled time of a client and of handlers' cold starts
#: (and their 10 s init limit, 1 s real) on a loaded machine.
SCALE = LOAD_SCALE
INTEGRATION_TIMEOUT_S = 29.0
HANDLERS = """
import os
import time

SCALE = float(os.environ["TIMEOUTLAB_TIME_SCALE"])

def fast(event, context):
    return {"statusCode": 200, "body": "ok"}

def slow(event, context):
    time.sleep(40 * SCALE)  # 40 emulated s: past the 29 s integration timeout
    return {"statusCode": 200, "body": "too late"}

def echo(event, context):
    return {"statusCode": 200, "body": event["body"]}
"""
FUNCTIONS = """
fast:
  handler: app.fast
  events: [{http: {path: fast, method: get}}]
slow:
  handler: app.slow
  timeout: 60
  events: [{http: {path: slow, method: get}}, {httpApi: {path: /slow, method: get}}]
echo:
  handler: app.echo
  events:
    - websocket: {route: echo, routeResponseSelectionExpression: $default}
"""


@dataclass(frozen=True)
class Target:
    """The stand-in for timeoutlab's Stack handle: what ``run_load`` reads of a stack."""

    rest_url: str
    http_api_url: str | None
    ws_url: str
    control_url: str
    time_scale: float

    @classmethod
    def of(cls, stack: Stack) -> Target:
        return cls(
            stack.rest_url,
            stack.http_api_url,
            stack.ws_url,
            f"{stack.http_url}/_emulator",
            stack.clock.scale,
        )


@pytest.fixture(scope="module")
def own_service(moto_server, tmp_path_factory) -> Iterator[Target]:
    """A user's own service: a fast route, a slow one (REST and HTTP API), a WebSocket echo."""
    service = write_service(tmp_path_factory.mktemp("own"), HANDLERS, FUNCTIONS)
    config = stack_config(
        moto_server.endpoint_url, service_path=service, time_scale=SCALE, prewarm=True
    )
    with StackThread(config) as stack:
        yield Target.of(stack)


def test_a_slow_route_ends_in_gateway_timeouts_at_29_s_and_a_fast_one_well_under(own_service):
    fast = LoadRequest("GET", "/fast")
    slow = LoadRequest("GET", "/slow")
    slow_http_api = LoadRequest("GET", "/slow", api="http_api", name="HTTP API slow")
    echo = LoadRequest(api="websocket", body={"action": "echo", "n": 1})
    result = run_load(
        own_service,
        users=3,
        spawn_rate=3,
        duration_s=6,
        # Every route early in each user's turn, and the fast one most often (a request listed
        # twice is made twice), so that a loaded machine's slower turns still reach each one.
        request=[fast, slow, echo, fast, slow_http_api, *[fast] * 8],
    )
    why = result.summary()
    assert isinstance(result, LoadResult)
    assert (result.time_scale, result.users) == (SCALE, 3)
    # In the order given (for a strategy: the order first seen).
    assert [r.name for r in result.routes] == [
        "GET /fast",
        "GET /slow",
        "websocket",
        "HTTP API slow",
    ]

    late = result.route("GET /slow")
    assert late.requests >= 1, why
    assert late.gateway_timeouts == late.failures == late.requests, why
    assert late.other_failures == {}, why
    # The 504 comes once the 29 s passed, never before (timed from before the request left).
    assert late.p50_s is not None, why
    assert late.p50_s >= INTEGRATION_TIMEOUT_S, why
    http_api = result.route("HTTP API slow")  # 40 s is past HTTP APIs' 30 s: 503
    assert http_api.gateway_timeouts == http_api.requests >= 1, why
    assert http_api.p50_s is not None, why
    assert http_api.p50_s >= 30, why

    on_time = result.route("GET /fast")
    assert on_time.requests >= 3, why
    assert on_time.failures == 0, why
    assert on_time.p50_s is not None, why
    assert on_time.p95_s is not None, why
    # Well under the 29 s, even counting a loaded client's unscaled time (10x at this scale).
    assert on_time.p50_s < INTEGRATION_TIMEOUT_S / 2, why
    assert on_time.p95_s < INTEGRATION_TIMEOUT_S, why
    assert on_time.rps > 0
    replies = result.route("websocket")  # the echo route's reply to each message
    assert replies.requests >= 1, why
    assert replies.ok >= 1, why
    assert replies.gateway_timeouts == 0, why

    total = result.total
    assert total.requests == sum(r.requests for r in result.routes)
    assert total.gateway_timeouts == late.requests + http_api.requests

    # The stack counted what the users made: every request reached its gateway and one Lambda.
    cost = result.cost
    assert cost.rest_api_requests == on_time.requests + late.requests, why
    assert cost.http_api_requests == http_api.requests, why
    assert cost.lambda_invocations == total.requests, why
    assert cost.websocket_messages == 2 * replies.requests, why  # each message and its reply
    assert cost.websocket_message_units == cost.websocket_messages, why  # small ones
    assert min(cost.bytes_in, cost.bytes_out) > 0
    # The slow Lambdas ran on after the gateway gave up: billed, and wasted.
    assert 0 < cost.lambda_wasted_gb_s < cost.lambda_gb_s, why
    assert cost.usd > cost.usd_wasted > 0
    assert cost.usd == pytest.approx(sum(cost.bill.values()))
    assert cost.usd_per_million_requests == pytest.approx(cost.usd / total.requests * 1e6)
    assert cost.bill["rest_api_requests"] == pytest.approx(cost.rest_api_requests * 3.5e-6)
    assert cost.bill["http_api_requests"] == pytest.approx(cost.http_api_requests * 1e-6)

    with pytest.raises(
        KeyError, match="known: 'GET /fast', 'GET /slow', 'websocket', 'HTTP API slow'"
    ):
        result.route("GET /nope")
    for part in ("GET /slow: ", " gateway timeouts", "emulated s p50 ", " per million requests"):
        assert part in why


def test_a_bundled_strategy_against_the_report_app(moto_server):
    config = stack_config(moto_server.endpoint_url, time_scale=LOAD_SCALE)
    with StackThread(config) as stack:
        warm_up(stack, ("rest",))
        result = run_load(
            Target.of(stack),
            strategy="rest",
            users=2,
            spawn_rate=10,
            duration_s=3,
            locust_args=["--report-delay", "5000", "--report-rows", "5"],
        )
    why = result.summary()
    report = result.route("rest 5 s")
    assert report.requests >= 1, why
    assert report.p50_s is not None, why
    assert report.p50_s >= 5, why  # a 5 s report, emulated
    assert result.cost.rest_api_requests == report.requests, why  # one POST per report
    assert result.cost.backend_requests >= report.ok, why  # each delivered report wrote to S3
    assert result.cost.usd > 0


def test_a_failing_locust_raises_with_its_stderr_and_a_hung_one_is_killed(own_service):
    with pytest.raises(LoadError, match="unrecognized arguments: --no-such-option") as error:
        run_load(
            own_service, users=1, spawn_rate=1, duration_s=1,
            request=LoadRequest(path="/fast"), locust_args=["--no-such-option"],
        )  # fmt: skip
    assert "--no-such-option" in error.value.stderr_tail
    with pytest.raises(TimeoutError, match=r"did not end within 0\.5 real s"):
        run_load(
            own_service, users=1, spawn_rate=1, duration_s=30,
            request=LoadRequest(path="/fast"), timeout_s=0.5,
        )  # fmt: skip


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"users": 0}, "users must be"),
        ({"users": 1.5}, "users must be"),
        ({"users": True}, "users must be"),
        ({"spawn_rate": 0}, "spawn_rate must be"),
        ({"spawn_rate": float("nan")}, "spawn_rate must be"),
        ({"duration_s": -1}, "duration_s must be"),
        ({"timeout_s": 0}, "timeout_s must be"),
        ({"stop_timeout_s": float("inf")}, "stop_timeout_s must be"),
        ({"settle_s": -0.5}, "settle_s must be"),
        ({"request": None}, "exactly one of"),
        ({"strategy": "rest"}, "exactly one of"),
        ({"request": None, "strategy": "carrier_pigeon"}, "no strategy 'carrier_pigeon'"),
        ({"request": []}, "non-empty sequence"),
        (
            {"request": [LoadRequest(), LoadRequest(body="x")]},
            "two different requests named 'GET /'",
        ),
        ({"request": LoadRequest(api="http_api")}, "has no HTTP API"),
        ({"locust_args": "--users 3"}, "sequence of strings"),
    ],
)
def test_bad_arguments_are_refused_before_anything_runs(arguments, message):
    unreachable = Target("http://127.0.0.1:9/dev", None, "ws://127.0.0.1:9/dev",
                         "http://127.0.0.1:9/_emulator", 0.05)  # fmt: skip
    settings = {"users": 1, "spawn_rate": 1.0, "duration_s": 1.0, "request": LoadRequest()}
    with pytest.raises(ValueError, match=message):
        run_load(unreachable, **{**settings, **arguments})


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"method": "GE T"}, "not an HTTP method"),
        ({"path": "fast"}, "must start with '/'"),
        ({"api": "soap"}, "api must be one of"),
        ({"think_time_s": (2.0, 1.0)}, "think_time_s"),
    ],
)
def test_a_bad_request_is_refused(arguments, message):
    with pytest.raises(ValueError, match=message):
        LoadRequest(**arguments)


def test_a_query_value_that_is_not_text_is_refused():
    with pytest.raises(TypeError, match="query value of 'n' must be text"):
        LoadRequest(query={"n": 1})  # type: ignore[dict-item]


def test_a_websocket_request_s_query_reaches_the_connect_authorizer(guarded_stack):
    # The $connect authorizer allows ?token=good only: without the query every handshake would
    # be refused (401) and every request a failure.
    whoami = LoadRequest(api="websocket", body={"action": "whoami"}, query={"token": "good"})
    result = run_load(guarded_stack, users=1, spawn_rate=1, duration_s=1, request=whoami)
    route = result.route("websocket")
    assert route.requests >= 1, result.summary()
    assert route.failures == 0, result.summary()


def test_a_request_body_goes_on_the_wire_as_given_or_as_json():
    assert LoadRequest(body={"a": 1}).wire() == (
        b'{"a": 1}',
        {"Content-Type": "application/json"},
        False,
    )
    assert LoadRequest(body={"a": 1}, headers={"content-type": "text/x"}).wire()[1] == {
        "content-type": "text/x"
    }
    assert LoadRequest(body=b"\x00\x01").wire() == (b"\x00\x01", {}, True)
    assert LoadRequest(body="text").wire() == (b"text", {}, False)
    assert LoadRequest().wire() == (None, {}, False)


def test_importing_it_imports_neither_locust_nor_gevent():
    code = (
        "import json, sys, timeoutlab.load; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('locust', 'gevent', 'geventhttpclient'))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert json.loads(done.stdout) == []


def test_route_figures_come_from_every_raw_sample_in_emulated_seconds():
    # Real ms at time scale 0.1: 100 real ms is 1 emulated s.
    samples = [
        *({"name": "GET /a", "ms": float(ms), "error": None} for ms in range(100, 2100, 100)),
        {"name": "GET /b", "ms": 2950.0, "error": 'gateway_timeout: {"message":"..."}'},
        {"name": "GET /b", "ms": 12.0, "error": "status 502: Internal server error"},
        {"name": "GET /b", "ms": 3.0, "error": "ConnectionRefusedError: [Errno 111]"},
    ]
    a, b, c = route_loads(samples, 1 / 1000 / 0.1, 4.0, names=["GET /c", "GET /a"])
    assert [r.name for r in (a, b, c)] == ["GET /c", "GET /a", "GET /b"]
    assert (a.requests, a.p50_s, a.max_s) == (0, None, None)
    assert b.requests == 20
    assert b.failures == 0
    # Nearest rank over all 20 samples (1..20 emulated s): the 10th and the 19th.
    assert b.p50_s == pytest.approx(10.0)
    assert b.p95_s == pytest.approx(19.0)
    assert b.max_s == pytest.approx(20.0)
    assert b.rps == 5.0
    assert (c.requests, c.failures, c.gateway_timeouts) == (3, 3, 1)
    assert c.other_failures == {"ConnectionRefusedError": 1, "status 502": 1}
    assert c.max_s == pytest.approx(29.5)


def test_the_cost_is_the_metrics_difference_priced():
    def snapshot(rest: int, http_api: int, gb_s: float, wasted_ms: int) -> dict:
        return {
            "rest": {"requests": rest, "wire_bytes_in": 10 * rest, "wire_bytes_out": 20 * rest},
            "http_api": {"requests": http_api, "wire_bytes_in": 0, "wire_bytes_out": 0},
            "websocket": {"messages_in": 2, "messages_out": 2, "message_units": 4},
            "lambda": {
                "functions": {
                    "slow": {
                        "invocations": rest + http_api,
                        "gb_seconds": gb_s,
                        "billed_ms": 1000 * int(gb_s),
                        "wasted_ms": wasted_ms,
                    }
                }
            },
            "backend": {"s3": {"tier1_requests": rest}, "dynamodb": {"operations": {"Get": 1}}},
        }

    before, after = snapshot(5, 1, 10.0, 0), snapshot(105, 51, 50.0, 10_000)
    prices = load_prices()
    cost = load_cost(after, before, 150, prices)
    assert (cost.rest_api_requests, cost.http_api_requests) == (100, 50)
    assert (cost.websocket_messages, cost.websocket_message_units) == (0, 0)
    assert (cost.bytes_in, cost.bytes_out) == (1000, 2000)
    assert cost.lambda_invocations == 150
    assert cost.lambda_gb_s == pytest.approx(40.0)
    assert cost.lambda_wasted_gb_s == pytest.approx(10.0)  # 10 of the 40 billed s
    assert cost.backend_requests == 100
    expected = (
        100 * prices.rest_api_requests
        + 50 * prices.http_api_requests
        + 150 * prices.lambda_requests
        + 40 * prices.lambda_gb_seconds
        + 100 * prices.s3_tier1_requests
    )
    assert cost.usd == pytest.approx(expected)
    assert cost.usd_wasted == pytest.approx(10 * prices.lambda_gb_seconds)
    assert cost.usd_per_million_requests == pytest.approx(expected / 150 * 1e6)


def test_reading_the_stack_s_metrics_again_makes_no_new_ssl_context(moto_server, monkeypatch):
    # run_load settles by reading the metrics 20 times a second: one context per read (httpx's
    # default) cost 20 ms of CPU each.
    with StackThread(stack_config(moto_server.endpoint_url)) as stack:
        control = _Control(SimpleNamespace(control_url=f"{stack.http_url}/_emulator"))
        made = count_ssl_contexts(monkeypatch)
        for _ in range(3):
            assert "rest" in control.get("metrics")
        assert len(made) <= 1
