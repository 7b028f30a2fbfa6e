"""The stack's start (nothing is served before the handlers can run) and its idle wait."""

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
    service = write_service(
        tmp_path,
        """
        import time

        time.sleep(1.0)  # a slow cold start: the ports are bound long before this ends

        def connect(event, context):
            return {"statusCode": 200}
        """,
        """
        connect:
          handler: app.connect
          events: [{websocket: $connect}]
        """,
    )
    http_port, ws_port = free_port(), free_port()
    config = stack_config(
        moto_server.endpoint_url, http_port=http_port, ws_port=ws_port, service_path=service
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
                time.sleep(0.01)
        assert refused > 0  # the test did knock while the handlers were loading
        health = httpx.get(f"http://127.0.0.1:{http_port}/_emulator/health")
        assert health.status_code == 200
    finally:
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
