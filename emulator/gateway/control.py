"""The emulator's own API under ``/_emulator/``: health, metrics, reset, and live configuration.

Changing the integration timeout here takes effect on the next request, without a restart.
Every route is guarded by ``ControlAccess`` (Host, Origin, token, media type:
``emulator.core.control_access``) before its handler runs, whatever path reached it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from emulator.clock import Clock
from emulator.core.control_access import ControlAccess, ControlRequest
from emulator.core.deadlines import IntegrationTimeouts, InvalidTimeout
from emulator.core.json_input import InvalidJson, parse_json
from emulator.core.log_text import printable
from emulator.core.origins import HostPolicy, OriginPolicy
from emulator.core.responses import json_response
from emulator.gateway.http import to_aiohttp
from emulator.metrics import Metrics

log = logging.getLogger("timeoutlab.control")
PREFIX = "/_emulator"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(status: int, message: str) -> web.Response:
    return to_aiohttp(json_response(status, {"message": message}))


def guarded(access: ControlAccess, handler: Handler) -> Handler:
    """``handler`` behind ``access`` (Host, Origin, token, media type): a refused request gets
    the refusal and never reaches it. Every route under ``/_emulator/`` is wrapped so, the page
    and its live stream (``emulator.gateway.ui``, ``emulator.gateway.live``) included."""

    async def guarded_handler(request: web.Request) -> web.StreamResponse:
        headers = request.headers
        refusal = access.refusal(
            ControlRequest(
                method=request.method.upper(),
                path=request.path,
                host=headers.get("Host"),
                origin=headers.get("Origin"),
                authorization=headers.get("Authorization"),
                content_type=headers.get("Content-Type"),
                has_body=request.body_exists,
            )
        )
        if refusal is not None:
            response: web.StreamResponse = to_aiohttp(refusal)
        else:
            response = await handler(request)
        if response.status >= 400:
            _log_refusal(request, response)
        return response

    return guarded_handler


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
        access: ControlAccess | None = None,
    ) -> None:
        """``access``: who may call (default: loopback names, no token; its origins have no
        ports until the stack names them)."""
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
        self.access = access or ControlAccess(
            HostPolicy(), OriginPolicy.of(host_names=(), ports=()), prefix=PREFIX
        )

    def add_routes(self, app: web.Application) -> None:
        guard = self._guarded
        app.router.add_get(f"{PREFIX}/health", guard(self.health))
        app.router.add_get(f"{PREFIX}/metrics", guard(self.get_metrics))
        app.router.add_post(f"{PREFIX}/reset", guard(self.reset))
        app.router.add_get(f"{PREFIX}/config", guard(self.get_config))
        for method in ("PUT", "PATCH", "POST"):
            app.router.add_route(method, f"{PREFIX}/config", guard(self.set_config))
        # Any other path under the prefix, CR and LF included (``ANY_PATH``'s reason).
        app.router.add_route("*", PREFIX + "{tail:(/[\\s\\S]*)?}", guard(self.unknown))

    def _guarded(self, handler: Handler) -> Handler:
        """``handler`` behind the access rules: a refused request never reaches it."""
        return guarded(self.access, handler)

    async def health(self, _: web.Request) -> web.Response:
        described = self.health_of()
        if self.access.token is not None:
            # Open to all even with a token: it must not hand out the API keys' values then.
            described["api_keys"] = [
                {**key, "value": None} for key in described.get("api_keys") or []
            ]
        # 200 even when degraded: the emulator answers; the body says what is wrong.
        return to_aiohttp(json_response(200, described))

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
            f"GET {PREFIX}/metrics, POST {PREFIX}/reset, GET or PUT {PREFIX}/config, "
            f"GET {PREFIX}/live, the page at GET {PREFIX}/ui/",
        )

    def _config(self) -> dict:
        config = {"timeScale": self.clock.scale, **self.timeouts.describe(self.route_keys)}
        if self.http_api_timeouts is not None:
            described = self.http_api_timeouts.describe(self.http_api_route_keys)
            config["httpApiRoutes"] = described["routes"]
        return config


def _log_refusal(request: web.Request, response: web.StreamResponse) -> None:
    """One line for a control request answered 4xx (refused: 401, 403, 415; or invalid: 400,
    404), with the answer's message: the client's text escaped (``printable``)."""
    message = ""
    body = getattr(response, "body", None)
    if isinstance(body, bytes):
        try:
            message = str(json.loads(body).get("message", ""))
        except (ValueError, AttributeError):
            message = ""
    log.info(
        "control %s %s answered %d: %s",
        printable(request.method),
        printable(request.path),
        response.status,
        printable(message),
    )
