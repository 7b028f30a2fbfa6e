"""API Gateway HTTP API (v2) emulation: routes at the root, Lambda proxy integration, 30 s limit.

The HTTP API is a separate API on its own port, on the ``$default`` stage: no stage in the path,
no ``/_emulator/`` and no Lambda Invoke API there. Its integration timeout is measured from the
moment the Lambda is invoked; when it passes, the client gets 503 while the invocation runs on to
its end, as on AWS. The rules (routing, events, response mapping, error answers) live in
``emulator.core``; this module owns the socket side and the clock.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace

from aiohttp import web

from emulator.clock import Clock
from emulator.core import responses
from emulator.core.deadlines import IntegrationTimeouts
from emulator.core.events import ApiIdentity, new_extended_request_id
from emulator.core.http_api_events import http_api_event
from emulator.core.http_api_proxy import map_http_api_result
from emulator.core.http_api_routing import HttpApiRoute, HttpApiRouter
from emulator.core.log_text import printable
from emulator.core.proxy import MalformedProxyResponse
from emulator.core.request_head import RequestHeadTooLarge, check_head
from emulator.core.responses import HttpResponse
from emulator.gateway.http import BodyTooLarge, head_of, incoming, read_body, to_aiohttp
from emulator.gateway.integration import result_within
from emulator.metrics import UNMATCHED_ROUTE, Metrics
from emulator.runtime.invocation import Runtime, Throttled

log = logging.getLogger("timeoutlab.gateway.http_api")


class HttpApiGateway:
    """Answers every request on the HTTP API's port as API Gateway's HTTP API would."""

    def __init__(
        self,
        router: HttpApiRouter,
        api: ApiIdentity,
        runtime: Runtime,
        timeouts: IntegrationTimeouts,
        metrics: Metrics,
        clock: Clock,
    ) -> None:
        self.router = router
        self.api = api
        self.runtime = runtime
        self.timeouts = timeouts
        self.metrics = metrics
        self.clock = clock

    async def handle(self, request: web.Request) -> web.Response:
        started = self.clock.now()
        # HTTP APIs' request id, in the event's requestContext.requestId and apigw-requestid.
        request_id = new_extended_request_id()
        route_key, response, timed_out = await self._respond(request, request_id, started)
        elapsed = self.clock.now() - started
        self.metrics.record_http_api_request(
            route_key, response.status, elapsed * 1000, integration_timeout=timed_out
        )
        log.info(
            "HTTP API %s %s -> %d in %.3f s emulated%s (requestId %s)",
            printable(request.method),
            printable(request.raw_path),
            response.status,
            elapsed,
            " [integration timeout]" if timed_out else "",
            request_id,
        )
        return to_aiohttp(response, [(responses.HTTP_API_REQUEST_ID_HEADER, request_id)])

    async def _respond(
        self, request: web.Request, request_id: str, received_at: float
    ) -> tuple[str, HttpResponse, bool]:
        try:
            # The HTTP API's quota on the request line and header values combined, 10240 bytes
            # (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html).
            check_head(head_of(request))
        except RequestHeadTooLarge as too_large:
            return UNMATCHED_ROUTE, too_large.response, False
        try:
            body = await read_body(request, responses.HTTP_API_PAYLOAD_LIMIT)
        except BodyTooLarge:
            return UNMATCHED_ROUTE, responses.http_api_payload_too_large(), False
        raw_path, _, raw_query = request.raw_path.partition("?")
        match = self.router.match(request.method, raw_path)
        if match is None:
            return UNMATCHED_ROUTE, responses.http_api_not_found(), False
        route = match.route
        event = http_api_event(
            # The path and the query string as sent: aiohttp's are decoded.
            replace(incoming(request, body, raw_path), query_string=raw_query),
            match,
            self.api,
            request_id=request_id,
            epoch=self.clock.epoch(),
        )
        if len(json.dumps(event)) > responses.LAMBDA_SYNC_PAYLOAD_LIMIT:
            # Lambda refuses the invocation (RequestEntityTooLargeException), an integration
            # error; AWS does not document the HTTP API's answer to it: here its 500.
            log.error("%s: the event is over Lambda's 6 MB invocation payload", route.key)
            return route.key, responses.http_api_internal_server_error(), False
        try:
            invocation = self.runtime.invoke(route.function, event)
        except Throttled:
            log.error("%s: Lambda throttled the invocation", route.key)
            return route.key, responses.http_api_internal_server_error(), False
        timeout = self.timeouts.for_route(route.key)
        result = await result_within(
            invocation, timeout, route.key, metrics=self.metrics, clock=self.clock, log=log
        )
        if result is None:
            return route.key, responses.http_api_service_unavailable(), True
        mapped = _mapped(route, result.payload, result.error)
        self.metrics.lambda_answered(received_at, self.clock.now(), result.record)
        return route.key, mapped, False


def _mapped(route: HttpApiRoute, payload: object, error: dict | None) -> HttpResponse:
    """The client's response for a finished invocation: its mapped result, or 500."""
    if error is not None:
        log.error(
            "%s: Lambda execution failed: %s", route.key, printable(error.get("errorMessage"))
        )  # an unhandled error, the function's own timeout, or a crash
        return responses.http_api_internal_server_error()
    try:
        return map_http_api_result(route, payload)
    except MalformedProxyResponse as exc:
        log.error("%s: malformed Lambda proxy response (%s)", route.key, printable(exc))
        return responses.http_api_internal_server_error()
