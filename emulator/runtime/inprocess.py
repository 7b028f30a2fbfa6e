"""Lambda functions run in this process, one thread per running invocation.

Like AWS, an invocation is not stopped because its caller gave up: it runs to its end (or to its
own timeout) and is billed for it. At the function timeout the invocation fails with AWS's
"Task timed out" error and its thread is interrupted at the next Python instruction, which is as
close to AWS freezing the sandbox as a thread allows. Handlers share this process's environment,
which is set once for the whole service.
"""

from __future__ import annotations

import asyncio
import ctypes
import importlib.util
import inspect
import logging
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

from emulator.clock import Clock
from emulator.core.invocations import InvocationRecord, Outcome
from emulator.metrics import Metrics
from emulator.runtime import logs
from emulator.runtime.context import LambdaContext
from emulator.runtime.invocation import (
    InvocationResult,
    Runtime,
    end_record,
    handler_error,
    timeout_error,
)
from emulator.service import FunctionSpec, ServiceError, ServiceSpec

log = logging.getLogger("timeoutlab.lambda")


class _Stopped(BaseException):
    """Raised inside a handler thread whose invocation hit the function timeout."""


class _Thread:
    """Which thread runs an invocation, so the timeout can interrupt that one and no other."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ident: int | None = None

    def interrupt(self) -> bool:
        with self.lock:
            if self.ident is None:
                return False
            ctypes.pythonapi.PyThreadState_SetAsyncExc(
                ctypes.c_ulong(self.ident), ctypes.py_object(_Stopped)
            )
            return True


class InProcessRuntime(Runtime):
    """Invokes the service's handlers in threads of this process."""

    def __init__(
        self,
        service: ServiceSpec,
        clock: Clock,
        metrics: Metrics,
        environment: dict[str, str],
        concurrency: int = 1000,
    ) -> None:
        merged = _merged_environment(service, environment)
        super().__init__(service, clock, metrics, merged, concurrency)
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="lambda")
        self._handlers: dict[str, Callable[[Any, Any], Any]] = {}
        self._threads: set[_Thread] = set()
        self._stoppers: set[asyncio.Task] = set()
        self._started = False

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Set the handlers' environment and import every handler, failing early and clearly."""
        _ENVIRONMENT.claim(self.environment)
        logs.install()
        try:
            directory = str(self.service.directory)
            if directory not in sys.path:
                sys.path.append(directory)  # the deployment package root, as /var/task on AWS
            _forget_modules_of(self.service.directory)
            for key, spec in self.service.functions.items():
                self._handlers[key] = _load_handler(spec)
        except BaseException:
            self._release()
            raise
        self._started = True

    def _release(self) -> None:
        logs.uninstall()
        _ENVIRONMENT.release(self.environment)

    async def close(self, grace_seconds: float = 5.0) -> None:
        """Let running invocations finish a while (real seconds), stop the rest, restore state."""
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=grace_seconds)
            if pending:
                log.warning("stopping %d invocation(s) still running", len(pending))
            await asyncio.gather(*(_stop(thread) for thread in list(self._threads)))
        if self._stoppers:
            await asyncio.gather(*self._stoppers, return_exceptions=True)
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self._started:
            self._started = False
            self._release()

    # -- invoking ----------------------------------------------------------------------------

    async def _run(
        self,
        spec: FunctionSpec,
        record: InvocationRecord,
        event: Any,
        on_chunk: Callable[[Any], object] | None,
    ) -> InvocationResult:
        deadline = record.started_at + spec.timeout
        context = LambdaContext(
            function_name=spec.name,
            memory_mb=spec.memory_mb,
            region=self.service.region,
            request_id=record.request_id,
            remaining_seconds=lambda: deadline - self.clock.now(),
        )
        thread = _Thread()
        self._threads.add(thread)
        handler = self._handlers[spec.key]
        future = asyncio.get_running_loop().run_in_executor(
            self._pool, _call_handler, handler, event, context, thread, on_chunk
        )
        try:
            payload, error = await asyncio.wait_for(future, self.clock.to_real(spec.timeout))
            record.finish(self.clock.now(), Outcome.SUCCESS if error is None else Outcome.ERROR)
        except TimeoutError:
            record.finish(deadline, Outcome.TIMEOUT)
            stopper = asyncio.get_running_loop().create_task(_stop(thread))
            self._stoppers.add(stopper)
            stopper.add_done_callback(self._stoppers.discard)
            payload, error = None, timeout_error(record, spec.timeout)
        finally:
            self._threads.discard(thread)
        end_record(record, spec, self.metrics)
        return InvocationResult(record, payload, error)


