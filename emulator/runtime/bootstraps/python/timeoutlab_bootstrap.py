"""The Python runtime of timeoutlab's execution environments: AWS's awslambdaric, thinly wrapped.

Run as ``python -m timeoutlab_bootstrap <handler>`` with ``AWS_LAMBDA_RUNTIME_API`` set, this
module's folder and ``LAMBDA_TASK_ROOT`` on ``PYTHONPATH`` and nothing else of the emulator's.
It is self-contained on purpose: it imports nothing from ``emulator``. On top of awslambdaric
(AWS's Lambda Runtime Interface Client for Python, from PyPI) it adds three things:

- ``context.get_remaining_time_in_millis()`` answers in emulated ms: awslambdaric subtracts the
  wall clock from ``Lambda-Runtime-Deadline-Ms`` (a real epoch), which is real ms; divided by
  ``TIMEOUTLAB_TIME_SCALE`` (real seconds per emulated second) it is emulated ms;
- a handler that returns a generator streams: awslambdaric cannot, so this module posts the
  response itself in Lambda's streaming mode (``Lambda-Runtime-Function-Response-Mode:
  streaming``, chunked; a dict yielded first is an HTTP integration's metadata, sent as its JSON
  then 8 NUL bytes, as Node.js's ``awslambda.HttpResponseStream`` does), and tells awslambdaric's
  client not to post a second response;
- the environment dies with the emulator however the emulator ends (SIGKILL included): it holds
  the emulator's lifeline (``emulator/lifeline.py`` explains it; ``hold_lifeline`` is a copy of its
  ``hold``, since this module imports nothing of the emulator's);
- the process is a child subreaper (Linux), so what the handler starts stays in its tree even when
  it detaches or is double-forked, and it ends that whole tree when the lifeline ends or the
  runtime exits (``emulator/runtime/process_tree.py`` explains it; ``end_descendants`` is a small
  copy of its ``end_tree``);
- the stack trace of a handler's error starts at the handler's own file, as on AWS: this module's
  frames (the wrapper that streams) are left out, as awslambdaric leaves out its own;
- the handler's module must come from ``LAMBDA_TASK_ROOT`` (the deployment package), never from
  the emulator's installed packages: anything else fails init with ``Runtime.ImportModuleError``.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import http.client
import importlib.util
import inspect
import json
import os
import select
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from awslambdaric import bootstrap
from awslambdaric.lambda_context import LambdaContext
from awslambdaric.lambda_runtime_client import LambdaRuntimeClient

LIFELINE_VARIABLE = "TIMEOUTLAB_LIFELINE_FD"
#: How long (real seconds) a runtime whose Runtime API failed waits for the lifeline's end.
LIFELINE_GRACE_S = 2.0
SCALE = float(os.environ.get("TIMEOUTLAB_TIME_SCALE") or 1.0)
RESPONSE_PATH = "/2018-06-01/runtime/invocation/{}/response"
PRELUDE_SEPARATOR = b"\x00" * 8
HTTP_INTEGRATION_CONTENT_TYPE = "application/vnd.awslambda.http-integration-response"


def remaining_emulated_ms(self: LambdaContext) -> int:
    """What is left of the invocation, in emulated ms (the deadline header is real)."""
    real_ms = self._epoch_deadline_time_in_ms - int(time.time() * 1000)
    return max(0, int(real_ms / SCALE))


class Client(LambdaRuntimeClient):
    """awslambdaric's client, which skips the response of an invocation already streamed."""

    def __init__(self, address: str) -> None:
        super().__init__(address)
        self.streamed: set[str] = set()

    def post_invocation_result(self, invoke_id, result_data, *args, **kwargs):  # type: ignore[no-untyped-def]
        if invoke_id in self.streamed:
            self.streamed.discard(invoke_id)
            return
        super().post_invocation_result(invoke_id, result_data, *args, **kwargs)


