"""Opening a stack's WebSocket API as a test client: the handshake's query string and headers,
and a refused handshake as an ``AssertionError`` that names its status.

A WebSocket API's ``$connect`` REQUEST authorizer reads its identity from the handshake's
headers or its query string (``route.request.header.X``, ``route.request.querystring.Y``:
https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-websocket-api-lambda-auth.html).
Browsers cannot set headers on a WebSocket handshake, so a query-string token is the common
case. API Gateway refuses a handshake with an HTTP status instead of upgrading it: 401 when an
identity source is missing, 403 on a Deny, 500 when the authorizer fails, and the status of a
``$connect`` route that does not answer 2xx
(https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-websocket-api-route-keys-connect-disconnect.html).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

if TYPE_CHECKING:
    from websockets.sync.client import ClientConnection

#: A handshake's query string: each name with one value, or several (repeated as ``a=1&a=2``,
#: which API Gateway gives the Lambda as ``multiValueQueryStringParameters``).
Query = Mapping[str, str | Sequence[str]]
#: Characters of a refused handshake's body quoted in the failure message.
BODY_CHARS = 300


def with_query(url: str, query: Query | None) -> str:
    """``url`` with ``query`` URL-encoded onto it (after any query it already has); ``url``
    unchanged for None or an empty mapping. Names and values are percent-encoded (a space as
    ``%20``, never ``+``). Raises TypeError for a value that is neither text nor a sequence of
    text."""
    if not query:
        return url
    pairs: list[tuple[str, str]] = []
    for name, value in query.items():
        values: Sequence[object] = (
            [value] if isinstance(value, str) or not isinstance(value, Sequence) else value
        )
        for one in values:
            if not isinstance(one, str):
                raise TypeError(f"query value of {name!r} must be text, not {type(one).__name__}")
            pairs.append((name, one))
    encoded = urlencode(pairs, quote_via=quote)
    scheme, netloc, path, existing, fragment = urlsplit(url)
    joined = f"{existing}&{encoded}" if existing else encoded
    return urlunsplit((scheme, netloc, path, joined, fragment))


def refusal(url: str, status: int, body: bytes) -> AssertionError:
    """The failure for a handshake to ``url`` refused with HTTP ``status`` and ``body`` (bytes,
    possibly empty): names the status, quotes the body, and points at what refuses handshakes
    (a ``$connect`` authorizer or route)."""
    text = body.decode("utf-8", errors="replace").strip()
    if len(text) > BODY_CHARS:
        text = f"{text[:BODY_CHARS]}... ({len(body)} bytes)"
    return AssertionError(
        f"the WebSocket handshake to {url} was refused with HTTP {status}"
        + (f": {text}" if text else " (no body)")
        + "\n  API Gateway refuses a handshake when the $connect authorizer does not allow it "
        "(401: an identity source missing, 403: Deny, 500: the authorizer failed) or the "
        "$connect route does not answer 2xx: check the headers= / query= that carry its "
        "identity"
    )


@contextmanager
def open_websocket(
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    open_timeout_s: float = 10.0,
) -> Iterator[ClientConnection]:
    """Open a WebSocket to ``url`` (its query string already on it: ``with_query``) with
    ``headers`` sent with the handshake; yield the sync ``websockets`` connection, closed on
    exit. No message size limit; never the environment's proxy (the stack is local).

    ``open_timeout_s``: real seconds for the TCP connect and the handshake. Raises
    AssertionError (``refusal``) when the server refuses the handshake with an HTTP status;
    the ``websockets``/OS errors of a connection that cannot be made at all
    (``ConnectionRefusedError``: nothing listens; ``TimeoutError``)."""
    __tracebackhide__ = True
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    options: dict[str, Any] = {"additional_headers": dict(headers or {}), "max_size": None}
    if "proxy" in inspect.signature(connect).parameters:
        options["proxy"] = None
    try:
        connection = connect(url, open_timeout=open_timeout_s, **options)
    except InvalidStatus as exc:
        response = exc.response
        raise refusal(url, response.status_code, bytes(response.body or b"")) from None
    with connection:
        yield connection


__all__ = ["Query", "open_websocket", "refusal", "with_query"]
