"""Which payloads a REST API treats as binary: ``binaryMediaTypes`` against Content-Type and Accept.

Rules (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-payload-encodings-workflow.html
and https://docs.aws.amazon.com/apigateway/latest/developerguide/lambda-proxy-binary-media.html):

- A request whose ``Content-Type`` matches ``binaryMediaTypes`` reaches a Lambda proxy integration
  base64-encoded with ``isBase64Encoded: true``; any other body is passed as a UTF-8 string.
- A proxy response with ``isBase64Encoded: true`` is decoded to bytes only when the request's
  *first* ``Accept`` media type matches ``binaryMediaTypes`` ("API Gateway uses the first Accept
  header from clients to determine if a response should return binary media"); otherwise the
  base64 text goes to the client as it is. The response's own Content-Type does not take part:
  AWS's pages name only Accept, and LocalStack's captures against AWS found the same
  (github.com/localstack/localstack/pull/12199).
- ``*`` is a wildcard: ``image/*`` covers every image type and ``*/*`` every type ("You can use
  the wildcard character (*) to cover multiple media types. For example, */* includes all content
  types": https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-content-encodings-examples.html).
  Media types compare case-insensitively and without parameters (``; charset=...``), as MIME
  types do (RFC 9110 8.3.1); AWS does not document parameters here.
"""

from __future__ import annotations

from collections.abc import Sequence


def _essence(media_type: str) -> tuple[str, str] | None:
    """``("image", "png")`` for ``"Image/PNG; q=0.9"``; None for anything not type/subtype."""
    kind, slash, subtype = media_type.split(";", 1)[0].strip().lower().partition("/")
    if not slash or not kind or not subtype:
        return None
    return kind, subtype


def matches(media_type: str | None, binary_media_types: Sequence[str]) -> bool:
    """Whether ``media_type`` (a Content-Type or one Accept entry) is one of the API's binary
    media types, wildcards included. None or an unparsable type matches nothing."""
    if not media_type:
        return False
    found = _essence(media_type)
    if found is None:
        return False
    kind, subtype = found
    for pattern in binary_media_types:
        wanted = _essence(pattern)
        if wanted is None:
            continue
        if wanted[0] in ("*", kind) and wanted[1] in ("*", subtype):
            return True
    return False


def first_accept_type(accept: str | None) -> str | None:
    """The first media type of an ``Accept`` header (the only one API Gateway looks at)."""
    if not accept:
        return None
    first = accept.split(",", 1)[0].strip()
    return first or None


def request_is_binary(content_type: str | None, binary_media_types: Sequence[str]) -> bool:
    """Whether a request body goes to the Lambda base64-encoded (``isBase64Encoded: true``)."""
    return matches(content_type, binary_media_types)


def response_is_binary(accept: str | None, binary_media_types: Sequence[str]) -> bool:
    """Whether a proxy result's ``isBase64Encoded`` body is decoded before it goes out."""
    return matches(first_accept_type(accept), binary_media_types)
