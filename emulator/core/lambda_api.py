"""The Lambda Invoke API as handlers call it through boto3: names, invocation types, errors.

Handlers reach it at the endpoint the emulator gives them (``AWS_ENDPOINT_URL_LAMBDA``), so
``boto3.client("lambda").invoke(...)`` works unchanged.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from emulator.core.events import ACCOUNT_ID
from emulator.core.json_input import InvalidJson, parse_json
from emulator.core.responses import (
    JSON,
    LAMBDA_SYNC_PAYLOAD_LIMIT,
    HttpResponse,
    host_refused_message,
)

#: Asynchronous invocation payload limit (raised from 256 KB to 1 MB in 2025).
ASYNC_PAYLOAD_LIMIT = 1024 * 1024
INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")
_ARN = re.compile(
    r"^(?:arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:\d{12}:function:|\d{12}:function:)?"
    r"(?P<name>[A-Za-z0-9_.-]+)(?::(?P<qualifier>\$LATEST|[A-Za-z0-9_-]+))?$"
)


def function_name(name_or_arn: str) -> str | None:
    """The bare function name from a name, a partial ARN or a full ARN."""
    found = _ARN.match(name_or_arn)
    return found.group("name") if found else None


def function_arn(name: str, region: str) -> str:
    return f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{name}"


@dataclass(frozen=True)
class LambdaError:
    status: int
    error_type: str
    message: str
    extra: dict | None = None
    message_key: str = "message"  # the model spells it "Message" for some exceptions

    def response(self) -> HttpResponse:
        body = {"Type": "User", self.message_key: self.message, **(self.extra or {})}
        headers = [("Content-Type", JSON), ("x-amzn-ErrorType", self.error_type)]
        return HttpResponse(self.status, headers, json.dumps(body).encode())


def not_found(name: str, region: str) -> LambdaError:
    return LambdaError(
        404,
        "ResourceNotFoundException",
        f"Function not found: {function_arn(name, region)}",
        message_key="Message",
    )


def host_refused(host: str) -> LambdaError:
    """403 ``AccessDeniedException`` for a request whose ``Host`` is not a name the emulator
    answers to (the DNS-rebinding defence it shares with the control plane,
    ``emulator.core.origins.HostPolicy``). AWS has no such check (its Host is its own endpoint,
    ``lambda.REGION.amazonaws.com``); of the errors it documents for every Lambda action,
    AccessDeniedException, "You do not have sufficient access to perform this action", 403
    (https://docs.aws.amazon.com/lambda/latest/api/CommonErrors.html), is the closest."""
    return LambdaError(403, "AccessDeniedException", host_refused_message(host))


def too_large(size: int, invocation_type: str, limit: int) -> LambdaError:
    return LambdaError(
        413,
        "RequestTooLargeException",
        f"{size} byte payload is too large for the {invocation_type} invocation type "
        f"(limit {limit} bytes)",
    )


def invalid_content(detail: str) -> LambdaError:
    """InvalidRequestContentException, 400: "The request body could not be parsed as JSON, or a
    request header is invalid" (https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html,
    Errors); AWS's message starts "Could not parse request body into json"."""
    return LambdaError(
        400, "InvalidRequestContentException", f"Could not parse request body into json: {detail}"
    )


def invalid_type(value: str) -> LambdaError:
    return LambdaError(
        400,
        "InvalidParameterValueException",
        f"1 validation error detected: Value '{value}' at 'invocationType' failed to satisfy "
        f"constraint: Member must satisfy enum value set: [{', '.join(INVOCATION_TYPES)}]",
    )


def throttled() -> LambdaError:
    return LambdaError(
        429,
        "TooManyRequestsException",
        "Rate Exceeded.",
        {"Reason": "ReservedFunctionConcurrentInvocationLimitExceeded"},
    )


def check_payload(invocation_type: str, payload: bytes) -> LambdaError | None:
    """Validate an Invoke request's type and payload before anything runs."""
    if invocation_type not in INVOCATION_TYPES:
        return invalid_type(invocation_type)
    limit = ASYNC_PAYLOAD_LIMIT if invocation_type == "Event" else LAMBDA_SYNC_PAYLOAD_LIMIT
    if len(payload) > limit:
        return too_large(len(payload), invocation_type, limit)
    if payload:
        try:
            parse_json(payload)  # a payload nested too deeply is unparseable JSON too
        except InvalidJson as exc:
            return invalid_content(str(exc))
    return None
