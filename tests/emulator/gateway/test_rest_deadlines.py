"""The REST gateway's deadlines on a virtual clock: exact, whatever the machine is doing.

Real sockets and the real gateway, with in-loop handlers (tests/virtual.py): emulated time is the
loop's, which jumps from timer to timer, so "the 504 comes at exactly 29 s" is asserted exactly.
"""

import asyncio
import json

import aiohttp
import pytest

from tests.virtual import run_virtual, service_file, virtual_stack

TIMEOUT_BODY = {"message": "Endpoint request timed out"}
EXACT = 1e-6  # the virtual clock's resolution: float rounding, not a tolerance for lateness

FUNCTIONS = """
report:
  handler: app.report
  timeout: 900
  events: [{http: POST reports}, {http: POST slow}]
short:
  handler: app.report
  events: [{http: POST short}]
"""


async def report(event, context):
    """The article's report, in emulated time: wait ``delay`` ms, then answer."""
    delay_s = json.loads(event["body"])["delay"] / 1000
    await context.sleep(delay_s)
    return {"statusCode": 200, "body": json.dumps({"url": f"https://example/{delay_s}"})}


HANDLERS = {"report": report, "short": report}


async def post(stack, http, path, delay_ms, headers=None):
    started = stack.clock.now()
    async with http.post(f"{stack.rest_url}/{path}", json={"delay": delay_ms}) as response:
        body = await response.json()
        if headers is not None:
            headers.update(response.headers)
    return response.status, body, stack.clock.now() - started


def run(tmp_path, scenario, *, concurrency=1000, **options):
    path = service_file(tmp_path, FUNCTIONS, **options)

    async def main():
        async with (
            virtual_stack(path, HANDLERS, concurrency=concurrency) as stack,
            aiohttp.ClientSession() as http,
        ):
            return await scenario(stack, http)

    return run_virtual(main)


def test_a_report_just_inside_29_s_arrives_and_one_past_it_gets_the_504_at_exactly_29_s(tmp_path):
    headers = {}

    async def scenario(stack, http):
        inside = await post(stack, http, "reports", 28_999)
        outside = await post(stack, http, "reports", 40_000, headers)
        at_the_504 = stack.metrics.snapshot()
        await stack.idle()
        return inside, outside, at_the_504, stack.metrics.snapshot()

    inside, outside, at_the_504, metrics = run(tmp_path, scenario)
    assert inside[:2] == (200, {"url": "https://example/28.999"})
    assert inside[2] == pytest.approx(28.999, abs=EXACT)
    assert outside[:2] == (504, TIMEOUT_BODY)
    assert outside[2] == pytest.approx(29.0, abs=EXACT)
    assert headers["Content-Type"] == "application/json"
    assert headers["x-amzn-RequestId"]
    (running,) = at_the_504["lambda"]["functions"].values()
    assert running["running_after_caller_gone"] == 1
    # The Lambda was not stopped: it ran to 40 s, and the 11 s after the 504 were wasted.
    (function,) = metrics["lambda"]["functions"].values()
    assert function["outcomes"] == {"success": 2}
    assert function["billed_ms"] == 28_999 + 40_000
    assert function["wasted_ms"] == 40_000
    assert function["after_caller_gone_ms"] == pytest.approx(11_000, abs=EXACT)
    route = metrics["rest"]["routes"]["POST /reports"]
    assert route["integration_timeouts"] == 1
    # The gateway's own figures say the same: 28.999 s and 29 s.
    assert route["latency_ms_max"] == pytest.approx(29_000, abs=1e-3)
    assert route["latency_ms_avg"] == pytest.approx((28_999 + 29_000) / 2, abs=1e-3)


def test_concurrent_40_s_reports_all_get_the_504_at_29_s(tmp_path):
    async def scenario(stack, http):
        answers = await asyncio.gather(*(post(stack, http, "reports", 40_000) for _ in range(20)))
        await stack.idle()
        return answers, stack.metrics.snapshot()

    answers, metrics = run(tmp_path, scenario)
    for status, body, elapsed in answers:
        assert (status, body) == (504, TIMEOUT_BODY)
        assert elapsed == pytest.approx(29.0, abs=EXACT)
    route = metrics["rest"]["routes"]["POST /reports"]
    assert route["integration_timeouts"] == 20
    assert route["latency_ms_max"] == pytest.approx(29_000, abs=1e-3)
    (function,) = metrics["lambda"]["functions"].values()
    assert function["outcomes"] == {"success": 20}  # every one ran on to its 40 s
    assert function["billed_ms"] == function["wasted_ms"] == 20 * 40_000


def test_a_timed_out_lambda_holds_its_concurrency_until_it_ends(tmp_path):
    """AWS does not stop a Lambda whose caller got the 504: it holds its unit of concurrency to
    its end, so with a concurrency of 1 the next request is throttled (a proxy integration turns
    Lambda's 429 into a 500) until the first Lambda finishes at 40 s."""

    async def scenario(stack, http):
        timed_out = await post(stack, http, "reports", 40_000)
        throttled = [await post(stack, http, "reports", 1_000)]  # at 29 s
        await asyncio.sleep(10.9)
        throttled.append(await post(stack, http, "reports", 1_000))  # at 39.9 s
        await asyncio.sleep(0.2)
        served = await post(stack, http, "reports", 1_000)  # at 40.1 s
        return timed_out, throttled, served, stack.clock.now(), stack.metrics.snapshot()

    timed_out, throttled, served, now, metrics = run(tmp_path, scenario, concurrency=1)
    assert timed_out[0] == 504
    assert timed_out[2] == pytest.approx(29.0, abs=EXACT)
    for status, body, elapsed in throttled:
        assert (status, body) == (500, {"message": "Internal server error"})
        assert elapsed == pytest.approx(0.0, abs=EXACT)  # refused at once, no timeout
    assert served[:2] == (200, {"url": "https://example/1.0"})
    assert now == pytest.approx(41.1, abs=EXACT)
    (function,) = metrics["lambda"]["functions"].values()
    assert function["throttles"] == 2
    assert metrics["rest"]["routes"]["POST /reports"]["status_counts"] == {
        "200": 1,
        "500": 2,
        "504": 1,
    }


def test_a_route_timeout_from_serverless_yml_cuts_that_route_only(tmp_path):
    extra = "custom:\n  timeoutlab:\n    routeTimeouts:\n      POST /slow: 10\n"

    async def scenario(stack, http):
        return [await post(stack, http, path, 12_000) for path in ("slow", "reports")]

    slow, default = run(tmp_path, scenario, extra=extra)
    assert slow[:2] == (504, TIMEOUT_BODY)
    assert slow[2] == pytest.approx(10.0, abs=EXACT)
    assert default[0] == 200
    assert default[2] == pytest.approx(12.0, abs=EXACT)


def test_the_function_timeout_comes_first_when_shorter_and_is_a_502(tmp_path):
    """Serverless's default function timeout is 6 s: the invocation fails then, billed 6 s."""

    async def scenario(stack, http):
        answer = await post(stack, http, "short", 10_000)
        return answer, stack.metrics.snapshot()

    (status, body, elapsed), metrics = run(tmp_path, scenario)
    assert (status, body) == (502, {"message": "Internal server error"})
    assert elapsed == pytest.approx(6.0, abs=EXACT)
    function = metrics["lambda"]["functions"]["inline-dev-short"]
    assert function["outcomes"] == {"timeout": 1}
    assert function["billed_ms"] == 6_000
