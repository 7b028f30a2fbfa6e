"""The stack's start (nothing is served before the handlers can run) and its idle wait."""

import asyncio
import threading
import time

import aiohttp
import httpx
import pytest
from websockets.sync.client import connect

from emulator.backends.moto_server import free_port
from emulator.stack import StackThread
from tests.support import stack_config, write_service
from tests.virtual import run_virtual, service_file, virtual_stack


def test_no_connection_is_taken_before_the_handlers_are_loaded(moto_server, tmp_path):
    gate = tmp_path / "gate"
    service = write_service(
        tmp_path,
        """
        import os
        import time

        # A slow Init (prewarmed: before the ports serve), which lasts until the test has been
        # refused at least once, however long the test takes to get there on a busy machine.
        while not os.path.exists(os.environ["GATE"]):
            time.sleep(0.01)

        def connect(event, context):
            return {"statusCode": 200}
        """,
        f"""
        connect:
          handler: app.connect
          environment: {{GATE: {gate}}}
          events: [{{websocket: $connect}}]
        """,
    )
    http_port, ws_port = free_port(), free_port()
    config = stack_config(
        moto_server.endpoint_url,
        http_port=http_port,
        ws_port=ws_port,
        service_path=service,
        prewarm=True,
    )
    stack = StackThread(config)
    starting = threading.Thread(target=stack.start)
    starting.start()
    try:
        refused = 0
        while True:  # until the stack serves, a connection is refused, never taken and dropped
            try:
                with connect(f"ws://127.0.0.1:{ws_port}/dev", open_timeout=10):
                    break
            except ConnectionRefusedError:
                refused += 1  # (pytest-timeout ends the test if it never opens)
                gate.touch()  # the Init may end now
                time.sleep(0.01)
        assert refused > 0  # the test did knock while the handlers were loading
        health = httpx.get(f"http://127.0.0.1:{http_port}/_emulator/health")
        assert health.status_code == 200
    finally:
        gate.touch()
        starting.join()
        stack.stop()


def test_idle_waits_for_running_invocations_and_names_what_is_still_busy(tmp_path):
    async def slow(event, context):
        await context.sleep(40)
        return {"statusCode": 200, "body": "done"}

    functions = "slow:\n  handler: app.slow\n  timeout: 60\n  events: [{http: GET slow}]\n"

    async def main():
        async with virtual_stack(service_file(tmp_path, functions), {"slow": slow}) as stack:
            assert stack.busy() == {}
            async with aiohttp.ClientSession() as http, http.get(f"{stack.rest_url}/slow") as got:
                assert got.status == 504  # at 29 s; the Lambda runs on to 40 s
            assert stack.busy() == {"running invocations": 1}
            with pytest.raises(TimeoutError, match="running invocations': 1"):
                await stack.idle(timeout_s=5)
            started = stack.clock.now()
            await stack.idle(timeout_s=30)
            assert stack.busy() == {}
            return stack.clock.now() - started

    assert run_virtual(main) == pytest.approx(40 - 29 - 5, abs=0.01)  # polled every 5 ms


def test_idle_counts_a_closed_connections_disconnect_route_until_it_ends(tmp_path):
    """Between a connection leaving the gateway and its $disconnect Lambda starting there is
    no moment at which the stack looks idle: watched at every turn of the loop."""
    ended = []

    async def connect(event, context):
        return {"statusCode": 200}

    async def disconnect(event, context):
        await context.sleep(3)
        ended.append(context.aws_request_id)
        return {"statusCode": 200}

    functions = (
        "connect:\n  handler: app.connect\n  events: [{websocket: $connect}]\n"
        "disconnect:\n  handler: app.disconnect\n  events: [{websocket: $disconnect}]\n"
    )
    handlers = {"connect": connect, "disconnect": disconnect}

    async def main():
        async with virtual_stack(service_file(tmp_path, functions), handlers) as stack:
            async with aiohttp.ClientSession() as http, http.ws_connect(stack.ws_url):
                pass
            seen = [stack.busy()]
            for _ in range(10_000):  # every turn of the loop (no loop time passes) ...
                if "running invocations" in seen[-1]:
                    break  # ... until the $disconnect Lambda runs
                await asyncio.sleep(0)
                seen.append(stack.busy())
            started = stack.clock.now()
            await stack.idle(timeout_s=10, poll_s=0.5)
            return seen, ended, stack.clock.now() - started

    seen, ended, waited = run_virtual(main)
    assert {} not in seen, "the stack looked idle while its $disconnect route was still to run"
    assert seen[-1] == {"$disconnect routes": 1, "running invocations": 1}
    assert len(ended) == 1
    # idle waited for the $disconnect Lambda's 3 s, to its next poll (virtual time: exact).
    assert 3.0 <= waited <= 3.5 + 1e-6


def test_the_usage_proxy_and_so_presigned_urls_are_on_the_internal_host(moto_server):
    """--internal-host places what only the handlers use (127.0.0.2 here: loopback, but not the
    APIs' 127.0.0.1); the presigned URL a report returns names it and works from here."""
    # Real time: a cold handler on a loaded machine never meets the 29 s; the report waits 0 s.
    config = stack_config(moto_server.endpoint_url, internal_host="127.0.0.2", time_scale=1.0)
    with StackThread(config) as stack:
        assert stack.backend_proxy is not None
        assert stack.backend_proxy.url.startswith("http://127.0.0.2:")
        assert stack.rest_url.startswith("http://127.0.0.1:")
        report = httpx.post(
            f"{stack.rest_url}/reports", json={"delay": 0, "amountOfRows": 1}, timeout=30
        )
        assert report.status_code == 200, report.text
        url = report.json()["url"]
        assert url.startswith(stack.backend_proxy.url)
        assert httpx.get(url, timeout=30).text.count("\n") == 2
