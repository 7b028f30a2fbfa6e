"""A counting reverse proxy in front of the backend endpoint: what the handlers' S3 and DynamoDB
calls would cost on AWS, measured at the socket, for any backend (moto, LocalStack, a URL).

Requests pass verbatim, Host included, since SigV4 signatures and presigned URLs sign the Host
the client used. It forwards bytes: h11 frames each message on both sides (asyncio streams, no
HTTP framework), the request line and headers are read to count the call, and connections to
the backend are kept alive and reused. Bodies stream both ways and are never decoded, except
DynamoDB's small JSON, which is read to size the items (``emulator.core.backend_usage``).
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import h11

from emulator.core.backend_usage import (
    DYNAMODB_TARGET_PREFIX,
    dynamodb_units,
    request_service,
    s3_operation,
    s3_tier,
)
from emulator.core.backend_watch import FailureRun
from emulator.core.log_text import printable
from emulator.metrics import Metrics

log = logging.getLogger("timeoutlab.backend")

#: Meaningful for one connection only (RFC 9110 7.6.1), so never forwarded. Expect is answered
#: by this proxy itself (100 Continue) and is not part of SigV4 signatures. Content-Length and
#: Transfer-Encoding are passed on: h11 frames the forwarded message by them, as sent.
HOP_BY_HOP = frozenset(
    {b"connection", b"keep-alive", b"proxy-authenticate", b"proxy-authorization", b"te"}
    | {b"trailer", b"trailers", b"upgrade", b"expect"}
)
_CHUNK = 64 * 1024
#: Request bodies up to this size (bytes, by Content-Length) are read before the backend is
#: asked, so a kept-alive connection the backend closed meanwhile can be retried on a new one.
_BUFFERED_BODY = 1024 * 1024
#: Idle connections to the backend kept for reuse.
_POOL_SIZE = 64
#: h11's bound on one message's head (bytes); S3 requests with large metadata fit.
_MAX_HEAD = 64 * 1024

Headers = list[tuple[bytes, bytes]]


class BackendUnavailable(Exception):
    """The backend could not be reached, or dropped the exchange before answering."""


class StreamCut(Exception):
    """The backend failed after the response's head went to the client: the client connection
    is cut so that it sees a short body."""


def _forwardable(headers: Headers) -> Headers:
    """The end-to-end headers, every value kept in order; hop-by-hop ones and those that
    ``Connection`` names are dropped."""
    named = {
        token.strip().lower()
        for name, value in headers
        if name.lower() == b"connection"
        for token in value.split(b",")
    }
    drop = HOP_BY_HOP | named
    return [(name, value) for name, value in headers if name.lower() not in drop]


def _text_headers(headers: Headers) -> dict[str, str]:
    """Header names and values as text, for the counting rules (the last value of a name)."""
    return {name.decode("latin-1"): value.decode("latin-1") for name, value in headers}


def _json(body: bytes, encoding: str = "") -> dict:
    """A DynamoDB body as a dict, or {} when it is not one (units then come from the other)."""
    try:
        if encoding.lower() == "gzip":
            body = gzip.decompress(body)
        parsed = json.loads(body or b"{}")
    except (ValueError, OSError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


@dataclass
class _Upstream:
    """One connection to the backend, with its h11 state."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    http: h11.Connection = field(default_factory=lambda: h11.Connection(h11.CLIENT))
    reused: bool = False

    def close(self) -> None:
        self.writer.close()