def _chunk(item: Any) -> bytes:
    if isinstance(item, dict):
        return json.dumps(item).encode() + PRELUDE_SEPARATOR
    return item.encode() if isinstance(item, str) else bytes(item)


def stream(address: str, request_id: str, items: Iterator[Any]) -> None:
    """Post ``items`` as one streamed response. An error before the first item is raised (so it
    is reported as the invocation's error); one after it ends the stream with Lambda's error
    trailers and is logged."""
    first = next(items, None)
    connection = http.client.HTTPConnection(address)
    connection.putrequest("POST", RESPONSE_PATH.format(request_id))
    connection.putheader("Lambda-Runtime-Function-Response-Mode", "streaming")
    connection.putheader("Transfer-Encoding", "chunked")
    content_type = (
        HTTP_INTEGRATION_CONTENT_TYPE if isinstance(first, dict) else "application/octet-stream"
    )
    connection.putheader("Content-Type", content_type)
    connection.putheader("Trailer", "Lambda-Runtime-Function-Error-Type")
    connection.endheaders()

    def send(data: bytes) -> None:
        if data:
            connection.send(b"%x\r\n%s\r\n" % (len(data), data))

    trailer = b""
    try:
        if first is not None:
            send(_chunk(first))
        for item in items:
            send(_chunk(item))
    except Exception as exc:
        traceback.print_exc()
        trailer = f"Lambda-Runtime-Function-Error-Type: {type(exc).__name__}\r\n".encode()
    connection.send(b"0\r\n" + trailer + b"\r\n")
    connection.getresponse().read()
    connection.close()


def streaming(handler: Callable[[Any, Any], Any], client: Client) -> Callable[[Any, Any], Any]:
    """``handler``, whose generators are streamed instead of returned."""

    def run(event: Any, context: LambdaContext) -> Any:
        result = handler(event, context)
        if not inspect.isgenerator(result):
            return result
        stream(client.lambda_runtime_address, context.aws_request_id, result)
        client.streamed.add(context.aws_request_id)
        return None

    return run


def outside_task_root(handler: str, task_root: Path) -> str | None:
    """Why the handler's module may not be loaded (it is not in the task root), or None."""
    module = handler.rpartition(".")[0].replace("/", ".")
    try:
        found = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        found = None
    origin = getattr(found, "origin", None)
    if origin and Path(origin).resolve().is_relative_to(task_root):
        return None
    return f"Unable to import module '{module}': No module named '{module}'"


def hold_lifeline() -> int | None:
    """Watch the emulator's lifeline (a pipe's read end, named by ``TIMEOUTLAB_LIFELINE_FD``,
    which is then removed from the handler's environment): at its end-of-file the emulator is
    gone, and this environment's process group (the handler's children too) is SIGKILLed.
    Returns the pipe's descriptor, None without one."""
    text = os.environ.pop(LIFELINE_VARIABLE, None)
    if not text or not text.isdigit():
        return None
    fd = int(text)
    try:
        os.set_inheritable(fd, False)
    except OSError:
        return None

    def watch() -> None:
        while True:
            try:
                data = os.read(fd, 1)
            except BlockingIOError:  # a Node.js environment made the shared pipe non-blocking
                select.select([fd], [], [])
                continue
            except OSError:
                return
            if not data:
                _kill_group()

    threading.Thread(target=watch, name="timeoutlab-lifeline", daemon=True).start()
    return fd


def die_with_emulator(fd: int | None, wait_s: float) -> None:
    """If the lifeline reaches its end-of-file within ``wait_s`` real seconds, SIGKILL this
    process group now. For the main thread, when the Runtime API has failed between
    invocations: the emulator closes that API only after it has killed this environment, so the
    failure means the emulator is dying, and this process must not exit on its own first, leaving
    what the handler started behind (the watcher thread may not get the GIL in time)."""
    if fd is None:
        return
    try:
        readable, _, _ = select.select([fd], [], [], wait_s)
        if readable and not os.read(fd, 1):
            _kill_group()
    except OSError:
        return


