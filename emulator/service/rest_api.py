"""The REST API of ``http`` events: routes, CORS, API keys and binary media types."""

from __future__ import annotations

import re
import secrets
import string
from typing import Any

from emulator.core import cors as cors_rules
from emulator.core.api_keys import MIN_KEY_LENGTH, ApiKey
from emulator.core.cors import CorsError, CorsRule
from emulator.core.events import new_api_id
from emulator.core.routing import RestRoute, normalize_resource
from emulator.service.spec import ServiceError

HTTP_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"}


def http_route(http: Any, function: str, where: str) -> RestRoute:
    if isinstance(http, str):  # the short form: "POST reports"
        method, _, path = http.partition(" ")
    elif isinstance(http, dict):
        if not isinstance(http.get("path"), str):  # Serverless v3's schema requires it
            raise ServiceError(f"{where}: an http event needs a path (a string)")
        method, path = str(http.get("method", "")), http["path"]
    else:
        raise ServiceError(f"{where}: an http event must be a string or a mapping")
    method = method.strip().upper()
    if method not in HTTP_METHODS:
        raise ServiceError(f"{where}: http method {method!r} is not one of {sorted(HTTP_METHODS)}")
    private = http.get("private", False) if isinstance(http, dict) else False
    if not isinstance(private, bool):
        raise ServiceError(f"{where}: http.private must be true or false")
    return RestRoute(
        method=method,
        resource=normalize_resource(path),
        function=function,
        api_key_required=private,
    )


def http_cors(http: Any, route: RestRoute, where: str) -> CorsRule | None:
    """The preflight an ``http`` event's ``cors`` asks for (None without ``cors``)."""
    cors = http.get("cors") if isinstance(http, dict) else None
    if cors is None or cors is False:
        return None
    try:
        return cors_rules.event_rule(cors, route.method)
    except CorsError as exc:
        raise ServiceError(f"{where}: http.{exc}") from exc


#: The properties of one key in ``provider.apiGateway.apiKeys`` (Serverless v3's schema,
#: ``awsApiGatewayApiKeysProperties``).
_API_KEY_PROPERTIES = {"name", "value", "description", "customerId", "enabled"}
#: Generated key values: AWS makes 40-character ones (observed; AWS does not document it).
_GENERATED_KEY_LENGTH = 40


def _usage_plan_names(api_gateway: dict, where: str) -> list[str]:
    """The named usage plans of ``usagePlan``'s list form; [] for the single (default) plan."""
    plan = api_gateway.get("usagePlan")
    if plan is None or isinstance(plan, dict):
        return []
    if not isinstance(plan, list) or not all(isinstance(p, dict) and len(p) == 1 for p in plan):
        raise ServiceError(
            f"{where}: provider.apiGateway.usagePlan must be a mapping or a list of "
            "one-entry mappings (plan name: settings)"
        )
    return [str(next(iter(p))) for p in plan]


def _api_key(item: Any, usage_plan: str | None, at: str, where: str, number: int) -> ApiKey:
    if isinstance(item, str):
        item = {"name": item}
    if not isinstance(item, dict) or set(item) - _API_KEY_PROPERTIES:
        raise ServiceError(
            f"{where}: {at} must be a name or a mapping of {', '.join(sorted(_API_KEY_PROPERTIES))}"
        )
    value = item.get("value")
    enabled = item.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ServiceError(f"{where}: {at}.enabled must be true or false")
    if value is not None:
        # CloudFormation, AWS::ApiGateway::ApiKey Value: "Must be at least 20 characters long."
        # (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-apigateway-apikey.html)
        if not isinstance(value, str) or len(value) < MIN_KEY_LENGTH:
            raise ServiceError(
                f"{where}: {at}.value: an API key value must be at least {MIN_KEY_LENGTH} "
                "characters long"
            )
        generated = False
    else:
        alphabet = string.ascii_letters + string.digits
        value = "".join(secrets.choice(alphabet) for _ in range(_GENERATED_KEY_LENGTH))
        generated = True
    # Without a name CloudFormation generates one; Serverless's string form is the name.
    name = str(item.get("name") or f"{usage_plan or 'key'}-{number}")
    return ApiKey(
        name=name,
        value=value,
        id=new_api_id(),
        enabled=enabled,
        usage_plan=usage_plan,
        generated=generated,
    )


def parse_api_keys(api_gateway: dict, where: str) -> tuple[ApiKey, ...]:
    """``provider.apiGateway.apiKeys`` in each form Serverless v3 accepts: names, ``{name,
    value, ...}`` mappings, and ``{plan: [keys]}`` groups for the plans of a ``usagePlan`` list
    (https://www.serverless.com/framework/docs/providers/aws/events/apigateway#setting-api-keys-for-your-rest-api).
    A group whose plan ``usagePlan`` does not name is refused as ``serverless deploy`` refuses
    it ("API key ... has no usage plan defined", Serverless v3 usage-plan-keys.js)."""
    raw = api_gateway.get("apiKeys")
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ServiceError(f"{where}: provider.apiGateway.apiKeys must be a list")
    plans = _usage_plan_names(api_gateway, where)
    keys: list[ApiKey] = []
    for i, item in enumerate(raw):
        at = f"provider.apiGateway.apiKeys[{i}]"
        group = (
            isinstance(item, dict)
            and len(item) == 1
            and isinstance(next(iter(item.values())), list)
        )
        if not group:
            keys.append(_api_key(item, None, at, where, len(keys) + 1))
            continue
        plan, members = next(iter(item.items()))
        if str(plan) not in plans:
            raise ServiceError(
                f"{where}: {at}: API key group {plan!r} has no usage plan defined "
                "(provider.apiGateway.usagePlan must list a plan of that name)"
            )
        for j, member in enumerate(members):
            keys.append(_api_key(member, str(plan), f"{at}.{plan}[{j}]", where, j + 1))
    return tuple(keys)


#: Serverless v3's schema for ``binaryMediaTypes`` entries: ``^\S+\/\S+$``.
_MEDIA_TYPE = re.compile(r"\S+/\S+")


def parse_binary_media_types(api_gateway: dict, where: str) -> tuple[str, ...]:
    """``provider.apiGateway.binaryMediaTypes``: a list of ``type/subtype`` (``*`` allowed)."""
    raw = api_gateway.get("binaryMediaTypes")
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ServiceError(f"{where}: provider.apiGateway.binaryMediaTypes must be a list")
    for i, item in enumerate(raw):
        if not isinstance(item, str) or not _MEDIA_TYPE.fullmatch(item):
            raise ServiceError(
                f"{where}: provider.apiGateway.binaryMediaTypes[{i}]: {item!r} is not a media "
                "type (type/subtype)"
            )
    return tuple(raw)
