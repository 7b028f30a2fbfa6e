"""Lambda authorizers of ``http`` and ``websocket`` events, as Serverless v3 reads them."""

from __future__ import annotations

from typing import Any

from emulator.core.authorizers import (
    DEFAULT_REST_IDENTITY_SOURCE,
    DEFAULT_RESULT_TTL,
    DEFAULT_WEBSOCKET_IDENTITY_SOURCE,
    AuthorizerSpec,
    AuthorizerType,
    InvalidAuthorizer,
    parse_identity_sources,
)


def _authorizer_function(
    name: Any, arn: Any, declared: dict, deployed: dict[str, str]
) -> str | None:
    """The key of the function an authorizer runs: ``name`` must be one of ``functions:``
    (Serverless resolves it with ``getFunction``, which fails otherwise); an ``arn`` is run only
    when it names one of this service's functions by its deployed name, else None (it runs
    outside the service: not modelled)."""
    if name is not None and arn is None:
        if str(name) not in declared:
            raise InvalidAuthorizer(
                f"function {name!r} is not defined under functions "
                f"(functions: {', '.join(sorted(map(str, declared))) or 'none'})"
            )
        return str(name)
    if isinstance(arn, str) and ":function:" in arn:
        return deployed.get(arn.split(":function:", 1)[1].split(":", 1)[0])
    return None


def rest_authorizer(value: Any, declared: dict, deployed: dict[str, str]) -> AuthorizerSpec | None:
    """An http event's ``authorizer`` as Serverless v3 reads it (lib/plugins/aws/package/compile/
    events/api-gateway/lib/validate.js, ``getAuthorizer``), or None when it is not a Lambda
    authorizer this emulator runs (AWS_IAM, COGNITO_USER_POOLS, ``authorizerId``, an ARN outside
    the service)."""
    if isinstance(value, str):
        if value.upper() == "AWS_IAM":
            return None
        arn = value if ":" in value else None
        function = _authorizer_function(None if arn else value, arn, declared, deployed)
        if function is None:
            return None
        # The string form leaves the TTL unset: CloudFormation's default, 300 s (API_Authorizer).
        return AuthorizerSpec(
            name=function,
            function=function,
            identity_sources=parse_identity_sources(DEFAULT_REST_IDENTITY_SOURCE, "rest"),
        )
    if not isinstance(value, dict):
        raise InvalidAuthorizer("an authorizer is a function name, an ARN or a mapping")
    kind = str(value.get("type") or "token").upper()
    if value.get("authorizerId") is not None or kind in ("AWS_IAM", "COGNITO_USER_POOLS"):
        return None
    if kind not in ("TOKEN", "REQUEST"):
        # CloudFormation's AWS::ApiGateway::Authorizer Type is TOKEN, REQUEST or
        # COGNITO_USER_POOLS (docs.aws.amazon.com/apigateway/latest/api/API_Authorizer.html).
        raise InvalidAuthorizer(
            f"type {value.get('type')!r} is not TOKEN, REQUEST or COGNITO_USER_POOLS"
        )
    if value.get("name") is None and value.get("arn") is None:
        raise InvalidAuthorizer("Please provide either an authorizer name or ARN")
    function = _authorizer_function(
        None if value.get("arn") else value.get("name"), value.get("arn"), declared, deployed
    )
    if function is None:
        return None
    ttl = value.get("resultTtlInSeconds", DEFAULT_RESULT_TTL)
    if isinstance(ttl, bool) or not isinstance(ttl, int):
        raise InvalidAuthorizer(f"resultTtlInSeconds must be an integer 0..3600, got {ttl!r}")
    sources = value.get("identitySource")
    if sources is None and not (kind == "REQUEST" and ttl == 0):
        sources = DEFAULT_REST_IDENTITY_SOURCE
    expression = value.get("identityValidationExpression")
    return AuthorizerSpec(
        name=str(value.get("name") or function),
        function=function,
        type=AuthorizerType(kind),
        identity_sources=parse_identity_sources(sources or "", "rest"),
        result_ttl=ttl,
        validation_expression=None if expression is None else str(expression),
    )


def websocket_authorizer(
    value: Any, declared: dict, deployed: dict[str, str]
) -> AuthorizerSpec | None:
    """A websocket event's ``authorizer`` as Serverless v3 reads it (lib/plugins/aws/package/
    compile/events/websockets/lib/validate.js): a function name, an ARN, or ``{name | arn,
    identitySource: [...]}`` (default ``['route.request.header.Auth']``); always REQUEST. No
    result caching: AWS::ApiGatewayV2::Authorizer's AuthorizerResultTtlInSeconds is "Supported
    only for HTTP API Lambda authorizers" and Serverless does not set it."""
    if isinstance(value, str):
        arn = value if ":" in value else None
        function = _authorizer_function(None if arn else value, arn, declared, deployed)
        sources: Any = [DEFAULT_WEBSOCKET_IDENTITY_SOURCE]
        name = function
    elif isinstance(value, dict):
        if value.get("name") is None and value.get("arn") is None:
            raise InvalidAuthorizer("a websocket authorizer needs a name or an arn")
        function = _authorizer_function(
            None if value.get("arn") else value.get("name"), value.get("arn"), declared, deployed
        )
        sources = value.get("identitySource") or [DEFAULT_WEBSOCKET_IDENTITY_SOURCE]
        if not isinstance(sources, list):
            raise InvalidAuthorizer("identitySource must be a list of route.request.* sources")
        name = str(value.get("name") or function)
    else:
        raise InvalidAuthorizer("an authorizer is a function name, an ARN or a mapping")
    if function is None:
        return None
    return AuthorizerSpec(
        name=str(name),
        function=function,
        type=AuthorizerType.REQUEST,
        identity_sources=parse_identity_sources(sources, "websocket"),
        result_ttl=0,
    )
