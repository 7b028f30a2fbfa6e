"""The service as ``serverless.yml`` declares it: functions, HTTP routes, buckets and tables.

Reads the same file ``serverless deploy`` reads, resolving the variables it uses
(``${self:...}``, ``${opt:stage, 'dev'}``, ``${sls:stage}``, ``${aws:region}``,
``${aws:accountId}``, ``${env:NAME, default}``), so the emulator runs what AWS would run.
Emulator-only settings live under ``custom.timeoutlab``, which Serverless ignores.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from emulator.core.deadlines import (
    HTTP_API_MAX_INTEGRATION_TIMEOUT,
    InvalidTimeout,
    validate_timeout,
)
from emulator.core.events import ACCOUNT_ID
from emulator.core.http_api_routing import (
    DEFAULT_PAYLOAD_VERSION,
    PAYLOAD_VERSIONS,
    HttpApiRoute,
    HttpApiRouter,
)
from emulator.core.routing import RestRoute, normalize_resource
from emulator.core.websocket_routes import (
    DEFAULT_SELECTION_EXPRESSION,
    WebSocketRoute,
    WebSocketRouter,
)

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


class ServiceError(ValueError):
    """serverless.yml says something the emulator cannot run; the message says what and where."""


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
    #: HTTP API routes (``httpApi`` events), and their integration timeouts lowered below 30 s
    #: by ``custom.timeoutlab.httpApiRouteTimeouts`` (route key -> seconds).
    http_api_routes: list[HttpApiRoute] = field(default_factory=list)
    http_api_route_timeouts: dict[str, float] = field(default_factory=dict)


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
    # As `serverless --stage`: the option, else provider.stage, else dev.
    stage = str(stage_option or provider.get("stage") or "dev")
    if not STAGE_NAME.fullmatch(stage):
        raise ServiceError(
            f"{where}: stage {stage!r}: a stage name is 1 to 128 letters, digits, - and _"
        )
    region = str(provider.get("region") or "us-east-1")
    runtime = str(provider.get("runtime") or "python3.12")

    functions: dict[str, FunctionSpec] = {}
    routes: list[RestRoute] = []
    ws_routes: list[WebSocketRoute] = []
    http_api_routes: list[HttpApiRoute] = []
    provider_payload = _payload_version(
        (provider.get("httpApi") or {}).get("payload"), f"{where}: provider.httpApi.payload"
    )
    for key, spec in (config.get("functions") or {}).items():
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
        for event in spec.get("events") or []:
            if isinstance(event, dict) and "http" in event:
                routes.append(_http_route(event["http"], key, fwhere))
            if isinstance(event, dict) and "websocket" in event:
                ws_routes.append(_websocket_route(event["websocket"], key, fwhere))
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
    buckets, tables = _resources(config, service, stage, where)
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
        http_api_routes=http_api_routes,
        http_api_route_timeouts=http_api_timeouts,
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
    reserved = spec.get("reservedConcurrency")
    if reserved is not None and (not isinstance(reserved, int) or reserved < 0):
        raise ServiceError(
            f"{where}: reservedConcurrency must be an integer >= 0, got {reserved!r}"
        )
    return FunctionSpec(
        key=key,
        name=str(spec.get("name") or f"{service}-{stage}-{key}"),
        handler=str(spec["handler"]),
        module_path=module_path,
        attribute=attribute,
        timeout=timeout,
        memory_mb=memory,
        environment={str(k): str(v) for k, v in environment.items()},
        runtime=runtime,
        reserved_concurrency=reserved,
    )


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
    return RestRoute(method=method, resource=normalize_resource(path), function=function)


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


def _resources(
    config: dict, service: str, stage: str, where: str
) -> tuple[list[str], list[TableSpec]]:
    resources = ((config.get("resources") or {}).get("Resources")) or {}
    buckets: list[str] = []
    tables: list[TableSpec] = []
    for logical_id, resource in resources.items():
        kind = resource.get("Type") if isinstance(resource, dict) else None
        props = resource.get("Properties") or {} if isinstance(resource, dict) else {}
        if kind == "AWS::S3::Bucket":
            buckets.append(
                str(props.get("BucketName") or f"{service}-{stage}-{logical_id}".lower())
            )
        elif kind == "AWS::DynamoDB::Table":
            if not props.get("TableName") or not props.get("KeySchema"):
                raise ServiceError(f"{where}: table {logical_id} needs TableName and KeySchema")
            arguments = {k: props[k] for k in _TABLE_PROPERTIES if k in props}
            if "ProvisionedThroughput" not in arguments:
                arguments.setdefault("BillingMode", "PAY_PER_REQUEST")
            ttl = props.get("TimeToLiveSpecification") or {}
            ttl_attribute = ttl.get("AttributeName") if ttl.get("Enabled") else None
            tables.append(TableSpec(str(props["TableName"]), arguments, ttl_attribute))
    return buckets, tables


def default_service_path() -> Path:
    """The article's report system, shipped with timeoutlab."""
    import reportapp

    return Path(reportapp.__file__).parent / "serverless.yml"
