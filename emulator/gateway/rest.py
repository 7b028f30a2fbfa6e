"""API Gateway REST API emulation: stage, routes, Lambda proxy integration, integration timeout.

The integration timeout is measured from the moment the Lambda is invoked; when it passes the
client gets AWS's 504 while the invocation runs on to its end, as on AWS.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl

from aiohttp import web
from multidict import CIMultiDict

from emulator.clock import Clock
from emulator.core import media_types, responses
from emulator.core.api_keys import ApiKey, ApiKeys
from emulator.core.authorizers import (
    AuthorizerRefusal,
    AuthorizerSpec,
    method_arn,
    request_context_authorizer,
    rest_request_event,
)
from emulator.core.cors import CorsRule, preflight, preflight_route_key
from emulator.core.deadlines import IntegrationTimeouts, StreamLimits
from emulator.core.events import (
    ApiIdentity,
    new_extended_request_id,
    new_request_id,
    rest_proxy_event,
)
from emulator.core.log_text import printable
from emulator.core.proxy import MalformedProxyResponse, map_proxy_result
from emulator.core.request_head import check_head
from emulator.core.responses import GatewayError, HttpResponse
from emulator.core.routing import RestRouter, RouteMatch
from emulator.gateway.authorizer import Authorizers
from emulator.gateway.http import (
    BodyTooLarge,
    head_of,
    incoming,
    raw_path,
    read_body,
    to_aiohttp,
)
from emulator.gateway.integration import result_within
from emulator.metrics import UNMATCHED_ROUTE, Metrics
from emulator.runtime.invocation import InvocationResult, Runtime, Throttled

log = logging.getLogger("timeoutlab.gateway")


@dataclass
class RestCall:
    """One request on its way through the chain: what the steps so far have found out.

    Each step reads what earlier steps set and adds its own part; ``authorizer`` is the
    authorizer's result (its ``principalId`` and ``context``), which the event carries as
    ``requestContext.authorizer``."""

    request: web.Request
    request_id: str
    received_at: float  # emulated seconds (the gateway's clock)
    body: bytes = b""
    path: str = ""  # the full path as sent (percent-encoding kept), stage included
    resource_path: str = ""  # the part after the stage, likewise
    match: RouteMatch | None = None
    api_key: ApiKey | None = None
    authorizer: dict | None = None
    event: dict | None = None
    result: InvocationResult | None = None
    timed_out: bool = False
    preflight_of: str | None = None  # the resource whose CORS preflight method answered

    @property
    def route_key(self) -> str:
        """The matched route's key ("POST /reports"), the CORS preflight method's
        ("OPTIONS /reports"), or the metrics' unmatched key."""
        if self.match:
            return self.match.route.key
        if self.preflight_of is not None:
            return preflight_route_key(self.preflight_of)
        return UNMATCHED_ROUTE


#: A step of the chain: passes (None), answers the request (a response), or raises GatewayError.
Step = Callable[[RestCall], Awaitable[HttpResponse | web.StreamResponse | None]]


