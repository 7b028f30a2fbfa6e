"""The ``timeoutlab`` command: ``up`` runs the system, ``demo`` runs the article's experiment."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from emulator.arguments import positive, service_file, time_scale
from emulator.backends.endpoint import BackendError
from emulator.backends.localstack_container import LOCALSTACK_IMAGE
from emulator.backends.moto_server import DEFAULT_PORT
from emulator.core.backend_watch import OnBackendExit
from emulator.core.connection_limits import WebSocketLimits
from emulator.core.connection_timeouts import (
    DEFAULT_HEADER_TIMEOUT,
    DEFAULT_IDLE_TIMEOUT,
    DEFAULT_LISTEN_BACKLOG,
    ConnectionTimeouts,
)
from emulator.core.control_access import CONTROL_TOKEN_VARIABLE
from emulator.core.deadlines import validate_timeout
from emulator.core.origins import parse_allowed_host, parse_allowed_origin
from emulator.core.sigv4 import CREDENTIALS_VARIABLE, Credentials
from emulator.demo import DEMO_TIME_SCALE, DemoServiceError, run_demo
from emulator.runtime.process import (
    DEFAULT_ENVIRONMENT_IDLE_S,
    MAX_ENVIRONMENTS_CEILING,
    MAX_ENVIRONMENTS_FLOOR,
    MEMORY_PER_ENVIRONMENT_BYTES,
)
from emulator.service import ServiceError, default_service_path, param_option
from emulator.stack import LAMBDA_MODES, Stack, StackConfig
from emulator.supervised import ParentWatch, write_ready_file
from scenarios import cli as scenarios_cli

T = TypeVar("T")


def _converter(parse: Callable[[str], T]) -> Callable[[str], T]:
    """An argparse ``type`` from a parser that raises ValueError (InvalidTimeout,
    InvalidOrigin, ...): its message becomes argparse's one-line error (exit 2)."""

    def convert(text: str) -> T:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from exc

    return convert


_timeout = _converter(lambda text: validate_timeout(float(text), "--integration-timeout"))
_credentials = _converter(lambda text: Credentials.parse(text).as_pair())
_origin = _converter(parse_allowed_origin)
_allowed_host = _converter(parse_allowed_host)


def _token(text: str) -> str:
    if not text.strip() or any(c.isspace() for c in text):
        raise argparse.ArgumentTypeError("--control-token must be non-empty, without spaces")
    return text


def _port(text: str) -> int:
    port = int(text)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0..65535 (0 = any free port), got {port}")
    return port