async def _stop(thread: _Thread, attempts: int = 40) -> None:
    """Interrupt a handler's thread until it has left the handler: an interrupt that lands in a
    finalizer (a weakref callback, a __del__) is swallowed by Python, so one is not enough."""
    for _ in range(attempts):
        if not thread.interrupt():
            return
        await asyncio.sleep(0.05)
    log.warning("a handler thread did not stop; it will run to its end")


def _call_handler(
    handler: Callable[[Any, Any], Any],
    event: Any,
    context: LambdaContext,
    thread: _Thread,
    on_chunk: Callable[[Any], object] | None,
) -> tuple[Any, dict | None]:
    """Runs on a pool thread: the handler's result, or its error as AWS reports it."""
    try:
        try:
            with thread.lock:
                thread.ident = threading.get_ident()
            with logs.function_output(context.function_name, context.aws_request_id):
                result = handler(event, context)
                if not inspect.isgenerator(result):
                    return result, None
                if on_chunk is None:
                    return None, {
                        "errorMessage": "Unable to marshal response: a generator is not JSON "
                        "serializable (only a streaming route streams)",
                        "errorType": "Runtime.MarshalError",
                    }
                for item in result:
                    on_chunk(item)
                return None, None
        finally:
            with thread.lock:
                thread.ident = None
    except _Stopped:
        return None, {"errorMessage": "stopped at the function timeout", "errorType": "Stopped"}
    except Exception as exc:
        log.error("[ERROR] %s: %s (RequestId: %s)", type(exc).__name__, exc, context.aws_request_id)
        return None, handler_error(exc, context.aws_request_id)


def _forget_modules_of(directory: Path) -> None:
    """A new runtime is a new execution environment: modules the handlers imported from the
    package (and the clients they cached) are imported afresh, with this runtime's environment."""
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if path and Path(path).resolve().parent == directory:
            del sys.modules[name]


def _load_handler(spec: FunctionSpec) -> Callable[[Any, Any], Any]:
    if not spec.runtime.startswith("python"):
        raise ServiceError(
            f"function {spec.key}: runtime {spec.runtime} runs only in execution environments "
            "(processes speaking the Lambda Runtime API); this in-process runtime runs Python"
        )
    module_name = f"_timeoutlab_lambda_{spec.key}"
    module_spec = importlib.util.spec_from_file_location(module_name, spec.module_path)
    if module_spec is None or module_spec.loader is None:
        raise ServiceError(f"cannot load handler file {spec.module_path}")
    module: ModuleType = importlib.util.module_from_spec(module_spec)
    try:
        module_spec.loader.exec_module(module)
    except Exception as exc:
        raise ServiceError(
            f"function {spec.key}: importing {spec.module_path} failed: {type(exc).__name__}: {exc}"
        ) from exc
    handler = getattr(module, spec.attribute, None)
    if not callable(handler):
        raise ServiceError(
            f"function {spec.key}: {spec.module_path} has no function {spec.attribute!r}"
        )
    return handler


class _SharedEnvironment:
    """os.environ is one per process: runtimes alive at once must agree on every value."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._claims: dict[str, tuple[str, int]] = {}  # name -> (value, live runtimes using it)
        self._saved: dict[str, str | None] = {}

    def claim(self, environment: dict[str, str]) -> None:
        with self._lock:
            for name, value in environment.items():
                held = self._claims.get(name)
                if held is not None and held[0] != value:
                    raise ServiceError(
                        f"another emulator in this process runs with {name}={held[0]!r}, this one "
                        f"needs {value!r}; Lambda functions here share one process environment, "
                        "so run emulators with different settings one after the other"
                    )
            for name, value in environment.items():
                held = self._claims.get(name)
                if held is None:
                    self._saved[name] = os.environ.get(name)
                    os.environ[name] = value
                self._claims[name] = (value, (held[1] if held else 0) + 1)

    def release(self, environment: dict[str, str]) -> None:
        with self._lock:
            for name in environment:
                value, count = self._claims.pop(name, ("", 1))
                if count > 1:
                    self._claims[name] = (value, count - 1)
                    continue
                saved = self._saved.pop(name, None)
                if saved is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = saved


_ENVIRONMENT = _SharedEnvironment()


def _merged_environment(service: ServiceSpec, extra: dict[str, str]) -> dict[str, str]:
    """One environment for all functions (they share this process); conflicts are errors."""
    merged = dict(extra)
    origin: dict[str, str] = {}
    for key, spec in service.functions.items():
        for name, value in spec.environment.items():
            if name in merged and merged[name] != value and name in origin:
                raise ServiceError(
                    f"environment variable {name} differs between functions {origin[name]} and "
                    f"{key}; the in-process runtime gives all functions one environment"
                )
            merged.setdefault(name, value)
            origin.setdefault(name, key)
    return merged
