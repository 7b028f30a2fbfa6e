"""What every Lambda runtime here shares: how an invocation starts, is accounted and is logged.

The gateways and the Invoke API see a ``Runtime``: the process one runs the handlers in
execution environments (child processes), the remote one invokes them deployed on a backend's
Lambda. Both keep the same books, so timings, waste and the ``START``/``END``/``REPORT`` lines
read the same either way.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from emulator.clock import Clock
from emulator.core.events import new_request_id
from emulator.core.invocations import InvocationRecord, Outcome
from emulator.metrics import Metrics
from emulator.service import FunctionSpec, ServiceSpec

log = logging.getLogger("timeoutlab.lambda")
T = TypeVar("T")
#: While a cold start's Init runs, a waiting caller looks again this often (real seconds).
INIT_POLL_S = 0.01


class Throttled(Exception):
    """No concurrency left: Lambda refuses the invocation (429 TooManyRequestsException)."""


@dataclass
class InvocationResult:
    record: InvocationRecord
    payload: Any = None  # what the handler returned
    error: dict | None = None  # AWS's errorMessage/errorType shape when it failed

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class Invocation:
    """A running invocation: its accounting record now, its result when it ends."""

    record: InvocationRecord
    task: asyncio.Task[InvocationResult]
    _clock: Clock = field(repr=False)
    #: Emulated time of the call (the record's ``started_at`` moves past a cold start's Init).
    invoked_at: float = 0.0

    def caller_gone(self) -> None:
        self.record.caller_gone(self._clock.now())

    def deadline(self, seconds: float) -> float:
        """When a caller waiting ``seconds`` (emulated) gives up, in emulated time: a cold
        start's Init counts at its real duration, not stretched by the time scale."""
        credit = self.record.init_credit_real(asyncio.get_running_loop().time(), self._clock.scale)
        return self.invoked_at + seconds + self._clock.to_emulated(credit)

    async def result_within(self, seconds: float) -> InvocationResult | None:
        """The result if it comes within ``seconds`` (emulated, a cold start's Init counted at
        its real duration); else None, and the caller has given up: the invocation runs on, as
        on AWS, and its time counts as wasted."""
        result = await self.within(self.task, seconds)
        if result is None:
            self.caller_gone()
        return result

    async def within(self, future: asyncio.Future[T], seconds: float) -> T | None:
        """``future``'s result if it comes within ``seconds`` (emulated) of the call, a cold
        start's Init counted at its real duration; else None (``future`` is left running)."""
        loop = asyncio.get_running_loop()
        end = loop.time() + self._clock.to_real(seconds)
        while True:
            left = end + self.record.init_credit_real(loop.time(), self._clock.scale) - loop.time()
            if left <= 0 and not self.record.initialising:
                return None
            wait = min(left, INIT_POLL_S) if self.record.initialising else left
            if not future.done():
                # asyncio.wait never cancels ``future``: no shield, no task around it.
                await asyncio.wait((future,), timeout=max(wait, 0.0))
            if future.done():
                return future.result()


