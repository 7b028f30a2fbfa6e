"""API Gateway REST API emulation: stage, routes, Lambda proxy integration, integration timeout.

The integration timeout is measured from the moment the Lambda is invoked; when it passes the
client gets AWS's 504 while the invocation runs on to its end, as on AWS.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

from aiohttp import web
from multidict import CIMultiDict

from emulator.clock import Clock
from emulator.core import responses
from emulator.core.deadlines import IntegrationTimeouts, StreamLimits
from emulator.core.events import (
    ApiIdentity,
    new_extended_request_id,
    new_request_id,
    rest_proxy_event,
)
from emulator.core.proxy import MalformedProxyResponse, map_proxy_result
from emulator.core.responses import HttpResponse
from emulator.core.routing import RestRouter
from emulator.gateway.http import BodyTooLarge, incoming, read_body, to_aiohttp
from emulator.metrics import UNMATCHED_ROUTE, Metrics
from emulator.runtime.invocation import Runtime, Throttled

log = logging.getLogger("timeoutlab.gateway")


class RestGateway:
    """Answers every request under the stage path as API Gateway REST would."""

    def __init__(
        self,
        router: RestRouter,
        api: ApiIdentity,
        runtime: Runtime,
        timeouts: IntegrationTimeouts,
        metrics: Metrics,
        clock: Clock,
        streaming_routes: frozenset[str] = frozenset(),
        stream_limits: StreamLimits | None = None,
    ) -> None:
        self.streaming_routes = streaming_routes
        self.stream_limits = stream_limits or StreamLimits()
        self.router = router
        self.api = api
        self.runtime = runtime
        self.timeouts = timeouts
        self.metrics = metrics
        self.clock = clock

    async def handle(self, request: web.Request) -> web.StreamResponse:
        started = self.clock.now()
        request_id = new_request_id()
        route_key, response, timed_out = await self._respond(request, request_id, started)
        elapsed = self.clock.now() - started
        self.metrics.record_request(
            route_key, response.status, elapsed * 1000, integration_timeout=timed_out
        )
        log.info(
            "%s %s -> %d in %.3f s emulated%s (requestId %s)",
            request.method,
            request.path,
            response.status,
            elapsed,
            " [integration timeout]" if timed_out else "",
            request_id,
        )
        if isinstance(response, web.StreamResponse):
            return response  # streamed: already sent
        return to_aiohttp(response, _aws_headers(request_id))

    async def _respond(
        self, request: web.Request, request_id: str, received_at: float
    ) -> tuple[str, HttpResponse | web.StreamResponse, bool]:
        try:
            body = await read_body(request, responses.REST_PAYLOAD_LIMIT)
        except BodyTooLarge:
            return UNMATCHED_ROUTE, responses.content_length_exceeded(), False
        resource_path = self.router.strip_stage(request.path)
        if resource_path is None:
            return UNMATCHED_ROUTE, responses.forbidden(), False
        match = self.router.match(request.method, resource_path)
        if match is None:
            return UNMATCHED_ROUTE, responses.missing_authentication_token(), False
        route = match.route

        event = rest_proxy_event(
            incoming(request, body),
            match,
            self.api,
            resource_path=resource_path,
            request_id=request_id,
            epoch=self.clock.epoch(),
        )
        if len(json.dumps(event)) > responses.LAMBDA_SYNC_PAYLOAD_LIMIT:
            return route.key, responses.request_too_long(), False

        if route.key in self.streaming_routes:
            streamed, timed_out = await self._stream(
                request, route.key, route.function, event, request_id
            )
            return route.key, streamed, timed_out
        try:
            invocation = self.runtime.invoke(route.function, event)
        except Throttled:
            return route.key, responses.lambda_throttled(), False
        timeout = self.timeouts.for_route(route.key)
        result = await invocation.result_within(timeout)
        if result is None:
            deadline = invocation.deadline(timeout)
            self.metrics.integration_timeout_answered(deadline, self.clock.now())
            log.warning(
                "%s: integration timed out after %.3f s; Lambda %s runs on (RequestId %s)",
                route.key,
                timeout,
                invocation.record.function,
                invocation.record.request_id,
            )
            return route.key, responses.integration_timeout(), True
        mapped = _mapped(route.key, result.payload, result.error)
        self.metrics.lambda_answered(received_at, self.clock.now(), result.record)
        return route.key, mapped, False

    async def _stream(
        self, request: web.Request, route_key: str, function: str, event: dict, request_id: str
    ) -> tuple[web.StreamResponse | HttpResponse, bool]:
        """Response streaming: the integration timeout covers the time to the response's
        metadata; the body then flows as the handler yields it, within the stream limits."""
        loop = asyncio.get_running_loop()
        chunks: asyncio.Queue = asyncio.Queue()
        done = object()
        try:
            invocation = self.runtime.invoke(
                function,
                event,
                on_chunk=lambda item: loop.call_soon_threadsafe(chunks.put_nowait, item),
            )
        except Throttled:
            return responses.lambda_throttled(), False
        invocation.task.add_done_callback(lambda _: chunks.put_nowait(done))
        started = self.clock.now()
        timeout = self.timeouts.for_route(route_key)
        getting = loop.create_task(chunks.get())
        first = await invocation.within(getting, timeout)
        if first is None:
            getting.cancel()
            invocation.caller_gone()
            self.metrics.integration_timeout_answered(
                invocation.deadline(timeout), self.clock.now()
            )
            return responses.integration_timeout(), True
        if first is done:  # the handler returned without streaming
            result = invocation.task.result()
            return _mapped(route_key, result.payload, result.error), False
        try:
            head = map_proxy_result(first)
        except MalformedProxyResponse as exc:
            invocation.caller_gone()
            log.error("%s: the stream's metadata is malformed (%s)", route_key, exc)
            return responses.internal_server_error(), False
        response = web.StreamResponse(
            status=head.status, headers=CIMultiDict(head.headers + _aws_headers(request_id))
        )
        await response.prepare(request)
        limits = self.stream_limits
        while True:
            left = started + limits.max_duration - self.clock.now()
            try:
                item = await asyncio.wait_for(
                    chunks.get(), self.clock.to_real(min(limits.idle_timeout, left))
                )
            except TimeoutError:
                invocation.caller_gone()
                log.warning(
                    "%s: stream cut after %.1f s (idle or 15 min limit)",
                    route_key,
                    self.clock.now() - started,
                )
                if request.transport is not None:
                    request.transport.close()
                return response, False
            if item is done:
                break
            try:
                await response.write(item.encode() if isinstance(item, str) else bytes(item))
            except ConnectionResetError:  # the client left (it may have what it wanted)
                invocation.caller_gone()
                return response, False
        with contextlib.suppress(ConnectionResetError):
            await response.write_eof()
        return response, False


def _aws_headers(request_id: str) -> list[tuple[str, str]]:
    return [("x-amzn-RequestId", request_id), ("x-amz-apigw-id", new_extended_request_id())]


def _mapped(route_key: str, payload: object, error: dict | None) -> HttpResponse:
    """The client's response for a finished invocation: its proxy result, or 502."""
    if error is not None:
        log.error(
            "%s: Lambda execution failed due to customer function error: %s",
            route_key,
            error.get("errorMessage"),
        )
        return responses.internal_server_error()
    try:
        return map_proxy_result(payload)
    except MalformedProxyResponse as exc:
        log.error(
            "%s: Execution failed due to configuration error: Malformed Lambda proxy response (%s)",
            route_key,
            exc,
        )
        return responses.internal_server_error()
