"""The live view's stream, /_emulator/live (emulator.gateway.live), over real sockets on a
virtual clock (tests/virtual.py): what it sends while a REST report runs into the 29 s timeout,
its keep-alive, its token, and that it ends when the client goes or the emulator stops."""

import asyncio
import json

import aiohttp

from emulator.core.live_view import LIVE_KEEPALIVE_S
from emulator.stack import StackConfig
from tests.virtual import run_virtual, run_with_http, service_file, virtual_stack

FUNCTIONS = """
report:
  handler: app.report
  timeout: 900
  events: [{http: POST reports}]
"""


async def report(event, context):
    await context.sleep(json.loads(event["body"])["delay"] / 1000)
    return {"statusCode": 200, "body": json.dumps({"url": "https://example/report.csv"})}


def run(tmp_path, scenario, config: StackConfig | None = None):
    return run_with_http(
        service_file(tmp_path, FUNCTIONS), {"report": report}, scenario, config=config
    )


async def next_block(response: aiohttp.ClientResponse) -> str:
    """The stream's next event or comment, as text (up to its blank line)."""
    return (await response.content.readuntil(b"\n\n")).decode()


def data_of(block: str) -> dict:
    lines = block.splitlines()
    assert "event: live" in lines, block
    data = [line.removeprefix("data: ") for line in lines if line.startswith("data: ")]
    return json.loads("".join(data))


def test_the_stream_follows_a_report_cut_at_29_s_and_its_lambda_running_on(tmp_path):
    async def scenario(stack, http):
        loop = asyncio.get_running_loop()
        async with http.get(f"{stack.http_url}/_emulator/live") as live:
            kind = live.headers["Content-Type"], live.headers["Cache-Control"]
            seen = [(0.0, data_of(await next_block(live)))]
            started = loop.time()
            post = asyncio.ensure_future(
                http.post(f"{stack.rest_url}/reports", json={"delay": 40000, "amountOfRows": 1})
            )
            while not (seen[-1][1].get("lambda_wasted_ms")):
                block = await next_block(live)
                if block.startswith(":"):
                    continue  # a keep-alive comment: nothing changed for 15 s
                seen.append((loop.time() - started, data_of(block)))
            answer = await post
            status = answer.status
            answer.release()
        return kind, seen, status

    kind, seen, status = run(tmp_path, scenario)
    assert kind == ("text/event-stream", "no-cache")
    assert status == 504
    first = seen[0][1]
    assert first["lambdas_running_now"] == 0
    assert set(first) >= {"websocket_connections_now", "integration_timeouts", "lambda_wasted_ms"}
    for _, changed in seen[1:]:
        assert changed, "an event is sent only when something changed"
        assert set(changed) < set(first)  # only what changed, never everything again
    running = next(t for t, d in seen if d.get("lambdas_running_now") == 1)
    cut = next(t for t, d in seen if d.get("integration_timeouts") == 1)
    wasted = next(t for t, d in seen if d.get("lambda_wasted_ms"))
    assert running <= 1.0  # seen at the first look (once a second) after the invocation began
    assert 29.0 <= cut <= 30.0  # the 504 is shown within a second of it
    assert next(d for t, d in seen if t == cut)["lambdas_abandoned_now"] == 1
    assert 40.0 <= wasted <= 41.0
    last = seen[-1][1]
    assert last["lambda_wasted_ms"] == 40000  # the whole run was billed for nobody
    assert last["lambdas_running_now"] == 0


def test_a_quiet_stream_sends_a_comment_to_stay_alive(tmp_path):
    async def scenario(stack, http):
        loop = asyncio.get_running_loop()
        async with http.get(f"{stack.http_url}/_emulator/live") as live:
            await next_block(live)
            started = loop.time()
            block = await next_block(live)
            return block, loop.time() - started

    block, waited = run(tmp_path, scenario)
    assert block.startswith(": ")
    assert LIVE_KEEPALIVE_S <= waited < LIVE_KEEPALIVE_S + 1.5


def test_the_stream_ends_when_its_client_goes(tmp_path):
    async def scenario(stack, http):
        async with http.get(f"{stack.http_url}/_emulator/live") as live:
            await next_block(live)
            during = stack.live.open_streams
        for _ in range(50):  # 50 virtual seconds at most
            if stack.live.open_streams == 0:
                break
            await asyncio.sleep(1)
        return during, stack.live.open_streams

    assert run(tmp_path, scenario) == (1, 0)


def test_stopping_the_emulator_ends_open_streams_at_once(tmp_path):
    path = service_file(tmp_path, FUNCTIONS)

    async def main():
        loop = asyncio.get_running_loop()
        async with aiohttp.ClientSession() as http:
            stopping = None
            async with virtual_stack(path, {"report": report}) as stack:
                live = await http.get(f"{stack.http_url}/_emulator/live")
                await next_block(live)
                stopping = loop.time()
            stopped = loop.time() - stopping
            rest = await live.content.read()
            live.release()
            return stopped, rest

    stopped, rest = run_virtual(main)
    # Without being told, aiohttp would wait up to its shutdown timeout for the handler.
    assert stopped < 1.0
    assert rest == b""


def test_the_stream_needs_the_token_like_the_metrics_and_is_bounded(tmp_path):
    async def scenario(stack, http):
        url = f"{stack.http_url}/_emulator/live"
        async with http.get(url) as without:
            refused = without.status
        token = {"Authorization": "Bearer s3cret"}
        stack.live.max_streams = 1
        async with http.get(url, headers=token) as first:
            await next_block(first)
            async with http.get(url, headers=token) as second:
                return refused, first.status, second.status, await second.json()

    refused, first, second, body = run(tmp_path, scenario, StackConfig(control_token="s3cret"))
    assert refused == 401
    assert first == 200
    assert second == 503
    assert "at most 1" in body["message"]