class Runtime:
    """Where the service's functions run, as the gateways and the Invoke API use it.

    It keeps the books alike for every runtime: each invocation starts a record (or is throttled)
    and runs as a task; a subclass says how one runs (``_run``), starts and closes."""

    def __init__(
        self,
        service: ServiceSpec,
        clock: Clock,
        metrics: Metrics,
        environment: dict[str, str],
        concurrency: int = 1000,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"Lambda concurrency must be at least 1, got {concurrency}")
        self.service = service
        self.clock = clock
        self.metrics = metrics
        self.environment = environment
        self.concurrency = concurrency
        self._keys_by_name = {spec.name: key for key, spec in service.functions.items()}
        self._tasks: set[asyncio.Task] = set()
        self._by_function: Counter[str] = Counter()  # running invocations per function key

    def start(self) -> None:
        raise NotImplementedError

    async def close(self, grace_seconds: float = 5.0) -> None:
        raise NotImplementedError

    async def prewarm(self) -> None:
        """Initialise environments ahead of any invocation, where the runtime has its own
        (``ProcessRuntime``); elsewhere there is nothing to do."""

    @property
    def running(self) -> int:
        return len(self._tasks)

    def key_for_name(self, function_name: str) -> str | None:
        """The serverless.yml key of a deployed function name (as the Lambda API names it)."""
        return self._keys_by_name.get(function_name)

    def invoke(
        self,
        function_key: str,
        event: Any,
        invocation_type: str = "RequestResponse",
        on_chunk: Callable[[Any], object] | None = None,
        request_id: str | None = None,
    ) -> Invocation:
        """Start an invocation now; the caller decides how long it waits for the result.

        With ``on_chunk`` the invocation streams its response: a handler that is a generator
        has each item it yields passed to ``on_chunk`` as it comes (from the handler's thread).
        ``request_id`` is the one an asynchronous event keeps across its retries (else new).

        Raises Throttled when every unit of concurrency is taken (including by invocations whose
        caller has given up: on AWS they hold their concurrency until they end).
        """
        spec = self.service.functions[function_key]
        running, limit = len(self._tasks), self.concurrency
        reserved = spec.reserved_concurrency
        if reserved is not None and self._by_function[spec.key] >= reserved:
            running, limit = self._by_function[spec.key], reserved
        record = start_record(
            spec, self.clock, self.metrics, invocation_type, running, limit, request_id
        )
        task = asyncio.get_running_loop().create_task(self._run(spec, record, event, on_chunk))
        self._tasks.add(task)
        self._by_function[spec.key] += 1

        def ended(done: asyncio.Task) -> None:
            self._tasks.discard(done)
            self._by_function[spec.key] -= 1

        task.add_done_callback(ended)
        return Invocation(record, task, self.clock, record.started_at)

    async def _run(
        self,
        spec: FunctionSpec,
        record: InvocationRecord,
        event: Any,
        on_chunk: Callable[[Any], object] | None,
    ) -> InvocationResult:
        raise NotImplementedError


def start_record(
    spec: FunctionSpec,
    clock: Clock,
    metrics: Metrics,
    invocation_type: str,
    running: int,
    concurrency: int,
    request_id: str | None = None,
) -> InvocationRecord:
    """The record of an invocation starting now, or Throttled when ``running`` takes every unit
    of concurrency (invocations whose caller has gone included: on AWS they hold theirs).
    ``request_id`` names it (an async event's, kept across retries); by default a new one."""
    if running >= concurrency:
        metrics.invocation_throttled(spec.name)
        log.warning("throttled %s: all %d units of concurrency in use", spec.name, concurrency)
        raise Throttled(spec.name)
    record = InvocationRecord(
        request_id=request_id or new_request_id(),
        function=spec.name,
        started_at=clock.now(),
        timeout=spec.timeout,
        memory_mb=spec.memory_mb,
        invocation_type=invocation_type,
    )
    metrics.invocation_started(record)
    log.info("START RequestId: %s Version: $LATEST (%s)", record.request_id, spec.name)
    return record


def end_record(record: InvocationRecord, spec: FunctionSpec, metrics: Metrics) -> None:
    """Count a finished invocation and log its ``END`` and ``REPORT`` lines, as Lambda does."""
    metrics.invocation_finished(record)
    if not log.isEnabledFor(logging.INFO):
        return  # the lines below are formatted only for a log that shows them
    log.info("END RequestId: %s", record.request_id)
    log.info(
        "REPORT RequestId: %s Duration: %.2f ms Billed Duration: %d ms Memory Size: %d MB%s%s%s",
        record.request_id,
        record.duration_ms,
        record.billed_ms,
        spec.memory_mb,
        "" if record.init_ms is None else f" Init Duration: {record.init_ms:.2f} ms",
        f" Status: {record.outcome}" if record.outcome is not Outcome.SUCCESS else "",
        (
            f" (caller gave up {record.after_caller_gone_ms:.0f} ms before the end: wasted)"
            if record.caller_gone_at is not None
            else ""
        ),
    )


def timeout_error(record: InvocationRecord, timeout: float) -> dict:
    """Lambda's error for an invocation stopped at its function timeout."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return {
        "errorMessage": f"{stamp} {record.request_id} Task timed out after {timeout:.2f} seconds",
        "errorType": "Sandbox.Timedout",
    }


def handler_error(exc: BaseException, request_id: str) -> dict:
    """An error raised by a handler, in the shape AWS's runtimes report it (errorMessage,
    errorType, requestId, stackTrace)."""
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "requestId": request_id,
        "stackTrace": traceback.format_tb(exc.__traceback__),
    }
