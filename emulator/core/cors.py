"""CORS preflight of a REST API as the Serverless Framework (v3) configures it for ``cors`` on
``http`` events.

Serverless adds, on every resource with a ``cors`` event, an ``OPTIONS`` method with a MOCK
integration that answers 200 with fixed ``Access-Control-Allow-*`` headers (source:
github.com/serverless/serverless, v3 branch,
lib/plugins/aws/package/compile/events/api-gateway/lib/validate.js ``getCors`` and the merge in
``validate``, and .../lib/cors.js ``compileCors``; docs:
https://www.serverless.com/framework/docs/providers/aws/events/apigateway#enabling-cors).
The MOCK method needs no API key (``AuthorizationType: NONE``, no ``ApiKeyRequired``). With a
Lambda proxy integration the other methods' responses carry only the headers the handler returns
(https://docs.aws.amazon.com/apigateway/latest/developerguide/how-to-cors.html: "you must
return the CORS headers from your Lambda function"), so this module answers the preflight only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from emulator.core.responses import JSON, HttpResponse

#: ``getCors``'s default ``headers``.
DEFAULT_HEADERS = (
    "Content-Type",
    "X-Amz-Date",
    "Authorization",
    "X-Api-Key",
    "X-Amz-Security-Token",
    "X-Amz-User-Agent",
    "X-Amzn-Trace-Id",
)
#: ``compileCors`` writes ``ANY`` out as these methods in Access-Control-Allow-Methods.
ANY_METHODS = "DELETE,GET,HEAD,PATCH,POST,PUT"
#: The keys of the object form (Serverless v3's schema for ``http.cors``).
_SETTINGS = frozenset(
    {"origin", "origins", "headers", "methods", "allowCredentials", "maxAge", "cacheControl"}
)


class CorsError(ValueError):
    """A ``cors`` value Serverless's schema refuses; the message says which part."""


@dataclass(frozen=True)
class CorsRule:
    """The preflight configuration of one resource, merged over its ``cors`` events.

    ``origin`` is the single origin (``*`` by default); ``origins`` a list, whose first entry is
    the default answer and any entry of which (``*`` a wildcard) is echoed when the request's
    Origin matches it; ``headers`` and ``methods`` in Serverless's order."""

    origin: str | None = "*"
    origins: tuple[str, ...] = ()
    headers: tuple[str, ...] = DEFAULT_HEADERS
    methods: tuple[str, ...] = ("OPTIONS",)
    allow_credentials: bool = False
    max_age: int | None = None
    cache_control: str | None = None


def _union(first: Sequence[str], second: Sequence[str]) -> tuple[str, ...]:
    """lodash ``_.union``: the distinct values of both, in order of first appearance."""
    return tuple(dict.fromkeys([*first, *second]))


def _strings(value: object, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise CorsError(f"{where} must be a string or a list of strings")


def event_rule(cors: object, method: str) -> CorsRule:
    """``getCors``: the rule one ``http`` event's ``cors`` (``true`` or a mapping) asks for.

    Raises CorsError for a value of the wrong type."""
    method = method.upper()
    if cors is True:
        return CorsRule(methods=("OPTIONS", method))
    if not isinstance(cors, dict):
        raise CorsError("cors must be true or a mapping")
    known = {
        "origin",
        "origins",
        "headers",
        "methods",
        "allowCredentials",
        "maxAge",
        "cacheControl",
    }
    unknown = sorted(set(cors) - known)
    if unknown:
        raise CorsError(f"cors.{unknown[0]} is not a cors setting ({', '.join(sorted(_SETTINGS))})")
    origins = _strings(cors["origins"], "cors.origins") if "origins" in cors else ()
    origin = cors.get("origin", None if "origins" in cors else "*")
    if origin is not None and not isinstance(origin, str):
        raise CorsError("cors.origin must be a string")
    headers = _strings(cors["headers"], "cors.headers") if cors.get("headers") else DEFAULT_HEADERS
    given = _strings(cors["methods"], "cors.methods") if "methods" in cors else ("OPTIONS",)
    methods = [m.upper() for m in given]
    for needed in ("OPTIONS", method):
        if needed not in methods:
            methods.append(needed)
    max_age = cors.get("maxAge")
    if max_age is not None and (isinstance(max_age, bool) or not isinstance(max_age, int)):
        raise CorsError("cors.maxAge must be an integer (seconds)")
    cache_control = cors.get("cacheControl")
    return CorsRule(
        origin=origin,
        origins=origins,
        headers=headers,
        methods=tuple(methods),
        allow_credentials=bool(cors.get("allowCredentials")),
        max_age=max_age,
        cache_control=None if cache_control is None else str(cache_control),
    )


def merge(existing: CorsRule | None, new: CorsRule) -> CorsRule:
    """``validate``'s merge of a path's events: headers, methods and origins united (the new
    event's first), ``origin`` the last event's, credentials if any event allows them, maxAge
    and cacheControl the last event's that sets them."""
    if existing is None:
        return new
    return CorsRule(
        origin=new.origin,
        origins=_union(new.origins, existing.origins),
        headers=_union(new.headers, existing.headers),
        methods=_union(new.methods, existing.methods),
        allow_credentials=existing.allow_credentials or new.allow_credentials,
        max_age=new.max_age or existing.max_age,
        cache_control=new.cache_control or existing.cache_control,
    )


def _origin_patterns(origins: Sequence[str]) -> list[re.Pattern[str]]:
    """``regexifyWildcards``: dots literal, the first ``*`` as ``.+``; matched whole (the
    template's Java ``String.matches``)."""
    patterns = []
    for origin in origins:
        text = origin.replace(".", "[.]").replace("*", ".+", 1)
        patterns.append(re.compile(text))
    return patterns


def preflight_route_key(resource: str) -> str:
    """How metrics name the preflight method of ``resource`` ("/orders/{id}" ->
    "OPTIONS /orders/{id}"): ``compileCors`` adds an ``AWS::ApiGateway::Method`` with
    ``HttpMethod: OPTIONS`` on that resource, a method like the service's own, so it is keyed
    the way they are ("GET /orders/{id}")."""
    return f"OPTIONS {resource}"


def preflight(rule: CorsRule, request_origin: str | None) -> HttpResponse:
    """The MOCK OPTIONS method's answer: 200, the Access-Control-Allow-* headers ``compileCors``
    sets, an empty body. With a list of origins, a request Origin that matches one of them is
    echoed (the integration response template), else the first origin is sent."""
    origin, origins = rule.origin, list(rule.origins)
    if origin and "," in origin:
        origins = [o.strip() for o in origin.split(",")]
    if origins:
        origin = origins[0]
        if request_origin and any(p.fullmatch(request_origin) for p in _origin_patterns(origins)):
            origin = request_origin
    methods = ",".join(rule.methods).replace("ANY", ANY_METHODS)
    headers = [
        ("Content-Type", JSON),
        ("Access-Control-Allow-Origin", str(origin)),
        ("Access-Control-Allow-Headers", ",".join(rule.headers)),
        ("Access-Control-Allow-Methods", methods),
    ]
    if rule.allow_credentials:  # "omit if false"
        headers.append(("Access-Control-Allow-Credentials", "true"))
    if rule.max_age:
        headers.append(("Access-Control-Max-Age", str(rule.max_age)))
    if rule.cache_control:
        headers.append(("Cache-Control", rule.cache_control))
    return HttpResponse(200, headers, b"")