def _add_stack_options(
    parser: argparse.ArgumentParser, *, free_ports: bool, log_level: str
) -> None:
    """Options shared by `up` and `demo`; the demo defaults to free ports so it never clashes."""
    ports = (0, 0, 0, 0) if free_ports else (3000, 3001, DEFAULT_PORT, 3002)
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    add(
        "--http-port",
        type=_port,
        default=ports[0],
        help="REST API, Lambda API and /_emulator/ port (default: %(default)s; 0 = any free port)",
    )
    add(
        "--ws-port",
        type=_port,
        default=ports[1],
        help="WebSocket API and @connections port (default: %(default)s; 0 = any free port)",
    )
    add(
        "--http-api-port",
        type=_port,
        default=ports[3],
        help="HTTP API port (httpApi events, at the root path: the $default stage); bound only "
        "when the service has httpApi events (default: %(default)s; 0 = any free port)",
    )
    add(
        "--backend",
        default="moto",
        help="moto (embedded moto server, default), localstack (found as localstack-client "
        "finds it: LOCALSTACK_HOST, default localhost:4566), or an endpoint URL such as "
        "http://127.0.0.1:4566",
    )
    add(
        "--lambda",
        dest="lambda_mode",
        choices=LAMBDA_MODES,
        default="local",
        help="local: run the handlers in execution environments, child processes on this "
        "machine (default); remote: deploy them as Lambda functions on the backend (LocalStack, "
        "MiniStack) and invoke them through its Invoke API",
    )
    add(
        "--callback-host",
        metavar="HOST",
        help="with --lambda remote: the host name the remote functions reach this emulator by, "
        "for @connections and async invocations (default: --host; under Docker Compose: emulator)",
    )
    add(
        "--internal-host",
        default="127.0.0.1",
        metavar="ADDR",
        help="address of what only the emulator and its handlers use: the embedded moto server "
        "and the backend usage proxy; presigned S3 URLs name it, so they work where it is "
        "reachable (default: %(default)s, this machine only, whatever --host says)",
    )
    add(
        "--allowed-host",
        dest="allowed_hosts",
        action="append",
        default=[],
        type=_allowed_host,
        metavar="NAME",
        help="a host name /_emulator/, the Lambda Invoke API and @connections answer to besides "
        "IP addresses, localhost, --host, --callback-host and --internal-host, e.g. a Compose "
        "service name (repeatable; DNS-rebinding defence)",
    )
    add(
        "--allowed-origin",
        dest="allowed_origins",
        action="append",
        default=[],
        type=_origin,
        metavar="ORIGIN",
        help="a browser origin (http://host:port) allowed to change /_emulator/ (and, with "
        "--ws-check-origin, to open WebSockets) besides the emulator's own (repeatable)",
    )
    add(
        "--control-token",
        type=_token,
        default=os.environ.get(CONTROL_TOKEN_VARIABLE) or None,
        metavar="TOKEN",
        help="require Authorization: Bearer TOKEN on /_emulator/ (except GET /_emulator/health "
        f"and /_emulator/ui/) (default: ${CONTROL_TOKEN_VARIABLE}, else none)",
    )
    add(
        "--ws-check-origin",
        action="store_true",
        help="refuse (403) WebSocket handshakes whose Origin is not the emulator's own or an "
        "--allowed-origin (AWS does not check Origin; off by default)",
    )
    add(
        "--backend-port",
        type=_port,
        default=ports[2],
        help="port of the embedded moto server, or of the LocalStack container of "
        "--start-localstack (default: %(default)s; 0 = any free port)",
    )
    add(
        "--on-backend-exit",
        choices=[policy.value for policy in OnBackendExit],
        default=OnBackendExit.RESTART.value,
        help="when the embedded moto server exits: restart it, empty, with the service's "
        "bucket(s), tables and queues recreated; or exit with code 3 (default: %(default)s). "
        "An external backend that stops answering is reported in health and the log",
    )
    add(
        "--start-localstack",
        action="store_true",
        help=f"with --backend localstack: start {LOCALSTACK_IMAGE} in Docker (needs a Docker "
        "engine) on 127.0.0.1:--backend-port, and stop and remove it at exit",
    )
    add(
        "--integration-timeout",
        type=_timeout,
        metavar="SECONDS",
        help="API Gateway integration timeout of the REST and WebSocket routes (default: "
        "serverless.yml's, else 29); HTTP API routes keep their 30 s",
    )
    add(
        "--time-scale",
        type=time_scale,
        default=DEMO_TIME_SCALE if free_ports else 1.0,
        help="real seconds per emulated second (default: %(default)s)",
    )
    limits = WebSocketLimits()
    add(
        "--lambda-concurrency",
        type=positive(int),
        default=1000,
        metavar="N",
        help="Lambda invocations running at once before throttling (default: %(default)s)",
    )
    add(
        "--max-environments",
        type=positive(int),
        default=None,
        metavar="N",
        help="execution environments (processes) alive at once on this machine; past it the "
        "longest-idle one is replaced, or an invocation waits for a free one (default: one per "
        f"{MEMORY_PER_ENVIRONMENT_BYTES // 2**20} MB of memory available at start, "
        f"{MAX_ENVIRONMENTS_FLOOR} to {MAX_ENVIRONMENTS_CEILING})",
    )
    add(
        "--environment-idle",
        type=positive(float),
        default=DEFAULT_ENVIRONMENT_IDLE_S,
        metavar="SECONDS",
        help="emulated seconds an execution environment stays warm unused (default: %(default)s)",
    )
    add(
        "--prewarm",
        action=argparse.BooleanOptionalAction,
        default=free_ports,
        help="initialise one execution environment per function at start, as provisioned "
        "concurrency does, so first calls pay no cold start (default: %(default)s)",
    )
    add(
        "--ws-idle-timeout",
        type=positive(float),
        default=limits.idle_timeout,
        metavar="SECONDS",
        help="close a WebSocket after this long without a message (default: %(default)g)",
    )
    add(
        "--ws-max-connection",
        type=positive(float),
        default=limits.max_duration,
        metavar="SECONDS",
        help="close a WebSocket after this long in all (default: %(default)g)",
    )
    add(
        "--ws-max-message",
        type=positive(int),
        default=limits.max_message_bytes,
        metavar="BYTES",
        help="largest WebSocket message; larger closes with 1009 (default: %(default)s)",
    )
    add(
        "--ws-max-frame",
        type=positive(int),
        default=limits.max_frame_bytes,
        metavar="BYTES",
        help="largest WebSocket frame; larger closes with 1009 (default: %(default)s)",
    )
    add(
        "--ws-connection-rate",
        type=positive(float),
        default=limits.new_connections_per_second,
        metavar="PER_SECOND",
        help="new WebSocket connections per emulated second; more get 429 (default: %(default)g)",
    )
    add(
        "--listen-backlog",
        type=positive(int),
        default=DEFAULT_LISTEN_BACKLOG,
        metavar="N",
        help="accept queue of the HTTP, WebSocket and HTTP API ports (not the embedded moto "
        "server's nor the usage proxy's); the kernel caps it at net.core.somaxconn "
        "(default: %(default)s)",
    )
    add(
        "--header-timeout",
        type=positive(float),
        default=DEFAULT_HEADER_TIMEOUT,
        metavar="SECONDS",
        help="real seconds a request's head may take to arrive once it has begun; a stalled "
        "client is cut (default: %(default)g)",
    )
    add(
        "--keepalive-timeout",
        type=positive(float),
        default=DEFAULT_IDLE_TIMEOUT,
        metavar="SECONDS",
        help="real seconds a connection may wait with no request before it is closed; never a "
        "request being handled nor an open WebSocket (default: %(default)g)",
    )
    add(
        "--tls",
        action="store_true",
        help="serve https:// and wss:// with a self-signed certificate made at start-up",
    )
    add(
        "--credentials",
        type=_credentials,
        # argparse converts a string default with ``type`` too: a bad variable is one error line.
        default=os.environ.get(CREDENTIALS_VARIABLE) or None,
        metavar="KEY:SECRET",
        help="verify the SigV4 signatures of @connections and Lambda Invoke calls with this "
        "access key and secret (wrong signature: 403 InvalidSignatureException; another key: "
        "403 UnrecognizedClientException; signed more than 5 min from now: "
        "InvalidSignatureException) and give them to the handlers (default: "
        f"${CREDENTIALS_VARIABLE}, which keeps the secret out of ps; else none: any "
        "well-formed signature is accepted)",
    )
    add(
        "--service",
        type=service_file,
        default=default_service_path(),
        metavar="PATH",
        help="serverless.yml to run, or a directory holding one (serverless.yml, .yaml or "
        ".json) (default: the bundled report app)",
    )
    add("--stage", help="stage name (default: serverless.yml's provider.stage, else dev)")
    add(
        "--param",
        action="append",
        type=param_option,
        default=[],
        metavar="NAME=VALUE",
        help="a ${param:NAME} value, as serverless --param gives it (repeatable)",
    )
    add(
        "--log-level",
        default=log_level,
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="gateway and Lambda log detail (default: %(default)s)",
    )


