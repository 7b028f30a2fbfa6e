"""API Gateway REST API emulation: stage, routes, Lambda proxy integration, integration timeout.

The integration timeout is measured from the moment the Lambda is invoked; when it passes the
client gets AWS's 504 while the invocation runs on to its end, as on AWS.
"""

from __future__ import annotations

import asyncio
import json
import logging

from aiohttp import web

from emulator.clock import ScaledClock
from emulator.core import responses
from emulator.core.deadlines import IntegrationTimeouts
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
from emulator.runtime.inprocess import InProcessRuntime, Throttled

log = logging.getLogger("timeoutlab.gateway")


class RestGateway:
    """Answers every request under the stage path as API Gateway REST would."""

    def __init__(
        self,
        router: RestRouter,
        api: ApiIdentity,
        runtime: InProcessRuntime,
        timeouts: IntegrationTimeouts,
        metrics: Metrics,
        clock: ScaledClock,
    ) -> None:
        self.router = router
        self.api = api
        self.runtime = runtime
        self.timeouts = timeouts
        self.metrics = metrics
        self.clock = clock

    async def handle(self, request: web.Request) -> web.Response:
        started = self.clock.now()
        request_id = new_request_id()
        route_key, response, timed_out = await self._respond(request, request_id)
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
        return to_aiohttp(
            response,
            [("x-amzn-RequestId", request_id), ("x-amz-apigw-id", new_extended_request_id())],
        )

    async def _respond(
        self, request: web.Request, request_id: str
    ) -> tuple[str, HttpResponse, bool]:
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

        try:
            invocation = self.runtime.invoke(route.function, event)
        except Throttled:
            return route.key, responses.lambda_throttled(), False
        timeout = self.timeouts.for_route(route.key)
        try:
            result = await asyncio.wait_for(
                asyncio.shield(invocation.task), self.clock.to_real(timeout)
            )
        except TimeoutError:
            invocation.caller_gone()
            log.warning(
                "%s: integration timed out after %.3f s; Lambda %s runs on (RequestId %s)",
                route.key,
                timeout,
                invocation.record.function,
                invocation.record.request_id,
            )
            return route.key, responses.integration_timeout(), True

        if not result.ok:
            log.error(
                "%s: Lambda execution failed due to customer function error: %s",
                route.key,
                (result.error or {}).get("errorMessage"),
            )
            return route.key, responses.internal_server_error(), False
        try:
            return route.key, map_proxy_result(result.payload), False
        except MalformedProxyResponse as exc:
            log.error(
                "%s: Execution failed due to configuration error: "
                "Malformed Lambda proxy response (%s)",
                route.key,
                exc,
            )
            return route.key, responses.internal_server_error(), False
