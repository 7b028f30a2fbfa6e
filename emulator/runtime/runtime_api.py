"""One execution environment's Runtime API over HTTP: a loopback port of its own.

A thin aiohttp layer over ``emulator.core.runtime_api``: it parks the runtime's
``GET /invocation/next`` until the environment hands it an invocation, and turns the runtime's
``/response``, ``/error`` and ``/init/error`` requests into results. Every status it answers
comes from the core's rules (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html).
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from emulator.core.runtime_api import (
    API_PREFIX,
    ERROR_TYPE_HEADER,
    RESPONSE_MODE_HEADER,
    STREAMING_MODE,
    ApiError,
    Assignment,
    EnvironmentApi,
    runtime_error,
    split_prelude,
)
from emulator.gateway.wire import OneLineClientErrors

#: The content type of a streamed response that opens with an HTTP integration's metadata.
HTTP_INTEGRATION_CONTENT_TYPE = "application/vnd.awslambda.http-integration-response"
#: How long closing waits for requests in progress (real seconds): the process is gone by then.
SHUTDOWN_S = 0.5


@dataclass
class Reply:
    """How the runtime answered one invocation: a payload (JSON-decoded when it is JSON), an
    error in AWS's shape, or a stream it has finished sending (``streamed``)."""

    payload: Any = None
    error: dict | None = None
    streamed: bool = False


#: Receives a streamed response as it comes: the metadata dict first, then body bytes.
ChunkSink = Callable[[Any], object]


class RuntimeApiServer:
    """Serves the Runtime API of one environment on ``host`` (a free port)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port: int | None = None
        self.state = EnvironmentApi()
        #: Resolved when the Init phase ends: None once the runtime asks for work, or the error
        #: it posted to ``/init/error``.
        self.initialised: asyncio.Future[dict | None] = asyncio.get_running_loop().create_future()
        self._work: asyncio.Queue[Assignment] = asyncio.Queue(maxsize=1)
        self._reply: asyncio.Future[Reply] | None = None
        self._sink: ChunkSink | None = None
        self._runner: web.AppRunner | None = None
        self._parked: set[asyncio.Task] = set()  # handlers of ``next`` waiting for work
        #: Set while the runtime waits in ``next``: it has finished its invocation (if any).
        self.waiting = asyncio.Event()

    @property
    def address(self) -> str:
        """``host:port``, the value of ``AWS_LAMBDA_RUNTIME_API``."""
        return f"{self.host}:{self.port}"

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get(f"{API_PREFIX}/invocation/next", self._next)
        app.router.add_post(f"{API_PREFIX}/invocation/{{id}}/response", self._response)
        app.router.add_post(f"{API_PREFIX}/invocation/{{id}}/error", self._error)
        app.router.add_post(f"{API_PREFIX}/init/error", self._init_error)
        self._runner = web.AppRunner(
            app,
            access_log=None,
            handle_signals=False,
            shutdown_timeout=SHUTDOWN_S,
            logger=OneLineClientErrors(),  # a malformed request: one line, not a traceback
        )
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, 0))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    async def close(self) -> None:
        """Stop serving; a ``next`` still parked (a warm environment's) is ended."""
        for parked in list(self._parked):
            parked.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def invoke(self, assignment: Assignment, sink: ChunkSink | None) -> asyncio.Future[Reply]:
        """Hand ``assignment`` to the runtime's (next) ``next``; the future is its reply."""
        self._reply = asyncio.get_running_loop().create_future()
        self._sink = sink
        self._work.put_nowait(assignment)
        return self._reply

    # -- handlers ----------------------------------------------------------------------------

    async def _next(self, _: web.Request) -> web.StreamResponse:
        try:
            init_done = self.state.next_requested()
        except ApiError as exc:
            return _refusal(exc)
        if init_done and not self.initialised.done():
            self.initialised.set_result(None)
        task = asyncio.current_task()
        assert task is not None
        self._parked.add(task)
        self.waiting.set()
        try:
            assignment = await self._work.get()
        finally:
            self.waiting.clear()
            self._parked.discard(task)
        self.state.handed_out(assignment.request_id)
        return web.Response(body=assignment.event, headers=assignment.headers())

    async def _response(self, request: web.Request) -> web.StreamResponse:
        request_id = request.match_info["id"]
        if request.headers.get(RESPONSE_MODE_HEADER, "").lower() == STREAMING_MODE:
            return await self._stream(request, request_id)
        body = await request.read()
        try:
            self.state.answer(request_id, len(body))
        except ApiError as exc:
            if exc.status == 413:
                self._settle(Reply(error=exc.body()))
            return _refusal(exc)
        self._settle(Reply(payload=_decoded(body)))
        return _accepted()

    async def _stream(self, request: web.Request, request_id: str) -> web.StreamResponse:
        """A streamed response: each chunk goes to the sink as it arrives; an HTTP
        integration's prelude (metadata JSON, 8 NUL bytes) becomes the metadata dict first."""
        try:
            self.state.may_answer(request_id)
        except ApiError as exc:
            return _refusal(exc)
        sink = self._sink
        prelude = request.content_type == HTTP_INTEGRATION_CONTENT_TYPE
        pending, size, started = b"", 0, False
        async for chunk in request.content.iter_any():
            size += len(chunk)
            if sink is None:
                continue
            if prelude and not started:
                pending += chunk
                try:
                    split = split_prelude(pending)
                except ValueError:
                    split = ({"statusCode": 500}, b"")
                if split is None:
                    continue
                metadata, chunk = split
                sink(metadata)
                started = True
            elif not started:
                sink({"statusCode": 200})
                started = True
            if chunk:
                sink(chunk)
        try:
            self.state.answer(request_id, size, streamed=True)
        except ApiError as exc:
            self._settle(Reply(error=exc.body()))
            return _refusal(exc)
        if sink is not None and not started:
            sink({"statusCode": 200})
        self._settle(Reply(streamed=True))
        return _accepted()

    async def _error(self, request: web.Request) -> web.StreamResponse:
        request_id = request.match_info["id"]
        body = await request.read()
        try:
            self.state.answer(request_id, len(body))
        except ApiError as exc:
            return _refusal(exc)
        self._settle(Reply(error=runtime_error(body, request.headers.get(ERROR_TYPE_HEADER))))
        return _accepted()

    async def _init_error(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        try:
            self.state.init_error()
        except ApiError as exc:
            return _refusal(exc)
        if not self.initialised.done():
            error = runtime_error(body, request.headers.get(ERROR_TYPE_HEADER))
            self.initialised.set_result(error)
        return _accepted()

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


def _accepted() -> web.Response:
    """202 Accepted, with AWS's StatusResponse body (runtimes-api.html)."""
    return web.json_response({"status": "OK"}, status=202)


def _refusal(error: ApiError) -> web.Response:
    return web.json_response(error.body(), status=error.status)
