"""The HTTP API of ``httpApi`` events: route keys and payload format versions."""

from __future__ import annotations

import re
from typing import Any

from emulator.core.http_api_routing import (
    PAYLOAD_VERSIONS,
    HttpApiRoute,
)
from emulator.service.rest_api import HTTP_METHODS
from emulator.service.spec import ServiceError

_HTTP_API_EVENT = re.compile(
    r"^(?:\*|(ANY|GET|POST|PUT|PATCH|OPTIONS|HEAD|DELETE) (/\S*))$", re.IGNORECASE
)


def payload_version(value: Any, where: str) -> str | None:
    """A payload format version, "1.0" or "2.0", or None when not set. API Gateway accepts only
    these two (https://docs.aws.amazon.com/apigateway/latest/developerguide/
    http-api-develop-integrations-lambda.html: "The supported values are 1.0 and 2.0")."""
    if value is None:
        return None
    text = str(value)
    if text not in PAYLOAD_VERSIONS:
        raise ServiceError(f"{where}: payload must be '1.0' or '2.0', got {value!r}")
    return text


def http_api_route(spec: Any, function: str, payload: str, where: str) -> HttpApiRoute:
    """One ``httpApi`` event, as Serverless v3 compiles it (http-api.js, resolveConfiguration):
    ``'*'`` is the ``$default`` route; ``'METHOD /path'`` or ``{method, path}``; method ``'*'``
    is ANY; a path ``'*'`` with a method, a missing or unknown method are refused. Route keys:
    https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-routes.html"""
    where = f"{where}: httpApi"
    if isinstance(spec, str):
        found = _HTTP_API_EVENT.match(spec.strip())
        if found is None:
            raise ServiceError(
                f"{where}: {spec!r} must be '*' or 'METHOD /path' (method one of "
                f"{', '.join(sorted(HTTP_METHODS))})"
            )
        if found.group(1) is None:
            return HttpApiRoute("ANY", None, function, payload)
        method, path = found.group(1), found.group(2)
    elif isinstance(spec, dict):
        method, path = spec.get("method"), str(spec.get("path", ""))
        if path == "*":
            if method not in (None, "*"):
                raise ServiceError(f"{where}: path '*' (the $default route) takes no method")
            return HttpApiRoute("ANY", None, function, payload)
        if method is None:
            raise ServiceError(f"{where}: `method` is missing")
        if not path.startswith("/"):
            raise ServiceError(f"{where}: path {path!r} must start with '/'")
    else:
        raise ServiceError(f"{where}: an httpApi event must be a string or a mapping")
    method = str(method).strip().upper()
    method = "ANY" if method == "*" else method
    if method not in HTTP_METHODS:
        raise ServiceError(f"{where}: method {method!r} is not one of {sorted(HTTP_METHODS)}")
    return HttpApiRoute(method, path, function, payload)
