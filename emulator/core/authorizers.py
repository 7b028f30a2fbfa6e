"""Lambda authorizers as API Gateway runs them: specs, events, identity sources, policies, cache.

Pure rules: nothing here reads a clock or touches a socket; "now" is passed in (emulated seconds).
The gateway (``emulator.gateway.authorizer``) invokes the authorizer function and owns the clock.

Sources:
- https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-use-lambda-authorizer.html
- https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-lambda-authorizer-input.html
- https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-lambda-authorizer-output.html
- https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-websocket-api-lambda-auth.html
- https://docs.aws.amazon.com/apigateway/latest/api/API_Authorizer.html
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from emulator.core import responses
from emulator.core.events import ACCOUNT_ID, ApiIdentity
from emulator.core.responses import HttpResponse

#: Serverless v3 (lib/plugins/aws/package/compile/events/api-gateway/lib/validate.js,
#: ``getAuthorizer``): an http authorizer without ``identitySource`` reads this header (except a
#: REQUEST authorizer with caching off), and ``resultTtlInSeconds`` defaults to 300.
DEFAULT_REST_IDENTITY_SOURCE = "method.request.header.Authorization"
DEFAULT_RESULT_TTL = 300
#: Serverless v3 (.../events/websockets/lib/validate.js): a websocket authorizer without
#: ``identitySource`` reads the ``Auth`` header.
DEFAULT_WEBSOCKET_IDENTITY_SOURCE = "route.request.header.Auth"
#: "The maximum value is 3600" (authorizerResultTtlInSeconds, API_Authorizer.html); the
#: Serverless schema says the same (resultTtlInSeconds: integer, 0..3600).
MAX_RESULT_TTL = 3600
#: How long the gateway waits for an authorizer function. AWS does not document an authorizer
#: timeout (the integration timeout does not apply to it); observed answers to a timed-out
#: authorizer are 500 {"message": null}. Here the wait is the REST API's 29 s default.
AUTHORIZER_TIMEOUT = 29.0
#: The error message with which an authorizer function asks for 401: the example function of
#: apigateway-use-lambda-authorizer.html does ``callback("Unauthorized"); // Return a 401
#: Unauthorized response``, and any other error gives 500.
UNAUTHORIZED_MESSAGE = "Unauthorized"
INVOKE_ACTION = "execute-api:Invoke"


class AuthorizerType(Enum):
    """The Lambda authorizer kinds API Gateway runs (``Type`` of AWS::ApiGateway::Authorizer)."""

    TOKEN = "TOKEN"
    REQUEST = "REQUEST"


class IdentityLocation(Enum):
    HEADER = "header"
    QUERYSTRING = "querystring"


class InvalidAuthorizer(ValueError):
    """An authorizer configuration AWS would refuse, or one this emulator cannot run."""


@dataclass(frozen=True)
class IdentitySource:
    """One identity source: a request header (case-insensitive) or query string parameter."""

    location: IdentityLocation
    name: str

    def value(self, headers: list[tuple[str, str]], query: list[tuple[str, str]]) -> str | None:
        """The request's value for this source (the last one when repeated), or None."""
        if self.location is IdentityLocation.HEADER:
            lowered = self.name.lower()
            found = [v for k, v in headers if k.lower() == lowered]
        else:
            found = [v for k, v in query if k == self.name]
        return found[-1] if found else None


_SOURCE = {
    "rest": re.compile(r"method\.request\.(header|querystring)\.(.+)"),
    "websocket": re.compile(r"route\.request\.(header|querystring)\.(.+)"),
}


def parse_identity_sources(text: str | list[str], api: str) -> tuple[IdentitySource, ...]:
    """``method.request.header.X, method.request.querystring.Y`` (REST, comma-separated) or
    ``['route.request.header.X', ...]`` (WebSocket) into sources.

    Only header and query string sources are modelled; ``stageVariables.*``, ``context.*`` and
    multi-value forms raise ``InvalidAuthorizer`` (API_Authorizer.html, identitySource).
    """
    items = text if isinstance(text, list) else str(text).split(",")
    sources = []
    for item in (str(i).strip() for i in items):
        if not item:
            continue
        found = _SOURCE[api].fullmatch(item)
        if found is None:
            prefix = "method.request" if api == "rest" else "route.request"
            raise InvalidAuthorizer(
                f"identity source {item!r} is not modelled: use {prefix}.header.NAME or "
                f"{prefix}.querystring.NAME"
            )
        sources.append(IdentitySource(IdentityLocation(found.group(1)), found.group(2)))
    return tuple(sources)


