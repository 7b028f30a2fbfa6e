"""AWS Lambda proxy integration events (payload format 1.0), built from plain request data."""

from __future__ import annotations

import base64
import secrets
import string
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from emulator.core.routing import RouteMatch

ACCOUNT_ID = "000000000000"
_ALNUM = string.ascii_lowercase + string.digits


def new_api_id() -> str:
    """A 10-character id like the ones AWS gives APIs (also the first label of the domain)."""
    return "".join(secrets.choice(_ALNUM) for _ in range(10))


def new_request_id() -> str:
    return str(uuid.uuid4())


def new_extended_request_id() -> str:
    return base64.b64encode(secrets.token_bytes(11)).decode()[:15] + "="


@dataclass(frozen=True)
class IncomingRequest:
    """An HTTP request as the gateway received it, before any AWS processing."""

    method: str
    path: str
    query_string: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    source_ip: str = "127.0.0.1"
    protocol: str = "HTTP/1.1"


@dataclass(frozen=True)
class ApiIdentity:
    """Who the API is: what goes into every event's requestContext."""

    api_id: str
    stage: str
    domain_name: str

    @property
    def domain_prefix(self) -> str:
        return self.domain_name.split(".", 1)[0]


def aws_request_time(epoch: float) -> str:
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(epoch))


def single_and_multi(pairs: list[tuple[str, str]]) -> tuple[dict | None, dict | None]:
    """AWS's two views of repeated names: last value wins, and every value in order."""
    if not pairs:
        return None, None
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in pairs:
        single[name] = value
        multi.setdefault(name, []).append(value)
    return single, multi


def body_field(body: bytes) -> tuple[str | None, bool]:
    """Text bodies pass as strings; bytes that are not UTF-8 pass base64-encoded."""
    if not body:
        return None, False
    try:
        return body.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(body).decode(), True


def rest_proxy_event(
    request: IncomingRequest,
    match: RouteMatch,
    api: ApiIdentity,
    *,
    resource_path: str,
    request_id: str,
    epoch: float,
) -> dict:
    """The event API Gateway REST hands a Lambda proxy integration, for ``request`` at ``epoch``.

    ``request.path`` is the full path (with the stage); ``resource_path`` is the part after it.
    """
    headers, multi_headers = single_and_multi(request.headers)
    query_pairs = parse_qsl(request.query_string, keep_blank_values=True)
    query, multi_query = single_and_multi(query_pairs)
    body, is_base64 = body_field(request.body)
    header_map = {k.lower(): v for k, v in request.headers}
    return {
        "resource": match.route.resource,
        "path": resource_path,
        "httpMethod": request.method,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": match.path_parameters or None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": _resource_id(match.route.resource),
            "resourcePath": match.route.resource,
            "httpMethod": request.method,
            "extendedRequestId": new_extended_request_id(),
            "requestTime": aws_request_time(epoch),
            "path": request.path,
            "accountId": ACCOUNT_ID,
            "protocol": request.protocol,
            "stage": api.stage,
            "domainPrefix": api.domain_prefix,
            "requestTimeEpoch": int(epoch * 1000),
            "requestId": request_id,
            "identity": {
                "cognitoIdentityPoolId": None,
                "accountId": None,
                "cognitoIdentityId": None,
                "caller": None,
                "sourceIp": request.source_ip,
                "principalOrgId": None,
                "accessKey": None,
                "cognitoAuthenticationType": None,
                "cognitoAuthenticationProvider": None,
                "userArn": None,
                "userAgent": header_map.get("user-agent"),
                "user": None,
            },
            "domainName": api.domain_name,
            "apiId": api.api_id,
        },
        "body": body,
        "isBase64Encoded": is_base64,
    }


def _resource_id(resource: str) -> str:
    """A stable 6-character id per resource, as AWS keeps one per resource."""
    return uuid.uuid5(uuid.NAMESPACE_URL, resource).hex[:6]
