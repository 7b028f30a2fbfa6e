"""What a ``--host`` or ``--internal-host`` off loopback exposes: the start-up warning's text.

Pure: given the addresses, the endpoints and whether a control token is set, it says what
other machines can reach; the stack prints it. Not an AWS rule (on AWS nothing of this runs on
the user's machine).
"""

from __future__ import annotations

import ipaddress

from emulator.core.origins import is_loopback

#: What URLs name when nothing better is known: this machine, from itself.
LOOPBACK_ADDRESS = "127.0.0.1"


def is_unspecified(host: str) -> bool:
    """Whether ``host`` is a bind-to-every-interface address (``0.0.0.0``, ``::``): one to listen
    on, never one a client can be told to connect to."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        return False


def advertised_host(host: str, callback_host: str | None, primary_address: str | None) -> str:
    """The host the emulator's URLs name (its banner, ``/_emulator/health``): ``host`` itself,
    unless it is unspecified (``is_unspecified``): then ``callback_host`` when given (the name
    other machines or containers reach it by, e.g. a Compose service name), else
    ``primary_address`` (this machine's address on its default route; None: unknown), else
    ``127.0.0.1``."""
    if not is_unspecified(host):
        return host
    return callback_host or primary_address or LOOPBACK_ADDRESS


def exposure_warning(
    *,
    host: str,
    internal_host: str,
    endpoints: list[tuple[str, int]],
    control_port: int | None,
    control_token: bool,
    internal_services: list[tuple[str, int]],
    signatures_verified: bool = False,
) -> str | None:
    """One warning (several lines) naming what becomes reachable from the network, or None when
    everything stays on loopback.

    ``endpoints``: ``(what, port)`` served on ``host``; ``control_port``: the control plane's
    (``/_emulator/``) port, said with whether ``--control-token`` (``control_token``) guards it;
    ``internal_services``: ``(what, port)`` served on ``internal_host``;
    ``signatures_verified``: ``--credentials`` is set, so the Lambda Invoke API and
    ``@connections`` check the signatures' values (else any well-formed one passes)."""
    lines = []
    if not is_loopback(host):
        lines.append(
            f"timeoutlab: warning: --host {host} is not loopback; reachable from the network:"
        )
        lines.extend(f"  {what} on {host}:{port}" for what, port in endpoints)
        if control_port is not None:
            note = (
                "protected by --control-token"
                if control_token
                else "open: anyone who reaches it can reset and reconfigure; pass "
                "--control-token TOKEN"
            )
            lines.append(f"  control plane /_emulator/ on {host}:{control_port} ({note})")
        if not signatures_verified:
            lines.append(
                "  the Lambda Invoke API and @connections accept any well-formed SigV4 signature "
                "(anyone who reaches them can invoke your functions and post to your "
                "connections); pass --credentials KEY:SECRET to verify them"
            )
        if internal_services and is_loopback(internal_host):
            kept = ", ".join(what for what, _ in internal_services)
            lines.append(f"  (not: {kept}; they stay on {internal_host}, --internal-host)")
    if not is_loopback(internal_host) and internal_services:
        lines.append(
            f"timeoutlab: warning: --internal-host {internal_host} is not loopback; reachable "
            "from the network without any authentication:"
        )
        lines.extend(f"  {what} on {internal_host}:{port}" for what, port in internal_services)
    return "\n".join(lines) or None
