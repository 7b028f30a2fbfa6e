"""Small helpers between aiohttp and the core's plain request/response data."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from aiohttp import web
from multidict import CIMultiDict

from emulator.core.events import IncomingRequest
from emulator.core.log_text import printable
from emulator.core.responses import HttpResponse, request_timeout
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
