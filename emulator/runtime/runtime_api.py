"""One execution environment's Runtime API over HTTP: a loopback port of its own.

A thin layer over ``emulator.core.runtime_api``: httptools (llhttp's C parser) reads the
HTTP/1.1 requests inside an ``asyncio.Protocol`` (no HTTP framework, no task per request, each
answer one write), a ``GET /invocation/next`` is
parked until the environment hands it an invocation, and the runtime's ``/response``,
``/error`` and ``/init/error`` requests become results. Which request is allowed when, and
every status answered, comes from the core's rules
(https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import httptools

from emulator.core.log_text import printable
from emulator.core.runtime_api import (
    ERROR_TYPE_HEADER,
    MAX_RESPONSE_BYTES,
    RESPONSE_MODE_HEADER,
    STREAMING_MODE,
    ApiError,
    Assignment,
    Endpoint,
    EnvironmentApi,
    Route,
    route,
    runtime_error,
    split_prelude,
)

log = logging.getLogger("timeoutlab.lambda.runtime_api")

#: The content type of a streamed response that opens with an HTTP integration's metadata.
HTTP_INTEGRATION_CONTENT_TYPE = b"application/vnd.awslambda.http-integration-response"
_JSON = "Content-Type: application/json"
#: The request headers read, their names lower-cased.
_MODE = RESPONSE_MODE_HEADER.lower().encode()
_ERROR_TYPE = ERROR_TYPE_HEADER.lower().encode()
_STREAMING = STREAMING_MODE.encode()


@dataclass
class Reply:
    """How the runtime answered one invocation: a payload (JSON-decoded when it is JSON), an
    error in AWS's shape, or a stream it has finished sending (``streamed``)."""

    payload: Any = None
    error: dict | None = None
    streamed: bool = False


#: Receives a streamed response as it comes: the metadata dict first, then body bytes.
ChunkSink = Callable[[Any], object]


@dataclass
class _Request:
    """One request being received: its route (or the refusal its head already earned), and
    its body: kept up to ``keep`` bytes (what a larger body is refused with needs only its
    size), or passed to a stream's sink as it comes."""

    route: Route | None
    refusal: ApiError | None = None
    error_type: str | None = None
    keep: int = MAX_RESPONSE_BYTES
    size: int = 0
    chunks: list[bytes] = field(default_factory=list)
    stream: _StreamFeed | None = None

    def data(self, data: bytes) -> None:
        self.size += len(data)
        if self.stream is not None:
            self.stream.feed(data)
        elif self.size <= self.keep:
            self.chunks.append(data)

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)


class _StreamFeed:
    """A streamed response's body into the sink as it arrives; an HTTP integration's prelude
    (metadata JSON, 8 NUL bytes) becomes the metadata dict first, else ``{"statusCode": 200}``
    (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-custom.html#runtimes-custom-response-streaming)."""

    def __init__(self, sink: ChunkSink | None, prelude: bool) -> None:
        self.sink = sink
        self.prelude = prelude
        self.pending = b""
        self.started = False

    def feed(self, chunk: bytes) -> None:
        if self.sink is None:
            return
        if self.prelude and not self.started:
            self.pending += chunk
            try:
                split = split_prelude(self.pending)
            except ValueError:
                split = ({"statusCode": 500}, b"")
            if split is None:
                return
            metadata, chunk = split
            self.sink(metadata)
            self.started = True
        elif not self.started:
            self.sink({"statusCode": 200})
            self.started = True
        if chunk:
            self.sink(chunk)

    def end(self) -> None:
        """The stream is complete: a sink that got nothing yet gets its metadata."""
        if self.sink is not None and not self.started:
            self.sink({"statusCode": 200})
            self.started = True


