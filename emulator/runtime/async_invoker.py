"""Asynchronous invocation (InvocationType ``Event``): accepted at once, run from a queue.

Like AWS, a function error is retried (``maximumRetryAttempts``, default twice, after about one
and two minutes, emulated), a throttled event waits and is tried again, and an event that runs
out of attempts or age (``maximumEventAge``, default six hours) is given up on. Its invocation
record then goes to the function's ``onFailure`` destination, and a success's to ``onSuccess``
(https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html): a function
of the service (invoked asynchronously with the record) or an SQS queue (the record as the
message body). An event given up on with no destination is logged with its request id and why;
a record that cannot be delivered is logged and counted. Nothing accepted is lost silently.

Metrics (``async_events`` of the function): accepted, throttled, retried, delivered (an attempt
succeeded), dropped (given up on, as AWS's ``AsyncEventsDropped``), destination_sent and
destination_failed (AWS's ``DestinationDeliveryFailures``).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

from emulator.clock import Clock
from emulator.core.async_retries import AsyncRetryPolicy, Condition, GiveUp
from emulator.core.destinations import (
    AttemptResponse,
    Destination,
    DestinationKind,
    invocation_record,
)
from emulator.core.events import new_request_id
from emulator.core.lambda_api import function_arn
from emulator.metrics import Metrics
from emulator.runtime.invocation import Runtime, Throttled

log = logging.getLogger("timeoutlab.lambda.async")

#: Sends a message body to the SQS queue an ARN names (blocking; raises on failure):
#: ``QueueSender.send`` where the backend serves SQS.
SendToQueue = Callable[[str, str], object]


class DestinationFailure(Exception):
    """A record could not reach its destination (AWS counts ``DestinationDeliveryFailures``)."""


class AsyncInvoker:
    """The asynchronous event queue of a stack's functions.

    ``policy`` is the default retry policy; each function's ``maximumRetryAttempts`` and
    ``maximumEventAge`` override it for that function. ``send_to_queue`` delivers records to
    SQS destinations; None (no backend) makes every SQS delivery a logged, counted failure."""

    def __init__(
        self,
        runtime: Runtime,
        clock: Clock,
        metrics: Metrics,
        policy: AsyncRetryPolicy | None = None,
        send_to_queue: SendToQueue | None = None,
    ) -> None:
        self.runtime = runtime
        self.clock = clock
        self.metrics = metrics
        self.policy = policy or AsyncRetryPolicy()
        self.send_to_queue = send_to_queue
        self._events: set[asyncio.Task] = set()

    @property
    def pending(self) -> int:
        """Events accepted and not yet delivered, retried to the end, or dropped."""
        return len(self._events)

    def policy_for(self, function_key: str) -> AsyncRetryPolicy:
        """The retry policy of one function: the default with its serverless.yml settings."""
        config = self.runtime.service.functions[function_key].async_config
        return self.policy.configured(config.maximum_retry_attempts, config.maximum_event_age)

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
        policy = self.policy_for(key)
        queued_at = self.clock.now()
        attempts = throttles = 0
        last: AttemptResponse | None = None
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
                self.metrics.async_event(name, "throttled")
                decision = policy.after_throttle(throttles, age)
                if isinstance(decision, GiveUp):
                    await self.clock.sleep(decision.seconds)
                    why = f"throttled {throttles} times until older than {policy.max_event_age:g} s"
                    await self._give_up(key, name, event, event_id, decision, attempts, last, why)
                    return
                await self.clock.sleep(decision.seconds)
                continue
            attempts += 1
            result = await invocation.task
            last = AttemptResponse(result.payload, result.error)
            if result.ok:
                self.metrics.async_event(name, "delivered")
                await self._send_record(
                    key, name, event, event_id, Condition.SUCCESS, attempts, last
                )
                return
            assert result.error is not None  # not ok: the invocation failed
            decision = policy.after_error(attempts, self.clock.now() - queued_at)
            if isinstance(decision, GiveUp):
                await self.clock.sleep(decision.seconds)
                why = f"failed {attempts} times: {result.error.get('errorMessage')}"
                await self._give_up(key, name, event, event_id, decision, attempts, last, why)
                return
            self.metrics.async_event(name, "retried")
            log.info(
                "event %s for %s failed (attempt %d); retrying in %g s",
                event_id,
                name,
                attempts,
                decision.seconds,
            )
            await self.clock.sleep(decision.seconds)

    async def _give_up(
        self,
        key: str,
        name: str,
        event: Any,
        event_id: str,
        decision: GiveUp,
        attempts: int,
        last: AttemptResponse | None,
        why: str,
    ) -> None:
        self.metrics.async_event(name, "dropped")
        condition = decision.condition
        if self.runtime.service.functions[key].async_config.on_failure is None:
            log.error("event %s for %s dropped (%s): %s", event_id, name, condition, why)
            return
        log.warning("event %s for %s given up on (%s): %s", event_id, name, condition, why)
        await self._send_record(key, name, event, event_id, condition, attempts, last)

    async def _send_record(
        self,
        key: str,
        name: str,
        event: Any,
        event_id: str,
        condition: Condition,
        attempts: int,
        last: AttemptResponse | None,
    ) -> None:
        """Send the invocation record to the destination ``condition`` calls for, if any."""
        config = self.runtime.service.functions[key].async_config
        destination = config.on_success if condition is Condition.SUCCESS else config.on_failure
        if destination is None:
            return
        record = invocation_record(
            epoch=self.clock.epoch(),
            request_id=event_id,
            function_arn=function_arn(name, self.runtime.service.region),
            condition=condition,
            # AWS does not define "approximate"; here: the attempts that ran (not throttles).
            approximate_invoke_count=attempts,
            request_payload=event,
            response=last,
        )
        which = "onSuccess" if condition is Condition.SUCCESS else "onFailure"
        try:
            await self._to_destination(destination, record)
        except DestinationFailure as exc:
            self.metrics.async_event(name, "destination_failed")
            log.error(
                "event %s for %s: the %s record (%s) was not delivered to %s: %s",
                event_id,
                name,
                which,
                condition,
                destination.arn,
                exc,
            )
            return
        if destination.modelled:
            self.metrics.async_event(name, "destination_sent")
            log.info(
                "event %s for %s: %s record (%s) sent to %s",
                event_id,
                name,
                which,
                condition,
                destination.arn,
            )

    async def _to_destination(self, destination: Destination, record: dict) -> None:
        """Deliver ``record``; raises DestinationFailure saying why it could not."""
        if destination.kind is DestinationKind.FUNCTION:
            if destination.function_key is None:
                raise DestinationFailure("the function is not part of this service")
            # "For Lambda, the invocation record is passed as the payload to the function"
            # asynchronously (invocation-async-retain-records.html, destination-specific format).
            self.submit(destination.function_key, record)
            return
        if destination.kind is DestinationKind.SQS:
            if self.send_to_queue is None:
                raise DestinationFailure("this stack has no backend serving SQS")
            try:
                body = json.dumps(record)
                await asyncio.to_thread(self.send_to_queue, destination.arn, body)
            except Exception as exc:  # the backend's refusal, whatever its kind
                raise DestinationFailure(str(exc)) from exc
            return
        log.warning(
            "%s destination %s: not modelled, the record is not sent",
            destination.kind,
            destination.arn,
        )

    async def close(self) -> None:
        """Stop waiting for retries; invocations already running finish in the runtime."""
        for task in list(self._events):
            task.cancel()
        await asyncio.gather(*self._events, return_exceptions=True)
