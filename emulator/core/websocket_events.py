"""The events API Gateway WebSocket APIs hand Lambda: CONNECT, MESSAGE and DISCONNECT."""

from __future__ import annotations

import json
import secrets
import string
from dataclasses import dataclass, field

from emulator.core.events import (
    ApiIdentity,
    aws_request_time,
    new_extended_request_id,
    single_and_multi,
)

_ID_ALPHABET = string.ascii_letters + string.digits


def new_connection_id() -> str:
    """Unguessable and shaped like AWS's (15 characters and '='), safe in a URL path."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(15)) + "="


new_message_id = new_connection_id


@dataclass(frozen=True)
class ConnectionInfo:
    """What API Gateway knows of a connection from its handshake."""

    connection_id: str
    connected_at_ms: int  # emulated epoch milliseconds
    source_ip: str
    user_agent: str | None
    headers: list[tuple[str, str]]
    query_string_pairs: list[tuple[str, str]]
    #: What the $connect Lambda authorizer allowed the connection with (``principalId`` and
    #: its ``context`` keys): every event of the connection carries it as
    #: ``requestContext.authorizer`` (https://docs.aws.amazon.com/apigateway/latest/
    #: developerguide/apigateway-websocket-api-lambda-auth.html). None without an authorizer.
    authorizer: dict | None = field(default=None)


def _request_context(
    info: ConnectionInfo,
    api: ApiIdentity,
    *,
    route_key: str,
    event_type: str,
    request_id: str,
    epoch: float,
) -> dict:
    context = {
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": new_extended_request_id(),
        "requestTime": aws_request_time(epoch),
        "messageDirection": "IN",
        "stage": api.stage,
        "connectedAt": info.connected_at_ms,
        "requestTimeEpoch": int(epoch * 1000),
        "identity": {"userAgent": info.user_agent, "sourceIp": info.source_ip},
        "requestId": request_id,
        "domainName": api.domain_name,
        "connectionId": info.connection_id,
        "apiId": api.api_id,
    }
    if info.authorizer is not None:
        context["authorizer"] = dict(info.authorizer)
    return context


def connect_event(info: ConnectionInfo, api: ApiIdentity, *, request_id: str, epoch: float) -> dict:
    headers, multi_headers = single_and_multi(info.headers)
    query, multi_query = single_and_multi(info.query_string_pairs)
    event: dict = {"headers": headers or {}, "multiValueHeaders": multi_headers or {}}
    if query:
        event["queryStringParameters"] = query
        event["multiValueQueryStringParameters"] = multi_query
    event["requestContext"] = _request_context(
        info, api, route_key="$connect", event_type="CONNECT", request_id=request_id, epoch=epoch
    )
    event["isBase64Encoded"] = False
    return event


def message_event(
    info: ConnectionInfo,
    api: ApiIdentity,
    *,
    route_key: str,
    body: str,
    is_base64: bool,
    request_id: str,
    message_id: str,
    epoch: float,
) -> dict:
    context = _request_context(
        info, api, route_key=route_key, event_type="MESSAGE", request_id=request_id, epoch=epoch
    )
    context["messageId"] = message_id
    return {"requestContext": context, "body": body, "isBase64Encoded": is_base64}


def disconnect_event(
    info: ConnectionInfo,
    api: ApiIdentity,
    *,
    status_code: int,
    reason: str,
    request_id: str,
    epoch: float,
) -> dict:
    context = _request_context(
        info,
        api,
        route_key="$disconnect",
        event_type="DISCONNECT",
        request_id=request_id,
        epoch=epoch,
    )
    context["disconnectStatusCode"] = status_code
    context["disconnectReason"] = reason
    headers = {"Host": api.domain_name, "x-api-key": "", "X-Forwarded-For": "", "x-restapi": ""}
    return {
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "requestContext": context,
        "isBase64Encoded": False,
    }


def error_reply(message: str, *, connection_id: str, request_id: str) -> str:
    """What API Gateway sends the client when a route fails: Forbidden, Internal server error,
    Endpoint request timed out."""
    return json.dumps({"message": message, "connectionId": connection_id, "requestId": request_id})
