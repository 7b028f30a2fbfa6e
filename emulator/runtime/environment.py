"""One Lambda execution environment: a child process with a Runtime API of its own.

Its lifecycle follows AWS's (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html):
Init once (from spawn to the runtime's first ``next``, measured as the Init Duration), then one
invocation at a time. The process runs in a process group of its own and is a child subreaper
(``process_tree``), so a timeout, a crash, memory over ``memorySize`` or the emulator's stop ends
it and everything it started, detached and double-forked processes included (``end_tree``), and
nothing it does reaches the emulator; it holds the emulator's lifeline (``emulator.lifeline``),
so it dies with the emulator, its whole tree too, even when that is killed with SIGKILL. Its
stdout and stderr become log lines of ``timeoutlab.lambda.<function>``, each tagged with the
request id running then, as CloudWatch shows them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psutil

from emulator.core.events import ACCOUNT_ID, new_request_id
from emulator.core.runtime_api import Assignment, exit_error
from emulator.lifeline import lifeline
from emulator.runtime.bootstraps import Bootstrap
from emulator.runtime.process_tree import (
    Members,
    descendants,
    end_group,
    end_tree,
    read_proc,
    running,
)
from emulator.runtime.runtime_api import ChunkSink, Reply, RuntimeApiServer
from emulator.runtime.variables import (
    INITIALIZATION_TYPE,
    PROVISIONED,
    environment_variables,
    log_stream_name,
)
from emulator.service import FunctionSpec, ServiceSpec

log = logging.getLogger("timeoutlab.lambda")
#: How often the process tree's memory is measured during an invocation (real seconds): first
#: after ``MEMORY_POLL_S``, then at twice the previous interval, up to ``MEMORY_POLL_MAX_S``.
#: The figure read is each process's peak (VmHWM), which never falls, so a later read still
#: sees any excursion over ``memorySize``: a longer interval only kills later, and the reply is
#: checked once more before it counts. Short invocations, most of them, are read a few times.
MEMORY_POLL_S = 0.02
MEMORY_POLL_MAX_S = 0.16
#: Shown in the logs before the first invocation's request id is known.
INIT_TAG = "INIT"


class InitTimeout(Exception):
    """The Init phase did not end within its limit: the environment has been killed."""


@dataclass
class Result:
    """What one invocation in an environment came to; ``alive`` says if it can be reused."""

    payload: Any = None
    error: dict | None = None
    timed_out: bool = False
    alive: bool = True


def tree_memory_bytes(pid: int) -> int:
    """The memory of a process and its descendants, in bytes: the sum of each one's peak
    resident set (VmHWM, Linux) or, where that cannot be read, its current RSS. Address-space
    limits are not used: they break runtimes (Node.js) that reserve large address ranges.

    Polled every ``MEMORY_POLL_S`` during each invocation, so it reads only the tree's own
    ``/proc`` files (``descendants``), never a scan of every process on the machine."""
    return _memory_bytes([pid, *descendants(pid)])


def _memory_bytes(pids: list[int]) -> int:
    """The sum of the processes' peak resident sets (see ``tree_memory_bytes``), in bytes."""
    total = 0
    for member in pids:
        peak = _peak_rss(member)
        if peak is None:
            try:
                peak = psutil.Process(member).memory_info().rss
            except psutil.Error:
                continue
        total += peak
    return total


def _peak_rss(pid: int) -> int | None:
    """The process's peak resident set (``VmHWM`` in /proc/<pid>/status, kB), in bytes."""
    status = read_proc(f"/proc/{pid}/status")
    if status is None:
        return None
    at = status.find(b"\nVmHWM:")
    if at < 0:
        return None
    try:
        return int(status[at + 7 : status.index(b"\n", at + 1)].split()[0]) * 1024
    except (ValueError, IndexError):
        return None


