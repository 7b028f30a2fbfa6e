"""Lambda functions run in execution environments: child processes speaking the Runtime API.

As on AWS (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html): an
invocation takes a warm environment of its function when one is free, else a new one is created
and initialised (a cold start, reported as ``Init Duration``); an environment runs one
invocation at a time and is reused until it stays idle ``idle_seconds`` (emulated) or dies
(timeout, crash, memory over ``memorySize``). A function has at most as many environments as
invocations it may run at once (its reserved concurrency, else the account's), and the machine at
most ``max_environments``: past that an invocation waits for one to be free (never throttled:
AWS would have the capacity), which is counted and warned about once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import psutil

from emulator.clock import Clock
from emulator.core.invocations import InvocationRecord, Outcome
from emulator.core.runtime_api import exit_error
from emulator.metrics import Metrics
from emulator.runtime.bootstraps import Bootstrap, bootstrap_for
from emulator.runtime.environment import INIT_TAG, ExecutionEnvironment, InitTimeout
from emulator.runtime.invocation import InvocationResult, Runtime, end_record, timeout_error
from emulator.runtime.variables import PROVISIONED
from emulator.service import FunctionSpec, ServiceSpec

log = logging.getLogger("timeoutlab.lambda")
#: "The Init phase is limited to 10 seconds. If all three tasks do not complete within 10
#: seconds, Lambda retries the Init phase at the time of the first function invocation with the
#: configured function timeout" (lambda-runtime-environment.html). Real seconds = emulated ones:
#: Init runs at its real duration whatever the time scale.
INIT_LIMIT_S = 10.0
#: The default machine cap on execution environments: one per ``MEMORY_PER_ENVIRONMENT_BYTES``
#: of memory available when the emulator starts, between these bounds. A Python environment that
#: has imported boto3 holds about 44 MB of its own (USS); the WebSocket report round trip at 20
#: clients keeps 77 environments busy or warm ($connect, generateReport, the async report,
#: $disconnect), and a cap of 64 made it replace one every ten round trips, each a cold start.
MAX_ENVIRONMENTS_CEILING = 128
MAX_ENVIRONMENTS_FLOOR = 8
MEMORY_PER_ENVIRONMENT_BYTES = 64 * 2**20
#: Idle environments are reaped after this many emulated seconds. AWS does not publish how long
#: it keeps an idle environment; observed lifetimes are 5 to 15 minutes.
DEFAULT_ENVIRONMENT_IDLE_S = 600.0


def default_max_environments(available_bytes: int | None = None) -> int:
    """The machine cap to use when none is given: ``available_bytes`` (default: the memory
    available now, from psutil) over ``MEMORY_PER_ENVIRONMENT_BYTES``, clamped to
    [``MAX_ENVIRONMENTS_FLOOR``, ``MAX_ENVIRONMENTS_CEILING``]. Ours, not AWS's: AWS has no such
    cap, only the account's concurrency
    (https://docs.aws.amazon.com/lambda/latest/dg/lambda-concurrency.html)."""
    if available_bytes is None:
        available_bytes = psutil.virtual_memory().available
    by_memory = available_bytes // MEMORY_PER_ENVIRONMENT_BYTES
    return int(max(MAX_ENVIRONMENTS_FLOOR, min(MAX_ENVIRONMENTS_CEILING, by_memory)))


class ProcessRuntime(Runtime):
    """Invokes the service's handlers in execution environments (one process each)."""

    def __init__(
        self,
        service: ServiceSpec,
        clock: Clock,
        metrics: Metrics,
        environment: dict[str, str],
        concurrency: int = 1000,
        max_environments: int | None = None,
        idle_seconds: float = DEFAULT_ENVIRONMENT_IDLE_S,
    ) -> None:
        super().__init__(service, clock, metrics, environment, concurrency)
        if max_environments is None:
            max_environments = default_max_environments()
        if max_environments < 1:
            raise ValueError(f"--max-environments must be at least 1, got {max_environments}")
        if idle_seconds <= 0:
            raise ValueError(f"--environment-idle must be positive, got {idle_seconds}")
        self.max_environments = max_environments
        self.idle_seconds = idle_seconds
        self._bootstraps: dict[str, Bootstrap] = {}
        self._warm: dict[str, list[ExecutionEnvironment]] = {}  # free ones, per function key
        self._live: set[ExecutionEnvironment] = set()  # every environment with a process
        self._freed: asyncio.Condition | None = None
        self._reaper: asyncio.Task | None = None
        self._warned_cap = False
        self._ending: set[asyncio.Task] = set()  # environments being ended in the background

    @property
    def environments(self) -> int:
        """Execution environments alive now (busy or warm)."""
        return len(self._live)

    def start(self) -> None:
        """Check every function has a bootstrap (ServiceError if not); say once per runtime
        when it runs on another Python than it names. Environments start on demand."""
        warned: set[str] = set()
        for key, spec in self.service.functions.items():
            bootstrap = bootstrap_for(spec)
            self._bootstraps[key] = bootstrap
            if bootstrap.mismatch and spec.runtime not in warned:
                warned.add(spec.runtime)
                log.warning("%s", bootstrap.mismatch)

    async def prewarm(self) -> None:
        """Initialise one environment per function now (up to ``max_environments``), as
        provisioned concurrency does: ``AWS_LAMBDA_INITIALIZATION_TYPE`` is
        ``provisioned-concurrency`` and idleness never reaps them
        (https://docs.aws.amazon.com/lambda/latest/dg/provisioned-concurrency.html), though at
        the machine cap the longest-idle environment, prewarmed or not, makes room. A function
        whose Init fails is left to initialise on demand, where its first invocation reports it."""
        specs = list(self.service.functions.values())
        chosen, skipped = specs[: self.max_environments], specs[self.max_environments :]
        await asyncio.gather(*(self._provision(spec) for spec in chosen))
        log.info("prewarmed %d execution environment(s)", len(self._live))
        if skipped:
            log.warning(
                "not prewarmed (--max-environments %d): %s",
                self.max_environments,
                ", ".join(spec.name for spec in skipped),
            )

    async def _provision(self, spec: FunctionSpec) -> None:
        env = ExecutionEnvironment(
            spec, self.service, self._bootstraps[spec.key], self.environment, PROVISIONED
        )
        self._live.add(env)
        await env.start()
        try:
            error = await env.initialise(INIT_LIMIT_S, INIT_TAG)
        except InitTimeout:
            error = {"errorType": "Runtime.InitTimeout", "errorMessage": f"over {INIT_LIMIT_S} s"}
        if error is not None:
            self._live.discard(env)
            log.warning("%s: not prewarmed: %s", spec.name, error.get("errorMessage"))
            return
        env.idle_since = self.clock.now()
        self._warm.setdefault(spec.key, []).append(env)

    async def close(self, grace_seconds: float = 5.0) -> None:
        """Let running invocations finish a while (real seconds), then end every environment."""
        if self._reaper is not None:
            self._reaper.cancel()
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=grace_seconds)
            if pending:
                log.warning("stopping %d invocation(s) still running", len(pending))
        self._warm.clear()  # first: their ends are the emulator's doing, not their code's
        await asyncio.gather(
            *(env.kill() for env in list(self._live)), *self._ending, return_exceptions=True
        )
        self._live.clear()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- environments ------------------------------------------------------------------------

    async def _acquire(self, spec: FunctionSpec) -> tuple[ExecutionEnvironment, bool]:
        """A free environment of ``spec`` and whether it is new (not yet initialised)."""
        if self._freed is None:
            self._freed = asyncio.Condition()
            self._reaper = asyncio.get_running_loop().create_task(self._reap())
        while True:
            warm = self._warm.get(spec.key)
            if warm:
                env = warm.pop()
                if env.ready:
                    return env, False
                # Its runtime exited between invocations and the exit has not been handled
                # yet: Lambda never hands an invocation to such an environment; it replaces it.
                await self._discard(env)
                continue
            if len(self._live) >= self.max_environments:
                await self._evict_one_idle()
            if len(self._live) < self.max_environments:
                env = ExecutionEnvironment(
                    spec, self.service, self._bootstraps[spec.key], self.environment
                )
                self._live.add(env)
                return env, True
            self.metrics.environment_wait(spec.name)
            if not self._warned_cap:
                self._warned_cap = True
                log.warning(
                    "all %d execution environments are busy (--max-environments): invocations "
                    "wait for a free one (AWS would not make them wait)",
                    self.max_environments,
                )
            async with self._freed:
                await self._freed.wait()

    async def _evict_one_idle(self) -> None:
        """Make room at the machine cap: end the longest-idle warm environment of any function."""
        idle = [env for envs in self._warm.values() for env in envs]
        if idle:
            oldest = min(idle, key=lambda env: env.idle_since)
            await self._discard(oldest)

    async def _release(self, env: ExecutionEnvironment, alive: bool) -> None:
        """Return ``env`` to the warm pool once its runtime asks for more work, else end it."""
        if alive and await env.ready_for_next():
            env.idle_since = self.clock.now()
            env.note_tree()
            self._warm.setdefault(env.spec.key, []).append(env)
            env.on_exit(lambda code: self._exited_while_warm(env, code))
        else:
            await self._discard(env)
        assert self._freed is not None
        async with self._freed:
            self._freed.notify()

    def _exited_while_warm(self, env: ExecutionEnvironment, returncode: int) -> None:
        """``env``'s runtime process ended on its own while it waited warm (the function's code
        did it: a thread calling ``os._exit``, a Node.js rejection no one handled after the
        handler returned). Lambda replaces an environment whose runtime exits, so it leaves the
        pool at once and the next invocation starts a new one
        (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html); what
        the handler started goes with it. Environments the emulator ends itself have left the
        pool first and are not reported."""
        warm = self._warm.get(env.spec.key)
        if not warm or env not in warm:
            return
        warm.remove(env)
        self._live.discard(env)
        # "RequestId: <the last invocation's> Error: Runtime exited with error: exit status N"
        how = exit_error(env.request_id, returncode, "Runtime.ExitError")["errorMessage"]
        log.warning(
            "%s: the function's own code ended its runtime process between invocations, after "
            "the invocation had returned (%s); the environment is replaced, and the next "
            "invocation starts a new one (a cold start)",
            env.spec.name,
            how,
        )
        task = asyncio.get_running_loop().create_task(env.kill())
        self._ending.add(task)
        task.add_done_callback(self._ending.discard)

    async def _discard(self, env: ExecutionEnvironment) -> None:
        self._live.discard(env)
        warm = self._warm.get(env.spec.key)
        if warm and env in warm:
            warm.remove(env)
        await env.kill()

    async def _reap(self) -> None:
        """End environments idle for ``idle_seconds`` (emulated)."""
        while True:
            await self.clock.sleep(self.idle_seconds / 4)
            now = self.clock.now()
            for env in [e for envs in self._warm.values() for e in envs]:
                if not env.provisioned and now - env.idle_since >= self.idle_seconds:
                    await self._discard(env)

    async def _cold_start(
        self, env: ExecutionEnvironment, spec: FunctionSpec, record: InvocationRecord
    ) -> tuple[ExecutionEnvironment, dict | None]:
        """Start and initialise ``env``: (the environment, None when it is ready, else the
        invocation's error).

        Init is limited to ``INIT_LIMIT_S``; past it the environment is killed and Init tried
        once more in a new one within the function timeout, as AWS does at the first
        invocation."""
        loop = asyncio.get_running_loop()
        record.init_began = loop.time()
        try:
            await env.start()
            try:
                return env, await env.initialise(INIT_LIMIT_S, record.request_id)
            except InitTimeout:
                log.warning(
                    "%s: Init passed %g s; retrying it within the function timeout",
                    spec.name,
                    INIT_LIMIT_S,
                )
            self._live.discard(env)
            env = ExecutionEnvironment(
                spec, self.service, self._bootstraps[spec.key], self.environment
            )
            self._live.add(env)
            await env.start()
            try:
                return env, await env.initialise(spec.timeout, record.request_id)
            except InitTimeout:
                return env, timeout_error(record, spec.timeout)
        finally:
            record.init_real_s = loop.time() - record.init_began
            self.metrics.lambda_start(spec.name, cold=True, init_ms=record.init_ms)

    # -- invoking ----------------------------------------------------------------------------

    async def _run(
        self,
        spec: FunctionSpec,
        record: InvocationRecord,
        event: Any,
        on_chunk: Callable[[Any], object] | None,
    ) -> InvocationResult:
        env, cold = await self._acquire(spec)
        error: dict | None = None
        if cold:
            env, error = await self._cold_start(env, spec, record)
        else:
            self.metrics.lambda_start(spec.name, cold=False, init_ms=None)
        # The invoke phase, the function timeout's span, starts now.
        record.started_at = self.clock.now()
        if error is not None:
            record.finish(self.clock.now(), Outcome.ERROR)
            await self._release(env, alive=False)
            end_record(record, spec, self.metrics)
            return InvocationResult(record, None, error)
        result = await env.invoke(
            record.request_id, event, self.clock.to_real(spec.timeout), on_chunk
        )
        if result.timed_out:
            record.finish(record.started_at + spec.timeout, Outcome.TIMEOUT)
            error = timeout_error(record, spec.timeout)
        else:
            error = result.error
            record.finish(self.clock.now(), Outcome.SUCCESS if error is None else Outcome.ERROR)
        await self._release(env, result.alive)
        if error is not None:
            log.error("%s: %s", error.get("errorType"), error.get("errorMessage"))
        end_record(record, spec, self.metrics)
        return InvocationResult(record, result.payload, error)
