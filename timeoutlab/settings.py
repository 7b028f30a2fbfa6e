"""``StackSettings``: what a test stack runs and how (service, time scale, timeouts, security).

Validated at construction: a bad value raises ``ValueError`` naming the setting, before any
process starts. Every port is a free one (0), so stacks never clash (two in one process, one per
pytest-xdist worker).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

#: The emulator's bounds on the time scale (real seconds per emulated second).
MAX_TIME_SCALE = 1000.0
#: API Gateway's integration timeout bounds for REST and WebSocket routes, in seconds: 50 ms
#: minimum; 29 s by default, raisable for Regional REST APIs since June 2024 (the emulator accepts
#: up to Lambda's 900 s)
#: (https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html).
MIN_INTEGRATION_TIMEOUT_S = 0.05
MAX_INTEGRATION_TIMEOUT_S = 900.0
#: Real seconds a stack may take to start before ``StackError``: a cold machine importing boto3
#: and moto in several processes at once takes tens of seconds.
DEFAULT_START_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class StackSettings:
    """How to run one stack (``timeoutlab up`` in a child process).

    - ``service``: the ``serverless.yml`` to run (must exist).
    - ``time_scale``: real seconds per emulated second, 0 < scale <= 1000 (0.01 plays a 40 s
      handler in 0.4 s). Handlers see it as ``TIMEOUTLAB_TIME_SCALE`` and should scale their own
      waits by it.
    - ``integration_timeout_s``: the REST and WebSocket routes' integration timeout in emulated
      seconds (0.05..900); None keeps ``serverless.yml``'s, else AWS's 29 s. HTTP API routes
      keep their 30 s.
    - ``credentials``: ``"KEY:SECRET"``: the stack verifies SigV4 signatures of ``@connections``
      and Lambda Invoke calls with it, gives it to the handlers, and ``Stack.client`` signs with
      it; None: any well-formed signature is accepted (clients sign with dummy ``test:test``).
    - ``control_token``: when set, ``/_emulator/`` (except health) needs
      ``Authorization: Bearer TOKEN``; ``Stack`` sends it.
    - ``host``: the address every API binds (default loopback only).
    - ``start_timeout_s``: real seconds to wait for the stack to serve before ``StackError``.
    - ``prewarm``: initialise one execution environment per function at start, as provisioned
      concurrency does (default True), so a first request pays no cold start: a cold start
      counts against the integration timeout at its real duration, which at a small time scale
      is many emulated seconds and would blur timing assertions.
    - ``extra_args``: more ``timeoutlab up`` options, as command-line words (e.g.
      ``("--ws-idle-timeout", "60")``); never the ports, the service or the options above.
    """

    service: Path
    time_scale: float = 1.0
    integration_timeout_s: float | None = None
    credentials: str | None = None
    control_token: str | None = None
    host: str = "127.0.0.1"
    start_timeout_s: float = DEFAULT_START_TIMEOUT_S
    prewarm: bool = True
    extra_args: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        service = Path(self.service).expanduser().resolve()
        object.__setattr__(self, "service", service)
        if not service.is_file():
            raise ValueError(f"service file not found: {service}")
        scale = self.time_scale
        if isinstance(scale, bool) or not isinstance(scale, int | float) or math.isnan(scale):
            raise ValueError(f"time_scale must be a number, got {scale!r}")
        if not 0 < scale <= MAX_TIME_SCALE:
            raise ValueError(f"time_scale must be > 0 and <= {MAX_TIME_SCALE:g}, got {scale!r}")
        object.__setattr__(self, "time_scale", float(scale))
        timeout = self.integration_timeout_s
        if timeout is not None and not (
            isinstance(timeout, int | float)
            and not isinstance(timeout, bool)
            and MIN_INTEGRATION_TIMEOUT_S <= timeout <= MAX_INTEGRATION_TIMEOUT_S
        ):
            raise ValueError(
                f"integration_timeout_s must be {MIN_INTEGRATION_TIMEOUT_S}.."
                f"{MAX_INTEGRATION_TIMEOUT_S:g} seconds or None, got {timeout!r}"
            )
        if self.credentials is not None:
            key, sep, secret = self.credentials.partition(":")
            if not (sep and key and secret):
                raise ValueError("credentials must be 'ACCESS_KEY:SECRET_KEY'")
        token = self.control_token
        if token is not None and (not token.strip() or any(c.isspace() for c in token)):
            raise ValueError("control_token must be non-empty, without spaces")
        if not self.host:
            raise ValueError("host must be an address, e.g. 127.0.0.1")
        if not self.start_timeout_s > 0:
            raise ValueError(f"start_timeout_s must be positive, got {self.start_timeout_s!r}")
        object.__setattr__(self, "extra_args", tuple(str(arg) for arg in self.extra_args))

    @property
    def credential_pair(self) -> tuple[str, str] | None:
        """``credentials`` as ``(access_key, secret_key)``, or None."""
        if self.credentials is None:
            return None
        key, _, secret = self.credentials.partition(":")
        return key, secret

    def command(self, ready_file: Path) -> list[str]:
        """The ``timeoutlab up`` arguments (after ``python -m emulator.cli``) that run this stack
        on free ports, writing its health JSON to ``ready_file`` and exiting with its parent.
        The credentials and the control token are not among them: they go in the child's
        environment, out of ``ps``."""
        args = [
            "up",
            "--service", str(self.service),
            "--host", self.host,
            "--http-port", "0",
            "--ws-port", "0",
            "--http-api-port", "0",
            "--backend-port", "0",
            "--time-scale", repr(self.time_scale),
            "--ready-file", str(ready_file),
            "--exit-with-parent",
            "--prewarm" if self.prewarm else "--no-prewarm",
        ]  # fmt: skip
        if self.integration_timeout_s is not None:
            args += ["--integration-timeout", repr(float(self.integration_timeout_s))]
        return [*args, *self.extra_args]
