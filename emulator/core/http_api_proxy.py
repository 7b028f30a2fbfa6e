"""Mapping a Lambda result to an HTTP API's response, in payload format 2.0 or 1.0.

From https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html
("Lambda function response format"):
- format 1.0: the REST proxy response rules (``emulator.core.proxy.map_proxy_result``);
- format 2.0 with a ``statusCode``: ``statusCode``, ``headers``, ``cookies`` (each one becomes a
  ``set-cookie`` header), ``body``, ``isBase64Encoded`` (the body is then decoded);
- format 2.0 without a ``statusCode`` (any valid JSON): API Gateway infers the response:
  ``isBase64Encoded`` false, ``statusCode`` 200, ``content-type: application/json``, and the
  body is the function's response (a JSON string as its text, anything else as its JSON).
"""

from __future__ import annotations

import json

from emulator.core.http_api_routing import HttpApiRoute
from emulator.core.proxy import (
    MalformedProxyResponse,
    header_name,
    header_value,
    map_proxy_result,
    response_body,
)
from emulator.core.responses import JSON, HttpResponse


def _inferred(result: object) -> HttpResponse:
    """Format 2.0's shorthand: a result without ``statusCode`` is a 200 JSON body."""
    body = result if isinstance(result, str) else json.dumps(result, separators=(",", ":"))
    return HttpResponse(200, [("content-type", JSON)], body.encode())


def map_v2_result(result: object) -> HttpResponse:
    """The HTTP response for a format 2.0 result, or MalformedProxyResponse (answered 500).

    Keys besides the documented ones are ignored (AWS does not document refusing them). A
    response with a ``statusCode`` and no content-type gets ``application/json``, as the
    inferred one does (AWS does not document this case)."""
    if not isinstance(result, dict) or "statusCode" not in result:
        return _inferred(result)
    status = result["statusCode"]
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise MalformedProxyResponse(f"statusCode must be an integer 100..599, got {status!r}")
    single = result.get("headers") or {}
    if not isinstance(single, dict):
        raise MalformedProxyResponse("headers must be an object")
    headers = [
        (header_name(name, f"headers.{name}"), header_value(value, f"headers.{name}"))
        for name, value in single.items()
    ]
    cookies = result.get("cookies") or []
    if not isinstance(cookies, list):
        raise MalformedProxyResponse("cookies must be a list of strings")
    headers += [("set-cookie", header_value(cookie, "cookies[]")) for cookie in cookies]
    # HTTP APIs decode an isBase64Encoded body whatever its type (the guide above).
    payload = response_body(result, decode=True)
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("content-type", JSON))
    return HttpResponse(status, headers, payload)


def map_http_api_result(route: HttpApiRoute, result: object) -> HttpResponse:
    """The HTTP response for ``result`` in ``route``'s payload format version, or
    MalformedProxyResponse when API Gateway could not map it (the client gets 500)."""
    if route.payload == "1.0":
        return map_proxy_result(result)
    return map_v2_result(result)
