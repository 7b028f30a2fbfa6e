"""The ``timeoutlab`` command: ``up`` runs the system, ``demo`` runs the article's experiment."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path

from emulator.backends.endpoint import BackendError
from emulator.backends.moto_server import DEFAULT_PORT
from emulator.clock import validate_scale
from emulator.core.deadlines import InvalidTimeout, validate_timeout
from emulator.demo import DEMO_TIME_SCALE, run_demo
from emulator.service import ServiceError, default_service_path
from emulator.stack import Stack, StackConfig


def _scale(text: str) -> float:
    try:
        return validate_scale(float(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _timeout(text: str) -> float:
    try:
        return validate_timeout(float(text), "--integration-timeout")
    except (ValueError, InvalidTimeout) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _port(text: str) -> int:
    port = int(text)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0..65535 (0 = any free port), got {port}")
    return port


def _add_stack_options(
    parser: argparse.ArgumentParser,
    *,
    time_scale: float,
    http_port: int,
    backend_port: int,
    log_level: str,
) -> None:
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    parser.add_argument(
        "--http-port",
        type=_port,
        default=http_port,
        help="REST API and /_emulator/ port (default: %(default)s; 0 = any free port)",
    )
    parser.add_argument(
        "--backend",
        default="moto",
        help="moto (embedded moto server, default), localstack (found as localstack-client finds "
        "it: LOCALSTACK_HOST, default localhost:4566), or an endpoint URL such as http://127.0.0.1:4566",
    )
    parser.add_argument(
        "--backend-port",
        type=_port,
        default=backend_port,
        help="port of the embedded moto server (default: %(default)s; 0 = any free port)",
    )
    parser.add_argument(
        "--integration-timeout",
        type=_timeout,
        metavar="SECONDS",
        help="API Gateway integration timeout for all routes (default: serverless.yml's, else 29)",
    )
    parser.add_argument(
        "--time-scale",
        type=_scale,
        default=time_scale,
        help="real seconds per emulated second (default: %(default)s)",
    )
    parser.add_argument(
        "--service",
        type=Path,
        default=default_service_path(),
        help="serverless.yml to run (default: the bundled report app)",
    )
    parser.add_argument(
        "--stage", help="stage name (default: serverless.yml's provider.stage, else dev)"
    )
    parser.add_argument(
        "--log-level",
        default=log_level,
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="gateway and Lambda log detail (default: %(default)s)",
    )


def _config(args: argparse.Namespace) -> StackConfig:
    return StackConfig(
        host=args.host,
        http_port=args.http_port,
        backend=args.backend,
        backend_port=args.backend_port,
        integration_timeout=args.integration_timeout,
        time_scale=args.time_scale,
        service_path=args.service,
        stage=args.stage,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="timeoutlab",
        description="Reproduce API Gateway's 29 s integration timeout and its fixes locally.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    up = commands.add_parser(
        "up", help="run the REST API, the Lambda runtime and the backend until Ctrl-C"
    )
    _add_stack_options(
        up, time_scale=1.0, http_port=3000, backend_port=DEFAULT_PORT, log_level="INFO"
    )
    demo = commands.add_parser(
        "demo", help="the article's experiment: a 5 s and a 40 s report over REST"
    )
    _add_stack_options(
        demo, time_scale=DEMO_TIME_SCALE, http_port=0, backend_port=0, log_level="ERROR"
    )
    demo.add_argument(
        "--rows", type=int, default=1000, help="rows per report (default: %(default)s)"
    )
    return parser


async def _up(config: StackConfig) -> None:
    stack = await Stack(config).start()
    rest = stack.rest_url
    print(
        f"timeoutlab is up: service {stack.service.name}, stage {stack.service.stage}, "
        f"time scale {stack.clock.scale:g}, integration timeout {stack.timeouts.default:g} s\n"
        + "".join(
            f"  REST      {route.method} {rest}{route.resource}\n" for route in stack.router.routes
        )
        + f"  control   {stack.http_url}/_emulator/health | metrics | config | reset\n"
        f"  backend   {stack.backend.kind if stack.backend else '?'} at "
        f"{stack.backend.endpoint_url if stack.backend else '?'} (S3, DynamoDB)\n"
        f'try:  curl -s -X POST {rest}/reports -d \'{{"delay": 5000, "amountOfRows": 10}}\'\n'
        "stop: Ctrl-C",
        flush=True,
    )
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stopped.set)
    try:
        await stopped.wait()
    finally:
        print("stopping...", flush=True)
        await stack.stop()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, args.log_level),
        format="%(asctime)s %(name)s %(message)s",
        datefmt="%H:%M:%S",
    )
    for noisy in ("botocore", "boto3", "urllib3", "httpx", "httpcore", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
    config = _config(args)
    try:
        if args.command == "up":
            asyncio.run(_up(config))
        else:
            run_demo(config, rows=args.rows)
    except (ServiceError, BackendError) as exc:
        print(f"timeoutlab: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(
            f"timeoutlab: error: cannot serve on {config.host}:{config.http_port}: "
            f"{exc.strerror or exc}",
            file=sys.stderr,
        )
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
