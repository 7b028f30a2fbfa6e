"""API Gateway WebSocket API emulation, with its @connections management API on the same port.

h11 parses the plain HTTP requests (the @connections calls, and every handshake); a request that
asks for a WebSocket is handed to websockets' sans-I/O ``ServerProtocol``. The rules (routes,
events, limits, error shapes) come from the core; this module owns the sockets and the clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime
import json
import logging
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import h11
from websockets.datastructures import Headers
from websockets.frames import Frame, Opcode
from websockets.http11 import Request as WsRequest
from websockets.protocol import State
from websockets.server import ServerProtocol

from emulator.clock import Clock
from emulator.core import management, sigv4
from emulator.core.authorizers import (
    AuthorizerRefusal,
    AuthorizerSpec,
    method_arn,
    request_context_authorizer,
    websocket_request_event,
)
from emulator.core.connection_limits import Close, MessageAssembler, RateLimiter, WebSocketLimits
from emulator.core.connection_timeouts import DEFAULT_LISTEN_BACKLOG, ConnectionTimeouts
from emulator.core.deadlines import IntegrationTimeouts
from emulator.core.events import ApiIdentity, new_request_id
from emulator.core.log_text import printable
from emulator.core.origins import HostPolicy, OriginPolicy, host_of
from emulator.core.responses import CROSS_ORIGIN_MESSAGE, HttpResponse, malformed_request
from emulator.core.websocket_events import (
    ConnectionInfo,
    connect_event,
    disconnect_event,
    error_reply,
    message_event,
    new_connection_id,
    new_message_id,
)
from emulator.core.websocket_routes import CONNECT, DISCONNECT, WebSocketRouter
from emulator.gateway.authorizer import Authorizers
from emulator.gateway.integration import result_within
from emulator.gateway.ws_connection import LimitedProtocol, WebSocketConnection
from emulator.metrics import Metrics
from emulator.runtime.invocation import InvocationResult, Runtime, Throttled

log = logging.getLogger("timeoutlab.websocket")

READ_CHUNK = 65536
#: Real seconds to wait for the peer's side of a closing handshake.
CLOSE_TIMEOUT = 5.0
#: Real seconds of silence that end the lingering after a refused chunked body.
LINGER_PAUSE = 0.2
#: Real seconds a stopping server gives idle connections before cutting them.
SHUTDOWN_GRACE = 0.5
NO_ROUTE = "(no route)"
_STATUSES = {status.value for status in HTTPStatus}


class _Stalled(Exception):
    """A connection passed its idle timeout (``started`` False) or its header timeout."""

    def __init__(self, started: bool) -> None:
        self.started = started


class _TooLarge(Exception):
    """A request body over the message limit; ``size`` is its Content-Length when it had one."""

    def __init__(self, size: int | None) -> None:
        self.size = size


class _RequestTimer:
    """Reads for one request under the connection timeouts (real seconds, the loop's clock):
    the idle timeout until its first byte, then the header timeout for the whole request."""

    def __init__(self, timeouts: ConnectionTimeouts, *, started: bool) -> None:
        self._loop = asyncio.get_running_loop()
        self._timeouts = timeouts
        self.started = False
        self._deadline = self._loop.time() + timeouts.idle_timeout
        if started:
            self._start()

    def _start(self) -> None:
        self.started = True
        self._deadline = self._loop.time() + self._timeouts.header_timeout

    async def read(self, reader: asyncio.StreamReader) -> bytes:
        """The next bytes (b"" at end of stream); raises _Stalled when the deadline passes."""
        remaining = self._deadline - self._loop.time()
        if remaining <= 0:
            raise _Stalled(self.started)
        try:
            data = await asyncio.wait_for(reader.read(READ_CHUNK), remaining)
        except TimeoutError:
            raise _Stalled(self.started) from None
        if data and not self.started:
            self._start()
        return data


class _Refused(Exception):
    def __init__(self, status: int, body: str) -> None:
        self.status, self.body = status, body


def _json_body(message: str) -> str:
    return json.dumps({"message": message})


class WebSocketGateway:
    def __init__(
        self,
        *,
        router: WebSocketRouter,
        api: ApiIdentity,
        runtime: Runtime,
        timeouts: IntegrationTimeouts,
        limits: WebSocketLimits,
        metrics: Metrics,
        clock: Clock,
        authorizer: AuthorizerSpec | None = None,
        region: str = "us-east-1",
        credentials: sigv4.Credentials | None = None,
    ) -> None:
        # None: any well-formed SigV4 signature passes @connections; else its value is verified.
        self.credentials = credentials
        self.authorizer = authorizer  # the $connect route's Lambda authorizer
        # --ws-check-origin: handshakes from other origins are refused with 403 (the stack sets
        # it once the ports are known). None: any Origin, as AWS: its access controls for
        # WebSocket APIs are IAM and $connect Lambda authorizers, no Origin check
        # (https://docs.aws.amazon.com/apigateway/latest/developerguide/
        # apigateway-websocket-api-control-access.html); that it ignores Origin is not stated.
        self.origin_policy: OriginPolicy | None = None
        # The Host names @connections answers to (the stack sets the emulator's own): a
        # DNS-rebound name is refused as on the control plane; AWS has no such check.
        self.hosts = HostPolicy()
        self.region = region
        self.authorizers = Authorizers(runtime, clock, metrics)
        self.router = router
        self.api = api
        self.runtime = runtime
        self.timeouts = timeouts
        self.limits = limits
        self.metrics = metrics
        self.clock = clock
        self.connections: dict[str, WebSocketConnection] = {}
        self._rate = RateLimiter(limits.new_connections_per_second, clock.now())
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task] = set()
        self._disconnects: set[asyncio.Task] = set()  # $disconnect routes not finished yet
        self._writers: set[asyncio.StreamWriter] = set()
        self.connection_timeouts = ConnectionTimeouts()

    @property
    def disconnecting(self) -> int:
        """Closed connections whose $disconnect route has not finished yet."""
        return len(self._disconnects)

    # -- server lifecycle ----------------------------------------------------------------------

    async def start(
        self,
        host: str,
        port: int,
        ssl: Any = None,
        *,
        backlog: int = DEFAULT_LISTEN_BACKLOG,
        timeouts: ConnectionTimeouts | None = None,
    ) -> int:
        """Bind the port (the handlers must know it before they can run) without listening yet:
        ``serve`` opens it once they can. ``backlog``: the listening socket's accept queue;
        ``timeouts``: the header and idle timeouts of its HTTP requests (default: the core's)."""
        if timeouts is not None:
            self.connection_timeouts = timeouts
        self._server = await asyncio.start_server(
            self._client, host, port, ssl=ssl, backlog=backlog, start_serving=False
        )
        return self._server.sockets[0].getsockname()[1]

    async def serve(self) -> None:
        assert self._server is not None
        await self._server.start_serving()

    async def stop(self) -> None:
        for connection in list(self.connections.values()):
            connection.close(1001, "Going away: server shutting down")
        if self._server is not None:
            self._server.close()  # no new connections
        await asyncio.sleep(0)  # let the closing handshakes go out
        for writer in list(self._writers):
            writer.close()  # idle keep-alive clients read end-of-stream and their tasks end
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=SHUTDOWN_GRACE)
        for writer in list(self._writers):  # peers that never answered (e.g. a TLS shutdown)
            writer.transport.abort()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=CLOSE_TIMEOUT)

    def _spawn(self, coroutine) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        self._writers.add(writer)
        try:
            await self._serve_http(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except Exception:  # the emulator's own fault: say so, and keep serving the others
            log.exception("error serving a connection on the WebSocket port")
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(writer.wait_closed(), CLOSE_TIMEOUT)

    # -- plain HTTP: @connections, and the handshake request ----------------------------------

    async def _serve_http(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Requests on one connection until it closes, upgrades, breaks HTTP/1.1 (400, logged in
        one line), sends a body over the message limit (413, then closed), or passes the
        header or idle timeout (closed, the former logged)."""
        http = h11.Connection(h11.SERVER)
        received = 0
        while True:
            # Pipelined bytes already buffered start the request's header timer at once.
            timer = _RequestTimer(self.connection_timeouts, started=bool(http.trailing_data[0]))
            request: h11.Request | None = None
            try:
                event, read = await self._next_http_event(http, reader, timer)
                received += read
                if not isinstance(event, h11.Request):
                    return
                request = event
                if _wants_websocket(event):
                    await self._websocket(event, http, reader, writer, received)
                    return
                body, read = await self._http_body(http, reader, event, timer)
            except h11.RemoteProtocolError as exc:
                await self._malformed(http, writer, exc)
                return
            except _Stalled as stalled:
                if stalled.started:
                    log.info(
                        "closing a connection from %s: request not received within %g s",
                        _peer(writer),
                        self.connection_timeouts.header_timeout,
                    )
                return
            except _TooLarge as too_large:
                assert request is not None
                await self._too_large(http, reader, writer, request, too_large.size)
                return
            response = self._management(event, body)
            writer.write(_http_bytes(http, response, head=event.method == b"HEAD"))
            await writer.drain()
            if h11.MUST_CLOSE in (http.our_state, http.their_state):
                return
            http.start_next_cycle()

    @staticmethod
    async def _malformed(
        http: h11.Connection, writer: asyncio.StreamWriter, error: h11.RemoteProtocolError
    ) -> None:
        """Not HTTP/1.1: one log line and the parser's status (400, 431...), then close."""
        log.info(
            "malformed request from %s on the WebSocket port: %s", _peer(writer), printable(error)
        )
        with contextlib.suppress(h11.LocalProtocolError):  # too broken even to answer
            writer.write(_http_bytes(http, malformed_request(str(error), error.error_status_hint)))
            await writer.drain()

    async def _too_large(
        self,
        http: h11.Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        request: h11.Request,
        size: int | None,
    ) -> None:
        """A body over the message limit: 413 PayloadTooLargeException naming the limit, the rest
        of the body read and dropped (``_linger``), then close."""
        limit = self.limits.max_message_bytes
        method = request.method.decode()
        target = request.target.decode(errors="replace")
        log.info(
            "%s %s from %s: body over the %d-byte limit refused",
            printable(method),
            printable(target),
            _peer(writer),
            limit,
        )
        self.metrics.ws_management(method, 413)
        response = management.payload_too_large(limit, size)
        # The rest of the body goes unread: the client must not reuse this connection.
        response = dataclasses.replace(
            response, headers=[*response.headers, ("Connection", "close")]
        )
        writer.write(_http_bytes(http, response, head=method == "HEAD"))
        await writer.drain()
        # With a Content-Length, none of the body was taken from h11's buffer yet.
        unsent = None if size is None else size - len(http.trailing_data[0])
        await _linger(reader, unsent, self.connection_timeouts.header_timeout)

    @staticmethod
    async def _next_http_event(
        http: h11.Connection, reader: asyncio.StreamReader, timer: _RequestTimer
    ) -> tuple[Any, int]:
        read = 0
        while True:
            event = http.next_event()
            if event is not h11.NEED_DATA:
                return event, read
            data = await timer.read(reader)
            read += len(data)
            http.receive_data(data)

    async def _http_body(
        self,
        http: h11.Connection,
        reader: asyncio.StreamReader,
        request: h11.Request,
        timer: _RequestTimer,
    ) -> tuple[bytes, int]:
        """The request's body, read as it arrives and refused (``_TooLarge``) as soon as it
        passes the WebSocket message limit, the most any request on this port may carry
        (@connections' PostToConnection data): a Content-Length over it is refused before a
        byte of the body is read, a chunked body at the first byte past it."""
        limit = self.limits.max_message_bytes
        declared = next((v for k, v in request.headers if k == b"content-length"), None)
        if declared is not None and int(declared) > limit:  # h11 checked it is a number
            raise _TooLarge(int(declared))
        chunks, size, read = [], 0, 0
        while True:
            event, n = await self._next_http_event(http, reader, timer)
            read += n
            if isinstance(event, h11.Data):
                size += len(event.data)
                if size > limit:
                    raise _TooLarge(None)
                chunks.append(event.data)
            elif isinstance(event, h11.EndOfMessage):
                return b"".join(chunks), read
            else:
                raise h11.RemoteProtocolError("connection closed mid-request")

    def _management(self, request: h11.Request, body: bytes) -> HttpResponse:
        """One @connections call: its SigV4 signature first (``emulator.core.sigv4``: 403 for
        none, a malformed one, or, with credentials, a wrong one), then the path, the stage and
        the verb."""
        method = request.method.decode()
        target = request.target.decode("latin-1")
        raw = request.headers.raw_items()
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw]
        host = next((value for name, value in headers if name.lower() == "host"), None)
        if not self.hosts.allows(host):
            refused_host = printable(host_of(host or ""))
            log.info(
                "%s %s refused on the @connections port: host '%s' is not the emulator's",
                method,
                printable(target),
                refused_host,
            )
            self.metrics.ws_management(method, 403)
            return management.host_refused(refused_host)
        try:
            # @connections answers SigV4-signed requests only (service "execute-api").
            sigv4.check(
                sigv4.SignedRequest(method, target, headers, body),
                self.credentials,
                sigv4.MANAGEMENT_SERVICE,
                # Real wall time: clients sign with theirs (the emulated epoch is only the
                # handlers' clock, emulator.clock).
                now=datetime.datetime.now(datetime.UTC),
            )
        except sigv4.SignatureRefusal as refusal:
            first_line = refusal.message.split("\n")[0]
            log.info("@connections refused with %s: %s", refusal.error_type, printable(first_line))
            self.metrics.ws_management(method, refusal.response.status)
            return refusal.response
        parsed = management.parse_path(urlsplit(target).path)
        if parsed is None:
            response = management.not_found()
        elif parsed[0] != self.api.stage:
            response = management.forbidden()
        else:
            response = self._connection_call(method, parsed[1], body)
        self.metrics.ws_management(method, response.status)
        return response

    def _connection_call(self, method: str, connection_id: str, body: bytes) -> HttpResponse:
        connection = self.connections.get(connection_id)
        if method not in ("POST", "GET", "DELETE"):
            return management.not_found()
        limit = self.limits.max_message_bytes
        if method == "POST" and len(body) > limit:
            return management.payload_too_large(limit, len(body))
        if connection is None or not connection.open:
            return management.gone()
        if method == "POST":
            try:
                connection.send_message(body.decode("utf-8"))
            except UnicodeDecodeError:
                connection.send_message(body, binary=True)
            self.metrics.ws_job_message(body)
            return management.posted()
        if method == "GET":
            return management.connection_status(
                connected_at=connection.info.connected_at_ms / 1000,  # as the events say
                last_active_at=connection.last_active_epoch,
                source_ip=connection.info.source_ip,
                user_agent=connection.info.user_agent,
            )
        connection.close(1000, "Connection deleted through @connections")
        return management.deleted()

    # -- the WebSocket handshake and $connect ----------------------------------------------------

    async def _websocket(
        self,
        request: h11.Request,
        http: h11.Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        received: int,
    ) -> None:
        self.metrics.ws_wire(received=received)
        target = request.target.decode()
        headers = [(k.decode(), v.decode("latin-1")) for k, v in request.headers.raw_items()]
        # One protocol object answers the handshake h11 has parsed; a second one, born open,
        # speaks the frames (its parser must not wait for an HTTP request it will never see).
        handshaker = ServerProtocol()
        handshake = handshaker.accept(WsRequest(target, Headers(headers)))
        protocol = LimitedProtocol(self.limits)  # the core's limits trigger first
        split = urlsplit(target)
        peer = writer.get_extra_info("peername")
        info = ConnectionInfo(
            connection_id=new_connection_id(),
            connected_at_ms=int(self.clock.epoch() * 1000),
            source_ip=peer[0] if peer else "127.0.0.1",
            user_agent=dict((k.lower(), v) for k, v in headers).get("user-agent"),
            headers=headers,
            query_string_pairs=parse_qsl(split.query, keep_blank_values=True),
        )
        connection = WebSocketConnection(
            info, protocol, writer, limits=self.limits, metrics=self.metrics, clock=self.clock
        )
        try:
            if handshake.status_code != 101:
                raise _Refused(handshake.status_code, handshake.body.decode(errors="replace"))
            if split.path.rstrip("/") != f"/{self.api.stage}":
                raise _Refused(403, _json_body("Forbidden"))
            if self.origin_policy is not None and not self.origin_policy.allows(
                dict((k.lower(), v) for k, v in headers).get("origin")
            ):
                raise _Refused(403, _json_body(CROSS_ORIGIN_MESSAGE))
            if not self._rate.allow(self.clock.now()):
                raise _Refused(429, _json_body("Limit Exceeded"))
            self.connections[info.connection_id] = connection
            await self._connect_route(connection)
        except _Refused as refusal:
            self.connections.pop(info.connection_id, None)
            self.metrics.ws_refused(refusal.status)
            # websockets' own refusals are paragraphs ("Failed to open a WebSocket connection:
            # ...\n\nYou cannot access..."): their first line says it.
            first_line = refusal.body.strip().split("\n", 1)[0]
            log.info(
                "WebSocket handshake refused with %d: %s", refusal.status, printable(first_line)
            )
            connection.write(handshaker.reject(refusal.status, refusal.body).serialize())
            await writer.drain()
            return

        connection.write(handshake.serialize())
        connection.establish()
        self.metrics.ws_opened(info.connection_id)
        log.info("connected %s from %s", info.connection_id, info.source_ip)
        leftover, _ = http.trailing_data
        expiry = self._spawn(self._expire(connection))
        try:
            await self._read_loop(connection, reader, leftover)
        finally:
            expiry.cancel()
            self.connections.pop(info.connection_id, None)
            code = protocol.close_code if protocol.state is State.CLOSED else 1006
            reason = protocol.close_reason if protocol.state is State.CLOSED else ""
            # One close code and reason for the log, the metrics and the $disconnect event: the
            # ones the gateway sent when it closed first (1009, 1003, 1001...), else the client's.
            said_code, said_reason = _close_said(protocol, code, reason)
            self.metrics.ws_closed(info.connection_id, said_code)
            said = f"{said_code} {printable(said_reason)}" if said_reason else str(said_code)
            log.info("disconnected %s (%s)", info.connection_id, said)
            # Counted from the moment the connection leaves ``connections``, so whoever waits
            # for the gateway to be idle never sees a gap before the $disconnect Lambda starts.
            disconnect = self._spawn(self._disconnect_route(connection, said_code, said_reason))
            self._disconnects.add(disconnect)
            disconnect.add_done_callback(self._disconnects.discard)

    async def _connect_route(self, connection: WebSocketConnection) -> None:
        """Run $connect (after its authorizer, if it has one); a non-2xx answer, an error or a
        timeout refuses the handshake."""
        route = self.router.route(CONNECT)
        if route is None:
            return
        request_id = new_request_id()
        if self.authorizer is not None:
            await self._authorize(connection, self.authorizer, request_id)
        event = connect_event(
            connection.info, self.api, request_id=request_id, epoch=self.clock.epoch()
        )
        outcome, result = await self._invoke(route.key, route.function, event)
        if outcome == "integration_timeout":
            raise _Refused(504, _json_body("Endpoint request timed out"))
        if outcome != "ok" or result is None:
            raise _Refused(500, _json_body("Internal server error"))
        payload = result.payload
        status = payload.get("statusCode", 200) if isinstance(payload, dict) else 200
        if not isinstance(status, int) or not 200 <= status < 300:
            body = payload.get("body") if isinstance(payload, dict) else None
            raise _Refused(status if isinstance(status, int) else 500, str(body or ""))

    async def _authorize(
        self, connection: WebSocketConnection, spec: AuthorizerSpec, request_id: str
    ) -> None:
        """The $connect REQUEST authorizer: a missing identity source refuses the handshake with
        401, a Deny with 403, a failure with 500; on Allow the connection keeps ``principalId``
        and the ``context`` map for the ``requestContext.authorizer`` of every later event
        (https://docs.aws.amazon.com/apigateway/latest/developerguide/
        apigateway-websocket-api-lambda-auth.html)."""
        info = connection.info
        arn = method_arn(self.api, self.region, CONNECT, "")

        def request_event() -> dict:
            event = connect_event(info, self.api, request_id=request_id, epoch=self.clock.epoch())
            return websocket_request_event(event, arn)

        try:
            output, _ = await self.authorizers.authorize(
                spec,
                headers=info.headers,
                query=info.query_string_pairs,
                arn=arn,
                request_event=request_event,
            )
        except AuthorizerRefusal as refusal:
            response = refusal.response
            raise _Refused(response.status, response.body.decode()) from None
        connection.info = dataclasses.replace(
            info, authorizer=request_context_authorizer(output, None)
        )

    # -- messages --------------------------------------------------------------------------------

    async def _read_loop(
        self, connection: WebSocketConnection, reader: asyncio.StreamReader, leftover: bytes
    ) -> None:
        protocol = connection.protocol
        assembler = MessageAssembler(self.limits)
        data = leftover
        while True:
            if data:
                self.metrics.ws_wire(received=len(data))
                protocol.receive_data(data)
            for event in protocol.events_received():
                # A read may hold frames that follow one that failed the connection (1009):
                # once failed, they are dropped unprocessed, as the protocol's own parser does.
                if isinstance(event, Frame) and not connection.failed:
                    self._on_frame(connection, assembler, event)
            connection.flush()
            await connection.writer.drain()
            if protocol.state is State.CLOSED:
                return
            try:
                if protocol.state is State.CLOSING:
                    data = await asyncio.wait_for(reader.read(READ_CHUNK), CLOSE_TIMEOUT)
                else:
                    data = await reader.read(READ_CHUNK)
            except TimeoutError:
                return
            if not data:
                protocol.receive_eof()
                connection.flush()
                return

    def _on_frame(
        self, connection: WebSocketConnection, assembler: MessageAssembler, frame: Frame
    ) -> None:
        if frame.opcode not in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT):
            return  # ping, pong and close are the protocol's business; they are not activity
        outcome = assembler.frame(
            frame.data,
            first=frame.opcode is not Opcode.CONT,
            binary=frame.opcode is Opcode.BINARY,
            fin=frame.fin,
        )
        if isinstance(outcome, Close):
            log.info("closing %s with %d: %s", connection.id, outcome.code, outcome.reason)
            connection.fail(outcome.code, outcome.reason)
        elif outcome is not None:
            connection.activity()
            self.metrics.ws_message("in", len(outcome))
            self._spawn(self._dispatch(connection, outcome, self.clock.now()))

    async def _dispatch(
        self, connection: WebSocketConnection, message: bytes, received_at: float
    ) -> None:
        """Route one message (received at ``received_at``, emulated) to its Lambda and answer
        as AWS does."""
        request_id = new_request_id()
        text = message.decode("utf-8", errors="replace")  # text frames only: binary ones close
        route = self.router.select(text)

        def reply(what: str) -> str:
            return error_reply(what, connection_id=connection.id, request_id=request_id)

        if route is None:
            self.metrics.ws_route(NO_ROUTE, "forbidden")
            connection.send_message(reply("Forbidden"))
            return
        event = message_event(
            connection.info,
            self.api,
            route_key=route.key,
            body=text,
            is_base64=False,
            request_id=request_id,
            message_id=new_message_id(),
            epoch=self.clock.epoch(),
        )
        outcome, result = await self._invoke(route.key, route.function, event)
        if outcome == "integration_timeout":
            connection.send_message(reply("Endpoint request timed out"))
        elif outcome != "ok" or result is None:
            connection.send_message(reply("Internal server error"))
        elif route.two_way:
            answer = _route_response(result.payload)
            if answer is not None:
                connection.send_message(answer)
                self.metrics.ws_job_message(answer)
        if result is not None:
            self.metrics.lambda_answered(received_at, self.clock.now(), result.record)

    async def _disconnect_route(
        self, connection: WebSocketConnection, code: int, reason: str
    ) -> None:
        route = self.router.route(DISCONNECT)
        if route is None:
            return
        event = disconnect_event(
            connection.info,
            self.api,
            status_code=code,
            reason=reason,
            request_id=new_request_id(),
            epoch=self.clock.epoch(),
        )
        await self._invoke(route.key, route.function, event)

    async def _invoke(
        self, route_key: str, function: str, event: dict
    ) -> tuple[str, InvocationResult | None]:
        """Invoke a route's Lambda under the integration timeout; (outcome, result)."""
        try:
            invocation = self.runtime.invoke(function, event)
        except Throttled:
            self.metrics.ws_route(route_key, "throttled")
            return "throttled", None
        timeout = self.timeouts.for_route(route_key)
        result = await result_within(
            invocation, timeout, route_key, metrics=self.metrics, clock=self.clock, log=log
        )
        if result is None:
            self.metrics.ws_route(route_key, "integration_timeout")
            return "integration_timeout", None
        outcome = "ok" if result.ok else "error"
        self.metrics.ws_route(route_key, outcome)
        return outcome, result

    async def _expire(self, connection: WebSocketConnection) -> None:
        """Close the connection when it has been idle, or open, for too long."""
        while connection.protocol.state is State.OPEN:
            await self.clock.sleep(connection.lifetime.next_deadline() - self.clock.now())
            close = connection.lifetime.expired(self.clock.now())
            if close is not None:
                log.info("closing %s with %d: %s", connection.id, close.code, close.reason)
                connection.close(close.code, close.reason)
                deadline = connection.lifetime.next_deadline()
                self.metrics.connection_limit_close(deadline, self.clock.now())
                return


