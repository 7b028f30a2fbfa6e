"""The whole system on one machine: backend, Lambda runtime, REST and WebSocket gateways.

``Stack`` is the asyncio object; ``StackThread`` runs one in a background thread for synchronous
callers (the demo, tests, a user's own pytest fixtures).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import shutil
import socket
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from ssl import SSLContext

from aiohttp import web

from emulator.backends.bootstrap import bootstrap
from emulator.backends.endpoint import (
    Backend,
    BackendError,
    localstack_endpoint,
    validate_endpoint_url,
)
from emulator.backends.localstack_container import (
    HOST_GATEWAY_FLAGS,
    LocalStackContainer,
    StartedLocalStack,
)
from emulator.backends.moto_server import DEFAULT_PORT, EmbeddedMoto, free_port
from emulator.backends.queues import QueueSender
from emulator.backends.usage_proxy import UsageProxy
from emulator.backends.watcher import BackendWatcher
from emulator.clock import Clock, ScaledClock
from emulator.core import sigv4
from emulator.core.api_keys import ApiKeys
from emulator.core.async_retries import AsyncRetryPolicy
from emulator.core.backend_watch import BackendState, Exit, OnBackendExit, health_status
from emulator.core.connection_limits import WebSocketLimits
from emulator.core.connection_timeouts import (
    DEFAULT_LISTEN_BACKLOG,
    ConnectionTimeouts,
    backlog_warning,
)
from emulator.core.control_access import ControlAccess
from emulator.core.deadlines import (
    DEFAULT_INTEGRATION_TIMEOUT,
    HTTP_API_DEFAULT_INTEGRATION_TIMEOUT,
    HTTP_API_MAX_INTEGRATION_TIMEOUT,
    IntegrationTimeouts,
    StreamLimits,
)
from emulator.core.events import ApiIdentity, new_api_id
from emulator.core.exposure import advertised_host, exposure_warning, is_unspecified
from emulator.core.http_api_events import DEFAULT_STAGE
from emulator.core.http_api_routing import HttpApiRouter
from emulator.core.live_view import LiveFigures, live_figures
from emulator.core.origins import HostPolicy, OriginPolicy
from emulator.core.routing import RestRouter
from emulator.core.ui_assets import UI_PATH
from emulator.core.websocket_routes import WebSocketRouter
from emulator.gateway.control import ControlApi
from emulator.gateway.http import ANY_PATH, BODY_TIMEOUT, PARSER_LIMITS, json_parse_errors
from emulator.gateway.http_api import HttpApiGateway
from emulator.gateway.lambda_api import LambdaApi
from emulator.gateway.live import LiveStream
from emulator.gateway.rest import RestGateway
from emulator.gateway.ui import UiPage
from emulator.gateway.websocket import WebSocketGateway
from emulator.gateway.wire import OneLineClientErrors, counting_factory, track_requests
from emulator.metrics import Metrics
from emulator.runtime.async_invoker import AsyncInvoker
from emulator.runtime.invocation import Runtime
from emulator.runtime.process import (
    DEFAULT_ENVIRONMENT_IDLE_S,
    ProcessRuntime,
    default_max_environments,
)
from emulator.runtime.remote import RemoteRuntime
from emulator.service import ServiceSpec, default_service_path, load_service
from emulator.service.keys import warning_line
from emulator.tls import Certificate, self_signed

log = logging.getLogger("timeoutlab")


@dataclass
class StackConfig:
    host: str = "127.0.0.1"
    http_port: int = 3000  # REST API, Lambda Invoke API, /_emulator/; 0 picks a free port
    ws_port: int = 3001  # WebSocket API and @connections; 0 picks a free port
    # The HTTP API (httpApi events), bound only when the service has some; 0 picks a free port.
    http_api_port: int = 3002
    backend: str = "moto"  # "moto", "localstack" or an endpoint URL
    backend_port: int = DEFAULT_PORT  # the embedded moto server's port; 0 picks a free port
    integration_timeout: float | None = None  # None: serverless.yml's, else AWS's 29 s
    time_scale: float = 1.0
    lambda_concurrency: int = 1000  # AWS's default account concurrency
    # execution environments alive at once; None: by the memory available at start
    max_environments: int | None = None
    environment_idle: float = DEFAULT_ENVIRONMENT_IDLE_S  # emulated s before a warm one is reaped
    # Initialise one execution environment per function at start (provisioned concurrency).
    prewarm: bool = False
    websocket_limits: WebSocketLimits = field(default_factory=WebSocketLimits)
    async_retries: AsyncRetryPolicy = field(default_factory=AsyncRetryPolicy)
    stream_limits: StreamLimits = field(default_factory=StreamLimits)
    service_path: Path = field(default_factory=default_service_path)
    stage: str | None = None
    params: dict[str, str] = field(default_factory=dict)  # --param NAME=value: ${param:NAME}
    tls: bool = False  # serve https:// and wss:// with a self-signed certificate made at start
    # "local": handlers run in execution environments (child processes); "remote": deployed to
    # the backend's Lambda and invoked through its Invoke API.
    lambda_mode: str = "local"
    # The host name remote Lambdas reach this emulator by (its @connections and Invoke APIs);
    # None: ``host``. Under Docker Compose, the emulator's service name.
    callback_host: str | None = None
    # With backend "localstack": start a LocalStack container (Docker SDK) on ``backend_port``.
    start_localstack: bool = False
    # (access key, secret key): @connections and the Invoke API verify SigV4 signatures with
    # them, and the handlers sign with them; None: any well-formed signature is accepted.
    credentials: tuple[str, str] | None = None
    # Header and keep-alive idle timeouts of every port's connections, in real seconds.
    connection_timeouts: ConnectionTimeouts = field(default_factory=ConnectionTimeouts)
    # The listening sockets' accept queue; the kernel caps it at net.core.somaxconn.
    listen_backlog: int = DEFAULT_LISTEN_BACKLOG
    # When the embedded moto server exits: start it again, empty ("restart"), or stop the
    # emulator with a non-zero exit code ("exit": ``timeoutlab up`` stops; a Stack run by other
    # code sets ``exit_requested`` for it to act on). External backends are only reported.
    on_backend_exit: OnBackendExit = OnBackendExit.RESTART
    # The address of what only the emulator and its handlers use: the embedded moto server and
    # the backend usage proxy (and a --start-localstack container's published port). Presigned
    # S3 URLs name it, so they work where it is reachable (loopback: this machine only).
    internal_host: str = "127.0.0.1"
    # Host names the control plane answers to besides IP literals, localhost, host and
    # callback_host (DNS-rebinding defence), e.g. a Compose service name; also own origins.
    allowed_hosts: tuple[str, ...] = ()
    # Browser origins (scheme://host[:port]) allowed to change the control plane besides the
    # emulator's own (and, with ws_check_origin, to open WebSockets).
    allowed_origins: tuple[str, ...] = ()
    # Bearer token needed by /_emulator/ (except GET health and ui/); None: none needed.
    control_token: str | None = None
    # Refuse WebSocket handshakes from foreign origins (AWS does not check Origin).
    ws_check_origin: bool = False

    def __post_init__(self) -> None:
        if self.max_environments is None:  # the one place the default is decided
            self.max_environments = default_max_environments()


LAMBDA_MODES = ("local", "remote")
#: ``--host`` values that bind every interface: no browser opens them as such.
WILDCARD_HOSTS = ("0.0.0.0", "::", "")
#: Why --credentials and --lambda remote are refused together, and what to do instead.
REMOTE_CREDENTIALS_REFUSED = (
    "--credentials cannot go with --lambda remote: the backend's Lambda signs its functions' "
    "@connections and Invoke calls with credentials it sets itself (AWS_ACCESS_KEY_ID and "
    "AWS_SECRET_ACCESS_KEY are reserved; MiniStack gives its account id and its own secret, "
    "LocalStack credentials of its own), whose secret this emulator does not know, so it could "
    "verify none of them. Leave --credentials out (unsigned and malformed signatures are still "
    "refused; keep --host on loopback, the default), or run the handlers here with --lambda "
    "local, where they sign with your --credentials"
)
SOMAXCONN = Path("/proc/sys/net/core/somaxconn")
_WARNED: set[str] = set()
#: aiohttp's default lingering time (seconds) for an unread request body after an early answer.
AIOHTTP_LINGERING_S = 10.0


def primary_address() -> str | None:
    """This machine's IPv4 address on its default route, or None (no route, no network): a UDP
    socket "connected" to a TEST-NET-1 address (RFC 5737) sends nothing, it only picks the
    source address the kernel would use."""
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.1", 9))
        return str(probe.getsockname()[0])
    return None


def read_somaxconn(path: Path = SOMAXCONN) -> int | None:
    """The kernel's cap on a listen backlog (Linux), or None where it cannot be read."""
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _runner(app: web.Application, timeouts: ConnectionTimeouts) -> web.AppRunner:
    """aiohttp's runner for one port: its keep-alive timeout is the idle timeout, a request body
    may pause no longer than the header timeout, and a client's malformed request is logged in
    one line (``OneLineClientErrors``)."""
    app[BODY_TIMEOUT] = timeouts.header_timeout
    return web.AppRunner(
        app,
        access_log=None,
        handle_signals=False,
        keepalive_timeout=timeouts.idle_timeout,
        # After an early answer (413, 408), an unread body is read and dropped for at most this
        # long (aiohttp's own 10 s, or the header timeout if shorter) before the connection
        # closes, so the answer is not lost to a TCP reset.
        lingering_time=min(AIOHTTP_LINGERING_S, timeouts.header_timeout),
        logger=OneLineClientErrors(),
        # API Gateway passes a compressed body on as sent unless the API enables compression
        # (https://docs.aws.amazon.com/apigateway/latest/developerguide/
        # api-gateway-gzip-compression-decompression.html): aiohttp must not inflate it.
        auto_decompress=False,
        # Above a realistic request head within API Gateway's 10240-byte quota, which the
        # gateways check themselves (emulator.core.request_head); aiohttp's own bounds are 8190
        # bytes a line and 128 headers.
        **PARSER_LIMITS,
    )


