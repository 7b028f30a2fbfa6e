"""WebSocket API routing: which route a message takes, by the route selection expression.

A message that is not JSON, lacks the selected field, or names no route goes to ``$default``;
with no ``$default`` route the client is told "Forbidden", as AWS tells it.
"""

from __future__ import annotations

from dataclasses import dataclass

from emulator.core.json_input import InvalidJson, parse_json

CONNECT, DISCONNECT, DEFAULT = "$connect", "$disconnect", "$default"
DEFAULT_SELECTION_EXPRESSION = "$request.body.action"
_BODY_PREFIX = "$request.body."


@dataclass(frozen=True)
class WebSocketRoute:
    key: str
    function: str
    two_way: bool = False  # routeResponseSelectionExpression set: the Lambda's body is the reply


class WebSocketRouter:
    def __init__(
        self, routes: list[WebSocketRoute], selection_expression: str = DEFAULT_SELECTION_EXPRESSION
    ) -> None:
        if (
            not selection_expression.startswith(_BODY_PREFIX)
            or selection_expression == _BODY_PREFIX
        ):
            raise ValueError(
                f"route selection expression {selection_expression!r} is not supported: "
                f"use {_BODY_PREFIX}<field>[.<field>...]"
            )
        self.selection_expression = selection_expression
        self._path = selection_expression[len(_BODY_PREFIX) :].split(".")
        self.routes: dict[str, WebSocketRoute] = {}
        for route in routes:
            if route.key in self.routes:
                raise ValueError(f"websocket route {route.key} is declared twice")
            self.routes[route.key] = route

    def route(self, key: str) -> WebSocketRoute | None:
        return self.routes.get(key)

    def selected_key(self, message: str | bytes) -> str | None:
        """What the selection expression evaluates to for ``message``, if anything.

        A message that is not JSON, including one nested too deeply to parse, selects nothing
        and so goes to ``$default``: "If a message doesn't match any route, API Gateway sends it
        to the $default route" (https://docs.aws.amazon.com/apigateway/latest/developerguide/
        websocket-api-develop-routes.html)."""
        try:
            node = parse_json(message)
        except InvalidJson:
            return None
        for part in self._path:
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return node if isinstance(node, str) else None

    def select(self, message: str | bytes) -> WebSocketRoute | None:
        """The route for a message: the selected one, else ``$default``, else None (Forbidden)."""
        key = self.selected_key(message)
        if key is not None and key not in (CONNECT, DISCONNECT) and key in self.routes:
            return self.routes[key]
        return self.routes.get(DEFAULT)
