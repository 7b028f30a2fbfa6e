"""The servers ``benchmarks/peers.py`` compares, each started on free loopback ports with one app.

- ``Timeoutlab``: ``timeoutlab up --service APP`` (gateway, execution environments, embedded moto).
- ``MiniStack``: the project's MiniStack (``make ministack``), with the app deployed to it through
  the AWS APIs the way ``serverless deploy`` would: Lambda functions, a REST API (v1), an HTTP API
  and a WebSocket API (v2), the S3 buckets and DynamoDB tables.
- ``ServerlessOffline``: ``serverless offline start`` (serverless 3.40.0 + serverless-offline
  13.10.1, installed from ``benchmarks/peers/package-lock.json`` by ``make bench-peers``) running
  the same serverless.yml and the same Python handlers. It has no S3 or DynamoDB, so for the report
  app it is given an embedded moto server of its own (counted in its process tree), and the Lambda
  invoke and ``@connections`` endpoints it serves itself.

Every server is a process group of its own (``start_new_session``), so ``stop`` ends it with all
its children, also after Ctrl-C. Each names the root processes of the tree whose CPU and memory
are measured, and the workloads it cannot run with the reason (``unsupported``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from emulator.backends.bootstrap import bootstrap
from emulator.backends.endpoint import Backend
from emulator.backends.lambda_deploy import deploy
from emulator.backends.moto_server import EmbeddedMoto, free_ports
from emulator.service import ServiceSpec, load_service

ROOT = Path(__file__).absolute().parent.parent
BIN = Path(sys.executable).parent  # the venv running the benchmark, with timeoutlab installed
PEERS = ROOT / "benchmarks" / "peers"
NOOP_SERVICE = PEERS / "noop" / "serverless.yml"
REPORT_SERVICE = ROOT / "reportapp" / "serverless.yml"
HOST = "127.0.0.1"
SERVERLESS_JS = PEERS / "node_modules" / "serverless" / "bin" / "serverless.js"
MINISTACK_BINARY = ROOT / os.environ.get("MINISTACK_VENV", ".venv-ministack") / "bin" / "ministack"
START_TIMEOUT_S = 120.0  # real seconds; serverless-offline alone takes ~15 s on a quiet machine


class StartError(RuntimeError):
    """A server did not come up; the message says which and shows the end of its log."""


@dataclass(frozen=True)
class Endpoints:
    """Where an app is served: the REST API with its stage (``http://H:P/dev``), the HTTP API's
    ``$default`` stage (root), the WebSocket API's URL; None where the server has no such API."""

    rest: str | None
    http_api: str | None
    ws: str | None


def child_environment(**extra: str) -> dict[str, str]:
    """This checkout's code first on PYTHONPATH, whatever the venv has installed."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, **extra}


def _answers(url: str) -> bool:
    """True when ``url`` answers HTTP at all (any status)."""
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


class Server:
    """One peer: a process group started by ``start`` and ended by ``stop``."""

    name = "server"

    def __init__(self, app: str, workdir: Path) -> None:
        self.app = app  # "noop" or "report"
        self.workdir = workdir
        self.endpoints = Endpoints(None, None, None)
        self.unsupported: dict[str, str] = {}  # workload -> why this server cannot run it
        self._process: subprocess.Popen | None = None
        self._log_file = workdir / f"{self.name}-{app}.log"
        self._extra_pids: list[int] = []

    @property
    def service_path(self) -> Path:
        return NOOP_SERVICE if self.app == "noop" else REPORT_SERVICE

    def start(self) -> None:
        raise NotImplementedError

    def root_pids(self) -> list[int]:
        """The processes whose trees (children included) are this server's cost."""
        own = [self._process.pid] if self._process is not None else []
        return own + self._extra_pids

    def _spawn(self, command: list[str], cwd: Path, environment: dict[str, str]) -> None:
        with self._log_file.open("ab") as log:
            self._process = subprocess.Popen(
                command,
                cwd=cwd,
                env=environment,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _wait_until(self, ready_url: str, timeout: float = START_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise StartError(f"{self.name} exited at start:\n{self.log_tail()}")
            if _answers(ready_url):
                return
            time.sleep(0.25)
        raise StartError(f"{self.name} did not answer within {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self._log_file.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM to the whole process group, then SIGKILL after ``grace`` real seconds.

        Signals are blocked meanwhile, so a second Ctrl-C cannot leave the group behind."""
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            process, self._process = self._process, None
            if process is not None and process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(grace)
                # children of the group that outlived their leader too
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(grace)
            self._stop_extras()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)

    def _stop_extras(self) -> None:
        pass


class Timeoutlab(Server):
    """``timeoutlab up`` with the app, time scale 1 (every figure real time), on free ports."""

    name = "timeoutlab"

    def start(self) -> None:
        http, ws, http_api, backend = free_ports(4)
        command = [
            str(BIN / "timeoutlab"), "up", "--service", str(self.service_path),
            "--host", HOST, "--http-port", str(http), "--ws-port", str(ws),
            "--http-api-port", str(http_api), "--backend-port", str(backend),
            "--time-scale", "1", "--ws-connection-rate", "100000", "--log-level", "WARNING",
        ]  # fmt: skip
        self._spawn(command, self.workdir, child_environment())
        self._wait_until(f"http://{HOST}:{http}/_emulator/health")
        self.endpoints = Endpoints(
            rest=f"http://{HOST}:{http}/dev",
            http_api=f"http://{HOST}:{http_api}" if self.app == "noop" else None,
            ws=f"ws://{HOST}:{ws}/dev",
        )


class ServerlessOffline(Server):
    """``serverless offline start`` on explicit ports (its defaults, 3000-3002, are ours)."""

    name = "serverless-offline"

    @staticmethod
    def missing() -> str | None:
        """Why it cannot run here, or None."""
        if shutil.which("node") is None:
            return "node is not installed"
        if not SERVERLESS_JS.exists():
            return f"not installed at {SERVERLESS_JS.parent.parent}: run `make bench-peers`"
        return None

    def start(self) -> None:
        http, ws, lambda_port, alb = free_ports(4)
        environment = child_environment(
            # its Python runner spawns `python3` from $VIRTUAL_ENV/bin first: this venv's
            VIRTUAL_ENV=sys.prefix,
            SLS_TELEMETRY_DISABLED="1",
            SLS_NOTIFICATIONS_MODE="off",
            SLS_DEPRECATION_DISABLE="*",
            AWS_ACCESS_KEY_ID="test",
            AWS_SECRET_ACCESS_KEY="test",  # emulators' dummy credentials
            AWS_DEFAULT_REGION="us-east-1",
        )
        service_dir = self.service_path.parent
        if self.app == "report":
            service_dir = self._report_service(environment, ws, lambda_port)
        command = [
            "node", str(SERVERLESS_JS), "offline", "start", "--host", HOST,
            "--httpPort", str(http), "--websocketPort", str(ws),
            "--lambdaPort", str(lambda_port), "--albPort", str(alb),
        ]  # fmt: skip
        self._spawn(command, service_dir, environment)
        self._wait_until(f"http://{HOST}:{http}/")
        self._wait_until(f"http://{HOST}:{ws}/")
        self.endpoints = Endpoints(
            rest=f"http://{HOST}:{http}/dev",
            http_api=f"http://{HOST}:{http}" if self.app == "noop" else None,
            ws=f"ws://{HOST}:{ws}",
        )

    def _report_service(self, environment: dict[str, str], ws: int, lambda_port: int) -> Path:
        """The report app in a folder of its own with the plugin named (reportapp's own
        serverless.yml has no plugins), its S3 and DynamoDB on an embedded moto server, and the
        Lambda Invoke and @connections calls sent to serverless-offline's own endpoints."""
        moto = EmbeddedMoto(port=free_ports(1)[0]).start()
        self._moto: EmbeddedMoto | None = moto
        if moto.pid is not None:
            self._extra_pids.append(moto.pid)
        service = load_service(REPORT_SERVICE)
        bootstrap(service, moto)
        folder = Path(tempfile.mkdtemp(prefix="report-", dir=self.workdir))
        for source in REPORT_SERVICE.parent.glob("*.py"):
            shutil.copy(source, folder / source.name)
        # ${aws:accountId} is resolved through STS, which offline has no way to reach; it only
        # appears in IAM statements, which serverless-offline does not apply.
        text = REPORT_SERVICE.read_text().replace("${aws:accountId}", "000000000000")
        text += "\nplugins:\n  - serverless-offline\n"
        (folder / "serverless.yml").write_text(text)
        (folder / "node_modules").symlink_to(PEERS / "node_modules")
        environment.update(
            AWS_ENDPOINT_URL=moto.endpoint_url,
            AWS_ENDPOINT_URL_LAMBDA=f"http://{HOST}:{lambda_port}",
            AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI=f"http://{HOST}:{ws}",
        )
        return folder

    def _stop_extras(self) -> None:
        moto = getattr(self, "_moto", None)
        if moto is not None:
            moto.close()
            self._moto = None


@dataclass
class _Deployed:
    rest_id: str | None = None
    http_api_id: str | None = None
    ws_id: str | None = None
    function_arns: dict[str, str] = field(default_factory=dict)


class MiniStack(Server):
    """MiniStack with the app deployed to it through the AWS APIs; its APIs are reached by the
    path form ``/_aws/execute-api/{apiId}/{stage}/...`` that MiniStack serves on its one port."""

    name = "ministack"

    @staticmethod
    def missing() -> str | None:
        if not MINISTACK_BINARY.exists():
            return f"not installed at {MINISTACK_BINARY}: run `make ministack`"
        return None

    def start(self) -> None:
        (port,) = free_ports(1)
        self._tmp = Path(tempfile.mkdtemp(prefix="ministack-tmp-", dir=self.workdir))
        environment = child_environment(
            GATEWAY_PORT=str(port),
            BIND_HOST=HOST,
            IOT_MTLS_ENABLED="0",  # no MQTT listener on 0.0.0.0:8883
            LOG_LEVEL="WARNING",
            # the folder it leaves per function it ran: in one of ours, removed at stop
            TMPDIR=str(self._tmp),
        )
        self._spawn([str(MINISTACK_BINARY)], self.workdir, environment)
        endpoint = f"http://{HOST}:{port}"
        self._wait_until(f"{endpoint}/_ministack/health")
        backend = Backend(kind="url", endpoint_url=endpoint)
        service = load_service(self.service_path)
        deployed = _deploy(service, backend)
        execute = f"{endpoint}/_aws/execute-api"
        self.endpoints = Endpoints(
            rest=f"{execute}/{deployed.rest_id}/{service.stage}" if deployed.rest_id else None,
            http_api=f"{execute}/{deployed.http_api_id}" if deployed.http_api_id else None,
            ws=f"ws://{HOST}:{port}/_aws/execute-api/{deployed.ws_id}/{service.stage}"
            if deployed.ws_id
            else None,
        )

    def _stop_extras(self) -> None:
        tmp = getattr(self, "_tmp", None)  # None: stopped before it started
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _deploy(service: ServiceSpec, backend: Backend) -> _Deployed:
    """``service`` on ``backend`` as ``serverless deploy`` would make it: buckets and tables,
    functions, then a REST API (v1, Lambda proxy integrations), an HTTP API (v2, payload 2.0,
    ``$default`` stage) and a WebSocket API (v2, route responses for two-way routes).

    Shapes: Lambda proxy integrations and their ``arn:aws:apigateway:REGION:lambda:path/...`` URI
    (https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html),
    HTTP API stages, ``$default`` served at the root
    (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-stages.html), and a
    WebSocket route's reply reaching the client only through a ``$default`` route response
    (https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-websocket-api-route-response.html).
    """
    deployed = _Deployed()
    v2 = backend.client("apigatewayv2")
    if service.websocket_routes:
        deployed.ws_id = v2.create_api(
            Name=f"{service.name}-websocket",
            ProtocolType="WEBSOCKET",
            RouteSelectionExpression=service.websocket_selection_expression,
        )["ApiId"]
    bootstrap(service, backend)
    environment = backend.handler_environment()
    if deployed.ws_id:
        # the handlers' @connections calls go to MiniStack's management API for this API
        environment["AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI"] = (
            f"{backend.endpoint_url}/_aws/execute-api/{deployed.ws_id}/{service.stage}"
        )
    deploy(service, backend, environment, time_scale=1.0)
    lambda_client = backend.client("lambda")
    for key, spec in service.functions.items():
        arn = lambda_client.get_function(FunctionName=spec.name)["Configuration"]["FunctionArn"]
        deployed.function_arns[key] = arn
    region = backend.region

    def uri(function: str) -> str:
        arn = deployed.function_arns[function]
        return f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{arn}/invocations"

    if service.rest_routes:
        v1 = backend.client("apigateway")
        rest_id = v1.create_rest_api(name=f"{service.name}-rest")["id"]
        resources = {r["path"]: r["id"] for r in v1.get_resources(restApiId=rest_id)["items"]}
        for route in service.rest_routes:
            parent = "/"
            for part in route.resource.strip("/").split("/"):
                path = f"{parent.rstrip('/')}/{part}"
                if path not in resources:
                    resources[path] = v1.create_resource(
                        restApiId=rest_id, parentId=resources[parent], pathPart=part
                    )["id"]
                parent = path
            resource_id = resources[route.resource]
            v1.put_method(
                restApiId=rest_id,
                resourceId=resource_id,
                httpMethod=route.method,
                authorizationType="NONE",
            )
            v1.put_integration(
                restApiId=rest_id,
                resourceId=resource_id,
                httpMethod=route.method,
                type="AWS_PROXY",
                integrationHttpMethod="POST",
                uri=uri(route.function),
            )
        v1.create_deployment(restApiId=rest_id, stageName=service.stage)
        deployed.rest_id = rest_id
    if service.http_api_routes:
        api_id = v2.create_api(Name=f"{service.name}-http", ProtocolType="HTTP")["ApiId"]
        for http_route in service.http_api_routes:
            integration = v2.create_integration(
                ApiId=api_id,
                IntegrationType="AWS_PROXY",
                IntegrationUri=deployed.function_arns[http_route.function],
                PayloadFormatVersion=http_route.payload,
            )["IntegrationId"]
            v2.create_route(
                ApiId=api_id,
                RouteKey=f"{http_route.method} {http_route.path}",
                Target=f"integrations/{integration}",
            )
        v2.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
        deployed.http_api_id = api_id
    if deployed.ws_id:
        for ws_route in service.websocket_routes:
            integration = v2.create_integration(
                ApiId=deployed.ws_id,
                IntegrationType="AWS_PROXY",
                IntegrationUri=uri(ws_route.function),
            )["IntegrationId"]
            arguments = {}
            if ws_route.two_way:
                arguments["RouteResponseSelectionExpression"] = "$default"
            route_id = v2.create_route(
                ApiId=deployed.ws_id,
                RouteKey=ws_route.key,
                Target=f"integrations/{integration}",
                **arguments,
            )["RouteId"]
            if ws_route.two_way:
                v2.create_route_response(
                    ApiId=deployed.ws_id, RouteId=route_id, RouteResponseKey="$default"
                )
        v2.create_stage(ApiId=deployed.ws_id, StageName=service.stage, AutoDeploy=True)
    return deployed
