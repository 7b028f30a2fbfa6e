"""The HTTP ports' connections at the socket, under aiohttp: counted, timed, logged in one line.

Each accepted connection gets a protocol that counts what it reads and a transport that counts
what is written, then hands both on to aiohttp untouched. Each request's bytes (and its answer's)
are filed under the API that request is for (REST API, the Lambda Invoke API the handlers call, or
/_emulator/), so the REST figures compare with what clients measured on their side even when a
browser sends its page's /_emulator/ requests and its REST calls over one kept-alive connection;
the connection itself is counted once, under its first request's API.

The same protocol keeps the header timeout (``emulator.core.connection_timeouts``): from a
request's first byte until aiohttp hands the parsed request to the application (the
``track_requests`` middleware says when), and never while a request is being handled. aiohttp's
own ``keepalive_timeout`` is the idle timeout (it runs from the connection's start and from each
response's end, only while no request is being handled).
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError

from emulator.core.log_text import printable
from emulator.metrics import Metrics

log = logging.getLogger("timeoutlab.http")

CONTROL_PREFIX = b"/_emulator"
LAMBDA_PREFIX = b"/2015-03-31/"


def _category(first_bytes: bytes) -> str:
    parts = first_bytes.split(b" ", 2)
    path = parts[1] if len(parts) > 1 else b""
    if path.startswith(CONTROL_PREFIX):
        return "control"
    if path.startswith(LAMBDA_PREFIX):
        return "lambda_api"
    return "rest"


class _CountingTransport:
    """Passes everything to the real transport, counting the bytes written."""

    def __init__(self, transport: asyncio.Transport, counter: _CountingProtocol) -> None:
        self._transport = transport
        self._counter = counter
        self.connection = counter  # what ``track_requests`` tells of each request

    def write(self, data: bytes) -> None:
        self._counter.sent(len(data))
        self._transport.write(data)

    def writelines(self, chunks: Any) -> None:
        chunks = list(chunks)
        self._counter.sent(sum(len(c) for c in chunks))
        self._transport.writelines(chunks)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class _CountingProtocol(asyncio.Protocol):
    def __init__(
        self,
        inner: asyncio.Protocol,
        metrics: Metrics,
        category: str | None = None,
        header_timeout: float | None = None,
    ) -> None:
        self._inner = inner
        self._metrics = metrics
        self._fixed = category
        self._category: str | None = None
        self._pending_sent = 0
        # The next bytes read begin a request (at the start, and once one has been answered):
        # they say which API it is for. Browsers do not pipeline, so one request at a time.
        self._next_request = True
        self._header_timeout = header_timeout
        self._header_timer: asyncio.TimerHandle | None = None
        self._in_request = False
        self._transport: asyncio.Transport | None = None
        self._discarding = False  # a stalled body was answered: later bytes are dropped

    def discard_input(self) -> None:
        """Stop handing received bytes to aiohttp (still counted): the request's body stalled
        and has been answered (408), so the rest of it, if it ever comes, is dropped and the
        connection closes as soon as the answer is out (``end_stalled_body``)."""
        self._discarding = True

    def request_started(self) -> None:
        """aiohttp has parsed a request's head and handles it: no header timer until it ends."""
        self._in_request = True
        self._disarm()

    def request_finished(self) -> None:
        """The application has answered; the next request's first byte starts the timer and
        says which API that request's bytes belong to."""
        self._in_request = False
        self._next_request = True

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timed_out(self) -> None:
        self._header_timer = None
        if self._transport is None or self._transport.is_closing():
            return
        peer = self._transport.get_extra_info("peername")
        log.info(
            "closing a connection from %s: request head not received within %g s",
            peer[0] if peer else "?",
            self._header_timeout,
        )
        self._transport.abort()

    def sent(self, count: int) -> None:
        if self._category is None:
            self._pending_sent += count
        else:
            self._metrics.http_wire(self._category, sent=count)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        self._inner.connection_made(_CountingTransport(transport, self))  # type: ignore[arg-type]

    def data_received(self, data: bytes) -> None:
        if self._header_timeout and not self._in_request and self._header_timer is None:
            loop = asyncio.get_running_loop()
            self._header_timer = loop.call_later(self._header_timeout, self._header_timed_out)
        if self._category is None:
            self._category = self._fixed or _category(data)
            self._metrics.http_connection(self._category)
            if self._pending_sent:
                self._metrics.http_wire(self._category, sent=self._pending_sent)
        elif self._next_request and self._fixed is None:
            self._category = _category(data)
        self._next_request = False
        self._metrics.http_wire(self._category, received=len(data))
        if not self._discarding:
            self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()


