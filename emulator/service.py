"""The service as ``serverless.yml`` declares it: functions, HTTP routes, buckets and tables.

Reads the same file ``serverless deploy`` reads, resolving the variables it uses
(``${self:...}``, ``${opt:stage, 'dev'}``, ``${sls:stage}``, ``${aws:region}``,
``${aws:accountId}``, ``${env:NAME, default}``), so the emulator runs what AWS would run.
Emulator-only settings live under ``custom.timeoutlab``, which Serverless ignores.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import string
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from emulator import deploy_rules
from emulator.core import cors as cors_rules
from emulator.core.api_keys import MIN_KEY_LENGTH, ApiKey
from emulator.core.async_retries import MAX_EVENT_AGE_RANGE, MAX_RETRIES_RANGE
from emulator.core.authorizers import (
    DEFAULT_REST_IDENTITY_SOURCE,
    DEFAULT_RESULT_TTL,
    DEFAULT_WEBSOCKET_IDENTITY_SOURCE,
    AuthorizerSpec,
    AuthorizerType,
    InvalidAuthorizer,
    parse_identity_sources,
)
from emulator.core.cors import CorsError, CorsRule
from emulator.core.deadlines import (
    HTTP_API_MAX_INTEGRATION_TIMEOUT,
    InvalidTimeout,
    validate_timeout,
)
from emulator.core.destinations import (
    Destination,
    DestinationKind,
    kind_of_arn,
    queue_arn,
)
from emulator.core.events import ACCOUNT_ID, new_api_id
from emulator.core.http_api_routing import (
    DEFAULT_PAYLOAD_VERSION,
    PAYLOAD_VERSIONS,
    HttpApiRoute,
    HttpApiRouter,
)
from emulator.core.lambda_api import function_arn, function_name
from emulator.core.routing import RestRoute, normalize_resource
from emulator.core.websocket_routes import (
    DEFAULT_SELECTION_EXPRESSION,
    WebSocketRoute,
    WebSocketRouter,
)
from emulator.service_keys import unmodelled_keys

#: Serverless Framework defaults for functions that do not say.
DEFAULT_MEMORY_MB = 1024
DEFAULT_FUNCTION_TIMEOUT = 6.0
#: Lambda's hard maximum duration.
MAX_FUNCTION_TIMEOUT = 900.0

#: Lambda runtimes whose handlers run here (Python on awslambdaric, Node.js on our bootstrap).
SUPPORTED_RUNTIME_PREFIXES = ("python3", "nodejs")
#: A Node.js handler file, in the order the Node.js runtime tries them.
NODE_EXTENSIONS = (".js", ".mjs", ".cjs")

_VARIABLE = re.compile(r"\$\{([^${}]+)\}")
_HTTP_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"}
_TABLE_PROPERTIES = (
    "TableName",
    "AttributeDefinitions",
    "KeySchema",
    "BillingMode",
    "ProvisionedThroughput",
    "GlobalSecondaryIndexes",
    "LocalSecondaryIndexes",
)


log = logging.getLogger("timeoutlab.service")


class ServiceError(ValueError):
    """serverless.yml says something the emulator cannot run; the message says what and where."""


@dataclass(frozen=True)
class EventInvokeConfig:
    """A function's asynchronous invocation settings, from its serverless.yml keys
    ``maximumRetryAttempts``, ``maximumEventAge`` and ``destinations.onSuccess`` /
    ``destinations.onFailure`` (Serverless v3 compiles them into an ``AWS::Lambda::
    EventInvokeConfig``: ``compileFunctionEventInvokeConfig`` in github.com/serverless/
    serverless/blob/v3/lib/plugins/aws/package/compile/functions.js). None: Lambda's default
    (two retries, six hours, no destination)."""

    maximum_retry_attempts: int | None = None
    maximum_event_age: int | None = None  # seconds
    on_success: Destination | None = None
    on_failure: Destination | None = None


@dataclass(frozen=True)
class QueueSpec:
    """An ``AWS::SQS::Queue`` of ``resources.Resources``, created at start where the backend
    serves SQS; ``attributes`` are boto3 ``sqs.create_queue`` Attributes (strings)."""

    logical_id: str
    name: str
    arn: str
    attributes: dict[str, str]


@dataclass(frozen=True)
class FunctionSpec:
    key: str  # the name under `functions:` in serverless.yml
    name: str  # the deployed name, <service>-<stage>-<key>
    handler: str  # as written, e.g. "report.handler"
    module_path: Path
    attribute: str
    timeout: float
    memory_mb: int
    environment: dict[str, str]
    runtime: str = "python3.12"  # Lambda's runtime identifier
    #: ``reservedConcurrency``: at most this many invocations (and environments) at once; None
    #: shares the account's concurrency.
    reserved_concurrency: int | None = None
    async_config: EventInvokeConfig = EventInvokeConfig()


@dataclass(frozen=True)
class TableSpec:
    name: str
    create_arguments: dict[str, Any]  # boto3 dynamodb.create_table keyword arguments
    ttl_attribute: str | None


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    stage: str
    region: str
    directory: Path
    functions: dict[str, FunctionSpec]
    rest_routes: list[RestRoute]
    buckets: list[str]
    tables: list[TableSpec]
    websocket_routes: list[WebSocketRoute] = field(default_factory=list)
    websocket_selection_expression: str = DEFAULT_SELECTION_EXPRESSION
    integration_timeout: float | None = None
    route_timeouts: dict[str, float] = field(default_factory=dict)
    streaming_routes: frozenset[str] = frozenset()  # REST routes with response streaming
    #: Key paths that change behaviour on AWS and are not modelled here (warned at start).
    unmodelled: tuple[str, ...] = ()
    #: ``provider.apiGateway.apiKeys``, values given or generated at load.
    api_keys: tuple[ApiKey, ...] = ()
    #: ``provider.apiGateway.binaryMediaTypes``.
    binary_media_types: tuple[str, ...] = ()
    #: resource path -> the CORS preflight its ``cors`` events configure.
    cors: dict[str, CorsRule] = field(default_factory=dict)
    #: Lambda authorizers of REST routes, by route key ("GET /items/{id}").
    rest_authorizers: dict[str, AuthorizerSpec] = field(default_factory=dict)
    #: The $connect route's Lambda authorizer (REQUEST), if any.
    websocket_authorizer: AuthorizerSpec | None = None
    #: HTTP API routes (``httpApi`` events), and their integration timeouts lowered below 30 s
    #: by ``custom.timeoutlab.httpApiRouteTimeouts`` (route key -> seconds).
    http_api_routes: list[HttpApiRoute] = field(default_factory=list)
    http_api_route_timeouts: dict[str, float] = field(default_factory=dict)
    queues: list[QueueSpec] = field(default_factory=list)  # SQS queues of resources.Resources


class _CfnLoader(yaml.SafeLoader):
    """A YAML loader that reads CloudFormation's short tags (!Ref, !GetAtt, !Sub, ...) as data."""


