"""The integration timeout as every gateway answers it: the Lambda's result within the route's
timeout, or the caller gives up while the invocation runs on (AWS does not stop it)."""

from __future__ import annotations

import logging

from emulator.clock import Clock
from emulator.metrics import Metrics
from emulator.runtime.invocation import Invocation, InvocationResult


async def result_within(
    invocation: Invocation,
    seconds: float,
    route_key: str,
    *,
    metrics: Metrics,
    clock: Clock,
    log: logging.Logger,
) -> InvocationResult | None:
    """``invocation``'s result if it comes within ``seconds`` (emulated; a cold start's
    Init counts at its real duration), else None: then how late the gateway answered goes to
    ``metrics``' precision figures and ``log`` gets one line naming the Lambda that runs on.
    The caller sends its API's own timeout answer (REST and WebSocket 504, HTTP API 503)."""
    result = await invocation.result_within(seconds)
    if result is None:
        metrics.integration_timeout_answered(invocation.deadline(seconds), clock.now())
        log.warning(
            "%s: integration timed out after %.3f s; Lambda %s runs on (RequestId %s)",
            route_key,
            seconds,
            invocation.record.function,
            invocation.record.request_id,
        )
    return result