def _check_websocket_sizes(args: argparse.Namespace) -> None:
    """Refuses a frame limit above the message limit, naming the options (a frame is a part of
    a message: API Gateway's limits are 32 KB frames in 128 KB messages,
    https://docs.aws.amazon.com/apigateway/latest/developerguide/
    apigateway-execution-service-websocket-limits-table.html). Raises ValueError."""
    if args.ws_max_frame > args.ws_max_message:
        raise ValueError(
            f"--ws-max-frame ({args.ws_max_frame} bytes) must be at most --ws-max-message "
            f"({args.ws_max_message} bytes): a frame is a part of a message; raise "
            "--ws-max-message with it"
        )


def _config(args: argparse.Namespace) -> StackConfig:
    _check_websocket_sizes(args)
    return StackConfig(
        host=args.host,
        http_port=args.http_port,
        ws_port=args.ws_port,
        http_api_port=args.http_api_port,
        backend=args.backend,
        backend_port=args.backend_port,
        integration_timeout=args.integration_timeout,
        time_scale=args.time_scale,
        lambda_concurrency=args.lambda_concurrency,
        max_environments=args.max_environments,
        environment_idle=args.environment_idle,
        prewarm=args.prewarm,
        websocket_limits=WebSocketLimits(
            idle_timeout=args.ws_idle_timeout,
            max_duration=args.ws_max_connection,
            max_message_bytes=args.ws_max_message,
            max_frame_bytes=args.ws_max_frame,
            new_connections_per_second=args.ws_connection_rate,
        ),
        service_path=args.service,
        stage=args.stage,
        params=dict(args.param),
        tls=args.tls,
        lambda_mode=args.lambda_mode,
        callback_host=args.callback_host,
        start_localstack=args.start_localstack,
        credentials=args.credentials,
        connection_timeouts=ConnectionTimeouts(
            header_timeout=args.header_timeout, idle_timeout=args.keepalive_timeout
        ),
        listen_backlog=args.listen_backlog,
        on_backend_exit=OnBackendExit(args.on_backend_exit),
        internal_host=args.internal_host,
        allowed_hosts=tuple(args.allowed_hosts),
        allowed_origins=tuple(args.allowed_origins),
        control_token=args.control_token,
        ws_check_origin=args.ws_check_origin,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="timeoutlab",
        description="Reproduce API Gateway's 29 s integration timeout and its fixes locally.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    up = commands.add_parser(
        "up", help="run the REST and WebSocket APIs, the Lambda runtime and the backend"
    )
    _add_stack_options(up, free_ports=False, log_level="INFO")
    up.add_argument(
        "--ready-file",
        type=Path,
        metavar="PATH",
        help="once every port serves, write the /_emulator/health JSON (every URL, the ports "
        "0 picked) to PATH, atomically (a temporary file, then a rename): a program that "
        "started this one waits for the file instead of parsing the banner",
    )
    up.add_argument(
        "--exit-with-parent",
        action="store_true",
        help="stop, as on SIGTERM (backend and execution environments too), when standard "
        "input reaches end of file or the parent process is gone: the parent passes a pipe "
        "it never writes, which closes when it dies, even by SIGKILL",
    )
    demo = commands.add_parser(
        "demo", help="the article's experiment: 5 s and 40 s reports over REST and WebSocket"
    )
    _add_stack_options(demo, free_ports=True, log_level="ERROR")
    demo.add_argument(
        "--rows", type=positive(int), default=1000, help="rows per report (default: %(default)s)"
    )
    for command in (up, demo):
        # Its own parser, so an option-combination error checked after parsing shows the
        # command's usage line, as argparse's own errors do (in ``main``).
        command.set_defaults(command_parser=command)
    scenarios_cli.add_parser(commands)
    return parser


