"""AWS Lambda proxy integration events (payload format 1.0), built from plain request data."""

from __future__ import annotations

import base64
import secrets
import string
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from emulator.core.api_keys import ApiKey
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


def body_field(body: bytes, binary: bool) -> tuple[str | None, bool]:
    """The event's ``body`` and ``isBase64Encoded``.

    A body whose Content-Type is one of the API's binary media types goes base64-encoded with
    ``isBase64Encoded: true``; any other body goes as a "UTF8-encoded string"
    (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-payload-encodings-workflow.html,
    the rows with no contentHandling). Bytes that are not UTF-8 cannot survive that: they are
    replaced by U+FFFD, so the handler sees the body damaged, as it would on AWS (which does not
    document the replacement character it uses; U+FFFD is the Unicode standard's).
    """
    if not body:
        return None, False
    if binary:
        return base64.b64encode(body).decode(), True
    return body.decode("utf-8", errors="replace"), False


def rest_proxy_event(
    request: IncomingRequest,
    match: RouteMatch,
    api: ApiIdentity,
    *,
    resource_path: str,
    request_id: str,
    epoch: float,
    binary_body: bool = False,
    api_key: ApiKey | None = None,
    authorizer: dict | None = None,
) -> dict:
    """The event API Gateway REST hands a Lambda proxy integration, for ``request`` at ``epoch``.

    ``request.path`` is the full path (with the stage); ``resource_path`` is the part after it.
    Both are as the client sent them, percent-encoding kept, and so are ``pathParameters``: REST
    APIs pass the path on as received (AWS does not document this; live captures show it:
    github.com/aws/aws-sam-cli/issues/771, github.com/dherault/serverless-offline/issues/265);
    query string parameters are decoded. ``binary_body``: the request's Content-Type is one of
    the API's binary media types (``emulator.core.media_types``). ``api_key``: the key a
    ``private`` method was called with, shown as ``requestContext.identity.apiKey`` and
    ``apiKeyId`` (null for methods that require none:
    https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-mapping-template-reference.html#context-variable-reference).
    ``authorizer``: a Lambda authorizer's result (``principalId``, its ``context`` entries),
    passed as ``requestContext.authorizer``; without one the key is absent.
    """
    headers, multi_headers = single_and_multi(request.headers)
    query_pairs = parse_qsl(request.query_string, keep_blank_values=True)
    query, multi_query = single_and_multi(query_pairs)
    body, is_base64 = body_field(request.body, binary_body)
    header_map = {k.lower(): v for k, v in request.headers}
    context: dict = {
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
            "apiKey": api_key.value if api_key else None,
            "apiKeyId": api_key.id if api_key else None,
        },
        "domainName": api.domain_name,
        "apiId": api.api_id,
    }
    if authorizer is not None:
        context["authorizer"] = authorizer
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
        "requestContext": context,
        "body": body,
        "isBase64Encoded": is_base64,
    }


def _resource_id(resource: str) -> str:
    """A stable 6-character id per resource, as AWS keeps one per resource."""
    return uuid.uuid5(uuid.NAMESPACE_URL, resource).hex[:6]
