"""Mapping a Lambda proxy-integration result to the HTTP response, with AWS's strictness.

API Gateway accepts only a JSON object with ``statusCode`` and optional ``headers``,
``multiValueHeaders``, ``body`` (a string) and ``isBase64Encoded``; anything else is a
"Malformed Lambda proxy response" and the client gets 502.
"""

from __future__ import annotations

import base64
import binascii
import re

from emulator.core.json_input import InvalidJson, parse_json
from emulator.core.responses import HttpResponse

_ALLOWED_KEYS = {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"}
_SCALARS = (str, int, float, bool)
# RFC 9110 section 5.5: "Field values containing CR, LF, or NUL characters are invalid and
# dangerous" (https://www.rfc-editor.org/rfc/rfc9110#section-5.5); section 5.1: a field name is a
# token (https://www.rfc-editor.org/rfc/rfc9110#section-5.1). AWS does not document what API
# Gateway does with such a header from a Lambda; a response HTTP cannot carry is a malformed one,
# answered as every malformed proxy response is (REST 502, HTTP API 500), never sent half-way.
_INVALID_VALUE = re.compile(r"[\r\n\x00]")
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


class MalformedProxyResponse(ValueError):
    """Why a handler's result cannot be mapped; logged as AWS logs it, answered with 502."""


def header_name(name: object, where: str) -> str:
    """A response header's name, or MalformedProxyResponse when it is not an RFC 9110 token
    (empty, or with spaces, CR, LF, colons...)."""
    if not isinstance(name, str) or not _TOKEN.match(name):
        raise MalformedProxyResponse(f"{where}: header name {name!r} is not a valid HTTP token")
    return name


def header_value(value: object, where: str) -> str:
    """A response header's value as text (booleans as ``true``/``false``), or
    MalformedProxyResponse for a value that is not a scalar or holds CR, LF or NUL."""
    if not isinstance(value, _SCALARS):
        raise MalformedProxyResponse(f"{where} must be a string, got {type(value).__name__}")
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if _INVALID_VALUE.search(text):
        raise MalformedProxyResponse(f"{where} holds CR, LF or NUL, which HTTP cannot carry")
    return text


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
            result = parse_json(result)
        except InvalidJson as exc:
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
        where = f"multiValueHeaders.{name}"
        headers += [(header_name(name, where), header_value(v, where)) for v in values]
    covered = {name.lower() for name in multi}
    for name, value in single.items():
        if name.lower() not in covered:  # AWS: multiValueHeaders win over headers
            where = f"headers.{name}"
            headers.append((header_name(name, where), header_value(value, where)))

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
