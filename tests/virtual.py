"""Virtual time for the gateway tests: the real gateways, real sockets, no waiting.

A test runs on a ``looptime`` event loop, whose clock moves only when every task waits on a timer:
then it jumps to the next timer at once, while socket I/O and the code in between take no loop
time at all. The emulator's clock reads that loop's time (``ScaledClock.of_loop``), and the
functions run in ``InLoopRuntime``: async handlers on the same loop, with no threads, processes or
backend. So "the 504 comes at exactly 29 s, never before" is asserted exactly, whatever the
machine is doing, and a 40 s report takes milliseconds of real time.

A handler here is ``async def handler(event, context) -> result`` and waits with
``await context.sleep(seconds)`` (emulated seconds); a streaming handler is an async generator.
Clients must be on the same loop and name the server by IP literal (no resolver thread).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import looptime

from emulator.clock import Clock, ScaledClock
from emulator.core.connection_timeouts import ConnectionTimeouts
from emulator.core.events import ACCOUNT_ID
from emulator.core.invocations import InvocationRecord, Outcome
from emulator.metrics import Metrics
from emulator.runtime.invocation import (
    InvocationResult,
    Runtime,
    end_record,
    handler_error,
    timeout_error,
)
from emulator.service import FunctionSpec, ServiceError, ServiceSpec
from emulator.stack import Stack, StackConfig
from tests.support import write_service

T = TypeVar("T")
#: Header and idle timeouts so long that no virtual test ever reaches them.
VIRTUAL_CONNECTION_TIMEOUTS = ConnectionTimeouts(header_timeout=1e9, idle_timeout=1e9)
Handler = Callable[[Any, "VirtualContext"], Any]


def run_virtual(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``main()`` to its end on a fresh virtual-time event loop (time starts at 0)."""
    loop = looptime.new_event_loop(start=0.0)
    try:
        return loop.run_until_complete(main())
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


class LambdaContext:
    """The context object of AWS's Python runtime (awslambdaric): same attributes and method,
    remaining time in emulated ms. The emulator's own environments get awslambdaric's."""

    def __init__(
        self,
        *,
        function_name: str,
        memory_mb: int,
        region: str,
        request_id: str,
        remaining_seconds: Callable[[], float],
    ) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{function_name}"
        self.memory_limit_in_mb = str(memory_mb)  # a string, as in AWS's runtime
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{function_name}"
        day = time.strftime("%Y/%m/%d", time.gmtime())
        self.log_stream_name = f"{day}/[$LATEST]{uuid.uuid4().hex}"
        self.identity = None
        self.client_context = None
        self._remaining_seconds = remaining_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self._remaining_seconds() * 1000))


class VirtualContext(LambdaContext):
    """AWS's context object, plus ``sleep``: wait ``seconds`` of emulated time on the loop."""

    def __init__(self, clock: Clock, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._clock = clock

    async def sleep(self, seconds: float) -> None:
        await self._clock.sleep(seconds)


class InLoopRuntime(Runtime):
    """Runs each function's async handler as a task on the event loop, with Lambda's books.

    ``handlers`` maps serverless.yml function keys to handlers. An invocation ends with the
    handler's result, its exception as AWS's error shape, or "Task timed out" at the function's
    timeout (the handler's task is then cancelled, as Lambda stops the environment)."""

    def __init__(
        self,
        service: ServiceSpec,
        clock: Clock,
        metrics: Metrics,
        handlers: Mapping[str, Handler],
        concurrency: int = 1000,
    ) -> None:
        super().__init__(service, clock, metrics, {}, concurrency)
        self.handlers = dict(handlers)

    def start(self) -> None:
        missing = sorted(set(self.service.functions) - set(self.handlers))
        if missing:
            raise ServiceError(f"no in-loop handler for function(s) {', '.join(missing)}")

    async def close(self, grace_seconds: float = 5.0) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks)

    async def _run(
        self,
        spec: FunctionSpec,
        record: InvocationRecord,
        event: Any,
        on_chunk: Callable[[Any], None] | None,
    ) -> InvocationResult:
        deadline = record.started_at + spec.timeout
        context = VirtualContext(
            self.clock,
            function_name=spec.name,
            memory_mb=spec.memory_mb,
            region=self.service.region,
            request_id=record.request_id,
            remaining_seconds=lambda: deadline - self.clock.now(),
        )
        payload, error = None, None
        try:
            payload = await asyncio.wait_for(
                _call(self.handlers[spec.key], event, context, on_chunk),
                self.clock.to_real(spec.timeout),
            )
            record.finish(self.clock.now(), Outcome.SUCCESS)
        except TimeoutError:
            record.finish(deadline, Outcome.TIMEOUT)
            error = timeout_error(record, spec.timeout)
        except Exception as exc:
            record.finish(self.clock.now(), Outcome.ERROR)
            error = handler_error(exc, record.request_id)
        end_record(record, spec, self.metrics)
        return InvocationResult(record, payload, error)


