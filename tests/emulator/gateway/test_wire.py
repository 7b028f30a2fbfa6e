"""The HTTP port's bytes at the socket (emulator.gateway.wire): each request's bytes, and its
answer's, under the API that request is for, even over one kept-alive connection, as a browser
sends its page's /_emulator/ requests and its REST calls."""

import asyncio
import json

from tests.virtual import run_virtual, service_file, virtual_stack

FUNCTIONS = """
report:
  handler: app.report
  events: [{http: POST reports}]
"""


async def report(event, context):
    return {"statusCode": 200, "body": json.dumps({"url": "https://example/report.csv"})}


async def exchange(reader, writer, request: bytes) -> bytes:
    """Send one request on the open connection and read its whole answer (Content-Length)."""
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    return head + await reader.readexactly(length)


def test_each_request_is_counted_under_its_own_api_on_one_connection(tmp_path):
    path = service_file(tmp_path, FUNCTIONS)
    health = b"GET /_emulator/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    body = b'{"delay": 0, "amountOfRows": 1}'
    post = (
        b"POST /dev/reports HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    )

    async def main():
        async with virtual_stack(path, {"report": report}) as stack:
            reader, writer = await asyncio.open_connection("127.0.0.1", stack.http_port)
            try:
                first = await exchange(reader, writer, health)
                second = await exchange(reader, writer, post)
                third = await exchange(reader, writer, health)
            finally:
                writer.close()
                await writer.wait_closed()
            return first, second, third, stack.metrics.snapshot()["http_port"]

    first, second, third, counted = run_virtual(main)
    assert b" 200 " in first.split(b"\r\n")[0]
    assert b" 200 " in second.split(b"\r\n")[0]
    control, rest = counted["control"], counted["rest"]
    assert control["tcp_connections"] == 1  # the connection is counted once, by its first API
    assert control["wire_bytes_in"] == 2 * len(health)
    assert control["wire_bytes_out"] == len(first) + len(third)
    assert rest["wire_bytes_in"] == len(post)
    assert rest["wire_bytes_out"] == len(second)
    assert rest.get("tcp_connections", 0) == 0