class _RuntimeConnection(asyncio.Protocol):
    """One HTTP/1.1 connection of the runtime: httptools (llhttp, in C) parses what arrives,
    each complete request is handled as it ends, synchronously, and answered in one write;
    ``next`` is answered when work comes (``RuntimeApiServer.invoke``). A runtime waits for
    each answer before it sends its next request: a request that arrives on a connection whose
    ``next`` is still parked closes that connection rather than be answered out of order."""

    def __init__(self, api: RuntimeApiServer) -> None:
        self.api = api
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.request: _Request | None = None
        self.parked = False  # this connection's ``next`` waits for work
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._keep_alive = True

    # -- asyncio.Protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.api._connections.add(self)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._malformed(str(exc) or type(exc).__name__)
        except httptools.HttpParserUpgrade:
            self._malformed("protocol upgrades are not part of the Runtime API")

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.api._connections.discard(self)
        self.api._gone(self)

    # -- httptools' callbacks ----------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self.parked:
            log.info("a request behind a parked next on one Runtime API connection: closed")
            self.drop()
        self._url, self._headers = b"", []

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        self._keep_alive = self.parser.should_keep_alive()
        headers = dict(self._headers)
        if headers.get(b"expect", b"").lower() == b"100-continue":
            self._send(b"HTTP/1.1 100 Continue\r\n\r\n")
        self.request = self._begin(self.parser.get_method().decode("latin-1"), headers)

    def on_body(self, body: bytes) -> None:
        if self.request is not None:
            self.request.data(body)

    def on_message_complete(self) -> None:
        request, self.request = self.request, None
        if request is not None and self.transport is not None and not self.transport.is_closing():
            self._end(request)

    # -- requests ----------------------------------------------------------------------------

    def _begin(self, method: str, headers: dict[bytes, bytes]) -> _Request:
        try:
            found = route(method, self._url.decode("latin-1"))
        except ApiError as exc:
            return _Request(None, refusal=exc)
        request = _Request(found)
        if found.endpoint is Endpoint.NEXT:
            return request
        request.error_type = _text(headers.get(_ERROR_TYPE))
        mode = headers.get(_MODE, b"").lower()
        if found.endpoint is Endpoint.RESPONSE and mode == _STREAMING:
            try:
                self.api.state.may_answer(found.request_id)
            except ApiError as exc:
                request.refusal = exc
                request.keep = 0  # the body is only drained
                return request
            media_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
            prelude = media_type == HTTP_INTEGRATION_CONTENT_TYPE
            request.stream = _StreamFeed(self.api._sink, prelude)
        return request

    def _end(self, request: _Request) -> None:
        if request.refusal is not None:
            self._refuse(request.refusal)
            return
        assert request.route is not None
        if request.route.endpoint is Endpoint.NEXT:
            self.api._next(self)
        else:
            try:
                self.api._answer(request)
            except ApiError as exc:
                self._refuse(exc)
                return
            self._answer(_ACCEPTED)

    def _malformed(self, why: str) -> None:
        """Not HTTP/1.1: one log line, 400 (AWS's ErrorResponse shape), then close."""
        log.info("malformed request to a Runtime API: %s", printable(why))
        self._keep_alive = False
        self._refuse(ApiError(400, "BadRequest", why))

    # -- responses ---------------------------------------------------------------------------

    def hand_out(self, assignment: Assignment) -> None:
        """Answer this connection's parked ``next`` with ``assignment``."""
        self.parked = False
        head = [f"{name}: {value}" for name, value in assignment.headers().items()]
        self._answer(_response(200, head, assignment.event))

    def drop(self) -> None:
        """Close the connection (a parked ``next`` replaced by another)."""
        self.parked = False
        if self.transport is not None:
            self.transport.close()

    def _refuse(self, error: ApiError) -> None:
        self._answer(_response(error.status, [_JSON], json.dumps(error.body()).encode()))

    def _answer(self, response: bytes) -> None:
        """Send one whole response; the connection closes after it when the request asked
        for that (``Connection: close``, HTTP/1.0) or could not be parsed."""
        self._send(response)
        if not self._keep_alive and self.transport is not None:
            self.transport.close()

    def _send(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)