class UsageProxy:
    """Forwards everything to ``target_url`` and records each request into ``metrics``.

    A request counts as billed when the backend answered it below 500; backend 5xx answers and
    the proxy's own failures (502, backend unreachable) are counted as errors, by status.
    """

    def __init__(self, target_url: str, metrics: Metrics, host: str = "127.0.0.1") -> None:
        self.target_url = target_url.rstrip("/")
        self.metrics = metrics
        self.host = host
        self.port: int | None = None
        target = urlsplit(self.target_url)
        self._tls = target.scheme == "https"
        self._target_host = target.hostname or "127.0.0.1"
        self._target_port = target.port or (443 if self._tls else 80)
        self._target_prefix = target.path.encode()  # a backend under a path keeps it
        self._server: asyncio.Server | None = None
        self._idle: list[_Upstream] = []
        self._clients: set[asyncio.StreamWriter] = set()
        # Requests failed in a row for want of a backend: logged when the run starts and ends.
        self._failures = FailureRun()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self, port: int = 0) -> str:
        """Serve on ``host`` and a free port (or ``port``); the URL to give the handlers."""
        self._server = await asyncio.start_server(self._serve, self.host, port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("backend usage proxy at %s -> %s", self.url, self.target_url)
        return self.url

    async def stop(self) -> None:
        """Stop listening, close every client and backend connection."""
        if self._server is not None:
            self._server.close()
            for writer in list(self._clients):
                writer.close()
            await self._server.wait_closed()
            self._server = None
        while self._idle:
            self._idle.pop().close()

    # -- the client side ---------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._clients.add(writer)
        http = h11.Connection(h11.SERVER, max_incomplete_event_size=_MAX_HEAD)
        try:
            while True:
                event = await _next_event(http, reader)
                if not isinstance(event, h11.Request):
                    return  # closed, or a client that went away mid-message
                await self._exchange(http, reader, writer, event)
                if http.our_state is not h11.DONE or http.their_state is not h11.DONE:
                    return
                http.start_next_cycle()
        except h11.RemoteProtocolError as exc:
            log.info("malformed request to the backend usage proxy: %s", printable(exc))
            if http.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                with contextlib.suppress(h11.LocalProtocolError):
                    writer.write(_error_bytes(http, exc.error_status_hint, "BadRequest", str(exc)))
        except StreamCut as exc:
            log.warning("%s", printable(exc))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away
        finally:
            self._clients.discard(writer)
            writer.close()

    async def _exchange(
        self,
        http: h11.Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        request: h11.Request,
    ) -> None:
        """Forward one request and its response; count it."""
        headers = _forwardable(list(request.headers.raw_items()))
        text = _text_headers(headers)
        path, _, query = request.target.decode("latin-1").partition("?")
        service = request_service(query, text)
        method = request.method.decode("latin-1")
        if http.they_are_waiting_for_100_continue:
            writer.write(http.send(h11.InformationalResponse(status_code=100, headers=[])))
        length = next((v for k, v in request.headers if k == b"content-length"), None)
        buffered = service == "dynamodb" or (
            length is not None and length.isdigit() and int(length) <= _BUFFERED_BODY
        )
        body = await _read_body(http, reader) if buffered else None
        upstream_request = h11.Request(
            method=request.method,
            target=self._target_prefix + request.target,
            headers=headers,
            http_version="1.1",
        )
        try:
            upstream, response = await self._send(upstream_request, body, http, reader)
        except BackendUnavailable as exc:
            self.metrics.backend_error(502)
            if self._failures.failure():
                log.warning(
                    "backend %s unreachable: %s %s failed: %s; the requests failing until it is "
                    "back are counted, not logged",
                    self.target_url,
                    method,
                    printable(path),
                    printable(exc),
                )
            if http.their_state is not h11.DONE:
                await _drain_body(http, reader)  # the request is answered, not half-read
            message = f"the backend at {self.target_url} did not answer: {exc}"
            writer.write(_error_bytes(http, 502, "ServiceUnavailable", message))
            await writer.drain()
            return
        self._answered()
        response_headers = _forwardable(list(response.headers.raw_items()))
        if service == "dynamodb":
            payload = await self._read_upstream_body(upstream, method, path)
            encoding = _text_headers(response_headers).get("Content-Encoding", "")
            self._record_dynamodb(response.status_code, text, body or b"", payload, encoding)
            whole = http.send(_response(response, response_headers)) or b""
            if payload:
                whole += http.send(h11.Data(data=payload)) or b""
            writer.write(whole + (http.send(h11.EndOfMessage()) or b""))  # one send
        else:
            self._record(response.status_code, service, method, path, query, text)
            head = http.send(_response(response, response_headers)) or b""
            await self._stream_upstream_body(upstream, http, writer, method, path, head)
        self._release(upstream)
        await writer.drain()

    def _answered(self) -> None:
        """The backend answered: if requests failed before, say it is back and how many."""
        failed = self._failures.answered()
        if failed:
            log.warning(
                "backend %s answers again; %d request(s) failed while it was unreachable",
                self.target_url,
                failed,
            )

    # -- the backend side --------------------------------------------------------------------

    async def _send(
        self,
        request: h11.Request,
        body: bytes | None,
        client: h11.Connection,
        client_reader: asyncio.StreamReader,
    ) -> tuple[_Upstream, h11.Response]:
        """Send ``request`` (with ``body``, or the client's body streamed when None) and read
        the response's head. A reused connection that fails before any answer is retried once on
        a new one when the body was buffered. Raises BackendUnavailable."""
        upstream = await self._acquire()
        try:
            return upstream, await self._send_on(upstream, request, body, client, client_reader)
        except (OSError, EOFError, h11.ProtocolError, asyncio.IncompleteReadError) as exc:
            upstream.close()
            if not (upstream.reused and body is not None):
                raise BackendUnavailable(_describe(exc)) from exc
        upstream = await self._acquire(fresh=True)
        try:
            return upstream, await self._send_on(upstream, request, body, client, client_reader)
        except (OSError, EOFError, h11.ProtocolError, asyncio.IncompleteReadError) as exc:
            upstream.close()
            raise BackendUnavailable(_describe(exc)) from exc

    async def _send_on(
        self,
        upstream: _Upstream,
        request: h11.Request,
        body: bytes | None,
        client: h11.Connection,
        client_reader: asyncio.StreamReader,
    ) -> h11.Response:
        head = upstream.http.send(request) or b""
        if body is None:
            upstream.writer.write(head)
            while True:
                event = await _next_event(client, client_reader)
                if isinstance(event, h11.Data):
                    upstream.writer.write(upstream.http.send(h11.Data(data=event.data)))
                    await upstream.writer.drain()
                elif isinstance(event, h11.EndOfMessage):
                    break
                else:
                    raise ConnectionError("the client went away mid-request")
            upstream.writer.write(upstream.http.send(h11.EndOfMessage()) or b"")
        else:  # head, body and end in one send
            data = (upstream.http.send(h11.Data(data=body)) or b"") if body else b""
            upstream.writer.write(head + data + (upstream.http.send(h11.EndOfMessage()) or b""))
        await upstream.writer.drain()
        while True:
            event = await _next_event(upstream.http, upstream.reader)
            if isinstance(event, h11.Response):
                return event
            if isinstance(event, h11.InformationalResponse):
                continue
            raise EOFError("the backend closed the connection without answering")

    async def _read_upstream_body(self, upstream: _Upstream, method: str, path: str) -> bytes:
        chunks = []
        try:
            while True:
                event = await _next_event(upstream.http, upstream.reader)
                if isinstance(event, h11.Data):
                    chunks.append(bytes(event.data))
                elif isinstance(event, h11.EndOfMessage):
                    return b"".join(chunks)
                else:
                    raise EOFError("the backend closed the connection mid-response")
        except (OSError, EOFError, h11.ProtocolError) as exc:
            upstream.close()
            raise StreamCut(f"stream {method} {path} cut: {_describe(exc)}") from exc

    async def _stream_upstream_body(
        self,
        upstream: _Upstream,
        client: h11.Connection,
        writer: asyncio.StreamWriter,
        method: str,
        path: str,
        head: bytes,
    ) -> None:
        """Stream the response body to the client; ``head`` (the response's head, not sent
        yet) and the body's pieces leave in as few sends as the backend's reads allow."""
        pending = bytearray(head)

        async def flush() -> None:
            if pending:
                writer.write(bytes(pending))
                pending.clear()
                await writer.drain()

        try:
            while True:
                event = await _next_event(upstream.http, upstream.reader, flush)
                if isinstance(event, h11.Data):
                    pending += client.send(h11.Data(data=event.data)) or b""
                    if len(pending) >= _CHUNK:
                        await flush()
                elif isinstance(event, h11.EndOfMessage):
                    pending += client.send(h11.EndOfMessage()) or b""
                    await flush()
                    return
                else:
                    raise EOFError("the backend closed the connection mid-response")
        except (OSError, EOFError, h11.ProtocolError) as exc:
            upstream.close()
            raise StreamCut(f"stream {method} {path} cut: {_describe(exc)}") from exc

    async def _acquire(self, fresh: bool = False) -> _Upstream:
        while self._idle and not fresh:
            upstream = self._idle.pop()
            if upstream.reader.at_eof() or upstream.writer.is_closing():
                upstream.close()
                continue
            upstream.reused = True
            return upstream
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(
                    self._target_host,
                    self._target_port,
                    ssl=ssl.create_default_context() if self._tls else None,
                ),
                timeout=10,
            )
        except (OSError, TimeoutError) as exc:
            raise BackendUnavailable(_describe(exc)) from exc
        return _Upstream(reader, writer)

    def _release(self, upstream: _Upstream) -> None:
        """Back into the pool when the exchange left it reusable; else closed."""
        http = upstream.http
        if (
            http.our_state is h11.DONE
            and http.their_state is h11.DONE
            and len(self._idle) < _POOL_SIZE
            and self._server is not None
        ):
            http.start_next_cycle()
            self._idle.append(upstream)
        else:
            upstream.close()

    # -- counting ----------------------------------------------------------------------------

    def _record(
        self, status: int, service: str, method: str, path: str, query: str, headers: dict
    ) -> None:
        if status >= 500:
            self.metrics.backend_error(status)
        elif service == "s3":
            operation = s3_operation(method, path, query, headers)
            self.metrics.backend_s3(operation, s3_tier(method, operation))
        else:
            self.metrics.backend_other()

    def _record_dynamodb(
        self, status: int, headers: dict[str, str], body: bytes, payload: bytes, encoding: str
    ) -> None:
        if status >= 500:
            self.metrics.backend_error(status)
            return
        target = next(v for k, v in headers.items() if k.lower() == "x-amz-target")
        operation = target.removeprefix(DYNAMODB_TARGET_PREFIX)
        units = dynamodb_units(operation, _json(body), _json(payload, encoding))
        self.metrics.backend_dynamodb(operation, *units)