def _cfn_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _cfn_tag)


class _Resolver:
    """Serverless Framework variables, resolved innermost first, with fallbacks."""

    def __init__(self, raw: dict, options: dict[str, str]) -> None:
        self.raw = raw
        self.options = options
        self._resolving: set[str] = set()

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if isinstance(value, str):
            return self._resolve_string(value)
        return value

    def _resolve_string(self, text: str) -> Any:
        for _ in range(50):
            found = _VARIABLE.search(text)
            if found is None:
                return text
            value = self._lookup(found.group(1))
            if found.group(0) == text:  # the whole string is one variable: keep the value's type
                if not isinstance(value, str) or _VARIABLE.search(value) is None:
                    return value
                text = value
                continue
            text = text[: found.start()] + str(value) + text[found.end() :]
        raise ServiceError(f"variables nest too deeply in {text!r}")

    def _lookup(self, expression: str) -> Any:
        reference, _, fallback = expression.partition(",")
        reference, fallback = reference.strip(), fallback.strip()
        source, _, address = reference.partition(":")
        value = self._source(source.strip(), address.strip(), expression)
        if value is None:
            if not fallback:
                raise ServiceError(f"variable ${{{expression}}} has no value and no fallback")
            value = self._literal(fallback)
        return value

    @staticmethod
    def _literal(text: str) -> Any:
        if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
            return text[1:-1]
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError:
            return text

    def _source(self, source: str, address: str, expression: str) -> Any:
        if source == "self":
            return self._self(address)
        if source == "opt":
            return self.options.get(address)
        if source == "sls":
            if address == "stage":
                return self._stage()
            if address == "instanceId":
                return "timeoutlab"
            return None
        if source == "env":
            return os.environ.get(address)
        if source == "aws":
            return {"region": self._region(), "accountId": ACCOUNT_ID}.get(address)
        raise ServiceError(f"unsupported variable source in ${{{expression}}}")

    def _self(self, address: str) -> Any:
        if address in self._resolving:
            raise ServiceError(f"variable ${{self:{address}}} refers to itself")
        node: Any = self.raw
        for part in address.split(".") if address else []:
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        self._resolving.add(address)
        try:
            return self.resolve(node)
        finally:
            self._resolving.discard(address)

    def _stage(self) -> str:
        return str(self.options.get("stage") or self._self("provider.stage") or "dev")

    def _region(self) -> str:
        return str(self.options.get("region") or self._self("provider.region") or "us-east-1")