@dataclass(frozen=True)
class AuthorizerSpec:
    """A Lambda authorizer attached to a route.

    ``function`` is the key of the authorizer function under ``functions:``; ``result_ttl`` is
    in seconds (0 turns caching off); ``validation_expression`` is a regular expression a TOKEN
    authorizer's token must match in full.
    """

    name: str
    function: str
    type: AuthorizerType = AuthorizerType.TOKEN
    identity_sources: tuple[IdentitySource, ...] = (
        IdentitySource(IdentityLocation.HEADER, "Authorization"),
    )
    result_ttl: int = DEFAULT_RESULT_TTL
    validation_expression: str | None = None

    def __post_init__(self) -> None:
        # "The maximum value is 3600" and 0 disables caching (API_Authorizer.html).
        if isinstance(self.result_ttl, bool) or not 0 <= self.result_ttl <= MAX_RESULT_TTL:
            raise InvalidAuthorizer(
                f"resultTtlInSeconds must be an integer 0..{MAX_RESULT_TTL}, got {self.result_ttl}"
            )
        if self.type is AuthorizerType.TOKEN:
            # "For a TOKEN ... authorizer, this is required and specifies the request header
            # mapping expression for the custom header holding the authorization token"
            # (identitySource, API_Authorizer.html).
            if len(self.identity_sources) != 1 or (
                self.identity_sources[0].location is not IdentityLocation.HEADER
            ):
                raise InvalidAuthorizer(
                    "a TOKEN authorizer's identitySource must be one method.request.header.NAME"
                )
        elif self.result_ttl > 0 and not self.identity_sources:
            # "For the REQUEST authorizer, this is required when authorization caching is
            # enabled" (identitySource, API_Authorizer.html).
            raise InvalidAuthorizer(
                "a REQUEST authorizer with caching on (resultTtlInSeconds > 0) needs identitySource"
            )
        if self.validation_expression is not None:
            try:
                re.compile(self.validation_expression)
            except re.error as exc:
                raise InvalidAuthorizer(
                    f"identityValidationExpression {self.validation_expression!r} is not a "
                    f"regular expression: {exc}"
                ) from exc


# -- refusals, as typed outcomes that know their response -----------------------------------------


class AuthorizerRefusal(Exception):
    """The request is refused at the authorizer step; ``response`` is what the client gets."""

    status = 500
    outcome = "error"

    @property
    def response(self) -> HttpResponse:
        return responses.authorizer_configuration_error()


class Unauthorized(AuthorizerRefusal):
    """A missing identity source, a token failing identityValidationExpression, or the
    authorizer function throwing "Unauthorized": 401 (gateway response UNAUTHORIZED)."""

    status = 401
    outcome = "unauthorized"

    @property
    def response(self) -> HttpResponse:
        return responses.unauthorized()


class AccessDenied(AuthorizerRefusal):
    """The policy denies the method, explicitly or for want of an Allow: 403 (ACCESS_DENIED)."""

    status = 403
    outcome = "denied"

    def __init__(self, explicit: bool) -> None:
        super().__init__("explicit deny" if explicit else "no Allow statement matches")
        self.explicit = explicit

    @property
    def response(self) -> HttpResponse:
        return responses.access_denied(explicit=self.explicit)


class AuthorizerFailure(AuthorizerRefusal):
    """The authorizer function failed otherwise, timed out or returned a malformed result:
    500 (AUTHORIZER_CONFIGURATION_ERROR / AUTHORIZER_FAILURE)."""


# -- identity --------------------------------------------------------------------------------------


def identity(
    spec: AuthorizerSpec, headers: list[tuple[str, str]], query: list[tuple[str, str]]
) -> tuple[str, ...]:
    """The identity source values of a request, in the spec's order: the cache key, and for a
    TOKEN authorizer its token.

    Raises ``Unauthorized`` when one is missing or empty (API Gateway answers 401 without calling
    the authorizer function: apigateway-use-lambda-authorizer.html, and the knowledge-center
    article api-gateway-401-error-lambda-authorizer); and when a TOKEN authorizer's token does
    not match its identityValidationExpression, which "does not apply to the REQUEST authorizer"
    (identityValidationExpression, API_Authorizer.html).
    """
    values = []
    for source in spec.identity_sources:
        value = source.value(headers, query)
        if not value:
            raise Unauthorized(f"identity source {source.name} is missing")
        values.append(value)
    if (
        spec.type is AuthorizerType.TOKEN
        and spec.validation_expression is not None
        and re.fullmatch(spec.validation_expression, values[0]) is None
    ):
        raise Unauthorized("the token does not match identityValidationExpression")
    return tuple(values)