def _close_said(protocol: LimitedProtocol, code: int | None, reason: str | None) -> tuple[int, str]:
    """The close code and reason of a connection that ended, for the log, the metrics and the
    ``$disconnect`` event's ``requestContext.disconnectStatusCode`` / ``disconnectReason``.
    AWS's $disconnect event carries the close of the connection there (its execution log shows
    ``"disconnectStatusCode": 1000, "disconnectReason": "Connection Closed Normally"``,
    https://github.com/aws/chalice/issues/2060; the event's context is described at
    https://docs.aws.amazon.com/apigateway/latest/developerguide/
    apigateway-websocket-api-mapping-template-reference.html). Those the server sent when it
    closed first: a 1009, 1007 or 1003 it failed the connection with (which the protocol reports
    as 1006: the peer never answered), a 1001 for the idle timeout, whatever the peer echoed.
    Else the protocol's ``code`` (the client's, when it closed first; 1006 for a connection
    dropped without a close frame; 1005 for a close frame without a code) and ``reason``."""
    sent, received = protocol.close_sent, protocol.close_rcvd
    if sent is not None and (received is None or protocol.close_rcvd_then_sent is False):
        return sent.code, sent.reason
    return code or 1005, reason or ""


def _wants_websocket(request: h11.Request) -> bool:
    upgrade = next((v for k, v in request.headers if k == b"upgrade"), b"")
    return request.method == b"GET" and upgrade.lower() == b"websocket"