#: Makes the runtime of a stack that runs without a backend: (service, clock, metrics) -> Runtime.
RuntimeFactory = Callable[[ServiceSpec, Clock, Metrics], Runtime]


def make_backend(config: StackConfig, region: str) -> Backend:
    if config.lambda_mode not in LAMBDA_MODES:
        raise BackendError(f"--lambda must be one of {', '.join(LAMBDA_MODES)}")
    if config.start_localstack and config.backend != "localstack":
        raise BackendError("--start-localstack goes with --backend localstack")
    if config.credentials is not None and config.lambda_mode == "remote":
        # A function's AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN are "the access
        # keys obtained from the function's execution role", set by Lambda itself and reserved
        # (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html): a deployment
        # cannot give the backend's functions ours. MiniStack 1.5 gives them its account id and
        # its own AWS_SECRET_ACCESS_KEY, or per-function session keys with its AUTH on
        # (ministack/core/lambda_runtime.py, execution_credentials); LocalStack, credentials of
        # its own. The emulator cannot know those secrets, so it could verify none of the
        # functions' @connections and Invoke calls (nor tell their keys from an attacker's,
        # were it to let them through unverified).
        raise BackendError(REMOTE_CREDENTIALS_REFUSED)
    if config.backend == "moto":
        if config.lambda_mode == "remote":
            raise BackendError(
                "--lambda remote needs a backend with Lambda (--backend localstack or a URL such "
                "as MiniStack's); the embedded moto server does not run functions"
            )
        # On --internal-host (loopback by default) whatever --host says: moto checks nothing,
        # so it is never exposed by a --host that exposes the APIs.
        port = config.backend_port or free_port(config.internal_host)
        return EmbeddedMoto(config.internal_host, port, region).start()
    if config.start_localstack:
        container = LocalStackContainer(
            host="127.0.0.1" if config.internal_host == "0.0.0.0" else config.internal_host,
            port=config.backend_port,
            environment=HOST_GATEWAY_FLAGS,
        )
        backend: Backend = StartedLocalStack(container, region).start()
    elif config.backend == "localstack":
        backend = Backend("localstack", localstack_endpoint(), region)
    else:
        backend = Backend("url", validate_endpoint_url(config.backend), region)
    try:
        backend.check(lambdas=config.lambda_mode == "remote")
    except BackendError:
        backend.close()  # a container started here goes with it
        raise
    return backend