def banner(stack: Stack) -> str:
    """What `timeoutlab up` tells the user: every endpoint, and how to try it."""
    rest, backend, proxy = stack.rest_url, stack.backend, stack.backend_proxy
    remote = stack.config.lambda_mode == "remote"
    lines = [
        f"timeoutlab is up: service {stack.service.name}, stage {stack.service.stage}, "
        f"time scale {stack.clock.scale:g}, integration timeout {stack.timeouts.default:g} s",
        *(
            f"  REST      {route.method} {rest}{route.resource}"
            + ("  (private: x-api-key)" if route.api_key_required else "")
            for route in stack.router.routes
        ),
        *(
            f"  API key   {key.name}: {key.value}"
            + (" (generated)" if key.generated else "")
            + ("" if key.enabled else " (disabled)")
            for key in stack.service.api_keys
        ),
        *(
            f"  HTTP API  {route.key} {stack.http_api_url}/*"
            if route.path is None
            else f"  HTTP API  {route.method} {stack.http_api_url}{route.path}"
            for route in stack.http_api_router.routes
        ),
        f"  WebSocket {stack.ws_url}  routes: {', '.join(stack.ws_router.routes) or 'none'}",
        f"  @connections {stack.connections_url}/@connections/{{connectionId}}",
        f"  Lambda    {stack.http_url}/2015-03-31/functions/{{name}}/invocations",
        "  SigV4     "
        + (
            "any well-formed signature is accepted (--credentials KEY:SECRET verifies them)"
            if stack.credentials is None
            else f"signatures verified for access key {stack.credentials.access_key}; "
            "the handlers sign with it"
        ),
        f"  page      {stack.ui_url}  the article's client and a live view, in a browser",
        f"  control   {stack.http_url}/_emulator/health | metrics | config | reset | live"
        + ("  (Authorization: Bearer --control-token)" if stack.config.control_token else ""),
        f"  backend   {backend.kind if backend else '?'} at "
        f"{backend.endpoint_url if backend else '?'} ({', '.join(_backend_services(stack))})",
    ]
    if remote:
        lines.append(
            "            handlers deployed to its Lambda and invoked there; they reach this "
            f"emulator at {stack.handler_environment()['AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI']}"
        )
    else:
        lines.append(
            f"            handlers reach it through {proxy.url if proxy else '?'}, "
            "which counts what AWS would bill"
        )
    trust = ""
    if stack.certificate is not None:
        lines.append(f"  TLS       self-signed certificate {stack.certificate.certfile}")
        lines.append(
            "            trust it: curl --cacert FILE, SSL_CERT_FILE=FILE, AWS_CA_BUNDLE=FILE"
        )
        trust = f" --cacert {stack.certificate.certfile}"
    example = _example_request(stack)
    if example is not None:
        lines.append(f"try:  curl -s{trust} {example}")
    lines.append("stop: Ctrl-C")
    return "\n".join(lines)