class RestGateway:
    """Answers every request under the stage path as API Gateway REST would.

    A request runs through ``steps`` in order, as in LocalStack's next-gen API Gateway: the first
    step that answers (or raises ``GatewayError``) decides the response."""

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
        *,
        api_keys: ApiKeys | None = None,
        cors: Mapping[str, CorsRule] | None = None,
        binary_media_types: Sequence[str] = (),
        authorizers: dict[str, AuthorizerSpec] | None = None,
        region: str = "us-east-1",
    ) -> None:
        self.api_keys = api_keys or ApiKeys(())
        self.cors = dict(cors or {})
        self.binary_media_types = tuple(binary_media_types)
        self.authorizer_specs = authorizers or {}  # by route key
        self.region = region
        self.authorizers = Authorizers(runtime, clock, metrics)
        self.streaming_routes = streaming_routes
        self.stream_limits = stream_limits or StreamLimits()
        self.router = router
        self.api = api
        self.runtime = runtime
        self.timeouts = timeouts
        self.metrics = metrics
        self.clock = clock
        self.steps: list[Step] = [
            self.check_head,
            self.read_body,
            self.match_stage,
            self.cors_preflight,
            self.match_route,
            self.check_api_key,
            self.authorize,
            self.build_event,
            self.integrate,
            self.map_response,
        ]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        started = self.clock.now()
        call = RestCall(request, new_request_id(), started)
        response = await self._run(call)
        elapsed = self.clock.now() - started
        self.metrics.record_request(
            call.route_key, response.status, elapsed * 1000, integration_timeout=call.timed_out
        )
        log.info(
            "%s %s -> %d in %.3f s emulated%s (requestId %s)",
            printable(request.method),
            printable(request.path),
            response.status,
            elapsed,
            " [integration timeout]" if call.timed_out else "",
            call.request_id,
        )
        if isinstance(response, web.StreamResponse):
            return response  # streamed: already sent
        return to_aiohttp(response, _aws_headers(call.request_id))

    async def _run(self, call: RestCall) -> HttpResponse | web.StreamResponse:
        try:
            for step in self.steps:
                answer = await step(call)
                if answer is not None:
                    return answer
        except GatewayError as error:
            return error.response
        raise AssertionError("the last step always answers")

    async def check_head(self, call: RestCall) -> None:
        """API Gateway's 10240-byte quota on the request line and header values combined,
        before the body is read (``emulator.core.request_head``): 431 past it."""
        check_head(head_of(call.request))

    async def read_body(self, call: RestCall) -> None:
        """API Gateway's 10 MB payload quota, checked before anything else."""
        try:
            call.body = await read_body(call.request, responses.REST_PAYLOAD_LIMIT)
        except BodyTooLarge:
            raise GatewayError(responses.content_length_exceeded()) from None

    async def match_stage(self, call: RestCall) -> None:
        """The stage: 403 Forbidden for a path outside it. Paths are taken as sent, encoded."""
        call.path = raw_path(call.request)
        resource_path = self.router.strip_stage(call.path)
        if resource_path is None:
            raise GatewayError(responses.forbidden())
        call.resource_path = resource_path

    async def cors_preflight(self, call: RestCall) -> HttpResponse | None:
        """``OPTIONS`` on a resource with ``cors`` events: Serverless's MOCK method answers (a
        method the service declares itself for OPTIONS is routed instead)."""
        if call.request.method != "OPTIONS":
            return None
        resource = self.router.resource_for(call.resource_path)
        if resource is None or resource not in self.cors:
            return None
        if self.router.has_method(resource, "OPTIONS"):
            return None
        call.preflight_of = resource
        return preflight(self.cors[resource], call.request.headers.get("Origin"))

    async def match_route(self, call: RestCall) -> None:
        """Resource and method: 403 Missing Authentication Token for no resource or method."""
        call.match = self.router.match(call.request.method, call.resource_path)
        if call.match is None:
            raise GatewayError(responses.missing_authentication_token())

    async def check_api_key(self, call: RestCall) -> None:
        """``private`` methods: the ``x-api-key`` header must carry an enabled key of the
        stage, else 403 Forbidden and no invocation."""
        assert call.match is not None
        if call.match.route.api_key_required:
            call.api_key = self.api_keys.check(call.request.headers.items())

    async def authorize(self, call: RestCall) -> None:
        """The route's Lambda authorizer, if it has one: 401, 403 or 500 without invoking the
        route's Lambda, or on Allow ``call.authorizer`` for the event's
        ``requestContext.authorizer`` (https://docs.aws.amazon.com/apigateway/latest/
        developerguide/apigateway-use-lambda-authorizer.html)."""
        assert call.match is not None
        spec = self.authorizer_specs.get(call.match.route.key)
        if spec is None:
            return
        request = incoming(call.request, call.body, call.path)
        arn = method_arn(self.api, self.region, request.method, call.resource_path)
        match = call.match

        def request_event() -> dict:
            proxy = rest_proxy_event(
                request,
                match,
                self.api,
                resource_path=call.resource_path,
                request_id=call.request_id,
                epoch=self.clock.epoch(),
            )
            return rest_request_event(proxy, arn)

        try:
            output, latency = await self.authorizers.authorize(
                spec,
                headers=request.headers,
                query=parse_qsl(request.query_string, keep_blank_values=True),
                arn=arn,
                request_event=request_event,
            )
        except AuthorizerRefusal as refusal:
            raise GatewayError(refusal.response) from None
        # A cached result took no authorizer call: its integrationLatency is 0.
        call.authorizer = request_context_authorizer(output, latency or 0)

    async def build_event(self, call: RestCall) -> None:
        """The proxy event, refused with 413 when it is over Lambda's 6 MB payload quota."""
        assert call.match is not None
        call.event = rest_proxy_event(
            incoming(call.request, call.body, call.path),
            call.match,
            self.api,
            resource_path=call.resource_path,
            request_id=call.request_id,
            epoch=self.clock.epoch(),
            binary_body=media_types.request_is_binary(
                call.request.headers.get("Content-Type"), self.binary_media_types
            ),
            api_key=call.api_key,
            authorizer=call.authorizer,
        )
        if len(json.dumps(call.event)) > responses.LAMBDA_SYNC_PAYLOAD_LIMIT:
            raise GatewayError(responses.request_too_long())

    async def integrate(self, call: RestCall) -> HttpResponse | web.StreamResponse | None:
        """Invoke the Lambda within the route's integration timeout (504 past it; the
        invocation runs on); streaming routes answer here, the others leave ``call.result``."""
        assert call.match is not None
        assert call.event is not None
        route = call.match.route
        if route.key in self.streaming_routes:
            streamed, call.timed_out = await self._stream(
                call.request, route.key, route.function, call.event, call.request_id
            )
            return streamed
        try:
            invocation = self.runtime.invoke(route.function, call.event)
        except Throttled:
            raise GatewayError(responses.lambda_throttled()) from None
        timeout = self.timeouts.for_route(route.key)
        result = await result_within(
            invocation, timeout, route.key, metrics=self.metrics, clock=self.clock, log=log
        )
        if result is None:
            call.timed_out = True
            raise GatewayError(responses.integration_timeout())
        call.result = result
        self.metrics.lambda_answered(call.received_at, self.clock.now(), result.record)
        return None

    async def map_response(self, call: RestCall) -> HttpResponse:
        """The handler's proxy result as the client's response (502 for errors and bad shapes)."""
        assert call.result is not None
        binary = media_types.response_is_binary(
            call.request.headers.get("Accept"), self.binary_media_types
        )
        return _mapped(call.route_key, call.result.payload, call.result.error, binary)

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
            log.error("%s: the stream's metadata is malformed (%s)", route_key, printable(exc))
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


def _mapped(
    route_key: str, payload: object, error: dict | None, binary: bool = False
) -> HttpResponse:
    """The client's response for a finished invocation: its proxy result, or 502."""
    if error is not None:
        log.error(
            "%s: Lambda execution failed due to customer function error: %s",
            route_key,
            printable(error.get("errorMessage")),
        )
        return responses.internal_server_error()
    try:
        return map_proxy_result(payload, binary_response=binary)
    except MalformedProxyResponse as exc:
        log.error(
            "%s: Execution failed due to configuration error: Malformed Lambda proxy response (%s)",
            route_key,
            printable(exc),
        )
        return responses.internal_server_error()
