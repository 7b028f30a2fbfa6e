"""Who may call the emulator's own endpoints: the ``Origin`` and ``Host`` rules, as pure data.

Neither rule is AWS's: API Gateway checks neither ``Origin`` on a WebSocket handshake nor any
browser origin on its APIs (CORS is the API's own business,
https://docs.aws.amazon.com/apigateway/latest/developerguide/how-to-cors.html), and it answers
only for its own ``execute-api`` domain and the custom domains mapped to the API
(https://docs.aws.amazon.com/apigateway/latest/developerguide/how-to-call-api.html,
https://docs.aws.amazon.com/apigateway/latest/developerguide/how-to-custom-domains.html); its
WebSocket APIs' access controls are IAM and Lambda authorizers, no Origin check
(https://docs.aws.amazon.com/apigateway/latest/developerguide/
apigateway-websocket-api-control-access.html; that Origin is ignored is not stated). They guard
what exists only here: the control plane ``/_emulator/`` (a web page the user visits must not
reconfigure it: cross-site request forgery; nor read it through a DNS-rebound name) and,
optionally, the WebSocket handshake (cross-site WebSocket hijacking). No clock, no socket.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

#: Schemes a browser's ``Origin`` names for a page; the default port of each.
DEFAULT_PORTS = {"http": 80, "https": 443}
#: Names that always mean this machine, whatever ``--host`` says.
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")


#: A host name as DNS spells it (RFC 1123 labels), e.g. a Compose service name.
_HOST_NAME = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))*\.?$", re.I)


class InvalidOrigin(ValueError):
    """An ``--allowed-origin`` that is not ``scheme://host[:port]`` (http or https, no path), or
    an ``--allowed-host`` that is not a host name."""


def _host_name(host: str) -> str:
    """A host as compared here: lower case, no trailing dot, IPv6 literals in brackets."""
    host = host.strip().lower().rstrip(".")
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # a bare IPv6 address, as --host takes it
    return host


def is_ip_literal(host: str) -> bool:
    """Whether ``host`` (``1.2.3.4``, ``[::1]`` or ``::1``) is an IP address, not a name."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps a server on this machine: ``localhost`` or a loopback
    address (127.0.0.0/8, ::1). ``0.0.0.0`` and ``::`` are every interface, so not loopback."""
    if _host_name(host) == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def normalize_origin(origin: str) -> tuple[str, str, int] | None:
    """``(scheme, host, port)`` of an ``Origin`` value (RFC 6454: ``scheme://host[:port]``),
    default ports filled in; None for ``null``, another scheme, a path, or anything unparseable."""
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname or parts.path not in ("", "/"):
        return None
    if parts.query or parts.fragment or parts.username or parts.password:
        return None
    return scheme, _host_name(parts.hostname), port or DEFAULT_PORTS[scheme]


def parse_allowed_origin(text: str) -> str:
    """An ``--allowed-origin`` value, checked (``http(s)://host[:port]``); raises InvalidOrigin."""
    if normalize_origin(text) is None or text.strip().lower() == "null":
        raise InvalidOrigin(
            f"--allowed-origin must look like http://host:port or https://host, got {text!r}"
        )
    return text.strip()


def parse_allowed_host(text: str) -> str:
    """An ``--allowed-host`` value: a host name (no port, no scheme) or an IP address; raises
    InvalidOrigin."""
    text = text.strip()
    if not (_HOST_NAME.match(text) or is_ip_literal(text)):
        raise InvalidOrigin(f"--allowed-host must be a host name such as emulator, got {text!r}")
    return text


def host_of(header: str) -> str:
    """The host of a ``Host`` header value (``name:port``, ``[v6]:port``), without the port."""
    header = header.strip()
    if header.startswith("["):
        return _host_name(header.partition("]")[0] + "]")
    return _host_name(header.rpartition(":")[0] if ":" in header else header)


@dataclass(frozen=True)
class HostPolicy:
    """The ``Host`` names the emulator answers to on its control plane (DNS-rebinding defence).

    ``names``: its own host names (``--host``, ``--callback-host``, ``--allowed-host``);
    IP literals and ``localhost`` are always answered: a rebinding attack needs a name the
    attacker's DNS resolves, and an IP literal or ``localhost`` is none."""

    names: frozenset[str] = frozenset()

    @classmethod
    def of(cls, *names: str | None) -> HostPolicy:
        """The policy answering to ``names`` (None and empty ones skipped)."""
        return cls(frozenset(_host_name(name) for name in names if name))

    def allows(self, header: str | None) -> bool:
        """Whether a request with this ``Host`` header (None: none sent) is for us. A request
        without one (HTTP/1.0) is answered: every browser sends one."""
        if header is None:
            return True
        host = host_of(header)
        return host == "localhost" or is_ip_literal(host) or host in self.names


@dataclass(frozen=True)
class OriginPolicy:
    """The browser origins that may act on the emulator: its own, and ``--allowed-origin`` ones.

    Its own origins are ``http`` and ``https`` on each of ``host_names`` (``--host``,
    ``localhost``, ``127.0.0.1``, ``[::1]``, ``--callback-host``, ``--allowed-host``) and each
    of ``ports`` (the ports it serves on). ``extra`` holds the ``--allowed-origin`` values."""

    host_names: frozenset[str]
    ports: frozenset[int]
    extra: frozenset[tuple[str, str, int]] = frozenset()

    @classmethod
    def of(
        cls,
        *,
        host_names: tuple[str | None, ...],
        ports: tuple[int | None, ...],
        allowed_origins: tuple[str, ...] = (),
    ) -> OriginPolicy:
        """The policy of an emulator named ``host_names`` (loopback names are added) serving on
        ``ports`` (None skipped), with ``allowed_origins`` (raises InvalidOrigin for a bad one)."""
        names = frozenset(_host_name(n) for n in (*LOOPBACK_NAMES, *host_names) if n)
        extra = set()
        for origin in allowed_origins:
            normalized = normalize_origin(parse_allowed_origin(origin))
            assert normalized is not None  # parse_allowed_origin checked it
            extra.add(normalized)
        return cls(names, frozenset(p for p in ports if p), frozenset(extra))

    def allows(self, origin: str | None) -> bool:
        """Whether a request with this ``Origin`` header may act; None (no header: not a
        browser's cross-site request, e.g. curl, boto3, a test) always may."""
        if origin is None:
            return True
        normalized = normalize_origin(origin)
        if normalized is None:
            return False  # "null" (sandboxed frames, file:// pages) and other schemes
        if normalized in self.extra:
            return True
        _, host, port = normalized
        return host in self.host_names and port in self.ports