# -- events ----------------------------------------------------------------------------------------


def method_arn(api: ApiIdentity, region: str, method: str, path: str) -> str:
    """``arn:aws:execute-api:{region}:{account}:{apiId}/{stage}/{METHOD}/{path}`` for a REST
    request (``path`` the resource path as requested, e.g. ``/items/12``), or with ``method``
    ``$connect`` and an empty path, a WebSocket connection
    (api-gateway-lambda-authorizer-output.html; apigateway-websocket-api-lambda-auth.html:
    "In the case of $connect, methodArn ends with "$connect"")."""
    base = f"arn:aws:execute-api:{region}:{ACCOUNT_ID}:{api.api_id}/{api.stage}/{method}"
    if method == "$connect":
        return base
    return f"{base}/{path.lstrip('/')}"


def token_event(token: str, arn: str) -> dict:
    """The TOKEN authorizer's input (api-gateway-lambda-authorizer-input.html)."""
    return {"type": "TOKEN", "authorizationToken": token, "methodArn": arn}


def rest_request_event(proxy_event: dict, arn: str) -> dict:
    """The REST REQUEST authorizer's input, from the route's proxy event: the request's
    parameters, stage variables and request context (api-gateway-lambda-authorizer-input.html,
    REQUEST input format)."""
    keys = (
        "resource",
        "path",
        "httpMethod",
        "headers",
        "multiValueHeaders",
        "queryStringParameters",
        "multiValueQueryStringParameters",
        "pathParameters",
        "stageVariables",
        "requestContext",
    )
    return {"type": "REQUEST", "methodArn": arn, **{k: proxy_event.get(k) for k in keys}}


def websocket_request_event(connect_event: dict, arn: str) -> dict:
    """The WebSocket $connect REQUEST authorizer's input: headers, query string, stage variables
    and the CONNECT request context, no path parameters
    (apigateway-websocket-api-lambda-auth.html)."""
    event = {
        "type": "REQUEST",
        "methodArn": arn,
        "headers": connect_event.get("headers") or {},
        "multiValueHeaders": connect_event.get("multiValueHeaders") or {},
    }
    if "queryStringParameters" in connect_event:
        event["queryStringParameters"] = connect_event["queryStringParameters"]
        event["multiValueQueryStringParameters"] = connect_event["multiValueQueryStringParameters"]
    event["stageVariables"] = {}
    event["requestContext"] = connect_event["requestContext"]
    return event


# -- output ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Statement:
    effect: str  # "Allow" or "Deny"
    actions: tuple[str, ...]
    resources: tuple[str, ...]


@dataclass(frozen=True)
class AuthorizerOutput:
    """What an authorizer function returned, validated: the policy and what passes on."""

    principal_id: str
    statements: tuple[Statement, ...]
    context: dict[str, str | int | float | bool] = field(default_factory=dict)
    usage_identifier_key: str | None = None


def _strings(value: Any, what: str) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(i, str) for i in items):
        raise AuthorizerFailure(f"policy statement {what} must be a string or list of strings")
    return tuple(items)


def parse_output(payload: Any) -> AuthorizerOutput:
    """Validate an authorizer function's result (api-gateway-lambda-authorizer-output.html):
    ``principalId`` and ``policyDocument`` with ``Statement`` are required; ``context`` values
    must be strings, numbers or booleans ("You cannot set a JSON object or array as a valid value
    of any key in the context map"); ``usageIdentifierKey`` is optional. Anything else raises
    ``AuthorizerFailure`` (500, as AWS answers a malformed authorizer response)."""
    if not isinstance(payload, dict):
        raise AuthorizerFailure("the authorizer did not return an object")
    principal = payload.get("principalId")
    if not isinstance(principal, str | int | float) or isinstance(principal, bool):
        raise AuthorizerFailure("the authorizer's result has no principalId")
    document = payload.get("policyDocument")
    if not isinstance(document, dict) or "Statement" not in document:
        raise AuthorizerFailure("the authorizer's result has no policyDocument.Statement")
    raw = document["Statement"]
    raw = raw if isinstance(raw, list) else [raw]
    statements = []
    for item in raw:
        if not isinstance(item, dict) or item.get("Effect") not in ("Allow", "Deny"):
            raise AuthorizerFailure("a policy statement needs Effect Allow or Deny")
        if "Action" not in item or "Resource" not in item:
            # NotAction / NotResource are not modelled: such a statement is refused as malformed.
            raise AuthorizerFailure("a policy statement needs Action and Resource")
        statements.append(
            Statement(
                item["Effect"],
                _strings(item["Action"], "Action"),
                _strings(item["Resource"], "Resource"),
            )
        )
    context = payload.get("context") or {}
    if not isinstance(context, dict) or not all(
        isinstance(v, str | int | float | bool) for v in context.values()
    ):
        raise AuthorizerFailure("context values must be strings, numbers or booleans")
    key = payload.get("usageIdentifierKey")
    if key is not None and not isinstance(key, str):
        raise AuthorizerFailure("usageIdentifierKey must be a string")
    return AuthorizerOutput(str(principal), tuple(statements), dict(context), key)