def counting_factory(
    inner_factory: Any,
    metrics: Metrics,
    category: str | None = None,
    header_timeout: float | None = None,
) -> Any:
    """Wrap aiohttp's protocol factory (``AppRunner.server``). With ``category`` every
    connection is filed under it (the HTTP API's port: ``http_api``); else by its first request.
    ``header_timeout`` (real seconds; None: none) cuts a connection whose request head has not
    all arrived that long after its first byte; the app needs ``track_requests`` for it."""
    return lambda: _CountingProtocol(inner_factory(), metrics, category, header_timeout)


@web.middleware
async def track_requests(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Tell the connection's protocol a request is being handled (its header timer stops) and
    when it has been answered: a long poll or a response stream is never cut by that timer."""
    connection = getattr(request.transport, "connection", None)
    if isinstance(connection, _CountingProtocol):
        connection.request_started()
    try:
        return await handler(request)
    finally:
        if isinstance(connection, _CountingProtocol):
            connection.request_finished()


def end_stalled_body(request: web.Request) -> bool:
    """After a request body stalled past the header timeout: end the body here (aiohttp sees
    its end, so it does not linger another timeout reading a body that is not coming) and drop
    whatever the client sends later. True when done; False on a connection not counted here
    (then aiohttp lingers as usual). The caller's answer must close the connection."""
    connection = getattr(request.transport, "connection", None)
    if not isinstance(connection, _CountingProtocol):
        return False
    connection.discard_input()
    request.content.feed_eof()
    return True


#: Exceptions that are the client's fault: a request aiohttp could not parse, a body that broke
#: off or was mis-framed, a peer that left.
CLIENT_ERRORS = (HttpProcessingError, RequestPayloadError, ConnectionResetError)


class OneLineClientErrors(logging.LoggerAdapter):
    """The logger aiohttp's request handler writes to (``AppRunner(..., logger=...)``).

    aiohttp logs every request it could not parse with ``logger.exception``, a full traceback
    each. A client's malformed request is not the emulator's error: this logs it in one line at
    INFO ("malformed request from 127.0.0.1: 400, message='Invalid method ...'"); anything else
    keeps its traceback."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        super().__init__(logger or logging.getLogger("aiohttp.server"), {})

    def exception(self, msg: object, *args: object, exc_info: Any = True, **kwargs: Any) -> None:
        error = exc_info if isinstance(exc_info, BaseException) else sys.exc_info()[1]
        if isinstance(error, CLIENT_ERRORS):
            self._one_line(msg, args, error)
            return
        self.logger.error(msg, *args, exc_info=exc_info, **kwargs)

    def debug(self, msg: object, *args: object, exc_info: Any = None, **kwargs: Any) -> None:
        """aiohttp logs a first request whose method is not HTTP's (``garbage``, a TLS
        ClientHello on a plain port) at DEBUG, not as an exception: it is a malformed request
        too, logged in one line at INFO like the others."""
        if isinstance(exc_info, CLIENT_ERRORS):
            self._one_line(msg, args, exc_info)
            return
        self.logger.debug(msg, *args, exc_info=exc_info, **kwargs)

    @staticmethod
    def _one_line(msg: object, args: tuple, error: BaseException) -> None:
        where = str(msg) % args if args else str(msg)
        text = " ".join(f"{where}: {error!s}".split())  # one line, whatever it holds
        log.info("malformed request: %s", printable(text.replace("Error handling request ", "")))
