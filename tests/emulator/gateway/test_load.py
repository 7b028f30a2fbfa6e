"""1000 simultaneous REST clients and 1000 simultaneous WebSocket clients on loopback, against one
stack: every connection accepted, every request answered, no reset.

All 2000 connections are opened at once (the listen backlog, 1024 by default, must hold each
port's burst before the emulator accepts it), then every client sends at once and each request is
held by its handler for a moment, so all of them are in flight together. Real time, bounded
(``DEADLINE`` real seconds in all); in-loop handlers, so no process per invocation.
"""

import asyncio
import json
import resource
from dataclasses import replace

import pytest
from websockets.asyncio.client import connect

from emulator.core.connection_limits import WebSocketLimits
from emulator.stack import StackConfig
from tests.virtual import service_file, virtual_stack

CLIENTS = 1000  # of each kind
HOLD = 0.5  # real seconds each handler holds its request: all are in flight together
DEADLINE = 120.0  # real seconds the whole test may take before it gives up (it stops by itself)

FUNCTIONS = """
hit:
  handler: app.hit
  events: [{http: POST hit}]
echo:
  handler: app.echo
  events: [{websocket: {route: echo, routeResponseSelectionExpression: $default}}]
"""


async def hit(event, context):
    await context.sleep(HOLD)
    return {"statusCode": 200, "body": "ok"}


async def echo(event, context):
    await context.sleep(HOLD)
    return {"statusCode": 200, "body": event["body"]}


def raise_file_limit(needed: int) -> None:
    """Each client and each accepted connection is a file descriptor in this one process."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        if target < needed:
            pytest.skip(f"needs {needed} file descriptors; the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


async def rest_clients(host: str, port: int, start: asyncio.Event) -> list[str]:
    """Open every connection, wait for the start, send every request; each one's status line."""
    connections = await asyncio.gather(
        *(asyncio.open_connection(host, port) for _ in range(CLIENTS))
    )
    await start.wait()
    request = (
        f"POST /dev/hit HTTP/1.1\r\nHost: {host}\r\nContent-Length: 2\r\n"
        "Connection: close\r\n\r\n{}"
    ).encode()

    async def one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> str:
        writer.write(request)
        response = await reader.read()
        writer.close()
        return response.split(b"\r\n", 1)[0].decode()

    return await asyncio.gather(*(one(r, w) for r, w in connections))


async def websocket_clients(url: str, start: asyncio.Event) -> list[object]:
    """Open every WebSocket, wait for the start, send one message each; each one's reply."""
    sockets = await asyncio.gather(
        *(connect(url, open_timeout=DEADLINE, ping_interval=None) for _ in range(CLIENTS))
    )
    await start.wait()

    async def one(ws, n: int) -> object:
        await ws.send(json.dumps({"action": "echo", "n": n}))
        reply = json.loads(await ws.recv())
        await ws.close()
        return reply["n"]

    return await asyncio.gather(*(one(ws, n) for n, ws in enumerate(sockets)))


@pytest.mark.load
@pytest.mark.timeout(DEADLINE + 60)
def test_1000_rest_and_1000_websocket_clients_at_once_are_all_answered(tmp_path):
    raise_file_limit(4 * CLIENTS + 1024)  # both ends of 2000 connections, and the rest
    path = service_file(tmp_path, FUNCTIONS)
    # AWS's 500 new WebSocket connections per second is an account quota, not what this tests.
    config = replace(
        StackConfig(), websocket_limits=WebSocketLimits(new_connections_per_second=100 * CLIENTS)
    )

    async def main():
        async with virtual_stack(
            path, {"hit": hit, "echo": echo}, config=config, concurrency=3 * CLIENTS
        ) as stack:
            start = asyncio.Event()
            rest = asyncio.ensure_future(rest_clients("127.0.0.1", stack.http_port, start))
            ws = asyncio.ensure_future(websocket_clients(stack.ws_url, start))
            # Every connection of both kinds is open before any client sends.
            # (Polling the gateway's own count: it has no event for "n connections open".)
            while len(stack.websocket.connections) < CLIENTS and not ws.done():  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            start.set()
            statuses, replies = await asyncio.wait_for(asyncio.gather(rest, ws), DEADLINE)
            await stack.idle(DEADLINE)
            return statuses, replies, stack.metrics.snapshot()

    statuses, replies, metrics = asyncio.run(main())
    assert statuses == ["HTTP/1.1 200 OK"] * CLIENTS
    assert replies == list(range(CLIENTS))
    assert metrics["websocket"]["connections_opened"] == CLIENTS
