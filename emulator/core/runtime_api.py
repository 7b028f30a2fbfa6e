"""The Lambda Runtime API of one execution environment, as rules: which request is allowed when.

The contract is AWS's "Using the Lambda runtime API for custom runtimes"
(https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html): the runtime pulls work with
``GET /runtime/invocation/next`` and answers with ``POST /runtime/invocation/{id}/response`` or
``/error``; an initialisation that fails says so with ``POST /runtime/init/error``. This module
never touches a socket or a clock: ``emulator/runtime/runtime_api.py`` serves it over HTTP.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import unquote

#: Every path of the API starts with its version (runtimes-api.html, "To create an API request
#: URL, runtimes get the API endpoint from the AWS_LAMBDA_RUNTIME_API environment variable, add
#: the API version, and add the desired resource path").
API_PREFIX = "/2018-06-01/runtime"
#: Response headers of ``next`` (runtimes-api.html, "Next invocation").
REQUEST_ID_HEADER = "Lambda-Runtime-Aws-Request-Id"
DEADLINE_HEADER = "Lambda-Runtime-Deadline-Ms"
FUNCTION_ARN_HEADER = "Lambda-Runtime-Invoked-Function-Arn"
TRACE_ID_HEADER = "Lambda-Runtime-Trace-Id"
#: The error type a runtime names with ``/error`` and ``/init/error`` (runtimes-api.html,
#: "Invocation error": "Lambda-Runtime-Function-Error-Type").
ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"
#: Response streaming: the runtime says it streams with this header and a chunked body
#: (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-custom.html#runtimes-custom-response-streaming).
RESPONSE_MODE_HEADER = "Lambda-Runtime-Function-Response-Mode"
STREAMING_MODE = "streaming"
#: An HTTP integration's streamed response opens with its metadata (JSON: statusCode, headers,
#: cookies), then 8 NUL bytes, then the body: what Node.js's ``awslambda.HttpResponseStream``
#: writes and what API Gateway and function URLs read.
PRELUDE_SEPARATOR = b"\x00" * 8
#: Lambda's synchronous invocation payload quota, 6 MB each way
#: (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html); a larger
#: response is refused with 413.
MAX_RESPONSE_BYTES = 6 * 1024 * 1024
#: Streamed responses may be up to 20 MB (same page, "Response streaming").
MAX_STREAMED_BYTES = 20 * 1024 * 1024


class Endpoint(StrEnum):
    """The four requests of the API (runtimes-api.html: "Next invocation", "Invocation
    response", "Invocation error", "Initialization error")."""

    NEXT = "next"
    RESPONSE = "response"
    ERROR = "error"
    INIT_ERROR = "init/error"


#: The method each endpoint is called with (runtimes-api.html: ``GET`` for next, ``POST`` else).
ENDPOINT_METHODS = {
    Endpoint.NEXT: "GET",
    Endpoint.RESPONSE: "POST",
    Endpoint.ERROR: "POST",
    Endpoint.INIT_ERROR: "POST",
}


@dataclass(frozen=True)
class Route:
    """A request's endpoint, and for ``/response`` and ``/error`` the invocation it answers."""

    endpoint: Endpoint
    request_id: str = ""


class Phase(StrEnum):
    """Where one environment is in its lifecycle
    (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html)."""

    INIT = "init"  # spawned, its first ``next`` not yet asked
    READY = "ready"  # waiting for (or between) invocations
    INVOKING = "invoking"  # an invocation handed out by ``next``, not yet answered
    FAILED = "failed"  # it posted an init error: it gets no invocation


@dataclass(frozen=True)
class ApiError(Exception):
    """A refusal of the Runtime API: its HTTP status and AWS's ErrorResponse body
    (runtimes-api.html lists 400 Bad Request, 403 Forbidden and 413 Payload Too Large)."""

    status: int
    error_type: str
    message: str

    def body(self) -> dict[str, str]:
        return {"errorMessage": self.message, "errorType": self.error_type}


@dataclass(frozen=True)
class Assignment:
    """An invocation as ``next`` hands it to the runtime: the event and its headers.
    ``deadline_ms`` is the real wall-clock Unix time in ms at which the function times out."""

    request_id: str
    event: bytes
    deadline_ms: int
    function_arn: str
    trace_id: str

    def headers(self) -> dict[str, str]:
        """``next``'s response headers (runtimes-api.html, "Next invocation")."""
        return {
            REQUEST_ID_HEADER: self.request_id,
            DEADLINE_HEADER: str(self.deadline_ms),
            FUNCTION_ARN_HEADER: self.function_arn,
            TRACE_ID_HEADER: self.trace_id,
            "Content-Type": "application/json",
        }


class EnvironmentApi:
    """The state machine of one environment's Runtime API: one invocation at a time.

    Each method checks a request and moves the state, or raises ``ApiError`` with the status the
    API answers. ``next_requested`` returns True the first time: the Init phase ends when the
    runtime asks for its first event (lambda-runtime-environment.html, "The Init phase ends when
    the runtime and all extensions signal that they are ready by sending a Next API request")."""

    def __init__(self) -> None:
        self.phase = Phase.INIT
        self.current: str | None = None  # the request id handed out and not yet answered

    def next_requested(self) -> bool:
        if self.phase is Phase.FAILED:
            raise ApiError(403, "InvalidStateTransition", "the runtime reported an init error")
        if self.phase is Phase.INVOKING:
            # One invocation at a time: asking for the next one answers nothing about this one.
            raise ApiError(
                403, "InvalidStateTransition", f"invocation {self.current} is not answered yet"
            )
        init_done = self.phase is Phase.INIT
        self.phase = Phase.READY
        return init_done

    def handed_out(self, request_id: str) -> None:
        """A waiting ``next`` has been given the invocation ``request_id``."""
        assert self.phase is Phase.READY, self.phase
        self.phase, self.current = Phase.INVOKING, request_id

    def may_answer(self, request_id: str) -> None:
        """Whether ``request_id`` may be answered now (a stream checks before its body comes):
        403 when no invocation waits for an answer, 400 for a request id not running here."""
        if self.phase is not Phase.INVOKING:
            raise ApiError(403, "InvalidStateTransition", "no invocation is waiting for an answer")
        if request_id != self.current:
            raise ApiError(400, "InvalidRequestID", f"invalid request id {request_id}")

    def answer(self, request_id: str, size: int, *, streamed: bool = False) -> None:
        """A ``/response`` (``size`` bytes; streamed or not) or ``/error`` for ``request_id``:
        refused as ``may_answer`` says, or with 413 over the payload quota."""
        self.may_answer(request_id)
        limit = MAX_STREAMED_BYTES if streamed else MAX_RESPONSE_BYTES
        if size > limit:
            self.phase, self.current = Phase.READY, None  # the invocation fails with it
            raise ApiError(
                413,
                "RequestEntityTooLarge",
                f"Response payload size ({size} bytes) exceeded maximum allowed payload size "
                f"({limit} bytes).",
            )
        self.phase, self.current = Phase.READY, None

    def init_error(self) -> None:
        """``/init/error``: allowed only during the Init phase (403 after it)."""
        if self.phase is not Phase.INIT:
            raise ApiError(403, "InvalidStateTransition", "init error after the Init phase")
        self.phase = Phase.FAILED


def route(method: str, target: str) -> Route:
    """The endpoint of a request line (``target`` as sent, a query string ignored): raises
    ApiError 404 for a path the API does not have, 405 for a method its path does not take.

    Paths from runtimes-api.html: ``/2018-06-01/runtime/invocation/next``,
    ``/invocation/{AwsRequestId}/response``, ``/invocation/{AwsRequestId}/error`` and
    ``/init/error``; the request id is percent-decoded."""
    path = target.partition("?")[0]
    found: Route | None = None
    if path.startswith(API_PREFIX + "/"):
        parts = path[len(API_PREFIX) + 1 :].split("/")
        if parts == ["invocation", "next"]:
            found = Route(Endpoint.NEXT)
        elif parts == ["init", "error"]:
            found = Route(Endpoint.INIT_ERROR)
        elif len(parts) == 3 and parts[0] == "invocation" and parts[1] and parts[2] in _ANSWERS:
            found = Route(_ANSWERS[parts[2]], unquote(parts[1]))
    if found is None:
        raise ApiError(404, "NotFound", f"no such resource: {path}")
    if method != ENDPOINT_METHODS[found.endpoint]:
        raise ApiError(405, "MethodNotAllowed", f"{method} is not allowed on {path}")
    return found


_ANSWERS = {"response": Endpoint.RESPONSE, "error": Endpoint.ERROR}


def runtime_error(body: bytes, error_type: str | None) -> dict[str, Any]:
    """The error a runtime posted, in AWS's shape (errorMessage, errorType, stackTrace).

    The body is the runtime's ErrorRequest JSON (runtimes-api.html, "Invocation error"); the
    ``Lambda-Runtime-Function-Error-Type`` header names the type when the body does not."""
    try:
        parsed = json.loads(body) if body else {}
    except ValueError:
        parsed = {"errorMessage": body.decode(errors="replace")}
    if not isinstance(parsed, dict):
        parsed = {"errorMessage": str(parsed)}
    return {
        "errorMessage": str(parsed.get("errorMessage", "")),
        "errorType": str(parsed.get("errorType") or error_type or "Runtime.Unknown"),
        # Node.js's runtime interface client names the stack ``trace``; the page ``stackTrace``.
        "stackTrace": parsed.get("stackTrace") or parsed.get("trace") or [],
    }


def exit_error(request_id: str, returncode: int | None, error_type: str) -> dict[str, str]:
    """Lambda's error for a runtime process that ended during an invocation: ``exit status N``
    for an exit, ``signal: killed`` (or the signal's name) for a signal; ``error_type`` is
    ``Runtime.ExitError`` or ``Runtime.OutOfMemory``."""
    if returncode is None or returncode < 0:
        how = f"signal: {_signal_name(-(returncode or -9))}"
    else:
        how = f"exit status {returncode}"
    return {
        "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: {how}",
        "errorType": error_type,
    }


def _signal_name(number: int) -> str:
    """Go's names for signals, as Lambda's messages print them ("killed", "aborted", ...)."""
    return {
        9: "killed",
        6: "aborted",
        15: "terminated",
        2: "interrupt",
        11: "segmentation fault",
    }.get(number, f"signal {number}")


def split_prelude(buffer: bytes) -> tuple[dict[str, Any], bytes] | None:
    """A streamed HTTP response's metadata and the body bytes after it, once ``buffer`` holds
    the whole prelude; None while it does not yet. ValueError if the metadata is not JSON."""
    head, found, rest = buffer.partition(PRELUDE_SEPARATOR)
    if not found:
        return None
    metadata = json.loads(head) if head.strip() else {}
    if not isinstance(metadata, dict):
        raise ValueError("the stream's metadata is not a JSON object")
    return metadata, rest
