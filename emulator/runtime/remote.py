"""Lambda functions deployed on a backend's Lambda (LocalStack, MiniStack), invoked through its
Invoke API: the handlers run in that Lambda, the gateway in front stays this emulator.

``start`` deploys the service (create or update, see ``lambda_deploy``); each invocation is one
synchronous ``Invoke`` call on a thread of its own. The emulator keeps its own books on its own
clock, exactly as for local execution environments: a caller that gives up (the 29 s
integration timeout) leaves the remote function running, and its time counts as wasted. The
function's own log tail (``LogType=Tail``) is copied to ``timeoutlab.lambda.<function>``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from emulator.backends.endpoint import Backend
from emulator.backends.lambda_deploy import deploy, remote_timeout
from emulator.clock import Clock
from emulator.core.invocations import InvocationRecord, Outcome
from emulator.metrics import Metrics
from emulator.runtime.invocation import InvocationResult, Runtime, end_record, timeout_error
from emulator.service import FunctionSpec, ServiceSpec

log = logging.getLogger("timeoutlab.lambda")
#: How long past its own (scaled) timeout a remote call may take: cold starts, the network.
CALL_MARGIN_S = 30.0


class RemoteRuntime(Runtime):
    """Invokes the service's functions where ``backend`` runs them."""

    def __init__(
        self,
        service: ServiceSpec,
        clock: Clock,
        metrics: Metrics,
        backend: Backend,
        environment: dict[str, str],
        concurrency: int = 1000,
    ) -> None:
        # ``environment`` is what the deployed functions get; complete it before ``start``.
        super().__init__(service, clock, metrics, dict(environment), concurrency)
        self.backend = backend
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="lambda-call")
        longest = max(
            (remote_timeout(s, clock.scale) for s in service.functions.values()), default=1
        )
        # One HTTP connection per concurrent call (the pool opens them only as calls need them):
        # a pool smaller than the threads calling through it makes urllib3 discard connections
        # with a "Connection pool is full" warning each time, thousands under load. Never a
        # retry: a retried Invoke runs twice.
        self._client = backend.client(
            "lambda",
            timeout=longest + CALL_MARGIN_S,
            attempts=1,
            connections=concurrency,
        )

    def start(self) -> None:
        """Deploy the functions (blocking: call it from a thread); a failure says what and where."""
        deploy(self.service, self.backend, self.environment, self.clock.scale)
        log.info(
            "%d functions deployed to the Lambda at %s (%s)",
            len(self.service.functions),
            self.backend.endpoint_url,
            self.backend.kind,
        )

    async def close(self, grace_seconds: float = 5.0) -> None:
        """Wait a while (real seconds) for calls in flight; the remote functions run on anyway."""
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=grace_seconds)
            if pending:
                log.warning("leaving %d remote invocation(s) running", len(pending))
                for task in pending:
                    task.cancel()
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def _run(
        self,
        spec: FunctionSpec,
        record: InvocationRecord,
        event: Any,
        on_chunk: Callable[[Any], object] | None,
    ) -> InvocationResult:
        """One Invoke; ``on_chunk`` is never called: Lambda's Python runtime cannot stream a
        response, so a generator handler fails to marshal there, as on AWS."""
        deadline = record.started_at + spec.timeout
        call = asyncio.get_running_loop().run_in_executor(self._pool, self._call, spec, event)
        try:
            payload, error = await asyncio.wait_for(
                asyncio.shield(call), self.clock.to_real(spec.timeout)
            )
            record.finish(self.clock.now(), _outcome(error))
        except TimeoutError:
            # The remote function's own (scaled) timeout stops it; the books close at ours.
            record.finish(deadline, Outcome.TIMEOUT)
            payload, error = None, timeout_error(record, spec.timeout)
        end_record(record, spec, self.metrics)
        return InvocationResult(record, payload, error)

    def _call(self, spec: FunctionSpec, event: Any) -> tuple[Any, dict | None]:
        """On a pool thread: one synchronous Invoke, as (payload, None) or (None, AWS's error)."""
        try:
            response = self._client.invoke(
                FunctionName=spec.name,
                InvocationType="RequestResponse",
                LogType="Tail",
                Payload=json.dumps(event).encode(),
            )
            body = response["Payload"].read()
        except (BotoCoreError, ClientError) as exc:
            log.error("invoking %s on %s failed: %s", spec.name, self.backend.endpoint_url, exc)
            return None, {
                "errorMessage": f"the Lambda at {self.backend.endpoint_url} "
                f"({self.backend.kind}) failed to invoke {spec.name}: {exc}",
                "errorType": type(exc).__name__,
            }
        _copy_log_tail(spec.name, response.get("LogResult"))
        try:
            payload = json.loads(body) if body else None
        except ValueError:
            payload = body.decode(errors="replace")
        if response.get("FunctionError"):
            if isinstance(payload, dict):
                return None, payload
            return None, {"errorMessage": str(payload), "errorType": response["FunctionError"]}
        return payload, None


def _outcome(error: dict | None) -> Outcome:
    if error is None:
        return Outcome.SUCCESS
    timed_out = error.get("errorType") == "Sandbox.Timedout" or "timed out" in str(
        error.get("errorMessage", "")
    )
    return Outcome.TIMEOUT if timed_out else Outcome.ERROR


def _copy_log_tail(function: str, tail: str | None) -> None:
    """The function's own log lines (its last 4 KB), under the function's logger."""
    if not tail:
        return
    logger = logging.getLogger(f"timeoutlab.lambda.{function}")
    for line in base64.b64decode(tail).decode(errors="replace").splitlines():
        if line.strip():
            logger.info("%s", line)