async def _call(
    handler: Handler, event: Any, context: VirtualContext, on_chunk: Callable[[Any], None] | None
) -> Any:
    result = handler(event, context)
    if inspect.isasyncgen(result):
        if on_chunk is None:
            raise TypeError("Unable to marshal response: only a streaming route streams")
        async for item in result:
            on_chunk(item)
        return None
    if isinstance(result, Awaitable):
        return await result
    return result


def service_file(directory: Path, functions: str, *, extra: str = "", provider: str = "") -> Path:
    """A serverless.yml of ``functions`` (handlers in ``app``; an empty ``app.py`` is written:
    in-loop handlers are given to the runtime, not imported); ``provider``: more YAML under
    ``provider:``."""
    return write_service(directory, "", functions, extra=extra, provider=provider)


@contextlib.asynccontextmanager
async def virtual_stack(
    service_path: Path,
    handlers: Mapping[str, Handler],
    *,
    config: StackConfig | None = None,
    concurrency: int = 1000,
) -> AsyncIterator[Stack]:
    """A started ``Stack`` of ``service_path`` on free loopback ports, on the running (virtual)
    loop, its functions run by ``InLoopRuntime`` with ``handlers``, at time scale 1: emulated
    seconds are the loop's seconds."""
    base = config or StackConfig()
    if base.connection_timeouts == ConnectionTimeouts():
        # The ports' header and idle timeouts are real-second guards against stalled sockets;
        # a virtual loop would fast-forward them while bytes are still in flight on loopback, so
        # they are off here unless a test sets its own.
        base = replace(base, connection_timeouts=VIRTUAL_CONNECTION_TIMEOUTS)
    settings = replace(
        base, service_path=service_path, http_port=0, ws_port=0, http_api_port=0, time_scale=1.0
    )
    loop = asyncio.get_running_loop()
    stack = Stack(
        settings,
        clock=ScaledClock.of_loop(loop),
        runtime_factory=lambda service, clock, metrics: InLoopRuntime(
            service, clock, metrics, handlers, concurrency
        ),
    )
    await stack.start()
    try:
        yield stack
    finally:
        await stack.stop()


def run_with_http(
    service_path: Path,
    handlers: Mapping[str, Handler],
    scenario: Callable[[Stack, aiohttp.ClientSession], Awaitable[T]],
    *,
    config: StackConfig | None = None,
) -> T:
    """``scenario(stack, http)`` on a virtual loop: a ``virtual_stack`` of ``service_path`` with
    ``handlers`` and an aiohttp session to talk to it, both closed after; its result."""

    async def main() -> T:
        async with (
            virtual_stack(service_path, handlers, config=config) as stack,
            aiohttp.ClientSession() as http,
        ):
            return await scenario(stack, http)

    return run_virtual(main)