def load_service(
    path: str | Path, *, stage: str | None = None, region: str | None = None
) -> ServiceSpec:
    """Read and resolve ``serverless.yml`` into what the emulator needs."""
    path = Path(path)
    try:
        raw = yaml.load(path.read_text(), Loader=_CfnLoader)
    except OSError as exc:
        raise ServiceError(f"cannot read {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ServiceError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ServiceError(f"{path} must be a YAML mapping")
    options = {k: v for k, v in {"stage": stage, "region": region}.items() if v}
    config = _Resolver(raw, options).resolve(raw)
    try:
        return _build(config, path.parent.resolve(), f"{path}", stage)
    except InvalidTimeout as exc:
        raise ServiceError(f"{path}: {exc}") from exc


#: "Stage names can only contain alphanumeric characters, hyphens, and underscores. Maximum
#: length is 128 characters." (API Gateway, CreateStage: docs.aws.amazon.com/apigateway/latest/
#: api/API_CreateStage.html)
STAGE_NAME = re.compile(r"[A-Za-z0-9_-]{1,128}")


def _build(config: dict, directory: Path, where: str, stage_option: str | None) -> ServiceSpec:
    service = config.get("service")
    if isinstance(service, dict):  # the old `service: {name: ...}` form
        service = service.get("name")
    if not service:
        raise ServiceError(f"{where}: `service` is missing")
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
    runtime = str(provider.get("runtime") or "python3.12")

    buckets, tables, queues = _resources(config, service, stage, region, where)
    functions: dict[str, FunctionSpec] = {}
    routes: list[RestRoute] = []
    cors: dict[str, CorsRule] = {}
    ws_routes: list[WebSocketRoute] = []
    http_api_routes: list[HttpApiRoute] = []
    provider_payload = _payload_version(
        (provider.get("httpApi") or {}).get("payload"), f"{where}: provider.httpApi.payload"
    )
    rest_authorizers: dict[str, AuthorizerSpec] = {}
    not_run: list[str] = []  # authorizers this emulator cannot run, by key path
    websocket_authorizer: AuthorizerSpec | None = None
    declared = config.get("functions") or {}
    # A function's deployed name, to resolve an authorizer given by the ARN of one of ours.
    deployed = {
        str((spec or {}).get("name") or f"{service}-{stage}-{key}"): str(key)
        for key, spec in declared.items()
        if isinstance(spec, dict)
    }
    for key, spec in declared.items():
        fwhere = f"{where}: functions.{key}"
        if not isinstance(spec, dict) or not spec.get("handler"):
            raise ServiceError(f"{fwhere}: `handler` is missing")
        fn_runtime = str(spec.get("runtime") or runtime)
        if not fn_runtime.startswith(SUPPORTED_RUNTIME_PREFIXES):
            raise ServiceError(
                f"{fwhere}: runtime {fn_runtime} is not supported; python3.x and nodejs* run here"
            )
        functions[key] = _function(
            key, spec, provider, service, stage, directory, fn_runtime, fwhere
        )
        for index, event in enumerate(spec.get("events") or []):
            ewhere = f"{fwhere}.events[{index}]"
            try:
                if isinstance(event, dict) and "http" in event:
                    route = _http_route(event["http"], key, fwhere)
                    routes.append(route)
                    rule = _http_cors(event["http"], route, fwhere)
                    if rule is not None:
                        cors[route.resource] = cors_rules.merge(cors.get(route.resource), rule)
                    http = event["http"]
                    if isinstance(http, dict) and http.get("authorizer") is not None:
                        authorizer = _rest_authorizer(http["authorizer"], declared, deployed)
                        if authorizer is None:  # IAM, Cognito, a function elsewhere: warned
                            not_run.append(f"functions.{key}.events[{index}].http.authorizer")
                        else:
                            rest_authorizers[route.key] = authorizer
                if isinstance(event, dict) and "websocket" in event:
                    ws_route = _websocket_route(event["websocket"], key, fwhere)
                    ws_routes.append(ws_route)
                    socket = event["websocket"]
                    if isinstance(socket, dict) and socket.get("authorizer") is not None:
                        # "You can only use a Lambda authorizer function for the $connect
                        # route" (docs.aws.amazon.com/apigateway/latest/developerguide/
                        # apigateway-websocket-api-lambda-auth.html).
                        if ws_route.key != "$connect":
                            raise InvalidAuthorizer(
                                f"route {ws_route.key}: WebSocket APIs take an authorizer on "
                                "the $connect route only"
                            )
                        websocket_authorizer = _websocket_authorizer(
                            socket["authorizer"], declared, deployed
                        )
                        if websocket_authorizer is None:
                            not_run.append(f"functions.{key}.events[{index}].websocket.authorizer")
            except InvalidAuthorizer as exc:
                kind = "http" if isinstance(event, dict) and "http" in event else "websocket"
                raise ServiceError(f"{ewhere}.{kind}.authorizer: {exc}") from exc
        # The payload format is the function's integration's: functions.<key>.httpApi.payload,
        # else provider.httpApi.payload, else 2.0 (Serverless v3, lib/plugins/aws/package/
        # compile/events/http-api.js, compileIntegration: PayloadFormatVersion).
        payload = (
            _payload_version(
                (spec.get("httpApi") or {}).get("payload")
                if isinstance(spec.get("httpApi"), dict)
                else None,
                f"{fwhere}.httpApi.payload",
            )
            or provider_payload
            or DEFAULT_PAYLOAD_VERSION
        )
        for event in spec.get("events") or []:
            if isinstance(event, dict) and "httpApi" in event:
                http_api_routes.append(_http_api_route(event["httpApi"], key, payload, fwhere))
    raw_functions = config.get("functions") or {}
    for key, spec in list(functions.items()):
        on_success, on_failure = _destinations(
            raw_functions[key], functions, queues, region, f"{where}: functions.{key}"
        )
        config_with = replace(spec.async_config, on_success=on_success, on_failure=on_failure)
        functions[key] = replace(spec, async_config=config_with)

    custom = ((config.get("custom") or {}).get("timeoutlab")) or {}
    integration_timeout = custom.get("integrationTimeout")
    route_timeouts = {
        str(route_key): validate_timeout(value, f"custom.timeoutlab.routeTimeouts.{route_key}")
        for route_key, value in (custom.get("routeTimeouts") or {}).items()
    }
    selection = str(
        provider.get("websocketsApiRouteSelectionExpression") or DEFAULT_SELECTION_EXPRESSION
    )
    try:
        WebSocketRouter(ws_routes, selection)
    except ValueError as exc:
        raise ServiceError(f"{where}: {exc}") from exc
    known = {route.key for route in routes} | {route.key for route in ws_routes}
    for route_key in route_timeouts:
        if route_key not in known:
            raise ServiceError(
                f"{where}: custom.timeoutlab.routeTimeouts names {route_key!r}, which is not a "
                f"route (routes: {', '.join(sorted(known)) or 'none'})"
            )
    streaming = frozenset(str(key) for key in custom.get("streamingRoutes") or [])
    rest_keys = {route.key for route in routes}
    for route_key in sorted(streaming - rest_keys):
        raise ServiceError(
            f"{where}: custom.timeoutlab.streamingRoutes names {route_key!r}, which is not a "
            f"REST route (routes: {', '.join(sorted(rest_keys)) or 'none'})"
        )
    try:
        HttpApiRouter(http_api_routes)
    except ValueError as exc:
        raise ServiceError(f"{where}: httpApi: {exc}") from exc
    http_api_keys = {route.key for route in http_api_routes}
    http_api_timeouts: dict[str, float] = {}
    for route_key, value in (custom.get("httpApiRouteTimeouts") or {}).items():
        what = f"custom.timeoutlab.httpApiRouteTimeouts.{route_key}"
        if route_key not in http_api_keys:
            raise ServiceError(
                f"{where}: {what}: {route_key!r} is not an HTTP API route (routes: "
                f"{', '.join(sorted(http_api_keys)) or 'none'})"
            )
        # HTTP APIs: integration timeout 50 ms..30 s, not raisable
        # (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html).
        http_api_timeouts[str(route_key)] = validate_timeout(
            value, what, HTTP_API_MAX_INTEGRATION_TIMEOUT
        )
    api_gateway = provider.get("apiGateway") or {}
    if not isinstance(api_gateway, dict):
        raise ServiceError(f"{where}: provider.apiGateway must be a mapping")
    return ServiceSpec(
        name=str(service),
        stage=stage,
        region=region,
        directory=directory,
        functions=functions,
        rest_routes=routes,
        buckets=buckets,
        tables=tables,
        websocket_routes=ws_routes,
        websocket_selection_expression=selection,
        integration_timeout=(
            None if integration_timeout is None else validate_timeout(integration_timeout)
        ),
        route_timeouts=route_timeouts,
        streaming_routes=streaming,
        unmodelled=tuple(dict.fromkeys(unmodelled_keys(config) + not_run)),
        api_keys=_api_keys(api_gateway, where),
        binary_media_types=_binary_media_types(api_gateway, where),
        cors=cors,
        rest_authorizers=rest_authorizers,
        websocket_authorizer=websocket_authorizer,
        http_api_routes=http_api_routes,
        http_api_route_timeouts=http_api_timeouts,
        queues=queues,
    )


def _function(
    key: str,
    spec: dict,
    provider: dict,
    service: str,
    stage: str,
    directory: Path,
    runtime: str,
    where: str,
) -> FunctionSpec:
    module_path, attribute = handler_file(str(spec["handler"]), runtime, directory, where)
    timeout = float(spec.get("timeout") or provider.get("timeout") or DEFAULT_FUNCTION_TIMEOUT)
    if not 1 <= timeout <= MAX_FUNCTION_TIMEOUT:
        raise ServiceError(
            f"{where}: timeout must be 1..{MAX_FUNCTION_TIMEOUT:g} s, got {timeout:g}"
        )
    memory = int(spec.get("memorySize") or provider.get("memorySize") or DEFAULT_MEMORY_MB)
    if not 128 <= memory <= 10240:
        raise ServiceError(f"{where}: memorySize must be 128..10240 MB, got {memory}")
    environment = {**(provider.get("environment") or {}), **(spec.get("environment") or {})}
    environment = {str(k): str(v) for k, v in environment.items()}
    broken = deploy_rules.environment_rule(environment)
    if broken:
        raise ServiceError(f"{where}.environment: {broken}")
    name = str(spec.get("name") or f"{service}-{stage}-{key}")
    broken = deploy_rules.function_name_rule(name)
    if broken:
        raise ServiceError(f"{where}.name: {broken}")
    reserved = spec.get("reservedConcurrency")
    if reserved is not None and (not isinstance(reserved, int) or reserved < 0):
        raise ServiceError(
            f"{where}: reservedConcurrency must be an integer >= 0, got {reserved!r}"
        )
    return FunctionSpec(
        key=key,
        name=name,
        handler=str(spec["handler"]),
        module_path=module_path,
        attribute=attribute,
        timeout=timeout,
        memory_mb=memory,
        environment=environment,
        runtime=runtime,
        reserved_concurrency=reserved,
        async_config=EventInvokeConfig(
            maximum_retry_attempts=_bounded_integer(
                spec.get("maximumRetryAttempts"), MAX_RETRIES_RANGE, f"{where}.maximumRetryAttempts"
            ),
            maximum_event_age=_bounded_integer(
                spec.get("maximumEventAge"), MAX_EVENT_AGE_RANGE, f"{where}.maximumEventAge"
            ),
        ),
    )


def _bounded_integer(value: Any, bounds: tuple[int, int], where: str) -> int | None:
    """An asynchronous invocation setting within Lambda's range, or None when absent.

    Lambda refuses values out of range: "MaximumRetryAttempts ... Valid Range: Minimum value of
    0. Maximum value of 2", "MaximumEventAgeInSeconds ... Valid Range: Minimum value of 60.
    Maximum value of 21600"
    (https://docs.aws.amazon.com/lambda/latest/api/API_PutFunctionEventInvokeConfig.html)."""
    if value is None:
        return None
    low, high = bounds
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value)
    if number is None or not low <= number <= high:
        raise ServiceError(f"{where} must be an integer {low}..{high}, got {value!r}")
    return number


