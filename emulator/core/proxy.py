"""Mapping a Lambda proxy-integration result to the HTTP response, with AWS's strictness.

API Gateway accepts only a JSON object with ``statusCode`` and optional ``headers``,
``multiValueHeaders``, ``body`` (a string) and ``isBase64Encoded``; anything else is a
"Malformed Lambda proxy response" and the client gets 502.
"""

from __future__ import annotations

import base64
import binascii
import json

from emulator.core.responses import HttpResponse

_ALLOWED_KEYS = {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"}
_SCALARS = (str, int, float, bool)


class MalformedProxyResponse(ValueError):
    """Why a handler's result cannot be mapped; logged as AWS logs it, answered with 502."""


def header_value(value: object, where: str) -> str:
    if not isinstance(value, _SCALARS):
        raise MalformedProxyResponse(f"{where} must be a string, got {type(value).__name__}")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def map_proxy_result(result: object, *, binary_response: bool = False) -> HttpResponse:
    """The HTTP response for a handler's return value, or MalformedProxyResponse.

    ``binary_response``: the request's first Accept type is one of the API's binary media types
    (``emulator.core.media_types.response_is_binary``). Only then is a body with
    ``isBase64Encoded: true`` decoded to bytes (and must be valid base64); otherwise the base64
    text goes to the client as it is
    (https://docs.aws.amazon.com/apigateway/latest/developerguide/lambda-proxy-binary-media.html:
    "API Gateway uses the first Accept header from clients to determine if a response should
    return binary media")."""
    if isinstance(result, str | bytes):
        try:
            result = json.loads(result)
        except ValueError as exc:
            raise MalformedProxyResponse("result is not a JSON object") from exc
    if not isinstance(result, dict):
        raise MalformedProxyResponse(f"result must be a JSON object, got {type(result).__name__}")
    unknown = set(result) - _ALLOWED_KEYS
    if unknown:
        raise MalformedProxyResponse(f"unexpected field(s): {', '.join(sorted(unknown))}")

    status = result.get("statusCode")
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise MalformedProxyResponse(f"statusCode must be an integer 100..599, got {status!r}")

    headers: list[tuple[str, str]] = []
    single = result.get("headers") or {}
    if not isinstance(single, dict):
        raise MalformedProxyResponse("headers must be an object")
    multi = result.get("multiValueHeaders") or {}
    if not isinstance(multi, dict):
        raise MalformedProxyResponse("multiValueHeaders must be an object")
    for name, values in multi.items():
        if not isinstance(values, list):
            raise MalformedProxyResponse(f"multiValueHeaders.{name} must be a list")
        headers += [(name, header_value(v, f"multiValueHeaders.{name}")) for v in values]
    covered = {name.lower() for name in multi}
    for name, value in single.items():
        if name.lower() not in covered:  # AWS: multiValueHeaders win over headers
            headers.append((name, header_value(value, f"headers.{name}")))

    payload = response_body(result, decode=binary_response)

    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", "application/json"))  # API Gateway REST's default
    return HttpResponse(status, headers, payload)


def response_body(result: dict, *, decode: bool) -> bytes:
    """A proxy result's ``body`` (a string or absent) as bytes: base64-decoded when
    ``isBase64Encoded`` is true and ``decode`` says the API decodes it, else its text as sent.
    Raises MalformedProxyResponse for a body that is not a string, an ``isBase64Encoded`` that
    is not a boolean, or a body to decode that is not base64."""
    body = result.get("body")
    if body is not None and not isinstance(body, str):
        raise MalformedProxyResponse(f"body must be a string, got {type(body).__name__}")
    is_base64 = result.get("isBase64Encoded", False)
    if not isinstance(is_base64, bool):
        raise MalformedProxyResponse("isBase64Encoded must be a boolean")
    if is_base64 and body and decode:
        try:
            return base64.b64decode(body, validate=True)
        except binascii.Error as exc:
            raise MalformedProxyResponse("body is not valid base64") from exc
    return (body or "").encode()