def _route_response(payload: Any) -> str | None:
    """What a two-way route sends back: the proxy result's body, or the value itself."""
    if isinstance(payload, dict):
        body = payload.get("body")
        return None if body is None else str(body)
    if payload is None:
        return None
    return payload if isinstance(payload, str) else json.dumps(payload)


async def _linger(reader: asyncio.StreamReader, unsent: int | None, seconds: float) -> None:
    """Before closing after an early 413, read and drop what the client is still sending: the
    ``unsent`` rest of its declared body (None: a chunked body, until it pauses), for at most
    ``seconds`` (the header timeout: a whole request may take that long). Closing with unread
    bytes would make the kernel send a TCP reset that can destroy the answer before the client
    reads it (RFC 9112 section 9.6: a server closing early "SHOULD ... continue reading from the
    connection until it receives a corresponding close by the client, or until the server is
    reasonably certain that its own TCP stack has received the client's acknowledgement of the
    packet(s) containing the server's last response",
    https://www.rfc-editor.org/rfc/rfc9112#section-9.6). Nothing read here is kept."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    with contextlib.suppress(TimeoutError, ConnectionError):
        while unsent is None or unsent > 0:
            left = deadline - loop.time()
            if left <= 0:
                return
            wait = left if unsent is not None else min(left, LINGER_PAUSE)
            data = await asyncio.wait_for(reader.read(READ_CHUNK), wait)
            if not data:
                return
            if unsent is not None:
                unsent -= len(data)


def _peer(writer: asyncio.StreamWriter) -> str:
    peer = writer.get_extra_info("peername")
    return str(peer[0]) if peer else "?"


def _http_bytes(http: h11.Connection, response: HttpResponse, *, head: bool = False) -> bytes:
    """The response's bytes; for a HEAD request the headers only, Content-Length included, as
    RFC 9110 section 9.3.2 says: "The HEAD method is identical to GET except that the server MUST
    NOT send content in the response" (https://www.rfc-editor.org/rfc/rfc9110#section-9.3.2)."""
    headers = [(k, v) for k, v in response.headers]
    if response.status != 204:
        headers.append(("Content-Length", str(len(response.body))))
    reason = HTTPStatus(response.status).phrase.encode() if response.status in _STATUSES else b""
    data = (
        http.send(h11.Response(status_code=response.status, headers=headers, reason=reason)) or b""
    )
    if response.body and not head:
        data += http.send(h11.Data(data=response.body)) or b""
    return data + (http.send(h11.EndOfMessage()) or b"")
