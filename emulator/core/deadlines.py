"""Integration timeouts (the default and per-route overrides) and response-streaming limits."""

from __future__ import annotations

from dataclasses import dataclass

#: API Gateway's default (and, for most APIs, maximum) integration timeout, in seconds.
DEFAULT_INTEGRATION_TIMEOUT = 29.0
#: API Gateway's minimum integration timeout (50 ms).
MIN_INTEGRATION_TIMEOUT = 0.05
#: Upper bound accepted here: Lambda cannot run longer than 15 minutes anyway. Regional REST APIs
#: may raise the timeout past 29 s since June 2024, subject to an account quota.
MAX_INTEGRATION_TIMEOUT = 900.0
#: HTTP APIs: "Maximum integration timeout: 30 seconds" (50 ms minimum), not raisable
#: (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html).
HTTP_API_MAX_INTEGRATION_TIMEOUT = 30.0
#: Serverless Framework 3.24 and later set ``TimeoutInMillis: 30000`` on every ``httpApi``
#: integration, whatever the function's timeout (lib/plugins/aws/package/compile/events/
#: http-api.js, compileIntegration; commit c5ca9b78 "fix: Ensure maximum API gateway timeout").
HTTP_API_DEFAULT_INTEGRATION_TIMEOUT = 30.0


class InvalidTimeout(ValueError):
    """A timeout value that API Gateway would refuse."""


def validate_timeout(
    value: object, what: str = "integrationTimeout", maximum: float = MAX_INTEGRATION_TIMEOUT
) -> float:
    """``value`` as seconds, or InvalidTimeout when it is not a number in 0.05..``maximum``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidTimeout(f"{what} must be a number of seconds, got {value!r}")
    if not MIN_INTEGRATION_TIMEOUT <= value <= maximum:
        raise InvalidTimeout(
            f"{what} must be between {MIN_INTEGRATION_TIMEOUT} and {maximum:g} seconds, got {value}"
        )
    return float(value)


class IntegrationTimeouts:
    """The timeout each route gets: its own override if set, else the API-wide default.

    ``maximum`` is the API type's ceiling: 900 s here for REST and WebSocket routes (see
    MAX_INTEGRATION_TIMEOUT), 30 s for HTTP API routes."""

    def __init__(
        self,
        default: float = DEFAULT_INTEGRATION_TIMEOUT,
        overrides: dict[str, float] | None = None,
        maximum: float = MAX_INTEGRATION_TIMEOUT,
    ) -> None:
        self.maximum = maximum
        self.default = validate_timeout(default, maximum=maximum)
        self.overrides: dict[str, float] = {}
        for key, value in (overrides or {}).items():
            self.set_route(key, value)

    def for_route(self, route_key: str) -> float:
        return self.overrides.get(route_key, self.default)

    def set_default(self, value: object) -> None:
        self.default = validate_timeout(value, maximum=self.maximum)

    def set_route(self, route_key: str, value: object | None) -> None:
        """Override one route; ``None`` drops the override so the default applies again."""
        if value is None:
            self.overrides.pop(route_key, None)
        else:
            self.overrides[route_key] = validate_timeout(
                value, f"timeout of route {route_key}", self.maximum
            )

    def describe(self, route_keys: list[str]) -> dict:
        return {
            "integrationTimeout": self.default,
            "routes": {
                key: {
                    "integrationTimeout": self.for_route(key),
                    "source": "route" if key in self.overrides else "default",
                }
                for key in route_keys
            },
        }


@dataclass(frozen=True)
class StreamLimits:
    """API Gateway REST response streaming (since November 2025, regional APIs)."""

    max_duration: float = 900.0  # a streamed response may last 15 minutes
    idle_timeout: float = 300.0  # and may go 5 minutes without a byte