class RuntimeApiServer:
    """Serves the Runtime API of one environment on ``host`` (a free port)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port: int | None = None
        self.state = EnvironmentApi()
        loop = asyncio.get_running_loop()
        #: Resolved when the Init phase ends: None once the runtime asks for work, or the error
        #: it posted to ``/init/error``.
        self.initialised: asyncio.Future[dict | None] = loop.create_future()
        self._server: asyncio.Server | None = None
        self._connections: set[_RuntimeConnection] = set()
        self._parked: _RuntimeConnection | None = None  # the connection waiting in ``next``
        self._pending: Assignment | None = None  # handed to the runtime's next ``next``
        self._reply: asyncio.Future[Reply] | None = None
        self._sink: ChunkSink | None = None
        self._asked: asyncio.Future[None] | None = None  # resolved by the next ``next``

    @property
    def waiting(self) -> bool:
        """Whether the runtime waits in ``next`` now: it has finished its invocation (if any)."""
        return self._parked is not None

    @property
    def address(self) -> str:
        """``host:port``, the value of ``AWS_LAMBDA_RUNTIME_API``."""
        return f"{self.host}:{self.port}"

    async def start(self) -> None:
        """Listen on ``host`` and a free port (``address`` names it)."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _RuntimeConnection(self), self.host, 0, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Stop serving; every connection, a ``next`` still parked (a warm environment's)
        included, is closed."""
        if self._server is None:
            return
        self._server.close()
        for connection in list(self._connections):
            if connection.transport is not None:
                connection.transport.abort()
        self._connections.clear()
        self._parked = None
        await self._server.wait_closed()
        self._server = None

    def invoke(self, assignment: Assignment, sink: ChunkSink | None) -> asyncio.Future[Reply]:
        """Hand ``assignment`` to the runtime's (next) ``next``; the future is its reply."""
        self._reply = asyncio.get_running_loop().create_future()
        self._sink = sink
        self._pending = assignment
        if self._parked is not None:
            self._hand_out(self._parked)
        return self._reply

    def next_asked(self) -> asyncio.Future[None]:
        """Resolved once the runtime waits in ``next`` (at once if it does now)."""
        future = asyncio.get_running_loop().create_future()
        if self.waiting:
            future.set_result(None)
        else:
            self._asked = future
        return future

    # -- what the connections report ---------------------------------------------------------

    def _next(self, connection: _RuntimeConnection) -> None:
        """A ``next`` arrived: refused, or parked until work comes (handed out now if some
        waits)."""
        try:
            init_done = self.state.next_requested()
        except ApiError as exc:
            connection._refuse(exc)
            return
        if init_done and not self.initialised.done():
            self.initialised.set_result(None)
        if self._parked is not None and self._parked is not connection:
            # One runtime, one invocation at a time: a ``next`` on another connection replaces
            # the one parked before, whose connection is closed rather than left waiting.
            self._parked.drop()
        self._parked = connection
        connection.parked = True
        if self._asked is not None:
            if not self._asked.done():
                self._asked.set_result(None)
            self._asked = None
        if self._pending is not None:
            self._hand_out(connection)

    def _hand_out(self, connection: _RuntimeConnection) -> None:
        assignment, self._pending = self._pending, None
        assert assignment is not None
        self._parked = None
        self.state.handed_out(assignment.request_id)
        connection.hand_out(assignment)

    def _gone(self, connection: _RuntimeConnection) -> None:
        """A connection closed; if it was waiting in ``next``, the runtime no longer waits."""
        if self._parked is connection:
            self._parked = None

    def _answer(self, request: _Request) -> None:
        """A complete ``/response``, ``/error`` or ``/init/error``: the state moves and the
        result settles, or ApiError says what to answer instead of 202."""
        assert request.route is not None
        endpoint, request_id = request.route.endpoint, request.route.request_id
        if endpoint is Endpoint.INIT_ERROR:
            self.state.init_error()
            if not self.initialised.done():
                self.initialised.set_result(runtime_error(request.body, request.error_type))
            return
        if request.stream is not None:
            try:
                self.state.answer(request_id, request.size, streamed=True)
            except ApiError as exc:
                self._settle(Reply(error=exc.body()))
                raise
            request.stream.end()
            self._settle(Reply(streamed=True))
            return
        try:
            self.state.answer(request_id, request.size)
        except ApiError as exc:
            if exc.status == 413 and endpoint is Endpoint.RESPONSE:
                self._settle(Reply(error=exc.body()))
            raise
        if endpoint is Endpoint.RESPONSE:
            self._settle(Reply(payload=_decoded(request.body)))
        else:
            self._settle(Reply(error=runtime_error(request.body, request.error_type)))

    def _settle(self, reply: Reply) -> None:
        if self._reply is not None and not self._reply.done():
            self._reply.set_result(reply)
        self._reply, self._sink = None, None


def _decoded(body: bytes) -> Any:
    """A response payload: JSON when it is JSON (as Lambda's Invoke returns it), else text."""
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return body.decode(errors="replace")


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1")


def _response(status: int, headers: list[str], body: bytes) -> bytes:
    """A whole HTTP/1.1 response: status line, ``headers`` ("Name: value"), Content-Length,
    then ``body``."""
    lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}", *headers]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


#: 202 Accepted, with AWS's StatusResponse body (runtimes-api.html).
_ACCEPTED = _response(202, [_JSON], b'{"status": "OK"}')