#: ``prctl`` option number of PR_SET_CHILD_SUBREAPER (linux/prctl.h).
PR_SET_CHILD_SUBREAPER = 36
#: How long (real seconds) ``end_descendants`` keeps killing a tree that does not end.
END_LIMIT_S = 2.0


def become_subreaper() -> bool:
    """Make this process a child subreaper (Linux, prctl(2) PR_SET_CHILD_SUBREAPER): a process
    the handler starts that detaches (``setsid``) or is double-forked is reparented to this
    process, not to init, so it stays in the environment's tree and ends with it. False where
    that is not possible (not Linux, or prctl refused)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _children(pid: int) -> list[int]:
    """``pid``'s descendants, from /proc's per-thread ``children`` lists ([] without /proc)."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children", "rb") as listed:
                kids = [int(kid) for kid in listed.read().split()]
        except OSError:
            continue
        for kid in kids:
            found += [kid, *_children(kid)]
    return found


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rpartition(b")")[2].split()[0] != b"Z"
    except (OSError, IndexError):
        return False


def end_descendants() -> None:
    """SIGKILL every descendant of this process, round after round until none runs (a killed
    one's children are reparented here, this process being a subreaper), at most
    ``END_LIMIT_S`` real seconds. On AWS the whole execution environment goes when the runtime
    does (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html)."""
    deadline = time.monotonic() + END_LIMIT_S
    killed: set[int] = set()
    while time.monotonic() < deadline:
        left = [pid for pid in _children(os.getpid()) if _running(pid)]
        if not left:
            return
        for pid in left:
            if pid not in killed:
                killed.add(pid)
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
        time.sleep(0.002)


def end_descendants_of(runtime: int) -> None:
    """``end_descendants`` when this process is ``runtime``: not in a process the handler forked,
    which inherits the ``atexit`` registration."""
    if os.getpid() == runtime:
        end_descendants()


def user_frames(extract: Callable[[Any], list[tuple]]) -> Callable[[Any], list[tuple]]:
    """awslambdaric's ``extract_traceback`` without this module's frames: the stack trace of a
    handler's error then starts at the handler's file, as AWS's does (awslambdaric drops its own
    ``bootstrap.py`` frames the same way)."""
    here = os.path.abspath(__file__)

    def extract_traceback(tb: Any) -> list[tuple]:
        return [frame for frame in extract(tb) if os.path.abspath(frame[0]) != here]

    return extract_traceback


def _kill_group() -> None:
    end_descendants()
    if os.getpgrp() == os.getpid():
        os.killpg(os.getpid(), signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)


def main(argv: list[str]) -> None:
    if become_subreaper():
        # The runtime exiting ends the environment, what its handler started included (a
        # runtime killed by a signal skips this: the emulator ends the tree it saw).
        atexit.register(end_descendants_of, os.getpid())
    lifeline = hold_lifeline()
    handler = argv[1]
    client = Client(os.environ["AWS_LAMBDA_RUNTIME_API"])
    LambdaContext.get_remaining_time_in_millis = remaining_emulated_ms  # type: ignore[method-assign]
    why = outside_task_root(handler, Path(os.environ["LAMBDA_TASK_ROOT"]).resolve())
    if why is not None:
        error = {"errorMessage": why, "errorType": "Runtime.ImportModuleError", "stackTrace": []}
        print(f"[ERROR] Runtime.ImportModuleError: {why}", file=sys.stderr, flush=True)
        client.post_init_error(error)
        sys.exit(1)
    bootstrap.extract_traceback = user_frames(bootstrap.extract_traceback)
    load = bootstrap._get_handler
    bootstrap._get_handler = lambda name: streaming(load(name), client)
    try:
        bootstrap.run(handler, client)
    except Exception:
        # awslambdaric reports the handler's own errors; what escapes it is the Runtime API
        # failing between invocations.
        die_with_emulator(lifeline, LIFELINE_GRACE_S)
        raise


if __name__ == "__main__":
    main(sys.argv)