class ExecutionEnvironment:
    """One environment of ``spec``: ``start``, ``initialise``, then ``invoke`` again and again
    until it is ``kill``-ed or an invocation leaves it dead."""

    def __init__(
        self,
        spec: FunctionSpec,
        service: ServiceSpec,
        bootstrap: Bootstrap,
        ours: dict[str, str],
        initialization_type: str = INITIALIZATION_TYPE,
    ) -> None:
        self.spec = spec
        self.initialization_type = initialization_type
        self.service = service
        self.bootstrap = bootstrap
        self.ours = ours
        self.api: RuntimeApiServer | None = None
        self.process: asyncio.subprocess.Process | None = None
        self.request_id = INIT_TAG  # the invocation running now, for the log lines
        self.idle_since = 0.0  # emulated time it last finished an invocation
        self.init_real_s: float | None = None
        self._exited: asyncio.Task[int] | None = None
        #: Every process seen in its tree, ended with it even if reparented away meanwhile.
        self.members = Members()
        self._on_exit: Callable[[int], object] | None = None
        self._pumps: list[asyncio.Task] = []
        self._function_log = logging.getLogger(f"timeoutlab.lambda.{spec.name}")
        #: ``Lambda-Runtime-Invoked-Function-Arn`` of every invocation (made once).
        self.function_arn = f"arn:aws:lambda:{service.region}:{ACCOUNT_ID}:function:{spec.name}"

    @property
    def provisioned(self) -> bool:
        """Made ahead of any invocation (``--prewarm``): kept however long it stays idle."""
        return self.initialization_type == PROVISIONED

    @property
    def alive(self) -> bool:
        """Its process has not been seen to end (``ready`` checks more closely)."""
        return self._exited is not None and not self._exited.done()

    @property
    def ready(self) -> bool:
        """Whether it can take an invocation now: its process runs (not a zombie the event loop
        has yet to reap) and its runtime waits on ``next``. A warm environment whose runtime
        exited between invocations (the function's own code: ``os._exit`` in a thread, a
        Node.js rejection no one handled) is not: Lambda replaces an environment whose runtime
        exits, and the next invocation gets a new one
        (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html)."""
        pid = self.pid
        return (
            self.alive
            and pid is not None
            and self.api is not None
            and self.api.waiting
            and running(pid)
        )

    def on_exit(self, callback: Callable[[int], object]) -> None:
        """Call ``callback(returncode)`` when its process ends (soon after, if it has): one
        callback at a time, a later call replaces it (so an environment reused a million times
        holds one)."""
        assert self._exited is not None
        first = self._on_exit is None
        self._on_exit = callback
        if first:
            self._exited.add_done_callback(self._exit_seen)

    def _exit_seen(self, task: asyncio.Task[int]) -> None:
        if self._on_exit is not None and not task.cancelled():
            self._on_exit(task.result())

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    async def start(self) -> None:
        """Serve its Runtime API and spawn its process (the Init phase begins)."""
        self.api = RuntimeApiServer()
        await self.api.start()
        variables = environment_variables(
            self.spec,
            self.service,
            self.bootstrap,
            runtime_api=self.api.address,
            ours=self.ours,
            log_stream=log_stream_name(),
            initialization_type=self.initialization_type,
        )
        # The bootstrap holds the emulator's lifeline and takes its variable out of the handler's
        # environment: the environment dies with the emulator, however it ends.
        line = lifeline()
        self.process = await asyncio.create_subprocess_exec(
            *self.bootstrap.command,
            env={**variables, **line.environment},
            pass_fds=line.pass_fds,
            cwd=str(self.service.directory),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,  # a process group of its own, killed as one
        )
        self._exited = asyncio.get_running_loop().create_task(self.process.wait())
        for stream in (self.process.stdout, self.process.stderr):
            assert stream is not None
            self._pumps.append(asyncio.get_running_loop().create_task(self._pump(stream)))

    async def initialise(self, limit_real: float, request_id: str) -> dict | None:
        """Wait for the end of the Init phase, at most ``limit_real`` real seconds: None when
        the runtime is ready, else the invocation's error (the runtime's init error, or
        ``Runtime.ExitError`` when it ended during Init; the environment is then dead). Raises
        InitTimeout (the environment killed) when the limit passes first."""
        assert self.api is not None
        assert self._exited is not None
        began = time.monotonic()
        waits: set[asyncio.Future[Any]] = {self.api.initialised, self._exited}
        done, _ = await asyncio.wait(
            waits,
            timeout=limit_real,
            return_when=asyncio.FIRST_COMPLETED,
        )
        self.init_real_s = time.monotonic() - began
        if self.api.initialised in done and self.api.initialised.result() is None:
            return None
        if self.api.initialised.done():
            error = self.api.initialised.result()
        elif self._exited in done:
            error = exit_error(request_id, self._exited.result(), "Runtime.ExitError")
        else:
            await self.kill()
            raise InitTimeout(f"{self.spec.name}: Init did not end within {limit_real:g} s")
        await self.kill()
        return error

    async def invoke(
        self,
        request_id: str,
        event: Any,
        timeout_real: float,
        sink: ChunkSink | None,
    ) -> Result:
        """Run one invocation; at ``timeout_real`` (real seconds) the environment is killed."""
        assert self.api is not None
        assert self._exited is not None
        self.request_id = request_id
        assignment = Assignment(
            request_id=request_id,
            event=json.dumps(event).encode(),
            deadline_ms=int((time.time() + timeout_real) * 1000),
            function_arn=self.function_arn,
            trace_id=f"Root=1-{int(time.time()):08x}-{new_request_id().replace('-', '')[:24]};"
            "Sampled=0",
        )
        reply = self.api.invoke(assignment, sink)
        watcher = _MemoryWatch(self._over_memory)
        try:
            waits: set[asyncio.Future[Any]] = {reply, self._exited, watcher.over}
            done, _ = await asyncio.wait(
                waits,
                timeout=timeout_real,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            watcher.stop()
        if reply in done and not self._over_memory():
            answer: Reply = reply.result()
            if answer.streamed and sink is None:
                return Result(error=_marshal_error())
            return Result(payload=answer.payload, error=answer.error)
        if self._exited in done:
            await self.kill()
            return Result(error=self._exit_error(self._exited.result()), alive=False)
        if watcher.over in done or reply in done:  # over memorySize: killed, as Lambda does
            await self.kill()
            return Result(error=exit_error(request_id, -9, "Runtime.OutOfMemory"), alive=False)
        await self.kill()
        return Result(timed_out=True, alive=False)

    async def ready_for_next(self) -> bool:
        """Wait until the runtime asks for its next invocation (True) or its process has ended
        (False): Lambda reuses an environment only once its runtime calls ``next`` again
        (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html), so a runtime that
        posts an error and then exits (Node.js on an uncaught exception) is never reused."""
        assert self.api is not None
        assert self._exited is not None
        asked = self.api.next_asked()
        try:
            waits: set[asyncio.Future[Any]] = {asked, self._exited}
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            asked.cancel()
        return self.alive and self.api.waiting

    def _exit_error(self, returncode: int) -> dict:
        return exit_error(self.request_id, returncode, "Runtime.ExitError")

    def _over_memory(self) -> bool:
        pid = self.pid
        if pid is None:
            return False
        tree = descendants(pid)
        self.members.note(tree)
        return _memory_bytes([pid, *tree]) > self.spec.memory_mb * 1024 * 1024

    def note_tree(self) -> None:
        """Read its tree now and remember its members (see ``members``)."""
        if self.pid is not None:
            self.members.note(descendants(self.pid))

    async def kill(self) -> None:
        """End its whole process tree (``end_tree``: every descendant, the process group, the
        runtime; members seen before that left the tree), the log pumps and the Runtime API.
        Logs a warning naming what could not be ended within ``END_TREE_LIMIT_S``."""
        if self.process is not None:
            pid = self.process.pid
            if self.process.returncode is None:
                left = await asyncio.to_thread(end_tree, pid, self.members)
            else:  # reaped: what is left of its group, and the members seen
                left = []
                await asyncio.to_thread(end_group, pid, self.members)
            if left:
                log.warning("%s: left running by its environment: %s", self.spec.name, left)
        if self._exited is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._exited
        if self._pumps:
            await asyncio.gather(*self._pumps, return_exceptions=True)
            self._pumps.clear()
        if self.api is not None:
            await self.api.close()
            self.api = None

    async def _pump(self, stream: asyncio.StreamReader) -> None:
        """Each line the process writes becomes a log line tagged with the running request."""
        while True:
            try:
                line = await stream.readline()
            except ValueError:  # a line longer than the reader's limit: take what is there
                line = await stream.read(64 * 1024)
            if not line:
                return
            if not self._function_log.isEnabledFor(logging.INFO):
                continue  # read, so the process never blocks on a full pipe; not shown
            # awslambdaric joins the lines of one record (a traceback) with \r, so CloudWatch
            # keeps them as one event; on a terminal a \r overwrites, so each is a line here.
            for text in line.decode(errors="replace").rstrip("\r\n").split("\r"):
                self._function_log.info("%s\t%s", self.request_id, text)


class _MemoryWatch:
    """Reads the tree's memory during one invocation with timer callbacks (no task): first
    after ``MEMORY_POLL_S``, then at twice the previous interval, up to ``MEMORY_POLL_MAX_S``
    (memory is polled: nothing signals it). ``over`` resolves once ``over_memory`` says so.

    The first read waits one interval too: the figure is a peak, which never falls, so nothing
    is missed, and the reply is checked once more before it counts."""

    def __init__(self, over_memory: Callable[[], bool]) -> None:
        self._loop = asyncio.get_running_loop()
        self._over_memory = over_memory
        self.over: asyncio.Future[None] = self._loop.create_future()
        self._interval = MEMORY_POLL_S
        self._timer = self._loop.call_later(self._interval, self._read)

    def _read(self) -> None:
        if self._over_memory():
            if not self.over.done():
                self.over.set_result(None)
            return
        self._interval = min(2 * self._interval, MEMORY_POLL_MAX_S)
        self._timer = self._loop.call_later(self._interval, self._read)

    def stop(self) -> None:
        self._timer.cancel()
        self.over.cancel()


def _marshal_error() -> dict:
    """A generator returned where the caller does not stream (only a streaming route does)."""
    return {
        "errorMessage": "Unable to marshal response: a generator is not JSON serializable "
        "(only a streaming route streams)",
        "errorType": "Runtime.MarshalError",
    }