def _destinations(
    spec: dict,
    functions: dict[str, FunctionSpec],
    queues: list[QueueSpec],
    region: str,
    where: str,
) -> tuple[Destination | None, Destination | None]:
    """``(onSuccess, onFailure)`` from a function's ``destinations``; None where absent."""
    declared = spec.get("destinations")
    if declared is None:
        return None, None
    if not isinstance(declared, dict):
        raise ServiceError(f"{where}.destinations must be a mapping of onSuccess and onFailure")
    found = [
        None
        if declared.get(key) is None
        else _destination(declared[key], functions, queues, region, f"{where}.destinations.{key}")
        for key in ("onSuccess", "onFailure")
    ]
    return found[0], found[1]


def _destination(
    value: Any, functions: dict[str, FunctionSpec], queues: list[QueueSpec], region: str, where: str
) -> Destination | None:
    """One destination, in the forms Serverless v3 takes (``getDestinationsArn`` in
    github.com/serverless/serverless/blob/v3/lib/plugins/aws/package/compile/functions.js): a
    function key of this service, an ARN, or ``{type, arn}`` with ``type`` one of function, sqs,
    sns, eventBus. None (logged) for an ``arn`` this emulator cannot resolve."""
    if isinstance(value, str):
        if not value.startswith("arn:"):
            # Serverless resolves a non-ARN as a function of the service, else fails with
            # "Unrecognized function address" (resolveFunctionArn, lib/plugins/aws/provider.js).
            if value not in functions:
                raise ServiceError(
                    f"{where}: {value!r} is neither a function of this service "
                    f"({', '.join(sorted(functions))}) nor an ARN"
                )
            return Destination(
                DestinationKind.FUNCTION, function_arn(functions[value].name, region), value
            )
        kind = kind_of_arn(value)
        if kind is None:
            # Serverless: "Unsupported destination target" (ensureTargetExecutionPermission).
            raise ServiceError(
                f"{where}: unsupported destination target {value!r}: an ARN of a function, SQS "
                "queue, SNS topic or EventBridge event bus"
            )
        return _with_function_key(Destination(kind, value), functions, where)
    if isinstance(value, dict) and "type" in value and "arn" in value:
        kinds = {kind.value: kind for kind in DestinationKind}
        if value["type"] not in kinds:
            raise ServiceError(
                f"{where}.type must be one of {', '.join(kinds)}, got {value['type']!r}"
            )
        arn = _resolve_arn(value["arn"], functions, queues, region)
        if arn is None:
            log.warning(
                "%s.arn: %r is not resolved here; the destination is ignored", where, value["arn"]
            )
            return None
        return _with_function_key(Destination(kinds[value["type"]], arn), functions, where)
    raise ServiceError(
        f"{where} must be a function name, an ARN, or a mapping with type and arn; got {value!r}"
    )


