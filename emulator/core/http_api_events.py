"""The events an HTTP API (API Gateway v2) hands a Lambda proxy integration: formats 2.0 and 1.0.

Shapes from https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html
("Payload format structure"; "All header names are lowercase"): format 2.0 has ``rawPath``,
``rawQueryString``, ``cookies``, ``routeKey`` and ``requestContext.http``; repeated headers and
query parameters are joined with commas. Format 1.0 is the REST proxy event
(``emulator.core.events.rest_proxy_event``) with ``version: "1.0"``. The stage is ``$default``.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from emulator.core.events import (
    ACCOUNT_ID,
    ApiIdentity,
    IncomingRequest,
    aws_request_time,
    body_field,
    rest_proxy_event,
)
from emulator.core.http_api_routing import HttpApiMatch
from emulator.core.routing import RestRoute, RouteMatch

#: HTTP APIs serve their routes at the root, on the ``$default`` stage (no stage in the path).
DEFAULT_STAGE = "$default"


def _joined(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """Repeated names joined with commas, in order (format 2.0's headers and query parameters)."""
    joined: dict[str, str] = {}
    for name, value in pairs:
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    return joined


def _cookies(headers: list[tuple[str, str]]) -> list[str]:
    """Every cookie of every Cookie header, one item each (format 2.0's ``cookies``)."""
    return [
        part.strip()
        for name, value in headers
        if name.lower() == "cookie"
        for part in value.split(";")
        if part.strip()
    ]


def http_api_event_v2(
    request: IncomingRequest,
    match: HttpApiMatch,
    api: ApiIdentity,
    *,
    request_id: str,
    epoch: float,
) -> dict:
    """The payload format 2.0 event for ``request`` on ``match`` at ``epoch`` (seconds).

    Fields AWS leaves out when they have no value are left out (``cookies``,
    ``queryStringParameters``, ``pathParameters``, ``body``, ``stageVariables``): AWS's guide
    shows them all, but HTTP APIs send none of them empty. The Cookie header moves to ``cookies``
    and is not repeated in ``headers``; a body that is not UTF-8 text is sent base64-encoded with
    ``isBase64Encoded: true``."""
    lowered = [(name.lower(), value) for name, value in request.headers]
    headers = _joined([(name, value) for name, value in lowered if name != "cookie"])
    query = _joined(parse_qsl(request.query_string, keep_blank_values=True))
    body, is_base64 = _text_or_base64(request.body)
    event: dict = {
        "version": "2.0",
        "routeKey": match.route.key,
        "rawPath": match.path,
        "rawQueryString": request.query_string,
    }
    cookies = _cookies(lowered)
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    if query:
        event["queryStringParameters"] = query
    event["requestContext"] = {
        "accountId": ACCOUNT_ID,
        "apiId": api.api_id,
        "domainName": api.domain_name,
        "domainPrefix": api.domain_prefix,
        "http": {
            "method": request.method,
            "path": match.path,
            "protocol": request.protocol,
            "sourceIp": request.source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": request_id,
        "routeKey": match.route.key,
        "stage": DEFAULT_STAGE,
        "time": aws_request_time(epoch),
        "timeEpoch": int(epoch * 1000),
    }
    if match.path_parameters:
        event["pathParameters"] = dict(match.path_parameters)
    if body is not None:
        event["body"] = body
    event["isBase64Encoded"] = is_base64
    return event


def http_api_event_v1(
    request: IncomingRequest,
    match: HttpApiMatch,
    api: ApiIdentity,
    *,
    request_id: str,
    epoch: float,
) -> dict:
    """The payload format 1.0 event: REST's proxy event, with ``version: "1.0"``, lower-cased
    header names, the decoded path, the route's path as ``resource`` (the request's path on
    ``$default``), no resource id, and the request id as the extended request id, as AWS's
    format 1.0 example shows."""
    route = match.route
    resource = route.path if route.path is not None else match.path
    lowered = IncomingRequest(
        method=request.method,
        path=match.path,
        query_string=request.query_string,
        headers=[(name.lower(), value) for name, value in request.headers],
        body=request.body,
        source_ip=request.source_ip,
        protocol=request.protocol,
    )
    event = rest_proxy_event(
        lowered,
        RouteMatch(RestRoute(route.method, resource, route.function), match.path_parameters),
        api,
        resource_path=match.path,
        request_id=request_id,
        epoch=epoch,
    )
    context = event["requestContext"]
    context["resourceId"] = None
    context["extendedRequestId"] = request_id
    return {"version": "1.0", **event}


def http_api_event(
    request: IncomingRequest,
    match: HttpApiMatch,
    api: ApiIdentity,
    *,
    request_id: str,
    epoch: float,
) -> dict:
    """The event in the payload format version of ``match``'s route."""
    build = http_api_event_v1 if match.route.payload == "1.0" else http_api_event_v2
    return build(request, match, api, request_id=request_id, epoch=epoch)


def _text_or_base64(body: bytes) -> tuple[str | None, bool]:
    """The 2.0 event's ``body`` and ``isBase64Encoded``: UTF-8 text as it is, anything else
    base64-encoded (decoded once: the check is the decoding)."""
    if not body:
        return None, False
    try:
        return body.decode("utf-8"), False
    except UnicodeDecodeError:
        return body_field(body, binary=True)
