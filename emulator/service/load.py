"""``load_service``: ``serverless.yml`` read, resolved, checked and made a ``ServiceSpec``."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from emulator.core import cors as cors_rules
from emulator.core.authorizers import AuthorizerSpec, InvalidAuthorizer
from emulator.core.cors import CorsRule
from emulator.core.deadlines import (
    HTTP_API_MAX_INTEGRATION_TIMEOUT,
    InvalidTimeout,
    validate_timeout,
)
from emulator.core.destinations import MODELLED_KINDS, DestinationKind
from emulator.core.http_api_routing import DEFAULT_PAYLOAD_VERSION, HttpApiRoute, HttpApiRouter
from emulator.core.routing import RestRoute, RestRouter
from emulator.core.websocket_routes import (
    CONNECT,
    DEFAULT_SELECTION_EXPRESSION,
    WebSocketRoute,
    WebSocketRouter,
)
from emulator.service import deploy_rules
from emulator.service.authorizers import rest_authorizer, websocket_authorizer
from emulator.service.environment import (
    DeclaredEnvironment,
    declared_environment,
    function_environment,
)
from emulator.service.functions import parse_destinations, parse_function
from emulator.service.http_api import http_api_route, payload_version
from emulator.service.keys import unmodelled_keys
from emulator.service.resources import parse_resources
from emulator.service.rest_api import (
    http_cors,
    http_route,
    parse_api_keys,
    parse_binary_media_types,
)
from emulator.service.spec import FunctionSpec, ServiceError, ServiceSpec
from emulator.service.variables import read_config
from emulator.service.websocket_api import websocket_route

#: "Stage names can only contain alphanumeric characters, hyphens, and underscores. Maximum
#: length is 128 characters." (API Gateway, CreateStage: docs.aws.amazon.com/apigateway/latest/
#: api/API_CreateStage.html)
STAGE_NAME = re.compile(r"[A-Za-z0-9_-]{1,128}")

_NONE = DeclaredEnvironment({})

log = logging.getLogger("timeoutlab")


def load_service(
    path: str | Path,
    *,
    stage: str | None = None,
    region: str | None = None,
    params: Mapping[str, str] | None = None,
) -> ServiceSpec:
    """Read and resolve ``serverless.yml`` into what the emulator needs. ``stage`` and ``region``
    override the file's, as ``serverless --stage``/``--region`` do; ``params`` (name -> value)
    are ``${param:NAME}``'s first source, as ``serverless --param NAME=value``. Raises
    ServiceError, naming the key path and the rule, for a file that cannot be read or that AWS
    would refuse."""
    path = Path(path)
    config = read_config(path, stage=stage, region=region, params=params)
    try:
        return _build(config, path.parent.resolve(), str(path), stage)
    except InvalidTimeout as exc:
        raise ServiceError(f"{path}: {exc}") from exc


def _warn_dates(where: str, environment: DeclaredEnvironment) -> None:
    """One warning per variable written as an unquoted date: Lambda gets the date's ISO form
    (``2024-01-01T00:00:00.000Z``), as Serverless deploys it, not the text written."""
    for name in environment.dates:
        log.warning(
            "warning: %s.%s: an unquoted date is a YAML timestamp: Lambda gets %s, as "
            "Serverless deploys it; quote the value to keep it as written",
            where,
            name,
            json.dumps(environment.values[name]),
        )


@dataclass
class _Apis:
    """What the events of all functions declare, gathered in file order."""

    rest_routes: list[RestRoute] = field(default_factory=list)
    cors: dict[str, CorsRule] = field(default_factory=dict)  # by resource path
    rest_authorizers: dict[str, AuthorizerSpec] = field(default_factory=dict)  # by route key
    websocket_routes: list[WebSocketRoute] = field(default_factory=list)
    websocket_authorizer: AuthorizerSpec | None = None
    http_api_routes: list[HttpApiRoute] = field(default_factory=list)
    #: Key paths of settings the parser found it cannot run (an IAM authorizer, ...).
    not_modelled: list[str] = field(default_factory=list)


def _build(config: dict, directory: Path, where: str, stage_option: str | None) -> ServiceSpec:
    service = config.get("service")
    if isinstance(service, dict):  # the old `service: {name: ...}` form
        service = service.get("name")
    if not service:
        raise ServiceError(f"{where}: `service` is missing")
    service = str(service)
    provider = config.get("provider") or {}
    if provider.get("name", "aws") != "aws":
        raise ServiceError(f"{where}: provider.name must be aws, got {provider.get('name')!r}")
    # As `serverless --stage`: the option, else provider.stage, else dev.
    stage = str(stage_option or provider.get("stage") or "dev")
    if not STAGE_NAME.fullmatch(stage):
        raise ServiceError(
            f"{where}: stage {stage!r}: a stage name is 1 to 128 letters, digits, - and _"
        )
    region = str(provider.get("region") or "us-east-1")
    buckets, tables, queues = parse_resources(config, service, stage, region, where)

    provider_environment = declared_environment(
        provider.get("environment"), f"{where}: provider.environment"
    )
    broken = deploy_rules.environment_rule(function_environment(provider_environment, _NONE))
    if broken:
        raise ServiceError(f"{where}: provider.environment: {broken}")
    intrinsic = [f"provider.environment.{name}" for name in provider_environment.intrinsic]
    _warn_dates(f"{where}: provider.environment", provider_environment)
    declared = config.get("functions") or {}
    if not isinstance(declared, dict):
        raise ServiceError(f"{where}: functions must be a mapping of function names")
    functions: dict[str, FunctionSpec] = {}
    for key, spec in declared.items():
        if not isinstance(spec, dict):
            raise ServiceError(f"{where}: functions.{key}: `handler` is missing")
        fwhere = f"{where}: functions.{key}"
        functions[str(key)], own = parse_function(
            str(key), spec, provider, service, stage, directory, fwhere, provider_environment
        )
        intrinsic += [f"functions.{key}.environment.{name}" for name in own.intrinsic]
        _warn_dates(f"{fwhere}.environment", own)
    apis = _events(declared, functions, provider, where)
    destinations_not_modelled: list[str] = []
    for key, function in list(functions.items()):
        on_success, on_failure = parse_destinations(
            declared[key], functions, queues, region, f"{where}: functions.{key}"
        )
        asked = declared[key].get("destinations") or {}
        for which, destination in (("onSuccess", on_success), ("onFailure", on_failure)):
            if which in asked and (
                destination is None
                or destination.kind not in MODELLED_KINDS
                or (
                    destination.kind is DestinationKind.FUNCTION
                    and destination.function_key is None
                )
            ):  # an intrinsic not resolved here, SNS, EventBridge, a function elsewhere
                destinations_not_modelled.append(f"functions.{key}.destinations.{which}")
        settings = replace(function.async_config, on_success=on_success, on_failure=on_failure)
        functions[key] = replace(function, async_config=settings)

    custom = ((config.get("custom") or {}).get("timeoutlab")) or {}
    selection = str(
        provider.get("websocketsApiRouteSelectionExpression") or DEFAULT_SELECTION_EXPRESSION
    )
    try:
        RestRouter(stage, apis.rest_routes)
    except ValueError as exc:
        raise ServiceError(f"{where}: http: {exc}") from exc
    try:
        WebSocketRouter(apis.websocket_routes, selection)
    except ValueError as exc:
        raise ServiceError(f"{where}: {exc}") from exc
    try:
        HttpApiRouter(apis.http_api_routes)
    except ValueError as exc:
        raise ServiceError(f"{where}: httpApi: {exc}") from exc
    api_gateway = provider.get("apiGateway") or {}
    if not isinstance(api_gateway, dict):
        raise ServiceError(f"{where}: provider.apiGateway must be a mapping")
    integration_timeout = custom.get("integrationTimeout")
    return ServiceSpec(
        name=service,
        stage=stage,
        region=region,
        directory=directory,
        functions=functions,
        rest_routes=apis.rest_routes,
        buckets=buckets,
        tables=tables,
        queues=queues,
        websocket_routes=apis.websocket_routes,
        websocket_selection_expression=selection,
        integration_timeout=(
            None if integration_timeout is None else validate_timeout(integration_timeout)
        ),
        route_timeouts=_route_timeouts(custom, apis, where),
        streaming_routes=_streaming_routes(custom, apis, where),
        unmodelled=tuple(
            dict.fromkeys(
                unmodelled_keys(config) + apis.not_modelled + destinations_not_modelled + intrinsic
            )
        ),
        api_keys=parse_api_keys(api_gateway, where),
        binary_media_types=parse_binary_media_types(api_gateway, where),
        cors=apis.cors,
        rest_authorizers=apis.rest_authorizers,
        websocket_authorizer=apis.websocket_authorizer,
        http_api_routes=apis.http_api_routes,
        http_api_route_timeouts=_http_api_route_timeouts(custom, apis, where),
    )


def _events(
    declared: dict, functions: dict[str, FunctionSpec], provider: dict, where: str
) -> _Apis:
    """Every ``http``, ``websocket`` and ``httpApi`` event of every function."""
    apis = _Apis()
    deployed = {function.name: key for key, function in functions.items()}
    provider_payload = payload_version(
        (provider.get("httpApi") or {}).get("payload"), f"{where}: provider.httpApi.payload"
    )
    for key, spec in declared.items():
        fwhere = f"{where}: functions.{key}"
        # The payload format is the function's integration's: functions.<key>.httpApi.payload,
        # else provider.httpApi.payload, else 2.0 (Serverless v3, lib/plugins/aws/package/
        # compile/events/http-api.js, compileIntegration: PayloadFormatVersion).
        own = spec.get("httpApi")
        payload = (
            payload_version(
                own.get("payload") if isinstance(own, dict) else None, f"{fwhere}.httpApi.payload"
            )
            or provider_payload
            or DEFAULT_PAYLOAD_VERSION
        )
        events = spec.get("events") or []
        if not isinstance(events, list):
            raise ServiceError(f"{fwhere}.events must be a list")
        for index, event in enumerate(events):
            path = f"functions.{key}.events[{index}]"
            if not isinstance(event, dict):
                raise ServiceError(f"{where}: {path} must be a mapping, such as `http: GET path`")
            try:
                if "http" in event:
                    _http_event(apis, event["http"], key, declared, deployed, path, fwhere)
                if "websocket" in event:
                    _websocket_event(
                        apis, event["websocket"], key, declared, deployed, path, fwhere
                    )
            except InvalidAuthorizer as exc:
                kind = "http" if "http" in event else "websocket"
                raise ServiceError(f"{where}: {path}.{kind}.authorizer: {exc}") from exc
            if "httpApi" in event:
                apis.http_api_routes.append(http_api_route(event["httpApi"], key, payload, fwhere))
    return apis


def _http_event(
    apis: _Apis,
    http: object,
    key: str,
    declared: dict,
    deployed: dict[str, str],
    path: str,
    where: str,
) -> None:
    route = http_route(http, key, where)
    apis.rest_routes.append(route)
    rule = http_cors(http, route, where)
    if rule is not None:
        apis.cors[route.resource] = cors_rules.merge(apis.cors.get(route.resource), rule)
    if isinstance(http, dict) and http.get("authorizer") is not None:
        authorizer = rest_authorizer(http["authorizer"], declared, deployed)
        if authorizer is None:  # IAM, Cognito, a function elsewhere
            apis.not_modelled.append(f"{path}.http.authorizer")
        else:
            apis.rest_authorizers[route.key] = authorizer


def _websocket_event(
    apis: _Apis,
    socket: object,
    key: str,
    declared: dict,
    deployed: dict[str, str],
    path: str,
    where: str,
) -> None:
    route = websocket_route(socket, key, where)
    apis.websocket_routes.append(route)
    if not isinstance(socket, dict) or socket.get("authorizer") is None:
        return
    # "You can only use a Lambda authorizer function for the $connect route" (docs.aws.amazon.com/
    # apigateway/latest/developerguide/apigateway-websocket-api-lambda-auth.html).
    if route.key != CONNECT:
        raise InvalidAuthorizer(
            f"route {route.key}: WebSocket APIs take an authorizer on the $connect route only"
        )
    apis.websocket_authorizer = websocket_authorizer(socket["authorizer"], declared, deployed)
    if apis.websocket_authorizer is None:
        apis.not_modelled.append(f"{path}.websocket.authorizer")


def _route_timeouts(custom: dict, apis: _Apis, where: str) -> dict[str, float]:
    """``custom.timeoutlab.routeTimeouts``: REST and WebSocket route keys -> seconds."""
    known = {route.key for route in apis.rest_routes} | {r.key for r in apis.websocket_routes}
    return _timeouts(custom, "routeTimeouts", known, "a route", where)


def _timeouts(
    custom: dict,
    setting: str,
    known: set[str],
    kind: str,
    where: str,
    maximum: float | None = None,
) -> dict[str, float]:
    """A ``custom.timeoutlab`` table of route keys -> seconds, each naming a route of ``known``
    and valid for API Gateway (0.05 s up to ``maximum``, else the REST/WebSocket bound)."""
    timeouts: dict[str, float] = {}
    for route_key, value in (custom.get(setting) or {}).items():
        what = f"custom.timeoutlab.{setting}.{route_key}"
        if route_key not in known:
            raise ServiceError(
                f"{where}: {what}: {route_key!r} is not {kind} (routes: "
                f"{', '.join(sorted(known)) or 'none'})"
            )
        bounds = () if maximum is None else (maximum,)
        timeouts[str(route_key)] = validate_timeout(value, what, *bounds)
    return timeouts


def _streaming_routes(custom: dict, apis: _Apis, where: str) -> frozenset[str]:
    """``custom.timeoutlab.streamingRoutes``: REST routes with response streaming."""
    streaming = frozenset(str(key) for key in custom.get("streamingRoutes") or [])
    rest_keys = {route.key for route in apis.rest_routes}
    for route_key in sorted(streaming - rest_keys):
        raise ServiceError(
            f"{where}: custom.timeoutlab.streamingRoutes names {route_key!r}, which is not a "
            f"REST route (routes: {', '.join(sorted(rest_keys)) or 'none'})"
        )
    return streaming


def _http_api_route_timeouts(custom: dict, apis: _Apis, where: str) -> dict[str, float]:
    """``custom.timeoutlab.httpApiRouteTimeouts``: HTTP API route keys -> seconds, 0.05..30:
    HTTP APIs' integration timeout is 50 ms..30 s, not raisable
    (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html)."""
    known = {route.key for route in apis.http_api_routes}
    return _timeouts(
        custom,
        "httpApiRouteTimeouts",
        known,
        "an HTTP API route",
        where,
        HTTP_API_MAX_INTEGRATION_TIMEOUT,
    )