class Stack:
    """The gateways, the Lambda runtime and the backend of one service, on one event loop.

    ``clock`` is the emulated clock (default: real time at ``config.time_scale``); with
    ``runtime_factory`` the stack starts no backend and runs its functions in the runtime that
    factory makes (the tests' in-loop runtime on a virtual clock). ``start`` raises
    ``BackendError`` for a backend that cannot be used and ``ServiceError`` for a service that
    cannot be loaded.
    """

    def __init__(
        self,
        config: StackConfig,
        *,
        clock: Clock | None = None,
        runtime_factory: RuntimeFactory | None = None,
    ) -> None:
        self.config = config
        self.service = load_service(config.service_path, stage=config.stage, params=config.params)
        for key_path in self.service.unmodelled:
            print(warning_line(key_path), file=sys.stderr)
        self.clock: Clock = clock or ScaledClock(config.time_scale)
        self._runtime_factory = runtime_factory
        self._loop: asyncio.AbstractEventLoop | None = None
        self.metrics = Metrics(self.clock.now)
        default_timeout = config.integration_timeout or self.service.integration_timeout
        self.timeouts = IntegrationTimeouts(
            default_timeout or DEFAULT_INTEGRATION_TIMEOUT, self.service.route_timeouts
        )
        self.router = RestRouter(self.service.stage, self.service.rest_routes)
        self.ws_router = WebSocketRouter(
            self.service.websocket_routes, self.service.websocket_selection_expression
        )
        self.http_api_router = HttpApiRouter(self.service.http_api_routes)
        # 30 s on every HTTP API route whatever --integration-timeout says (that one is REST's
        # and WebSocket's), lowerable per route to 0.05..30 s.
        self.http_api_timeouts = IntegrationTimeouts(
            HTTP_API_DEFAULT_INTEGRATION_TIMEOUT,
            self.service.http_api_route_timeouts,
            maximum=HTTP_API_MAX_INTEGRATION_TIMEOUT,
        )
        self.credentials = (
            None if config.credentials is None else sigv4.Credentials(*config.credentials)
        )
        self.backend: Backend | None = None
        self.watcher: BackendWatcher | None = None
        # Set when the backend exit policy says the emulator must stop: what to print and the
        # exit code; ``exit_requested`` wakes whoever runs the stack (``timeoutlab up``).
        self.exit_decision: Exit | None = None
        self.exit_requested = asyncio.Event()
        self.backend_proxy: UsageProxy | None = None  # counts what the handlers ask of it
        self.runtime: Runtime | None = None
        self.invoker: AsyncInvoker | None = None
        self.websocket: WebSocketGateway | None = None
        self._runner: web.AppRunner | None = None
        self._http_server: asyncio.Server | None = None
        self._http_api_runner: web.AppRunner | None = None
        self._http_api_server: asyncio.Server | None = None
        self.http_port: int | None = None
        self.http_api_port: int | None = None  # None: no httpApi events, no port bound
        self.ws_port: int | None = None
        self.certificate: Certificate | None = None
        # The Host names the control plane, the Lambda Invoke API and @connections answer to
        # (DNS-rebinding defence): IP literals, localhost, and the names the emulator is given.
        self.host_policy = HostPolicy.of(
            config.host, config.callback_host, config.internal_host, *config.allowed_hosts
        )
        # Who may use /_emulator/: its origins name the ports, so they are set once bound.
        self.control_access = ControlAccess(
            self.host_policy,
            self.origin_policy(),
            token=config.control_token,
        )
        # The live view's stream (/_emulator/live), ended at stop.
        self.live = LiveStream(self.control_access, self.live_figures)

    def origin_policy(self) -> OriginPolicy:
        """The emulator's own origins (its host names on each port it serves) and the
        ``allowed_origins``; raises InvalidOrigin for a malformed allowed one."""
        config = self.config
        return OriginPolicy.of(
            host_names=(config.host, config.callback_host, *config.allowed_hosts),
            ports=(self.http_port, self.ws_port, self.http_api_port),
            allowed_origins=config.allowed_origins,
        )

    def _http(self, host: str, port: int | None) -> str:
        """``http(s)://host:port``, as whoever calls in from ``host``'s side reaches us."""
        return f"{'https' if self.config.tls else 'http'}://{host}:{port}"

    @functools.cached_property
    def public_host(self) -> str:
        """The host the URLs below name: ``--host``, or for ``0.0.0.0``/``::`` (listen on every
        interface, connect to none) ``--callback-host``, else this machine's primary address,
        else 127.0.0.1 (``exposure.advertised_host``); found once."""
        config = self.config
        primary = primary_address() if is_unspecified(config.host) else None
        return advertised_host(config.host, config.callback_host, primary)

    @property
    def http_url(self) -> str:
        return self._http(self.public_host, self.http_port)

    @property
    def ui_url(self) -> str:
        """The page's URL (``/_emulator/ui/``) as a browser on this machine opens it: a wildcard
        ``host`` (every interface) is reached as ``localhost``."""
        host = self.config.host
        if host.strip("[]") in WILDCARD_HOSTS:
            host = "localhost"
        return f"{self._http(host, self.http_port)}{UI_PATH}/"

    @property
    def rest_url(self) -> str:
        """The REST API's invoke URL, stage included."""
        return f"{self.http_url}/{self.service.stage}"

    @property
    def http_api_url(self) -> str | None:
        """The HTTP API's URL (its ``$default`` stage, at the root; no trailing slash), or None
        when the service has no ``httpApi`` events."""
        if self.http_api_port is None:
            return None
        return self._http(self.public_host, self.http_api_port)

    @property
    def ws_url(self) -> str:
        """The WebSocket API's URL, stage included."""
        scheme = "wss" if self.config.tls else "ws"
        return f"{scheme}://{self.public_host}:{self.ws_port}/{self.service.stage}"

    @property
    def connections_url(self) -> str:
        """The @connections endpoint, as boto3's apigatewaymanagementapi takes it."""
        return f"{self._http(self.public_host, self.ws_port)}/{self.service.stage}"

    def handler_environment(self) -> dict[str, str]:
        """Every endpoint the handlers need, known once the ports are.

        Local handlers reach S3 and DynamoDB through the usage proxy, so what they ask of the
        backend is counted; remote ones reach the backend as their Lambda lets them, and this
        emulator (the Invoke API for async invocations, @connections) by ``callback_host``."""
        assert self.backend is not None
        host = self.config.host
        environment = {**self.backend.handler_environment(), **self.clock.handler_environment()}
        if self.config.lambda_mode == "remote":
            host = self.config.callback_host or host
        elif self.backend_proxy is not None:
            environment["AWS_ENDPOINT_URL"] = self.backend_proxy.url
        if self.credentials is not None:
            # The handlers' SDKs sign @connections and Invoke calls with the emulator's keys.
            environment["AWS_ACCESS_KEY_ID"] = self.credentials.access_key
            environment["AWS_SECRET_ACCESS_KEY"] = self.credentials.secret_key
        environment["AWS_ENDPOINT_URL_LAMBDA"] = self._http(host, self.http_port)
        environment["AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI"] = (
            f"{self._http(host, self.ws_port)}/{self.service.stage}"
        )
        if self.certificate is not None and self.config.lambda_mode == "local":
            environment["AWS_CA_BUNDLE"] = str(self.certificate.certfile)
        return environment

    async def start(self) -> Stack:
        self._loop = asyncio.get_running_loop()
        try:
            if self._runtime_factory is None:
                self.runtime = await self._start_backend()
            else:
                self.runtime = self._runtime_factory(self.service, self.clock, self.metrics)
            self.invoker = AsyncInvoker(
                self.runtime,
                self.clock,
                self.metrics,
                self.config.async_retries,
                # Records for SQS destinations go to the backend's queues (in remote mode too:
                # the emulator keeps the event queue, the backend's Lambda only runs attempts).
                send_to_queue=None if self.backend is None else QueueSender(self.backend).send,
            )
            if self.config.tls:
                self.certificate = await asyncio.to_thread(self_signed, self.config.host)
            await self._serve()
            self._name_origins()
            if self.backend is None:
                self.runtime.start()
            else:
                # Handlers learn every endpoint only now that the ports are known.
                self.runtime.environment.update(self.handler_environment())
                # Remote: deploys the functions, which takes a while; local: checks runtimes.
                await asyncio.to_thread(self.runtime.start)
                if self.config.prewarm:
                    await self.runtime.prewarm()
                self._watch_backend()
            await self._open()
        except BaseException:
            await self.stop()
            raise
        return self

    def _watch_backend(self) -> None:
        """Watch the backend from now on: a dead embedded server is restarted (or the emulator
        asked to exit), an external backend that stops answering is reported."""
        assert self.backend is not None
        backend, service = self.backend, self.service
        self.watcher = BackendWatcher(
            backend,
            self.config.on_backend_exit,
            recreate=lambda: bootstrap(service, backend),
            on_exit=self._request_exit,
        )
        self.watcher.start()

    def _request_exit(self, decision: Exit) -> None:
        self.exit_decision = decision
        self.exit_requested.set()

    async def _start_backend(self) -> Runtime:
        """Start (or reach) the backend, create the service's resources, and return the runtime
        that runs the functions against it."""
        self.backend = await asyncio.to_thread(make_backend, self.config, self.service.region)
        await asyncio.to_thread(bootstrap, self.service, self.backend)
        if self.config.lambda_mode == "remote":
            return RemoteRuntime(
                self.service,
                self.clock,
                self.metrics,
                self.backend,
                {},
                concurrency=self.config.lambda_concurrency,
            )
        self.backend_proxy = UsageProxy(
            self.backend.endpoint_url, self.metrics, self.config.internal_host
        )
        await self.backend_proxy.start()
        return ProcessRuntime(
            self.service,
            self.clock,
            self.metrics,
            {},
            concurrency=self.config.lambda_concurrency,
            max_environments=self.config.max_environments,
            idle_seconds=self.config.environment_idle,
        )

    def _name_origins(self) -> None:
        """Now that the ports are bound: the origins they make, for the control plane and (with
        ``ws_check_origin``) the WebSocket handshake; and the warning a non-loopback ``host``
        deserves, on stderr, once."""
        assert self.websocket is not None
        policy = self.origin_policy()
        self.control_access.origins = policy
        self.websocket.origin_policy = policy if self.config.ws_check_origin else None
        warning = exposure_warning(
            host=self.config.host,
            internal_host=self.config.internal_host,
            endpoints=self.exposed_endpoints(),
            control_port=self.http_port,
            control_token=self.config.control_token is not None,
            internal_services=self.internal_services(),
            signatures_verified=self.credentials is not None,
        )
        if warning:
            print(warning, file=sys.stderr)

    def exposed_endpoints(self) -> list[tuple[str, int]]:
        """``(what, port)`` of every API ``host`` serves (the control plane apart), for the
        exposure warning."""
        endpoints = [
            ("REST API", self.http_port),
            ("Lambda Invoke API", self.http_port),
            ("WebSocket API and @connections", self.ws_port),
            ("HTTP API", self.http_api_port),
        ]
        return [(what, port) for what, port in endpoints if port is not None]

    def internal_services(self) -> list[tuple[str, int]]:
        """``(what, port)`` of what listens on ``internal_host``: the embedded moto server and
        the backend usage proxy, when this stack runs them."""
        services = []
        if isinstance(self.backend, EmbeddedMoto):
            services.append(("embedded moto server (S3, DynamoDB)", self.backend.port))
        if self.backend_proxy is not None and self.backend_proxy.port is not None:
            services.append(("backend usage proxy", self.backend_proxy.port))
        return services

    async def _open(self) -> None:
        """Only now may requests come: until here the ports were bound but not listening."""
        assert self.websocket is not None
        assert self._http_server is not None
        await self.websocket.serve()
        await self._http_server.start_serving()
        if self._http_api_server is not None:
            await self._http_api_server.start_serving()

    async def _serve(self) -> None:
        assert self.runtime is not None
        assert self.invoker is not None
        host = self.config.host
        self.websocket = WebSocketGateway(
            router=self.ws_router,
            api=ApiIdentity(new_api_id(), self.service.stage, f"{host}:{self.config.ws_port}"),
            runtime=self.runtime,
            timeouts=self.timeouts,
            limits=self.config.websocket_limits,
            metrics=self.metrics,
            clock=self.clock,
            authorizer=self.service.websocket_authorizer,
            region=self.service.region,
            credentials=self.credentials,
        )
        self.websocket.hosts = self.host_policy
        ssl = self.certificate.server_context() if self.certificate else None
        warning = backlog_warning(self.config.listen_backlog, read_somaxconn())
        if warning is not None and warning not in _WARNED:
            _WARNED.add(warning)  # once per process, however many stacks start
            log.warning(warning)
        self.ws_port = await self.websocket.start(
            host,
            self.config.ws_port,
            ssl=ssl,
            backlog=self.config.listen_backlog,
            timeouts=self.config.connection_timeouts,
        )
        self.websocket.api = ApiIdentity(
            self.websocket.api.api_id, self.service.stage, f"{host}:{self.ws_port}"
        )

        app = web.Application(middlewares=[track_requests])
        # The page and its live stream first: the control plane ends with a catch-all 404.
        UiPage(self.control_access).add_routes(app)
        self.live.add_routes(app)
        ControlApi(
            metrics=self.metrics,
            timeouts=self.timeouts,
            route_keys=self.route_keys(),
            clock=self.clock,
            describe=self.describe,
            health=self.health,
            http_api_timeouts=self.http_api_timeouts,
            http_api_route_keys=self.http_api_router.keys,
            access=self.control_access,
        ).add_routes(app)
        LambdaApi(
            self.runtime,
            self.invoker,
            self.service.region,
            self.credentials,
            hosts=self.host_policy,
        ).add_routes(app)
        rest = RestGateway(
            self.router,
            ApiIdentity(new_api_id(), self.service.stage, f"{host}:{self.config.http_port}"),
            self.runtime,
            self.timeouts,
            self.metrics,
            self.clock,
            streaming_routes=self.service.streaming_routes,
            stream_limits=self.config.stream_limits,
            api_keys=ApiKeys(self.service.api_keys),
            cors=self.service.cors,
            binary_media_types=self.service.binary_media_types,
            authorizers=self.service.rest_authorizers,
            region=self.service.region,
        )
        app.router.add_route("*", "/" + ANY_PATH, rest.handle)
        timeouts = self.config.connection_timeouts
        self._runner = _runner(app, timeouts)
        await self._runner.setup()
        # Like aiohttp's TCPSite, but every connection's bytes are counted at the socket.
        self._http_server = await asyncio.get_running_loop().create_server(
            counting_factory(
                json_parse_errors(self._runner.server),
                self.metrics,
                header_timeout=timeouts.header_timeout,
            ),
            host,
            self.config.http_port,
            ssl=ssl,
            backlog=self.config.listen_backlog,
            start_serving=False,
        )
        self.http_port = self._http_server.sockets[0].getsockname()[1]
        # The domain name in events is the bound address, known only now for port 0.
        rest.api = ApiIdentity(rest.api.api_id, self.service.stage, f"{host}:{self.http_port}")
        if self.http_api_router.routes:
            await self._serve_http_api(ssl)

    async def _serve_http_api(self, ssl: SSLContext | None) -> None:
        """The HTTP API on a port of its own, at the root ($default stage): nothing else there,
        neither /_emulator/ nor the Lambda Invoke API. Its bytes are counted at the socket."""
        assert self.runtime is not None
        host = self.config.host
        gateway = HttpApiGateway(
            self.http_api_router,
            ApiIdentity(new_api_id(), DEFAULT_STAGE, f"{host}:{self.config.http_api_port}"),
            self.runtime,
            self.http_api_timeouts,
            self.metrics,
            self.clock,
        )
        app = web.Application(middlewares=[track_requests])
        app.router.add_route("*", "/" + ANY_PATH, gateway.handle)
        timeouts = self.config.connection_timeouts
        self._http_api_runner = _runner(app, timeouts)
        await self._http_api_runner.setup()
        self._http_api_server = await asyncio.get_running_loop().create_server(
            counting_factory(
                json_parse_errors(self._http_api_runner.server),
                self.metrics,
                "http_api",
                header_timeout=timeouts.header_timeout,
            ),
            host,
            self.config.http_api_port,
            ssl=ssl,
            backlog=self.config.listen_backlog,
            start_serving=False,
        )
        self.http_api_port = self._http_api_server.sockets[0].getsockname()[1]
        gateway.api = ApiIdentity(gateway.api.api_id, DEFAULT_STAGE, f"{host}:{self.http_api_port}")

    def route_keys(self) -> list[str]:
        return [route.key for route in self.router.routes] + list(self.ws_router.routes)

    async def stop(self) -> None:
        """Stop everything this stack started, in order: the backend watcher (so the backend's
        own stop is not taken for a death), the gateways, queued async events, the execution
        environments, the usage proxy and the backend (the embedded server's process is
        reaped). Safe to call again, and after a failed start."""
        if self.watcher is not None:
            await self.watcher.stop()
            self.watcher = None
        self.live.close()
        if self.websocket is not None:
            await self.websocket.stop()
            self.websocket = None
        if self._http_server is not None:
            self._http_server.close()
            self._http_server = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._http_api_server is not None:
            self._http_api_server.close()
            self._http_api_server = None
        if self._http_api_runner is not None:
            await self._http_api_runner.cleanup()
            self._http_api_runner = None
        if self.invoker is not None:
            await self.invoker.close()
            self.invoker = None
        if self.runtime is not None:
            await self.runtime.close()
            self.runtime = None
        if self.backend_proxy is not None:
            await self.backend_proxy.stop()
            self.backend_proxy = None
        if self.backend is not None:
            await asyncio.to_thread(self.backend.close)
            self.backend = None
        if self.certificate is not None:
            shutil.rmtree(self.certificate.certfile.parent, ignore_errors=True)
            self.certificate = None

    def busy(self) -> dict[str, int]:
        """What is still going on: running invocations, async invocations queued or waiting to be
        retried, open WebSocket connections and the $disconnect routes of closed ones; only the
        non-zero counts."""
        counts = {
            "running invocations": self.runtime.running if self.runtime else 0,
            "pending async invocations": self.invoker.pending if self.invoker else 0,
            "open WebSocket connections": len(self.websocket.connections) if self.websocket else 0,
            "$disconnect routes": self.websocket.disconnecting if self.websocket else 0,
        }
        return {what: count for what, count in counts.items() if count}

    def live_figures(self) -> LiveFigures:
        """What the live view shows now: the metrics' figures and the async events pending."""
        pending = self.invoker.pending if self.invoker else 0
        return live_figures(self.metrics.snapshot(), async_pending=pending)

    async def idle(self, timeout_s: float = 30.0, poll_s: float = 0.005) -> None:
        """Return once nothing is ``busy()``, on the stack's own event loop; ``timeout_s`` and
        ``poll_s`` are seconds of that loop's time (real, or virtual in the tests). Raises
        TimeoutError naming what is still busy when ``timeout_s`` passes first."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while busy := self.busy():
            if loop.time() >= deadline:
                raise TimeoutError(f"the emulator is still busy after {timeout_s:g} s: {busy}")
            await asyncio.sleep(poll_s)

    def wait_idle(self, timeout_s: float = 30.0) -> None:
        """``idle`` for a caller outside the stack's event loop (a test, the demo): blocks up to
        ``timeout_s`` real seconds; raises TimeoutError naming what is still busy."""
        if self._loop is None:
            return  # never started: nothing can be busy
        asyncio.run_coroutine_threadsafe(self.idle(timeout_s), self._loop).result()

    def health(self) -> dict:
        """``/_emulator/health``: ``status`` ``ok``, or ``degraded`` while the backend is down or
        being restarted, then ``describe()`` (whose ``backend`` has its ``state``), then ``busy``
        (``busy()``: what is still going on, ``{}`` when idle), so a client in another process
        can wait for the stack to be idle over HTTP."""
        state = BackendState.UP
        if self.backend is not None:
            state = BackendState(self.backend.describe()["state"])
        return {"status": health_status(state), **self.describe(), "busy": self.busy()}

    def describe(self) -> dict:
        return {
            "service": self.service.name,
            "stage": self.service.stage,
            "rest_api": self.rest_url if self.http_port else None,
            "websocket_api": self.ws_url if self.ws_port else None,
            "connections_api": self.connections_url if self.ws_port else None,
            "http_api": self.http_api_url,
            "routes": [route.key for route in self.router.routes],
            "api_keys": [key.describe() for key in self.service.api_keys],
            "websocket_routes": list(self.ws_router.routes),
            "http_api_routes": self.http_api_router.keys,
            "backend": self.backend.describe() if self.backend else None,
            "backend_proxy": self.backend_proxy.url if self.backend_proxy else None,
            "time_scale": self.clock.scale,
            "integration_timeout_s": self.timeouts.default,
            "lambda_concurrency": self.config.lambda_concurrency,
            "max_environments": self.config.max_environments,
            "environment_idle_s": self.config.environment_idle,
            "lambda": self.config.lambda_mode,
            "tls_certificate": str(self.certificate.certfile) if self.certificate else None,
            "listen_backlog": self.config.listen_backlog,
            "header_timeout_s": self.config.connection_timeouts.header_timeout,
            "keepalive_timeout_s": self.config.connection_timeouts.idle_timeout,
        }


class StackThread:
    """A Stack on its own event loop in a daemon thread; ``with StackThread(cfg) as stack: ...``."""

    def __init__(self, config: StackConfig) -> None:
        self.stack = Stack(config)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="timeoutlab", daemon=True
        )

    def start(self) -> Stack:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.stack.start(), self._loop).result()
        return self.stack

    def stop(self) -> None:
        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(self.stack.stop(), self._loop).result()
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
        self._loop.close()

    def __enter__(self) -> Stack:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *_: object) -> None:
        self.stop()
