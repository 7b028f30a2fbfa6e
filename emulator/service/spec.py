"""What the emulator needs of a service: its functions, APIs, resources, as frozen data."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emulator.core.api_keys import ApiKey
from emulator.core.authorizers import (
    AuthorizerSpec,
)
from emulator.core.cors import CorsRule
from emulator.core.destinations import (
    Destination,
)
from emulator.core.http_api_routing import (
    HttpApiRoute,
)
from emulator.core.routing import RestRoute
from emulator.core.websocket_routes import (
    DEFAULT_SELECTION_EXPRESSION,
    WebSocketRoute,
)

DEFAULT_MEMORY_MB = 1024
DEFAULT_FUNCTION_TIMEOUT = 6.0
#: Lambda's hard maximum duration.
MAX_FUNCTION_TIMEOUT = 900.0

#: The runtime of a service that names none.
DEFAULT_RUNTIME = "python3.12"
#: Lambda runtimes whose handlers run here (Python on awslambdaric, Node.js on our bootstrap).
SUPPORTED_RUNTIME_PREFIXES = ("python3", "nodejs")
#: A Node.js handler file, in the order the Node.js runtime tries them.
NODE_EXTENSIONS = (".js", ".mjs", ".cjs")


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
