"""The emulator's own API under ``/_emulator/``: health, metrics, reset, and live configuration.

Changing the integration timeout here takes effect on the next request, without a restart.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from emulator.clock import Clock
from emulator.core.deadlines import IntegrationTimeouts, InvalidTimeout
from emulator.core.json_input import InvalidJson, parse_json
from emulator.core.responses import json_response
from emulator.gateway.http import to_aiohttp
from emulator.metrics import Metrics

PREFIX = "/_emulator"


def _error(status: int, message: str) -> web.Response:
    return to_aiohttp(json_response(status, {"message": message}))


class ControlApi:
    def __init__(
        self,
        *,
        metrics: Metrics,
        timeouts: IntegrationTimeouts,
        route_keys: list[str],
        clock: Clock,
        describe: Callable[[], dict],
        health: Callable[[], dict] | None = None,
        http_api_timeouts: IntegrationTimeouts | None = None,
        http_api_route_keys: list[str] | None = None,
    ) -> None:
        self.metrics = metrics
        self.timeouts = timeouts
        self.route_keys = route_keys
        # HTTP API routes have keys of their own (``httpApiRoutes``), apart from REST's and
        # WebSocket's (``routes``), so a `GET /items/{id}` of each never clash.
        self.http_api_timeouts = http_api_timeouts
        self.http_api_route_keys = http_api_route_keys or []
        self.clock = clock
        self.describe = describe
        # The health answer: ``status`` (``ok`` or ``degraded``) and what ``describe`` says.
        self.health_of = health or (lambda: {"status": "ok", **describe()})

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get(f"{PREFIX}/health", self.health)
        app.router.add_get(f"{PREFIX}/metrics", self.get_metrics)
        app.router.add_post(f"{PREFIX}/reset", self.reset)
        app.router.add_get(f"{PREFIX}/config", self.get_config)
        for method in ("PUT", "PATCH", "POST"):
            app.router.add_route(method, f"{PREFIX}/config", self.set_config)
        app.router.add_route("*", PREFIX + "{tail:(/.*)?}", self.unknown)

    async def health(self, _: web.Request) -> web.Response:
        # 200 even when degraded: the emulator answers; the body says what is wrong.
        return to_aiohttp(json_response(200, self.health_of()))

    async def get_metrics(self, _: web.Request) -> web.Response:
        snapshot = self.metrics.snapshot()
        snapshot["clock"] = {
            "time_scale": self.clock.scale,
            "emulated_uptime_s": round(self.clock.now(), 3),
        }
        return to_aiohttp(json_response(200, snapshot))

    async def reset(self, _: web.Request) -> web.Response:
        self.metrics.reset()
        return to_aiohttp(json_response(200, {"reset": True}))

    async def get_config(self, _: web.Request) -> web.Response:
        return to_aiohttp(json_response(200, self._config()))

    async def set_config(self, request: web.Request) -> web.Response:
        try:
            patch = parse_json(await request.read() or b"null")
        except InvalidJson as exc:  # nested too deeply included: a 400, never a 500
            return _error(400, f'body must be JSON, e.g. {{"integrationTimeout": 10}} ({exc})')
        if not isinstance(patch, dict):
            return _error(400, "body must be a JSON object")
        unknown = sorted(set(patch) - {"integrationTimeout", "routes", "httpApiRoutes"})
        if unknown:
            return _error(
                400,
                f"unknown setting(s): {', '.join(unknown)}; settable: integrationTimeout, "
                "routes, httpApiRoutes",
            )
        routes = patch.get("routes", {})
        if not isinstance(routes, dict):
            return _error(400, 'routes must map route keys to seconds, e.g. {"POST /reports": 5}')
        bad = sorted(set(routes) - set(self.route_keys))
        if bad:
            return _error(
                400, f"unknown route(s): {', '.join(bad)}; routes: {', '.join(self.route_keys)}"
            )
        http_api_routes = patch.get("httpApiRoutes", {})
        if not isinstance(http_api_routes, dict):
            return _error(
                400, 'httpApiRoutes must map route keys to seconds, e.g. {"GET /items/{id}": 5}'
            )
        bad = sorted(set(http_api_routes) - set(self.http_api_route_keys))
        if bad:
            known = ", ".join(self.http_api_route_keys) or "none"
            return _error(400, f"unknown HTTP API route(s): {', '.join(bad)}; routes: {known}")
        # Validate everything before changing anything: a bad patch changes nothing.
        staged = IntegrationTimeouts(self.timeouts.default, dict(self.timeouts.overrides))
        http_api = self.http_api_timeouts
        staged_http_api = (
            None
            if http_api is None
            else IntegrationTimeouts(http_api.default, dict(http_api.overrides), http_api.maximum)
        )
        try:
            if "integrationTimeout" in patch:
                staged.set_default(patch["integrationTimeout"])
            for key, value in routes.items():
                staged.set_route(key, value)
            for key, value in http_api_routes.items():
                assert staged_http_api is not None  # keys were checked against the routes
                staged_http_api.set_route(key, value)  # 0.05..30 s (http-api-quotas.html)
        except InvalidTimeout as exc:
            return _error(400, str(exc))
        self.timeouts.default = staged.default
        self.timeouts.overrides = staged.overrides
        if http_api is not None and staged_http_api is not None:
            http_api.overrides = staged_http_api.overrides
        return to_aiohttp(json_response(200, self._config()))

    async def unknown(self, request: web.Request) -> web.Response:
        return _error(
            404,
            f"no emulator endpoint {request.method} {request.path}; try GET {PREFIX}/health, "
            f"GET {PREFIX}/metrics, POST {PREFIX}/reset, GET or PUT {PREFIX}/config",
        )

    def _config(self) -> dict:
        config = {"timeScale": self.clock.scale, **self.timeouts.describe(self.route_keys)}
        if self.http_api_timeouts is not None:
            described = self.http_api_timeouts.describe(self.http_api_route_keys)
            config["httpApiRoutes"] = described["routes"]
        return config
