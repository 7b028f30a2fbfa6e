"""The WebSocket API of ``websocket`` events: its routes."""

from __future__ import annotations

from typing import Any

from emulator.core.websocket_routes import (
    WebSocketRoute,
)
from emulator.service.spec import ServiceError


def websocket_route(spec: Any, function: str, where: str) -> WebSocketRoute:
    if isinstance(spec, str):  # the short form: "- websocket: $connect"
        return WebSocketRoute(key=spec.strip(), function=function)
    if not isinstance(spec, dict) or not spec.get("route"):
        raise ServiceError(f"{where}: a websocket event needs a route")
    two_way = bool(spec.get("routeResponseSelectionExpression"))
    return WebSocketRoute(key=str(spec["route"]).strip(), function=function, two_way=two_way)
