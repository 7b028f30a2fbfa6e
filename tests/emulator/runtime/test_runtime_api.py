"""One environment's Runtime API, spoken to directly with an HTTP client, as a runtime does."""

import asyncio
import json
from collections.abc import Awaitable, Callable

import aiohttp
import h11

from emulator.core.runtime_api import MAX_RESPONSE_BYTES, Assignment
from emulator.runtime.runtime_api import RuntimeApiServer

BASE = "/2018-06-01/runtime"


def test_next_response_error_and_init_error_as_aws_documents():
    async def main():
        server = RuntimeApiServer()
        await server.start()
        url = f"http://{server.address}{BASE}"
        try:
            async with aiohttp.ClientSession() as http:
                nxt = asyncio.ensure_future(http.get(f"{url}/invocation/next"))
                assert await server.initialised is None  # the first next ends Init
                reply = server.invoke(Assignment("r1", b'{"a": 1}', 123, "arn:f", "Root=x"), None)
                response = await nxt
                assert response.status == 200
                assert response.headers["Lambda-Runtime-Aws-Request-Id"] == "r1"
                assert response.headers["Lambda-Runtime-Deadline-Ms"] == "123"
                assert response.headers["Lambda-Runtime-Invoked-Function-Arn"] == "arn:f"
                assert response.headers["Lambda-Runtime-Trace-Id"] == "Root=x"
                assert response.headers["Content-Type"] == "application/json"
                assert await response.json() == {"a": 1}

                wrong = await http.post(f"{url}/invocation/nope/response", data=b"{}")
                assert wrong.status == 400
                assert (await wrong.json())["errorType"] == "InvalidRequestID"
                ok = await http.post(f"{url}/invocation/r1/response", data=b'{"done": true}')
                assert ok.status == 202
                assert (await reply).payload == {"done": True}
                again = await http.post(f"{url}/invocation/r1/response", data=b"{}")
                assert again.status == 403
                late_init = await http.post(f"{url}/init/error", data=b"{}")
                assert late_init.status == 403

                nxt = asyncio.ensure_future(http.get(f"{url}/invocation/next"))
                reply = server.invoke(Assignment("r2", b"{}", 1, "arn:f", "Root=y"), None)
                await nxt
                error = {"errorMessage": "bad", "errorType": "ValueError", "stackTrace": ["x"]}
                posted = await http.post(
                    f"{url}/invocation/r2/error",
                    data=json.dumps(error).encode(),
                    headers={"Lambda-Runtime-Function-Error-Type": "Unhandled"},
                )
                assert posted.status == 202
                assert (await reply).error == error
        finally:
            await server.close()

    asyncio.run(main())


def test_a_streamed_response_reaches_the_sink_metadata_first():
    async def main():
        server = RuntimeApiServer()
        await server.start()
        url = f"http://{server.address}{BASE}"
        chunks: list = []
        try:
            async with aiohttp.ClientSession() as http:
                nxt = asyncio.ensure_future(http.get(f"{url}/invocation/next"))
                reply = server.invoke(Assignment("r1", b"{}", 1, "arn:f", "t"), chunks.append)
                await nxt

                async def body():
                    yield b'{"statusCode": 201}' + b"\0" * 8
                    yield b"hello "
                    yield b"world"

                posted = await http.post(
                    f"{url}/invocation/r1/response",
                    data=body(),
                    headers={
                        "Lambda-Runtime-Function-Response-Mode": "streaming",
                        "Content-Type": "application/vnd.awslambda.http-integration-response",
                    },
                )
                assert posted.status == 202
                assert (await reply).streamed
        finally:
            await server.close()
        assert chunks[0] == {"statusCode": 201}
        assert b"".join(chunks[1:]) == b"hello world"

    asyncio.run(main())


# -- at the socket: what a runtime interface client may send ----------------------------------