def _matches(pattern: str, value: str, *, case_sensitive: bool) -> bool:
    # IAM wildcards: * any run of characters, ? one character; nothing else is special.
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    flags = 0 if case_sensitive else re.IGNORECASE
    return re.fullmatch(regex, value, flags | re.DOTALL) is not None


def evaluate(output: AuthorizerOutput, arn: str) -> None:
    """Decide whether the policy lets the caller invoke ``arn``; return on Allow.

    IAM evaluation: an explicit Deny that matches wins; else an Allow that matches allows; else
    the request is implicitly denied (https://docs.aws.amazon.com/IAM/latest/UserGuide/
    reference_policies_evaluation-logic.html). Resources match with ``*``/``?`` wildcards,
    case-sensitively; actions case-insensitively (IAM). Raises ``AccessDenied(explicit=...)``.
    """
    allowed = False
    for statement in output.statements:
        if not any(_matches(a, INVOKE_ACTION, case_sensitive=False) for a in statement.actions):
            continue
        if not any(_matches(r, arn, case_sensitive=True) for r in statement.resources):
            continue
        if statement.effect == "Deny":
            raise AccessDenied(explicit=True)
        allowed = True
    if not allowed:
        raise AccessDenied(explicit=False)


def request_context_authorizer(
    output: AuthorizerOutput, integration_latency_ms: int | None
) -> dict:
    """``requestContext.authorizer`` of the route's event: ``principalId``, the ``context`` map's
    keys at the top level and, for REST, ``integrationLatency`` (ms): "API Gateway passes the
    context map ... to the backend as ... $context.authorizer.<key>"; a Lambda proxy integration
    gets them in ``requestContext.authorizer`` (api-gateway-lambda-authorizer-output.html)."""
    result: dict[str, Any] = {"principalId": output.principal_id}
    if integration_latency_ms is not None:
        result["integrationLatency"] = integration_latency_ms
    # The context's numbers and booleans reach the backend as strings: the output page's own
    # example returns {"numberKey": "1", "booleanKey": "true"}, and a proxy integration sees
    # every context value stringified (observed; serverless-offline issue 480 reports the same).
    result.update({key: _stringified(value) for key, value in output.context.items()})
    return result


def _stringified(value: object) -> str:
    """A context value as API Gateway passes it on: booleans as ``true``/``false``."""
    if isinstance(value, str):
        return value
    return json.dumps(value)


# -- cache -----------------------------------------------------------------------------------------


class AuthorizerCache:
    """Authorizer results by authorizer and identity source values, each for its TTL.

    With caching on (TTL > 0) API Gateway caches the authorizer's policy under the identity
    source values and applies the cached policy to later requests within the TTL, each against
    its own methodArn (apigateway-use-lambda-authorizer.html; the AWS knowledge-center article
    api-gateway-lambda-authorization-errors shows a cached policy denying another path).
    ``now`` is given, in emulated seconds.
    """

    def __init__(self) -> None:
        self._entries: dict[tuple[str, tuple[str, ...]], tuple[float, AuthorizerOutput]] = {}

    def get(self, authorizer: str, key: tuple[str, ...], now: float) -> AuthorizerOutput | None:
        entry = self._entries.get((authorizer, key))
        if entry is None:
            return None
        expires, output = entry
        if now >= expires:
            del self._entries[(authorizer, key)]
            return None
        return output

    def put(
        self, authorizer: str, key: tuple[str, ...], output: AuthorizerOutput, now: float, ttl: int
    ) -> None:
        if ttl > 0:
            self._entries[(authorizer, key)] = (now + ttl, output)

    def clear(self) -> None:
        self._entries.clear()