async def _next_event(
    http: h11.Connection,
    reader: asyncio.StreamReader,
    before_waiting: Callable[[], Awaitable[None]] | None = None,
) -> object:
    """The next h11 event of ``http``, reading from ``reader`` as it needs (``h11.PAUSED``
    is never returned: callers start the next cycle first); ``before_waiting`` is awaited
    before each read (to send what is pending before waiting for more)."""
    while True:
        event = http.next_event()
        if event is not h11.NEED_DATA:
            return event
        if before_waiting is not None:
            await before_waiting()
        http.receive_data(await reader.read(_CHUNK))


async def _read_body(http: h11.Connection, reader: asyncio.StreamReader) -> bytes:
    chunks = []
    while True:
        event = await _next_event(http, reader)
        if isinstance(event, h11.Data):
            chunks.append(bytes(event.data))
        elif isinstance(event, h11.EndOfMessage):
            return b"".join(chunks)
        else:
            raise ConnectionError("the client went away mid-request")


async def _drain_body(http: h11.Connection, reader: asyncio.StreamReader) -> None:
    with contextlib.suppress(ConnectionError):
        await _read_body(http, reader)


def _response(upstream: h11.Response, headers: Headers) -> h11.Response:
    return h11.Response(status_code=upstream.status_code, headers=headers, reason=upstream.reason)


def _error_bytes(http: h11.Connection, status: int, kind: str, message: str) -> bytes:
    """A whole JSON error response of the proxy's own, AWS-shaped (``__type``, ``message``)."""
    body = json.dumps({"__type": kind, "message": message}).encode()
    head = h11.Response(
        status_code=status,
        headers=[
            (b"Content-Type", b"application/json"),
            (b"Content-Length", str(len(body)).encode()),
            (b"x-amzn-ErrorType", kind.encode()),
        ],
    )
    return http.send(head) + http.send(h11.Data(data=body)) + http.send(h11.EndOfMessage())


def _describe(exc: BaseException) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split()) if str(exc) else type(exc).__name__
