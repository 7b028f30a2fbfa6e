"""Handler output goes to the function's log, as on AWS, where ``print`` lands in CloudWatch.

While a handler runs, its thread is marked with the function and request id; ``print`` from a
marked thread becomes a log record of ``timeoutlab.lambda.<function>`` that names the request.
Output from any other thread passes through untouched.
"""

from __future__ import annotations

import io
import logging
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

_current = threading.local()
_install_lock = threading.Lock()
_installs = 0


class _RoutedStdout(io.TextIOBase):
    def __init__(self, original: TextIO) -> None:
        self.original = original

    def write(self, text: str) -> int:
        function = getattr(_current, "function", None)
        if function is None:
            return self.original.write(text)
        buffered = _current.buffer + text
        *lines, _current.buffer = buffered.split("\n")
        logger = logging.getLogger(f"timeoutlab.lambda.{function}")
        for line in lines:
            logger.info("%s\t%s", _current.request_id, line)
        return len(text)

    def flush(self) -> None:
        self.original.flush()


@contextmanager
def function_output(function: str, request_id: str) -> Iterator[None]:
    """Mark the calling thread as running ``function`` for the duration of one invocation."""
    _current.function, _current.request_id, _current.buffer = function, request_id, ""
    try:
        yield
    finally:
        if _current.buffer:
            logging.getLogger(f"timeoutlab.lambda.{function}").info(
                "%s\t%s", request_id, _current.buffer
            )
        _current.function = None


def install() -> None:
    global _installs
    with _install_lock:
        if _installs == 0 and not isinstance(sys.stdout, _RoutedStdout):
            sys.stdout = _RoutedStdout(sys.stdout)
        _installs += 1


def uninstall() -> None:
    global _installs
    with _install_lock:
        _installs = max(0, _installs - 1)
        if _installs == 0 and isinstance(sys.stdout, _RoutedStdout):
            sys.stdout = sys.stdout.original
