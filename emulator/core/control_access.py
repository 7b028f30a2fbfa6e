"""Who may use the control plane ``/_emulator/``: one decision per request, as pure data.

The rules, in the order they are checked (the first broken one answers):

1. ``Host`` must be one the emulator answers to (``HostPolicy``), else 403: a DNS-rebound name
   cannot read or change it.
2. A mutating request (any method but GET, HEAD, OPTIONS) with an ``Origin`` must come from one
   of the emulator's own origins or an ``--allowed-origin`` (``OriginPolicy``), else 403
   ``{"message": "cross-origin request refused"}``: a page the user visits cannot change it.
3. With ``--control-token``, every request but ``GET``/``HEAD /_emulator/health`` and those
   under ``/_emulator/ui/`` needs ``Authorization: Bearer TOKEN``, else 401 with
   ``WWW-Authenticate: Bearer`` (RFC 6750 3). Tokens are compared in constant time.
4. A mutating request's body must be ``application/json``, else 415: a browser sends a
   cross-site "simple" request only as ``text/plain``, form or multipart (Fetch standard,
   CORS-safelisted request headers), never as JSON. A bodyless ``POST /_emulator/reset`` is
   valid.

None of this is AWS's: the control plane is the emulator's own (see ``emulator.core.origins``).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field

from emulator.core.origins import HostPolicy, OriginPolicy, host_of
from emulator.core.responses import (
    HttpResponse,
    control_unauthorized,
    cross_origin_refused,
    host_refused,
    unsupported_media_type,
)

#: Methods that only read: no Origin or media-type check (RFC 9110 9.2.1 "safe methods").
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: The only media type a mutating control request's body may have.
JSON_MEDIA_TYPE = "application/json"
#: The environment variable ``--control-token`` defaults to (a token there is not shown by
#: ``ps``), and that the emulator's own clients (``timeoutlab scenario run``, the Locust costs
#: view) send as ``Authorization: Bearer`` when set.
CONTROL_TOKEN_VARIABLE = "TIMEOUTLAB_CONTROL_TOKEN"


def bearer_headers(environ: Mapping[str, str]) -> dict[str, str]:
    """``{"Authorization": "Bearer TOKEN"}`` when ``environ`` holds a control token, else {}."""
    token = environ.get(CONTROL_TOKEN_VARIABLE)
    return {"Authorization": f"Bearer {token}"} if token else {}


@dataclass(frozen=True)
class ControlRequest:
    """What the decision needs of one request: ``method`` upper case; ``path`` as routed
    (``/_emulator/...``); the ``Host``, ``Origin``, ``Authorization`` and ``Content-Type``
    header values (None: absent); ``has_body``: a non-empty or chunked body follows."""

    method: str
    path: str
    host: str | None = None
    origin: str | None = None
    authorization: str | None = None
    content_type: str | None = None
    has_body: bool = False


@dataclass
class ControlAccess:
    """The control plane's policy. ``origins`` may be replaced once the ports are bound (it
    names them); ``token`` None: no token needed. ``prefix``: the control plane's path."""

    hosts: HostPolicy
    origins: OriginPolicy
    token: str | None = None
    prefix: str = "/_emulator"
    open_paths: tuple[str, ...] = field(default=("/health",))
    open_prefixes: tuple[str, ...] = field(default=("/ui/",))

    def refusal(self, request: ControlRequest) -> HttpResponse | None:
        """The answer refusing ``request``, or None when it may go on to its handler."""
        if not self.hosts.allows(request.host):
            return host_refused(host_of(request.host or ""))
        mutating = request.method not in SAFE_METHODS
        if mutating and not self.origins.allows(request.origin):
            return cross_origin_refused()
        if self.token is not None and not self._exempt(request) and not self._bearer(request):
            return control_unauthorized()
        if mutating and request.has_body and not _is_json(request.content_type):
            return unsupported_media_type(request.content_type)
        return None

    def _exempt(self, request: ControlRequest) -> bool:
        tail = request.path.removeprefix(self.prefix)
        if tail in self.open_paths and request.method in ("GET", "HEAD"):
            return True
        return any(tail.startswith(p) or tail == p.rstrip("/") for p in self.open_prefixes)

    def _bearer(self, request: ControlRequest) -> bool:
        assert self.token is not None
        scheme, _, credentials = (request.authorization or "").strip().partition(" ")
        if scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(credentials.strip().encode(), self.token.encode())


def _is_json(content_type: str | None) -> bool:
    """Whether a ``Content-Type`` is ``application/json`` (parameters such as charset allowed)."""
    if content_type is None:
        return False
    return content_type.partition(";")[0].strip().lower() == JSON_MEDIA_TYPE
