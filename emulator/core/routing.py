"""Which Lambda a REST request reaches: stage prefix, resource templates, method.

Paths are matched as the client sent them, percent-encoding and all: ``%2F`` inside a segment
is not a separator, so ``/items/my-id%2F100`` is ``/items/{id}`` (see ``emulator.core.events`` for
what the event then carries).

Mirrors API Gateway REST resource matching: literal path parts beat ``{param}`` parts, which beat
a greedy ``{proxy+}``; ``ANY`` matches every method; no match is AWS's 403.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_PARAM = re.compile(r"^\{([A-Za-z0-9_.-]+)(\+?)\}$")


@dataclass(frozen=True)
class RestRoute:
    """One method on one resource, integrated with one Lambda function (proxy integration)."""

    method: str
    resource: str  # API Gateway resource path, e.g. "/reports/jobs/{jobId}"
    function: str  # the function's key in serverless.yml
    #: ``private: true``: the method requires an API key (``ApiKeyRequired``).
    api_key_required: bool = False

    @property
    def key(self) -> str:
        """How metrics and config name the route, e.g. "POST /reports"."""
        return f"{self.method} {self.resource}"


@dataclass(frozen=True)
class RouteMatch:
    route: RestRoute
    path_parameters: dict[str, str]


def normalize_resource(path: str) -> str:
    """'reports/' and '/reports' are the same resource: leading slash, no trailing slash."""
    parts = [p for p in path.strip().split("/") if p]
    return "/" + "/".join(parts)


class CompiledRoute:
    """One route's resource template as a regular expression, with its specificity: shared by
    REST resources and HTTP API routes, whose templates (``{param}``, a last ``{proxy+}``) and
    most-specific-first order are the same."""

    def __init__(self, route: RestRoute) -> None:
        self.route = route
        pattern, score = ["^"], []
        names: list[str] = []
        parts = [p for p in route.resource.split("/") if p]
        for i, part in enumerate(parts):
            param = _PARAM.match(part)
            if param is None:
                pattern.append("/" + re.escape(part))
                score.append(2)
            elif param.group(2):  # greedy: the rest of the path, at least one character
                if i != len(parts) - 1:
                    raise ValueError(f"greedy parameter must be last in {route.resource!r}")
                pattern.append(f"/(?P<p{len(names)}>.+)")
                names.append(param.group(1))
                score.append(0)
            else:
                pattern.append(f"/(?P<p{len(names)}>[^/]+)")
                names.append(param.group(1))
                score.append(1)
        pattern.append("/?$")
        self.regex = re.compile("".join(pattern))
        self.names = names
        # Most specific first: compare part by part, literal > param > greedy, longer first.
        self.specificity = (score, route.method != "ANY")

    def match(self, method: str, path: str) -> RouteMatch | None:
        if self.route.method not in ("ANY", method):
            return None
        found = self.regex.match(path)
        if found is None:
            return None
        params = {name: found.group(f"p{i}") for i, name in enumerate(self.names)}
        return RouteMatch(self.route, params)


def compile_routes(routes: list[RestRoute]) -> list[CompiledRoute]:
    """``routes`` compiled, most specific first; ValueError for a greedy parameter not last."""
    return sorted((CompiledRoute(r) for r in routes), key=lambda c: c.specificity, reverse=True)


def refuse_duplicates(route_keys: Iterable[str]) -> None:
    """Raise ValueError naming the first route key declared twice: one API has one route per
    key (CloudFormation refuses a second method on a resource, a second route key)."""
    seen: set[str] = set()
    for key in route_keys:
        if key in seen:
            raise ValueError(f"route {key} is declared twice")
        seen.add(key)


class RestRouter:
    """Routes of one REST API stage."""

    def __init__(self, stage: str, routes: list[RestRoute]) -> None:
        self.stage = stage
        self.routes = list(routes)
        refuse_duplicates(route.key for route in self.routes)
        self._compiled = compile_routes(self.routes)

    def strip_stage(self, path: str) -> str | None:
        """The resource path under this stage, or None when the path is not in the stage."""
        prefix = "/" + self.stage
        if path == prefix or path == prefix + "/":
            return "/"
        if path.startswith(prefix + "/"):
            return path[len(prefix) :]
        return None

    def resource_for(self, resource_path: str) -> str | None:
        """The most specific resource template that ``resource_path`` falls under, whatever
        its methods; None when no resource does."""
        for compiled in self._compiled:
            if compiled.regex.match(resource_path):
                return compiled.route.resource
        return None

    def has_method(self, resource: str, method: str) -> bool:
        """Whether ``resource`` declares ``method`` itself (``ANY`` does not count)."""
        return any(r.resource == resource and r.method == method for r in self.routes)

    def match(self, method: str, resource_path: str) -> RouteMatch | None:
        for compiled in self._compiled:
            found = compiled.match(method.upper(), resource_path)
            if found is not None:
                return found
        return None