class RawClient:
    """One HTTP/1.1 connection to the server, written as raw bytes; h11 reads the answers."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.http = self._reader(b"")

    @staticmethod
    def _reader(leftover: bytes) -> h11.Connection:
        """An h11 client primed to read one response (the raw request went out by hand)."""
        http = h11.Connection(h11.CLIENT)
        http.send(h11.Request(method="POST", target="/", headers=[("Host", "rt")]))
        if leftover:  # b"" would mean end of file
            http.receive_data(leftover)
        return http

    @classmethod
    async def open(cls, server: RuntimeApiServer) -> "RawClient":
        return cls(*await asyncio.open_connection(server.host, server.port))

    def send(self, raw: bytes) -> None:
        self.writer.write(raw)

    async def _event(self) -> object:
        while True:
            event = self.http.next_event()
            if event is not h11.NEED_DATA:
                return event
            self.http.receive_data(await asyncio.wait_for(self.reader.read(65536), 30))

    async def response(self) -> tuple[int, bytes]:
        """The next final response (status, body); an informational one is skipped."""
        status, body = 0, b""
        while True:
            event = await self._event()
            if isinstance(event, h11.InformationalResponse):
                continue
            if isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                self.http = self._reader(self.http.trailing_data[0])
                return status, body
            else:
                raise AssertionError(f"unexpected {event!r}")

    async def interim(self) -> int:
        """The status of an informational response (100 Continue), read before the body."""
        event = await self._event()
        assert isinstance(event, h11.InformationalResponse), event
        return event.status_code

    def close(self) -> None:
        self.writer.close()


def get(path: str) -> bytes:
    return f"GET {BASE}{path} HTTP/1.1\r\nHost: rt\r\n\r\n".encode()


def post(path: str, body: bytes, *headers: str) -> bytes:
    head = "".join(f"{h}\r\n" for h in headers)
    return (
        f"POST {BASE}{path} HTTP/1.1\r\nHost: rt\r\nContent-Length: {len(body)}\r\n{head}\r\n"
    ).encode() + body


def run_with_client(scenario: Callable[[RuntimeApiServer, RawClient], Awaitable[None]]) -> None:
    """Run ``scenario`` with a started server and one raw connection to it, both closed after."""

    async def main() -> None:
        server = RuntimeApiServer()
        await server.start()
        client = await RawClient.open(server)
        try:
            await scenario(server, client)
        finally:
            client.close()
            await server.close()

    asyncio.run(main())


def test_one_kept_alive_connection_serves_pipelined_requests_and_expect_100_continue():
    async def scenario(server: RuntimeApiServer, client: RawClient) -> None:
        client.send(get("/invocation/next"))
        assert await server.initialised is None
        reply = server.invoke(Assignment("r1", b'{"n": 1}', 1, "arn:f", "t"), None)
        assert await client.response() == (200, b'{"n": 1}')
        # The answer and the next ``next`` in one write: both are served, in order.
        client.send(post("/invocation/r1/response", b'"done"') + get("/invocation/next"))
        assert (await client.response())[0] == 202
        assert (await reply).payload == "done"
        asked = server.next_asked()
        await asyncio.wait_for(asked, 30)
        assert server.waiting
        reply = server.invoke(Assignment("r2", b"{}", 1, "arn:f", "t"), None)
        assert await client.response() == (200, b"{}")
        assert not server.waiting
        # curl's Expect: 100-continue gets its interim answer before the body is sent.
        body = json.dumps({"errorMessage": "no", "errorType": "E"}).encode()
        head, _, _ = post("/invocation/r2/error", body, "Expect: 100-continue").partition(
            b"\r\n\r\n"
        )
        client.send(head + b"\r\n\r\n")
        assert await client.interim() == 100
        client.send(body)
        assert (await client.response())[0] == 202
        assert (await reply).error == {"errorMessage": "no", "errorType": "E", "stackTrace": []}

    run_with_client(scenario)


def test_an_oversized_response_is_refused_with_413_and_fails_the_invocation():
    async def scenario(server: RuntimeApiServer, client: RawClient) -> None:
        client.send(get("/invocation/next"))
        reply = server.invoke(Assignment("r1", b"{}", 1, "arn:f", "t"), None)
        await client.response()
        client.send(post("/invocation/r1/response", b"x" * (MAX_RESPONSE_BYTES + 1)))
        status, body = await client.response()
        assert status == 413
        assert json.loads(body)["errorType"] == "RequestEntityTooLarge"
        assert (await reply).error["errorType"] == "RequestEntityTooLarge"
        # The connection is still usable: the runtime asks for the next invocation.
        client.send(get("/invocation/next"))
        await asyncio.wait_for(server.next_asked(), 30)

    run_with_client(scenario)


def test_unknown_paths_bad_methods_malformed_requests_and_early_streams_are_refused():
    async def scenario(server: RuntimeApiServer, client: RawClient) -> None:
        client.send(get("/invocation/r1/response"))
        assert (await client.response())[0] == 405
        client.send(get("/nothing"))
        status, body = await client.response()
        assert (status, json.loads(body)["errorType"]) == (404, "NotFound")
        # A stream for an invocation nobody handed out: 403, its body read and dropped.
        client.send(
            b"POST " + BASE.encode() + b"/invocation/r9/response HTTP/1.1\r\nHost: rt\r\n"
            b"Lambda-Runtime-Function-Response-Mode: streaming\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
        )
        status, body = await client.response()
        assert (status, json.loads(body)["errorType"]) == (403, "InvalidStateTransition")
        assert not server.initialised.done()  # nothing above ended Init
        broken = await RawClient.open(server)
        broken.send(b"NOT HTTP AT ALL\r\n\r\n")
        assert (await broken.response())[0] == 400
        assert await asyncio.wait_for(broken.reader.read(), 30) == b""  # then closed

    run_with_client(scenario)


def test_a_next_whose_connection_closes_no_longer_waits_and_close_ends_a_parked_one():
    async def main():
        server = RuntimeApiServer()
        await server.start()
        first = await RawClient.open(server)
        first.send(get("/invocation/next"))
        await asyncio.wait_for(server.next_asked(), 30)
        first.close()
        for _ in range(3000):  # the server sees the close
            if not server.waiting:
                break
            await asyncio.sleep(0.01)
        assert not server.waiting
        second = await RawClient.open(server)
        second.send(get("/invocation/next"))
        await asyncio.wait_for(server.next_asked(), 30)
        await server.close()  # a warm environment's parked next is cut
        assert await asyncio.wait_for(second.reader.read(), 30) == b""
        second.close()

    asyncio.run(main())


def test_a_next_on_a_second_connection_replaces_the_parked_one():
    async def main():
        server = RuntimeApiServer()
        await server.start()
        first, second = await RawClient.open(server), await RawClient.open(server)
        try:
            first.send(get("/invocation/next"))
            await asyncio.wait_for(server.next_asked(), 30)
            second.send(get("/invocation/next"))
            assert await asyncio.wait_for(first.reader.read(), 30) == b""  # closed, not left
            reply = server.invoke(Assignment("r1", b"[1]", 1, "arn:f", "t"), None)
            assert await second.response() == (200, b"[1]")
            second.send(post("/invocation/r1/response", b"2"))
            assert (await second.response())[0] == 202
            assert (await reply).payload == 2
        finally:
            first.close()
            second.close()
            await server.close()

    asyncio.run(main())
