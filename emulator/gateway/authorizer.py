"""Runs Lambda authorizers: invokes the authorizer function, caches its result on the stack's
clock, and evaluates the policy; the rules come from ``emulator.core.authorizers``."""

from __future__ import annotations

import logging
from collections.abc import Callable

from emulator.clock import Clock
from emulator.core.authorizers import (
    AUTHORIZER_TIMEOUT,
    UNAUTHORIZED_MESSAGE,
    AuthorizerCache,
    AuthorizerFailure,
    AuthorizerOutput,
    AuthorizerRefusal,
    AuthorizerSpec,
    AuthorizerType,
    Unauthorized,
    evaluate,
    identity,
    parse_output,
    token_event,
)
from emulator.core.log_text import printable
from emulator.metrics import Metrics
from emulator.runtime.invocation import Runtime, Throttled

log = logging.getLogger("timeoutlab.authorizer")


class Authorizers:
    """Authorizes requests for a gateway; one cache per gateway, as per API on AWS."""

    def __init__(self, runtime: Runtime, clock: Clock, metrics: Metrics) -> None:
        self.runtime = runtime
        self.clock = clock
        self.metrics = metrics
        self.cache = AuthorizerCache()

    async def authorize(
        self,
        spec: AuthorizerSpec,
        *,
        headers: list[tuple[str, str]],
        query: list[tuple[str, str]],
        arn: str,
        request_event: Callable[[], dict],
    ) -> tuple[AuthorizerOutput, int | None]:
        """Allow the request to ``arn`` or raise ``AuthorizerRefusal`` (its ``response`` is the
        client's answer). Returns the authorizer's output and its integration latency in
        emulated milliseconds (None when the result came from the cache).

        ``request_event`` builds a REQUEST authorizer's event (only called on a cache miss).
        """
        try:
            output, latency = await self._output(spec, headers, query, arn, request_event)
            evaluate(output, arn)
        except AuthorizerRefusal as refusal:
            self.metrics.authorizer(spec.name, str(refusal.status))
            log.info(
                "authorizer %s: %s -> %d (%s)",
                spec.name,
                printable(arn),
                refusal.status,
                printable(refusal),
            )
            raise
        self.metrics.authorizer(spec.name, "allowed")
        return output, latency

    async def _output(
        self,
        spec: AuthorizerSpec,
        headers: list[tuple[str, str]],
        query: list[tuple[str, str]],
        arn: str,
        request_event: Callable[[], dict],
    ) -> tuple[AuthorizerOutput, int | None]:
        key = identity(spec, headers, query)
        cached = self.cache.get(spec.name, key, self.clock.now())
        if cached is not None:
            self.metrics.authorizer(spec.name, "cache_hits")
            return cached, None
        event = token_event(key[0], arn) if spec.type is AuthorizerType.TOKEN else request_event()
        self.metrics.authorizer(spec.name, "invocations")
        started = self.clock.now()
        try:
            invocation = self.runtime.invoke(spec.function, event)
        except Throttled as exc:
            raise AuthorizerFailure("the authorizer function was throttled") from exc
        result = await invocation.result_within(AUTHORIZER_TIMEOUT)
        if result is None:  # the function runs on to its own end, as AWS lets it
            raise AuthorizerFailure(f"the authorizer did not answer within {AUTHORIZER_TIMEOUT} s")
        if result.error is not None:
            if result.error.get("errorMessage") == UNAUTHORIZED_MESSAGE:
                raise Unauthorized("the authorizer function answered Unauthorized")
            raise AuthorizerFailure(f"the authorizer failed: {result.error.get('errorMessage')}")
        output = parse_output(result.payload)
        latency = round((self.clock.now() - started) * 1000)
        self.cache.put(spec.name, key, output, self.clock.now(), spec.result_ttl)
        return output, latency
