"""What a ``--host`` or ``--internal-host`` off loopback exposes: the start-up warning's text.

Pure: given the addresses, the endpoints and whether a control token is set, it says what
other machines can reach; the stack prints it. Not an AWS rule (on AWS nothing of this runs on
the user's machine).
"""

from __future__ import annotations

from emulator.core.origins import is_loopback


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