def _with_function_key(
    destination: Destination, functions: dict[str, FunctionSpec], where: str
) -> Destination:
    if destination.kind is not DestinationKind.FUNCTION:
        return destination
    name = function_name(destination.arn)
    key = next((k for k, spec in functions.items() if spec.name == name), None)
    if key is None:
        log.warning(
            "%s: %s is not a function of this service; its records will fail to deliver",
            where,
            destination.arn,
        )
    return replace(destination, function_key=key)


def _resolve_arn(
    value: Any, functions: dict[str, FunctionSpec], queues: list[QueueSpec], region: str
) -> str | None:
    """A destination ``arn``: a string, or ``Fn::GetAtt [<LogicalId>, Arn]`` of a queue of
    ``resources.Resources`` or a function of the service (its Serverless logical id,
    ``<Key>LambdaFunction``); None for any other intrinsic function."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and set(value) == {"Fn::GetAtt"}:
        target = value["Fn::GetAtt"]
        if isinstance(target, str):
            target = target.split(".", 1)
        if isinstance(target, list) and len(target) == 2 and target[1] == "Arn":
            logical_id = str(target[0])
            for queue in queues:
                if queue.logical_id == logical_id:
                    return queue.arn
            for key, spec in functions.items():
                if lambda_logical_id(key) == logical_id:
                    return function_arn(spec.name, region)
    return None


def lambda_logical_id(function_key: str) -> str:
    """The CloudFormation logical id Serverless gives a function: ``getLambdaLogicalId`` in
    github.com/serverless/serverless/blob/v3/lib/plugins/aws/lib/naming.js (``-`` spelled
    ``Dash``, ``_`` spelled ``Underscore``, first letter upper-cased, ``LambdaFunction``)."""
    normalized = function_key.replace("-", "Dash").replace("_", "Underscore")
    return f"{normalized[:1].upper()}{normalized[1:]}LambdaFunction"


def handler_file(handler: str, runtime: str, directory: Path, where: str) -> tuple[Path, str]:
    """The file a handler names, and the attribute (export) in it.

    Python: ``pkg/module.function`` is ``pkg/module.py``'s ``function``. Node.js, as its runtime
    reads ``_HANDLER``: ``dir/file.export`` is ``dir/file`` with ``.js``, ``.mjs`` or ``.cjs``,
    and ``export`` (dots in it name a nested property). The file must be inside the service's
    folder, as it would be inside the deployment package."""
    node = runtime.startswith("nodejs")
    folder, _, base = handler.rpartition("/")
    if node:
        module, _, attribute = base.partition(".")
    else:
        module, _, attribute = base.rpartition(".")
    if not module or not attribute:
        raise ServiceError(f"{where}: handler {handler!r} must look like 'file.function'")
    stem = directory / folder / module if folder else directory / module
    if node:
        candidates = [stem.with_name(stem.name + ext) for ext in NODE_EXTENSIONS]
    else:
        candidates = [stem.with_name(stem.name + ".py")]
    root = directory.resolve()
    for candidate in candidates:
        if not candidate.resolve().is_relative_to(root):
            raise ServiceError(
                f"{where}: handler {handler!r} points outside the service folder {root}"
            )
    found = next((c for c in candidates if c.is_file()), None)
    if found is None:
        tried = " or ".join(str(c) for c in candidates)
        raise ServiceError(f"{where}: handler file {tried} does not exist")
    return found, attribute


def _http_route(http: Any, function: str, where: str) -> RestRoute:
    if isinstance(http, str):  # the short form: "POST reports"
        method, _, path = http.partition(" ")
    elif isinstance(http, dict):
        method, path = str(http.get("method", "")), str(http.get("path", ""))
    else:
        raise ServiceError(f"{where}: an http event must be a string or a mapping")
    method = method.strip().upper()
    if method not in _HTTP_METHODS:
        raise ServiceError(f"{where}: http method {method!r} is not one of {sorted(_HTTP_METHODS)}")
    private = http.get("private", False) if isinstance(http, dict) else False
    if not isinstance(private, bool):
        raise ServiceError(f"{where}: http.private must be true or false")
    return RestRoute(
        method=method,
        resource=normalize_resource(path),
        function=function,
        api_key_required=private,
    )


def _http_cors(http: Any, route: RestRoute, where: str) -> CorsRule | None:
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


def _api_keys(api_gateway: dict, where: str) -> tuple[ApiKey, ...]:
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


def _binary_media_types(api_gateway: dict, where: str) -> tuple[str, ...]:
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


#: Serverless v3's httpApi event string: '*' or 'METHOD /path' (lib/plugins/aws/package/compile/
#: events/http-api.js, methodPathPattern; the method is case-insensitive).
_HTTP_API_EVENT = re.compile(
    r"^(?:\*|(ANY|GET|POST|PUT|PATCH|OPTIONS|HEAD|DELETE) (/\S*))$", re.IGNORECASE
)


def _payload_version(value: Any, where: str) -> str | None:
    """A payload format version, "1.0" or "2.0", or None when not set. API Gateway accepts only
    these two (https://docs.aws.amazon.com/apigateway/latest/developerguide/
    http-api-develop-integrations-lambda.html: "The supported values are 1.0 and 2.0")."""
    if value is None:
        return None
    text = str(value)
    if text not in PAYLOAD_VERSIONS:
        raise ServiceError(f"{where}: payload must be '1.0' or '2.0', got {value!r}")
    return text


def _http_api_route(spec: Any, function: str, payload: str, where: str) -> HttpApiRoute:
    """One ``httpApi`` event, as Serverless v3 compiles it (http-api.js, resolveConfiguration):
    ``'*'`` is the ``$default`` route; ``'METHOD /path'`` or ``{method, path}``; method ``'*'``
    is ANY; a path ``'*'`` with a method, a missing or unknown method are refused. Route keys:
    https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-routes.html"""
    where = f"{where}: httpApi"
    if isinstance(spec, str):
        found = _HTTP_API_EVENT.match(spec.strip())
        if found is None:
            raise ServiceError(
                f"{where}: {spec!r} must be '*' or 'METHOD /path' (method one of "
                f"{', '.join(sorted(_HTTP_METHODS))})"
            )
        if found.group(1) is None:
            return HttpApiRoute("ANY", None, function, payload)
        method, path = found.group(1), found.group(2)
    elif isinstance(spec, dict):
        method, path = spec.get("method"), str(spec.get("path", ""))
        if path == "*":
            if method not in (None, "*"):
                raise ServiceError(f"{where}: path '*' (the $default route) takes no method")
            return HttpApiRoute("ANY", None, function, payload)
        if method is None:
            raise ServiceError(f"{where}: `method` is missing")
        if not path.startswith("/"):
            raise ServiceError(f"{where}: path {path!r} must start with '/'")
    else:
        raise ServiceError(f"{where}: an httpApi event must be a string or a mapping")
    method = str(method).strip().upper()
    method = "ANY" if method == "*" else method
    if method not in _HTTP_METHODS:
        raise ServiceError(f"{where}: method {method!r} is not one of {sorted(_HTTP_METHODS)}")
    return HttpApiRoute(method, path, function, payload)


def _websocket_route(spec: Any, function: str, where: str) -> WebSocketRoute:
    if isinstance(spec, str):  # the short form: "- websocket: $connect"
        return WebSocketRoute(key=spec.strip(), function=function)
    if not isinstance(spec, dict) or not spec.get("route"):
        raise ServiceError(f"{where}: a websocket event needs a route")
    two_way = bool(spec.get("routeResponseSelectionExpression"))
    return WebSocketRoute(key=str(spec["route"]).strip(), function=function, two_way=two_way)


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


def _rest_authorizer(value: Any, declared: dict, deployed: dict[str, str]) -> AuthorizerSpec | None:
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


def _websocket_authorizer(
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


def _resources(
    config: dict, service: str, stage: str, region: str, where: str
) -> tuple[list[str], list[TableSpec], list[QueueSpec]]:
    resources = ((config.get("resources") or {}).get("Resources")) or {}
    buckets: list[str] = []
    tables: list[TableSpec] = []
    queues: list[QueueSpec] = []
    for logical_id, resource in resources.items():
        kind = resource.get("Type") if isinstance(resource, dict) else None
        props = resource.get("Properties") or {} if isinstance(resource, dict) else {}
        rwhere = f"{where}: resources.Resources.{logical_id}"
        if kind == "AWS::S3::Bucket":
            bucket = str(props.get("BucketName") or f"{service}-{stage}-{logical_id}".lower())
            broken = deploy_rules.bucket_name_rule(bucket)
            if broken:
                raise ServiceError(f"{rwhere}.Properties.BucketName: {broken}")
            buckets.append(bucket)
        elif kind == "AWS::DynamoDB::Table":
            if not props.get("TableName") or not props.get("KeySchema"):
                raise ServiceError(f"{rwhere}: a table needs TableName and KeySchema")
            broken = deploy_rules.table_rule(props)
            if broken:
                raise ServiceError(f"{rwhere}.Properties: {broken}")
            arguments = {k: props[k] for k in _TABLE_PROPERTIES if k in props}
            if "ProvisionedThroughput" not in arguments:
                arguments.setdefault("BillingMode", "PAY_PER_REQUEST")
            ttl = props.get("TimeToLiveSpecification") or {}
            ttl_attribute = ttl.get("AttributeName") if ttl.get("Enabled") else None
            tables.append(TableSpec(str(props["TableName"]), arguments, ttl_attribute))
        elif kind == "AWS::SQS::Queue":
            queues.append(_queue(logical_id, props, service, stage, region, where))
    return buckets, tables, queues


#: AWS::SQS::Queue properties passed to CreateQueue as attributes of the same name.
_QUEUE_ATTRIBUTES = (
    "ContentBasedDeduplication",
    "DelaySeconds",
    "FifoQueue",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
)


def _queue(
    logical_id: str, props: dict, service: str, stage: str, region: str, where: str
) -> QueueSpec:
    """A queue of ``resources.Resources``. Without ``QueueName`` CloudFormation makes one up
    from the stack and the logical id; here it is ``<service>-<stage>-<LogicalId>`` (with
    ``.fifo`` for a FIFO queue). "If you specify the FifoQueue property, the QueueName must end
    with the .fifo suffix" (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/
    aws-resource-sqs-queue.html)."""
    fifo = str(props.get("FifoQueue", "")).lower() == "true"
    name = str(props.get("QueueName") or f"{service}-{stage}-{logical_id}{'.fifo' if fifo else ''}")
    if fifo and not name.endswith(".fifo"):
        raise ServiceError(
            f"{where}: resources.Resources.{logical_id}.Properties.QueueName: a FIFO queue's "
            f"name must end with .fifo, got {name!r}"
        )
    attributes = {
        key: str(props[key]).lower() if isinstance(props[key], bool) else str(props[key])
        for key in _QUEUE_ATTRIBUTES
        if key in props
    }
    return QueueSpec(logical_id, name, queue_arn(region, ACCOUNT_ID, name), attributes)


def default_service_path() -> Path:
    """The article's report system, shipped with timeoutlab."""
    import reportapp

    return Path(reportapp.__file__).parent / "serverless.yml"