def _backend_services(stack: Stack) -> list[str]:
    """What the service uses of the backend: S3, DynamoDB, SQS (and Lambda when remote)."""
    service = stack.service
    used = {"S3": service.buckets, "DynamoDB": service.tables, "SQS": service.queues}
    names = [name for name, resources in used.items() if resources] or ["S3", "DynamoDB"]
    return names + (["Lambda"] if stack.config.lambda_mode == "remote" else [])


def _example_request(stack: Stack) -> str | None:
    """A first request to try: the article's report, else the first route without parameters."""
    rest = stack.rest_url
    if any(route.key == "POST /reports" for route in stack.router.routes):
        return f'-X POST {rest}/reports -d \'{{"delay": 5000, "amountOfRows": 10}}\''
    for route in stack.router.routes:
        if "{" not in route.resource and route.method != "ANY":
            return f"-X {route.method} {rest}{route.resource}"
    for http_route in stack.http_api_router.routes:
        if http_route.path is not None and "{" not in http_route.path:
            method = "GET" if http_route.method == "ANY" else http_route.method
            return f"-X {method} {stack.http_api_url}{http_route.path}"
    return None


async def _up(
    config: StackConfig, *, ready_file: Path | None = None, exit_with_parent: bool = False
) -> int:
    """Run the stack until SIGINT/SIGTERM (0), the parent's death with ``exit_with_parent`` (0)
    or the backend exit policy says to stop (its exit code, after its one-line message on
    stderr); everything started is stopped either way. With ``ready_file``, the health JSON is
    written there once every port serves."""
    stack = Stack(config)
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    # Handled from before the start: SIGTERM's default would kill this process alone and leave
    # the backend and the execution environments running.
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stopped.set)
    watch = ParentWatch(loop, stopped.set) if exit_with_parent else None
    if watch is not None:
        watch.start()
    try:
        return await _run(stack, stopped, ready_file)
    finally:
        if watch is not None:
            watch.stop()


async def _run(stack: Stack, stopped: asyncio.Event, ready_file: Path | None) -> int:
    """Start ``stack``, announce it (banner, ``ready_file``) and serve until ``stopped`` is set or
    the backend exit policy asks to stop; returns the exit code."""
    # A signal during the start is acted on once the start is over: cancelling it half-way
    # could leave a backend process starting in a worker thread with nobody to stop it.
    await stack.start()  # a failed start raises, everything it started already stopped
    if stopped.is_set():
        print("stopping...", flush=True)
        await stack.stop()
        return 0
    print(banner(stack), flush=True)
    if ready_file is not None:
        try:
            write_ready_file(ready_file, stack.health())
        except OSError as exc:
            print(
                f"timeoutlab: error: cannot write --ready-file {ready_file}: {exc.strerror or exc}",
                file=sys.stderr,
                flush=True,
            )
            await stack.stop()
            return 2
    exiting = asyncio.ensure_future(stack.exit_requested.wait())
    signalled = asyncio.ensure_future(stopped.wait())
    try:
        await asyncio.wait({exiting, signalled}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        exiting.cancel()
        signalled.cancel()
        print("stopping...", flush=True)
        await stack.stop()
    if stack.exit_decision is not None and not stopped.is_set():
        print(f"timeoutlab: error: {stack.exit_decision.message}", file=sys.stderr, flush=True)
        return stack.exit_decision.code
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "scenario":
        # The emulator runs in this process: only its errors would drown the progress lines.
        logging.basicConfig(level=logging.ERROR, format="%(name)s %(message)s")
        return scenarios_cli.main(args)
    try:
        config = _config(args)
    except ValueError as exc:
        args.command_parser.error(str(exc))  # under `timeoutlab up`'s (or demo's) usage
    logging.basicConfig(
        level=getattr(logging, args.log_level),
        format="%(asctime)s %(name)s %(message)s",
        datefmt="%H:%M:%S",
    )
    quiet = max(logging.WARNING, logging.getLogger().level)
    for noisy in ("botocore", "boto3", "urllib3", "httpx", "httpcore", "aiohttp", "websockets"):
        logging.getLogger(noisy).setLevel(quiet)
    try:
        if args.command == "up":
            return asyncio.run(
                _up(config, ready_file=args.ready_file, exit_with_parent=args.exit_with_parent)
            )
        else:
            return 0 if run_demo(config, rows=args.rows).ok else 1
    except (ServiceError, BackendError, DemoServiceError) as exc:
        print(f"timeoutlab: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(
            f"timeoutlab: error: cannot serve on {config.host} "
            f"(ports {config.http_port}, {config.ws_port}, {config.http_api_port}): "
            f"{exc.strerror or exc}",
            file=sys.stderr,
        )
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
