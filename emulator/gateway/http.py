"""Small helpers between aiohttp and the core's plain request/response data."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError, LineTooLong
from aiohttp.web_protocol import RequestHandler
from multidict import CIMultiDict

from emulator.core import request_head
from emulator.core.events import IncomingRequest
from emulator.core.log_text import printable
from emulator.core.responses import HttpResponse, malformed_request, request_timeout
from emulator.gateway.wire import end_stalled_body

log = logging.getLogger("timeoutlab.http")

#: aiohttp's route pattern for "any path": a decoded path may hold a CR or LF (``%0A``, ``%0D``),
#: which ``.*`` does not match, and a path no route matches gets aiohttp's own plain-text 404
#: instead of the gateway's answer. ``ANY_PATH`` is the rest of a path; ``/`` + it, any path.
ANY_PATH = "{tail:[\\s\\S]*}"
#: Real seconds a request body may go without a byte (the app's header timeout); unset: forever.
BODY_TIMEOUT = web.AppKey("body_timeout", float)


class BodyTooLarge(Exception):
    """The request body passed the limit while being read."""


async def read_body(request: web.Request, limit: int) -> bytes:
    """The whole body, refusing early (by Content-Length) or as soon as it passes ``limit``.

    A client whose body stalls for the app's ``BODY_TIMEOUT`` gets ``responses.request_timeout``
    (408) and the connection closes: ``web.HTTPRequestTimeout`` is raised, aiohttp sends it."""
    if request.content_length is not None and request.content_length > limit:
        raise BodyTooLarge
    timeout = request.app.get(BODY_TIMEOUT)
    chunks, size = [], 0
    while True:
        try:
            chunk = await asyncio.wait_for(request.content.read(65536), timeout)
        except TimeoutError:
            log.info(
                "%s %s: request body stalled for %g s; answered 408",
                printable(request.method),
                printable(request.path),
                timeout,
            )
            answer = request_timeout()
            error = web.HTTPRequestTimeout(
                text=answer.body.decode(),
                content_type=answer.header("Content-Type"),
                headers={k: v for k, v in answer.headers if k.lower() != "content-type"},
            )
            # Closed once the 408 is out, at the timeout: not after another timeout of
            # lingering for a body that stalled (its end is fed to aiohttp here).
            error.force_close()
            end_stalled_body(request)
            raise error from None
        if not chunk:
            break
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def raw_path(request: web.Request) -> str:
    """The path as the client sent it, percent-encoding kept, without the query string
    (aiohttp's ``request.path`` is decoded)."""
    return request.raw_path.split("?", 1)[0]


def incoming(request: web.Request, body: bytes, path: str | None = None) -> IncomingRequest:
    """The plain request data the core builds events from; ``path`` defaults to the decoded
    path (pass ``raw_path(request)`` for an API that keeps the encoding)."""
    peer = request.transport.get_extra_info("peername") if request.transport else None
    return IncomingRequest(
        method=request.method,
        path=request.path if path is None else path,
        query_string=request.query_string,
        headers=list(request.headers.items()),
        body=body,
        source_ip=peer[0] if peer else "127.0.0.1",
        protocol=f"HTTP/{request.version.major}.{request.version.minor}",
    )


def to_aiohttp(
    response: HttpResponse, extra_headers: Sequence[tuple[str, str]] = ()
) -> web.Response:
    headers = CIMultiDict(response.headers)
    for name, value in extra_headers:
        headers.setdefault(name, value)
    return web.Response(status=response.status, body=response.body, headers=headers)


def head_of(request: web.Request) -> request_head.RequestHead:
    """The request's head as sent, for ``request_head.check_head``: aiohttp keeps the target
    (``raw_path``: path and query, encoded) and the raw header values."""
    return request_head.RequestHead(
        method=request.method,
        target=request.raw_path,
        version=f"HTTP/{request.version.major}.{request.version.minor}",
        header_values=[value for _, value in request.raw_headers],
    )


#: aiohttp's parser bounds on the HTTP ports (``web.AppRunner`` passes them to each connection's
#: ``RequestHandler``): above a realistic head within API Gateway's quota
#: (``emulator.core.request_head``).
PARSER_LIMITS: dict[str, Any] = {
    "max_line_size": request_head.PARSER_MAX_LINE_BYTES,
    "max_field_size": request_head.PARSER_MAX_FIELD_BYTES,
    "max_headers": request_head.PARSER_MAX_HEADERS,
}


class JsonErrorsRequestHandler(RequestHandler):
    """aiohttp's connection handler, answering a request its parser refuses in JSON.

    aiohttp answers those itself, before any application sees them, in plain text ("400 Got more
    than 8190 bytes when reading: bytearray(b'/dev/echo?q=aaaa..."). Here a head past the
    parser's bounds (``PARSER_LIMITS``: a line or header too long, too many headers) gets the
    gateway's answer to a head over API Gateway's quota (``request_head.head_too_large``, 431),
    and any other malformed request ``responses.malformed_request`` (400, ``{"message": ...}``),
    as on the WebSocket port. Either way the connection closes, as aiohttp closes it."""

    __slots__ = ()

    def handle_error(
        self,
        request: Any,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        plain = super().handle_error(request, status, exc, message)  # logs; raises if too late
        if not isinstance(exc, HttpProcessingError):
            return plain  # the application's own failure: aiohttp's 500
        if isinstance(exc, LineTooLong) or _too_many_headers(exc):
            answer = request_head.head_too_large()
        else:
            answer = malformed_request(" ".join(str(exc.message).split()), status)
        response = web.Response(
            status=answer.status,
            body=answer.body,
            headers=CIMultiDict([(k, v) for k, v in answer.headers if k.lower() != "connection"]),
        )
        response.force_close()
        return response


def _too_many_headers(error: HttpProcessingError) -> bool:
    """aiohttp's parsers refuse a head of more than ``max_headers`` headers with a plain
    ``BadHttpMessage("Too many headers received")``: its message is all that tells it apart."""
    return str(error.message).startswith("Too many headers")


def json_parse_errors(
    handlers: Callable[[], RequestHandler] | None,
) -> Callable[[], JsonErrorsRequestHandler]:
    """Wrap a runner's handler factory (``web.AppRunner.server``, set up: not None) so that each
    connection's handler is a ``JsonErrorsRequestHandler``: aiohttp builds it with all the
    runner's settings, and only its answer to a request it cannot parse changes (the subclass
    adds no state)."""
    if handlers is None:
        raise ValueError("the runner is not set up: it has no server yet")

    def make() -> JsonErrorsRequestHandler:
        handler = handlers()
        handler.__class__ = JsonErrorsRequestHandler
        return handler  # type: ignore[return-value]

    return make
