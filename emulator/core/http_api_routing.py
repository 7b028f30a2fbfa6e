"""Which Lambda an HTTP API (API Gateway v2) request reaches: route keys, priority, ``$default``.

AWS's rules (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-routes.html):
- a route is a method and a resource path, ``GET /pets/{petID}``; ``ANY`` matches every method
  not defined for the resource; a greedy ``{proxy+}`` catches all child resources and must end the
  path;
- the route is chosen most specific first: a full match of route and method, then a match with a
  greedy path variable, then the ``$default`` route; no match is ``{"message":"Not Found"}``;
- "API Gateway decodes URL-encoded request parameters before passing them to your backend
  integration".

The path is decoded once, before the route is chosen: ``%2F`` is then a ``/`` like any other, so
``/items/a%2Fb`` does not match ``GET /items/{id}`` (404, or a greedy route with ``a/b``), a
space or a UTF-8 character arrives decoded in ``pathParameters`` and in ``rawPath``. AWS's guides
do not say when the path is decoded; this follows what live HTTP APIs were seen doing (an
``a%2Fb`` segment does not match ``{param}`` and ``rawPath`` arrives decoded, unlike REST APIs
and function URLs: github.com/middleapi/standard-server/pull/93 citing captures published in
github.com/hotsock/voker/pull/8).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

from emulator.core.routing import RestRoute, compile_routes, refuse_duplicates

#: The route key of the catch-all route; Serverless writes it ``httpApi: '*'``.
DEFAULT_ROUTE_KEY = "$default"
#: Lambda proxy integration payload format versions
#: (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html).
PAYLOAD_VERSIONS = ("1.0", "2.0")
DEFAULT_PAYLOAD_VERSION = "2.0"


@dataclass(frozen=True)
class HttpApiRoute:
    """One route of an HTTP API, integrated with one Lambda function (proxy integration).

    ``path`` is the resource path as written (``/items/{id}``), None for ``$default``;
    ``payload`` is the integration's payload format version, "1.0" or "2.0"."""

    method: str  # GET, POST, ..., or ANY
    path: str | None
    function: str  # the function's key in serverless.yml
    payload: str = DEFAULT_PAYLOAD_VERSION

    @property
    def key(self) -> str:
        """The route key as AWS writes it: ``GET /items/{id}`` or ``$default``."""
        return DEFAULT_ROUTE_KEY if self.path is None else f"{self.method} {self.path}"


@dataclass(frozen=True)
class HttpApiMatch:
    """The route a request reached, its decoded path and its path parameters (decoded)."""

    route: HttpApiRoute
    path: str
    path_parameters: dict[str, str]


def decoded_path(raw_path: str) -> str:
    """The request path as the HTTP API sees it: percent-decoded once, as UTF-8."""
    return unquote(raw_path, errors="replace")


class HttpApiRouter:
    """The routes of one HTTP API; raises ValueError for a route key declared twice or a greedy
    parameter not at the end of its path."""

    def __init__(self, routes: list[HttpApiRoute]) -> None:
        self.routes = list(routes)
        refuse_duplicates(route.key for route in self.routes)
        self.default = next((r for r in self.routes if r.path is None), None)
        explicit = [r for r in self.routes if r.path is not None]
        self._by_template = {(r.method, r.path): r for r in explicit}
        self._compiled = compile_routes(
            [RestRoute(r.method, r.path or "/", r.function) for r in explicit]
        )

    @property
    def keys(self) -> list[str]:
        return [route.key for route in self.routes]

    def match(self, method: str, raw_path: str) -> HttpApiMatch | None:
        """The route for ``method`` on ``raw_path`` (as sent, still percent-encoded), or None
        when neither a route nor ``$default`` takes it (AWS's 404)."""
        path = decoded_path(raw_path)
        for compiled in self._compiled:
            found = compiled.match(method.upper(), path)
            if found is not None:
                route = self._by_template[(found.route.method, found.route.resource)]
                return HttpApiMatch(route, path, found.path_parameters)
        if self.default is not None:
            return HttpApiMatch(self.default, path, {})
        return None
