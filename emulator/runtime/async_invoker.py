"""Asynchronous invocation (InvocationType ``Event``): accepted at once, run from a queue.

Like AWS, a function error is retried up to twice (after about one and two minutes, emulated), a
throttled event waits and is tried again, and an event that runs out of attempts or age is
dropped with a log line saying so.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from emulator.clock import Clock
from emulator.core.async_retries import AsyncRetryPolicy
from emulator.core.events import new_request_id
from emulator.metrics import Metrics
from emulator.runtime.invocation import Runtime, Throttled

log = logging.getLogger("timeoutlab.lambda.async")


class AsyncInvoker:
    def __init__(
        self,
        runtime: Runtime,
        clock: Clock,
        metrics: Metrics,
        policy: AsyncRetryPolicy | None = None,
    ) -> None:
        self.runtime = runtime
        self.clock = clock
        self.metrics = metrics
        self.policy = policy or AsyncRetryPolicy()
        self._events: set[asyncio.Task] = set()

    @property
    def pending(self) -> int:
        """Events accepted and not yet delivered, retried to the end, or dropped."""
        return len(self._events)

    def submit(self, function_key: str, event: Any) -> str:
        """Queue an event; returns the request id that Invoke answers 202 with."""
        event_id = new_request_id()
        name = self.runtime.service.functions[function_key].name
        self.metrics.async_event(name, "accepted")
        task = asyncio.get_running_loop().create_task(
            self._deliver(function_key, name, event, event_id)
        )
        self._events.add(task)
        task.add_done_callback(self._events.discard)
        return event_id

    async def _deliver(self, key: str, name: str, event: Any, event_id: str) -> None:
        queued_at = self.clock.now()
        attempts = throttles = 0
        while True:
            age = self.clock.now() - queued_at
            try:
                # Every attempt runs under the event's request id, the one Invoke answered 202
                # with: "duplicate invocations that return an error or time out and have the same
                # request ID indicate that the Lambda service retried the function"
                # (https://repost.aws/knowledge-center/lambda-function-duplicate-invocations).
                invocation = self.runtime.invoke(
                    key, event, invocation_type="Event", request_id=event_id
                )
            except Throttled:
                throttles += 1
                delay = self.policy.after_throttle(throttles, age)
                if delay is None:
                    self._drop(name, event_id, "throttled until the maximum event age")
                    return
                self.metrics.async_event(name, "throttled")
                await self.clock.sleep(delay)
                continue
            attempts += 1
            result = await invocation.task
            if result.ok:
                self.metrics.async_event(name, "delivered")
                return
            assert result.error is not None  # not ok: the invocation failed
            delay = self.policy.after_error(attempts, self.clock.now() - queued_at)
            if delay is None:
                self._drop(
                    name, event_id, f"failed {attempts} times: {result.error.get('errorMessage')}"
                )
                return
            self.metrics.async_event(name, "retried")
            log.info(
                "event %s for %s failed (attempt %d); retrying in %g s",
                event_id,
                name,
                attempts,
                delay,
            )
            await self.clock.sleep(delay)

    def _drop(self, name: str, event_id: str, why: str) -> None:
        self.metrics.async_event(name, "dropped")
        log.error("event %s for %s dropped: %s", event_id, name, why)

    async def close(self) -> None:
        """Stop waiting for retries; invocations already running finish in the runtime."""
        for task in list(self._events):
            task.cancel()
        await asyncio.gather(*self._events, return_exceptions=True)
