"""Assertion helpers for tests against a timeoutlab stack, with failure messages that say what
was expected and what came.

- ``assert_gateway_timeout(response, at_s=29.0)``: a REST or HTTP API response is the gateway's
  own integration-timeout answer, at that emulated time and never earlier.
- ``assert_pushed(stack, message, match=..., headers=..., query=...)``: a WebSocket route's
  result is pushed back (a refused handshake fails with its HTTP status).
- ``assert_ran_on(stack, function)``: the Lambda ran on after its caller gave up, and how much
  of it was wasted.

They raise plain ``AssertionError`` (multi-line messages, shown as is by pytest) when the stack
behaved otherwise, and ``ValueError`` when they are misused (a response no running stack served).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any, Protocol

from emulator.core.precision import lateness_allowance
from emulator.core.responses import http_api_service_unavailable, integration_timeout
from timeoutlab.handshake import Query, open_websocket, with_query
from timeoutlab.metrics import FunctionMetrics
from timeoutlab.stack import ApiKind, Stack, find_stack

#: Real seconds of a client's own processing (connect, send, read, its scheduling) allowed on top
#: of the gateway's lateness allowance when a client measures a timeout answer's arrival; at a
#: small time scale it is many emulated seconds (25 s at 0.01).
CLIENT_SLACK_REAL_S = 0.25
#: Real seconds ``assert_pushed`` waits on top of ``within_s``: a handler's and the machine's own
#: processing (imports, boto3 calls, a loaded CPU) is real time, which the time scale does not
#: shrink.
PUSH_SLACK_REAL_S = 5.0
#: Real seconds ``assert_ran_on`` waits for invocations still running after their caller left.
SETTLE_TIMEOUT_S = 30.0
#: Characters of a body or message quoted in a failure message.
QUOTE_CHARS = 300
_POLL_S = 0.02

#: The gateway's integration-timeout answer for each API, from the emulator's one definition:
#: REST, gateway response INTEGRATION_TIMEOUT, 504 ``{"message": "Endpoint request timed out"}``
#: (https://docs.aws.amazon.com/apigateway/latest/developerguide/supported-gateway-response-types.html);
#: HTTP API, 503 ``{"message":"Service Unavailable"}`` at its 30 s maximum
#: (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html).
_TIMEOUT_ANSWERS = {
    ApiKind.REST: integration_timeout(),
    ApiKind.HTTP_API: http_api_service_unavailable(),
}


class HttpResponseLike(Protocol):
    """What ``assert_gateway_timeout`` reads of a response: httpx's and requests' both fit."""

    @property
    def status_code(self) -> int: ...

    @property
    def elapsed(self) -> timedelta: ...

    @property
    def url(self) -> Any: ...

    @property
    def text(self) -> str: ...


def _quote(text: str) -> str:
    return text if len(text) <= QUOTE_CHARS else f"{text[:QUOTE_CHARS]}... ({len(text)} chars)"


def _method(response: HttpResponseLike) -> str:
    request = getattr(response, "request", None)
    return str(getattr(request, "method", "") or "")


def _elapsed_real_s(response: HttpResponseLike) -> float:
    try:
        return float(response.elapsed.total_seconds())
    except RuntimeError as exc:  # httpx: a streamed response not yet read to its end
        raise ValueError(
            "the response's elapsed time is not known yet: read it to its end first"
        ) from exc


def _which_api(url: str, stack: Stack | None) -> tuple[Stack, ApiKind]:
    found = find_stack(url)
    if stack is None:
        if found is None:
            raise ValueError(
                f"no running timeoutlab stack started in this process serves {url}; pass "
                "stack=... or call the stack's rest_url / http_api_url"
            )
        return found
    if found is not None and found[0] is stack:
        return found
    raise ValueError(f"{url} is not served by {stack!r} (REST or HTTP API)")


def assert_gateway_timeout(
    response: HttpResponseLike,
    at_s: float = 29.0,
    *,
    stack: Stack | None = None,
    tolerance_s: float | None = None,
) -> float:
    """Assert ``response`` is the gateway's integration-timeout answer, given at ``at_s``
    emulated seconds after the request and never earlier.

    ``response``: an httpx or requests response (``status_code``, ``elapsed``, ``url``,
    ``text``), from a REST API (expects 504 ``{"message": "Endpoint request timed out"}``) or an
    HTTP API (503 ``{"message":"Service Unavailable"}``; its timeout is 30 s unless lowered per
    route: pass ``at_s=30``). The API is found from the response's URL among the stacks running in
    this process (``stack`` to name one). The client's ``elapsed`` (real seconds) divided by the
    stack's time scale must be ``>= at_s`` and ``<= at_s + tolerance_s``; ``tolerance_s``
    (emulated seconds) defaults to the gateway's lateness allowance,
    ``max(5 % of at_s, 250 ms real)``, plus ``CLIENT_SLACK_REAL_S`` real for the client's own
    processing. A cold start counts against the timeout at its real duration, as on AWS, which
    at a small scale is many emulated seconds: the stacks prewarm their functions.

    Returns the emulated seconds the answer took. Raises AssertionError saying what was expected
    and what came (status, body head, emulated and real elapsed, the URL); ValueError when no
    running stack served the URL."""
    __tracebackhide__ = True  # pytest shows the test's line, not this helper's
    url = str(response.url)
    owner, kind = _which_api(url, stack)
    expected = _TIMEOUT_ANSWERS.get(kind)
    if expected is None:
        raise ValueError(f"{url} is the {kind} API: only REST and HTTP API answers time out so")
    scale = owner.time_scale
    real_s = _elapsed_real_s(response)
    emulated_s = real_s / scale
    tolerance = (
        lateness_allowance(at_s, scale) + CLIENT_SLACK_REAL_S / scale
        if tolerance_s is None
        else tolerance_s
    )
    expected_body = json.loads(expected.body)
    text = response.text
    try:
        body: object = json.loads(text)
    except ValueError:
        body = None
    problems = []
    if response.status_code != expected.status:
        problems.append(f"status {response.status_code}, expected {expected.status}")
    if body != expected_body:
        problems.append(f"body is not {expected.body.decode()}")
    if emulated_s < at_s:
        problems.append(f"answered EARLY: {emulated_s:.3f} emulated s < {at_s:g} s")
    elif emulated_s > at_s + tolerance:
        problems.append(
            f"answered LATE: {emulated_s:.3f} emulated s > {at_s:g} s + tolerance {tolerance:g} s"
        )
    if problems:
        api = "REST API" if kind is ApiKind.REST else "HTTP API"
        raise AssertionError(
            f"expected the {api}'s integration timeout at {at_s:g} emulated s "
            f"(never earlier, at most {tolerance:g} s later), but: {'; '.join(problems)}\n"
            f"  request:  {_method(response)} {url}".rstrip()
            + f"\n  status:   {response.status_code}"
            f"\n  body:     {_quote(text)}"
            f"\n  elapsed:  {emulated_s:.3f} emulated s ({real_s:.4f} real s at time scale "
            f"{scale:g})"
            f"\n  expected: {expected.status} {expected.body.decode()} at {at_s:g} s"
        )
    return emulated_s


def _matches(message: object, match: Mapping[str, Any] | Callable[[Any], bool] | None) -> bool:
    if match is None:
        return True
    if callable(match):
        return bool(match(message))
    if not isinstance(message, dict):
        return False
    return all(
        key in message and (value is Ellipsis or message[key] == value)
        for key, value in match.items()
    )


def _parsed(frame: str | bytes) -> object:
    try:
        return json.loads(frame)
    except ValueError:
        return frame


def assert_pushed(
    stack: Stack,
    message: Mapping[str, Any] | str | bytes,
    *,
    match: Mapping[str, Any] | Callable[[Any], bool] | None = None,
    within_s: float = 60.0,
    slack_real_s: float = PUSH_SLACK_REAL_S,
    headers: Mapping[str, str] | None = None,
    query: Query | None = None,
) -> Any:
    """Open a WebSocket to ``stack.ws_url``, send ``message`` (a dict is sent as JSON) and wait
    for a message that ``match`` accepts; return it, parsed from JSON when it is JSON.

    ``match``: None (the first message), a dict (every key present with that value; ``...`` as a
    value: the key present with any value, e.g. ``{"url": ...}``) or a callable taking the parsed
    message. ``within_s``: emulated seconds to wait, plus ``slack_real_s`` real seconds for the
    machine's own processing. The handshake carries what a ``$connect`` authorizer reads
    (https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-websocket-api-lambda-auth.html):
    ``headers`` (``route.request.header.X``) and ``query`` (``route.request.querystring.Y``:
    a mapping of names to a value or a list of values, URL-encoded onto the URL, e.g.
    ``query={"token": "good"}`` connects to ``ws://.../dev?token=good``).

    Raises AssertionError when the handshake is refused (``the WebSocket handshake to URL was
    refused with HTTP 401: {...}``: the ``$connect`` authorizer or route said no), and, listing
    every message that arrived (and the close, if the connection closed), when none matched in
    time. TypeError for a query value that is not text."""
    __tracebackhide__ = True
    from websockets.exceptions import ConnectionClosed

    text = message if isinstance(message, str | bytes) else json.dumps(message)
    wait_real_s = within_s * stack.time_scale + slack_real_s
    arrived: list[object] = []
    closed = ""
    url = with_query(stack.ws_url, query)
    with open_websocket(url, headers=headers, open_timeout_s=max(10.0, slack_real_s)) as connection:
        connection.send(text)
        deadline = time.monotonic() + wait_real_s
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                frame = connection.recv(timeout=remaining)
            except TimeoutError:
                break
            except ConnectionClosed as exc:
                closed = f"\n  the connection closed: {exc}"
                break
            parsed = _parsed(frame)
            if _matches(parsed, match):
                return parsed
            arrived.append(parsed)
    listing = "\n".join(f"    {_quote(json.dumps(m) if isinstance(m, dict) else repr(m))}"
                        for m in arrived) or "    (nothing)"  # fmt: skip
    wanted = "any message" if match is None else f"a message matching {match!r}"
    raise AssertionError(
        f"{wanted} was not pushed within {within_s:g} emulated s (+{slack_real_s:g} real s: "
        f"{wait_real_s:.2f} real s in all at time scale {stack.time_scale:g})\n"
        f"  sent to {url}: {_quote(text if isinstance(text, str) else repr(text))}\n"
        f"  arrived ({len(arrived)}):\n{listing}{closed}"
    )


def assert_ran_on(
    stack: Stack,
    function: str,
    *,
    at_least_s: float | None = None,
    settle_timeout_s: float = SETTLE_TIMEOUT_S,
) -> FunctionMetrics:
    """Assert the Lambda ``function`` ran on after its caller gave up (an integration timeout, a
    client that left) at least once since the last ``reset()``, and, with ``at_least_s``, that at
    least that many emulated seconds of billed time were wasted (``wasted_ms``: billed time of
    invocations nobody got the result of).

    ``function``: its ``functions:`` key in ``serverless.yml`` or its deployed name. Invocations
    still running after their caller left are waited for, up to ``settle_timeout_s`` real
    seconds, so the figures are whole. Returns the function's ``FunctionMetrics``; raises
    AssertionError with its figures otherwise."""
    __tracebackhide__ = True
    deadline = time.monotonic() + settle_timeout_s
    while True:
        snapshot = stack.metrics
        figures = snapshot.function(function)
        if figures.running_after_caller_gone == 0 or time.monotonic() >= deadline:
            break
        time.sleep(_POLL_S)
    problems = []
    if figures.invocations == 0:
        problems.append(
            "it was never invoked since the last reset (is the name one of serverless.yml's "
            "functions, or its deployed name?)"
        )
    elif figures.wasted_ms == 0 and figures.running_after_caller_gone == 0:
        problems.append("it never ran on after its caller gave up")
    elif at_least_s is not None and figures.wasted_s < at_least_s:
        problems.append(f"{figures.wasted_s:g} emulated s wasted, expected at least {at_least_s:g}")
    if problems:
        known = ", ".join(snapshot.functions) or "none invoked"
        raise AssertionError(
            f"Lambda {function!r}: {'; '.join(problems)}\n"
            f"  invocations {figures.invocations}, outcomes {dict(figures.outcomes)}, running "
            f"{figures.running} ({figures.running_after_caller_gone} after their caller gave "
            "up)\n"
            f"  wasted {figures.wasted_ms} emulated ms billed for nobody, ran on "
            f"{figures.after_caller_gone_ms:g} emulated ms after callers gave up, billed "
            f"{figures.billed_ms} ms\n"
            f"  functions with figures: {known}"
        )
    return figures
