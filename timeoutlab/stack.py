"""``Stack``: a running timeoutlab stack (``timeoutlab up`` in a child process) and its handle.

The stack runs in a process of its own, so nothing it does reaches the test process: not its
environment variables, ``sys.path``, ``sys.modules`` nor stdout; a crashing handler cannot end
the tests; two stacks run side by side; each pytest-xdist worker gets its own, on free ports.
The child stops with its parent (``--exit-with-parent``), even when the parent is SIGKILLed.

Every URL comes from the child's ``/_emulator/health`` (written to ``--ready-file`` once every
port serves). Times: ``time_scale`` is real seconds per emulated second; timeouts that say
"real" are wall-clock seconds, everything else emulated.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from timeoutlab.metrics import MetricsSnapshot
from timeoutlab.settings import StackSettings

if TYPE_CHECKING:
    from botocore.client import BaseClient

#: The environment variable ``timeoutlab up`` reads its ``--control-token`` from: the token goes
#: to the child that way, never on its command line (``ps`` shows command lines).
CONTROL_TOKEN_VARIABLE = "TIMEOUTLAB_CONTROL_TOKEN"
#: The one it reads its ``--credentials`` from, for the same reason.
CREDENTIALS_VARIABLE = "TIMEOUTLAB_CREDENTIALS"
#: Lines of the child's output a ``StackError`` quotes.
OUTPUT_TAIL_LINES = 40
#: Real seconds between two looks at the ready file, the busy counts, the metrics.
POLL_S = 0.02
#: Real seconds ``stop`` waits for the child's own stop (backend, execution environments) before
#: killing its whole process group.
STOP_TIMEOUT_S = 30.0
#: Real seconds one control-plane call may take.
CONTROL_TIMEOUT_S = 30.0
#: The emulator's dummy credentials, when it verifies none (any well-formed signature passes).
DUMMY_CREDENTIALS = ("test", "test")
#: boto3 services served by the stack's backend endpoint (the embedded moto server).
BACKEND_SERVICES = ("s3", "dynamodb", "sqs")
#: The route key that means "the API-wide default" in ``set_integration_timeout``.
DEFAULT_ROUTE = "*"
#: A stack's folder (its ready file and log) in the temporary folder is named this prefix, the
#: owning process's id, a dash and mkdtemp's random part: a later start removes the folders
#: whose owner is gone without having removed them (SIGKILL), see ``remove_orphaned_workdirs``.
WORKDIR_PREFIX = "timeoutlab-stack-"


class StackError(RuntimeError):
    """A stack that did not start, or whose control plane failed. ``output_tail`` is the last
    ``OUTPUT_TAIL_LINES`` lines of the child's output (stdout and stderr: its log, the error
    that stopped it), ``returncode`` its exit code (None: it was still running, e.g. at the start
    timeout, and was killed)."""

    def __init__(self, message: str, *, output_tail: str = "", returncode: int | None = None):
        full = (
            message if not output_tail else f"{message}\n--- timeoutlab output ---\n{output_tail}"
        )
        super().__init__(full)
        self.output_tail = output_tail
        self.returncode = returncode


class ApiKind(StrEnum):
    """Which of a stack's APIs a URL belongs to."""

    REST = "rest"
    HTTP_API = "http_api"
    WEBSOCKET = "websocket"


@dataclass(frozen=True)
class TimeoutConfig:
    """The integration timeouts in force (emulated seconds), as ``GET /_emulator/config`` says:
    ``default_s`` of REST and WebSocket routes; ``routes`` (REST and WebSocket route key ->
    timeout in force) and ``overrides`` (those set per route); the same for HTTP API routes
    (``http_api_routes``, ``http_api_overrides``; their default is AWS's fixed 30 s).
    ``Stack.restore_integration_timeouts`` puts a saved one back."""

    default_s: float
    routes: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    overrides: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    http_api_routes: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    http_api_overrides: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> TimeoutConfig:
        def split(described: Mapping[str, Any]) -> tuple[dict[str, float], dict[str, float]]:
            in_force = {k: float(v["integrationTimeout"]) for k, v in described.items()}
            own = {k: in_force[k] for k, v in described.items() if v.get("source") == "route"}
            return in_force, own

        routes, overrides = split(data.get("routes") or {})
        http_routes, http_overrides = split(data.get("httpApiRoutes") or {})
        return cls(
            default_s=float(data["integrationTimeout"]),
            routes=MappingProxyType(routes),
            overrides=MappingProxyType(overrides),
            http_api_routes=MappingProxyType(http_routes),
            http_api_overrides=MappingProxyType(http_overrides),
        )


# -- the registry of running stacks, by origin, for the assertion helpers ---------------------

_REGISTRY: dict[str, tuple[Stack, ApiKind]] = {}
_REGISTRY_LOCK = threading.Lock()
_ATEXIT_REGISTERED = False
_LOOPBACK_NAMES = {"localhost": "127.0.0.1", "[::1]": "[::1]"}


def _origin(url: str) -> str:
    """``host:port`` of ``url``, loopback names folded (``localhost`` -> ``127.0.0.1``), so the
    response of a client that called ``localhost`` still finds its stack."""
    parts = urlsplit(str(url))
    host = (parts.hostname or "").lower()
    host = _LOOPBACK_NAMES.get(host, host)
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    default = 443 if parts.scheme in ("https", "wss") else 80
    return f"{host}:{parts.port or default}"


def find_stack(url: str) -> tuple[Stack, ApiKind] | None:
    """The running stack (started in this process) that serves ``url``, and which API of it;
    None when no running stack does."""
    with _REGISTRY_LOCK:
        return _REGISTRY.get(_origin(url))


def running_stacks() -> list[Stack]:
    """The stacks started in this process and not yet stopped."""
    with _REGISTRY_LOCK:
        return list(dict.fromkeys(stack for stack, _ in _REGISTRY.values()))


def _stop_all() -> None:
    for stack in running_stacks():
        with contextlib.suppress(Exception):
            stack.stop()


def _child_environment(settings: StackSettings) -> dict[str, str]:
    """The child's environment: this process's (a copy; ``os.environ`` is never changed), with
    the credentials and the control token of ``settings`` (and no others), unbuffered output,
    and, in a source checkout (``pyproject.toml`` beside the packages: a clone, an editable
    install), the checkout first on ``PYTHONPATH``, so the child runs the emulator of this very
    ``timeoutlab``. Installed packages need nothing."""
    environment = dict(os.environ)
    # The settings alone decide: a variable inherited from the caller's shell must not turn
    # signature checks or the token on behind them.
    for variable, value in (
        (CONTROL_TOKEN_VARIABLE, settings.control_token),
        (CREDENTIALS_VARIABLE, settings.credentials),
    ):
        environment.pop(variable, None)
        if value is not None:
            environment[variable] = value
    environment["PYTHONUNBUFFERED"] = "1"
    root = Path(__file__).resolve().parent.parent
    if (root / "pyproject.toml").is_file() and (root / "emulator" / "__init__.py").is_file():
        paths = [str(root), *filter(None, environment.get("PYTHONPATH", "").split(os.pathsep))]
        environment["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    return environment


def _tail(path: Path, lines: int = OUTPUT_TAIL_LINES) -> str:
    try:
        with path.open(encoding="utf-8", errors="replace") as stream:
            return "".join(deque(stream, maxlen=lines)).rstrip()
    except OSError:
        return ""


class Stack:
    """A handle to one running stack. Make one with ``Stack.start(settings)`` (or
    ``start_stack``), use it as a context manager or call ``stop()``.

    URLs (no trailing slash): ``rest_url`` (REST API, stage included: ``http://127.0.0.1:PORT/dev``),
    ``http_api_url`` (HTTP API at the root, None when the service has no ``httpApi`` events),
    ``ws_url`` (``ws://127.0.0.1:PORT/dev``), ``connections_url`` (the ``@connections`` endpoint
    as boto3's ``apigatewaymanagementapi`` takes it), ``http_url`` (the HTTP port: Lambda Invoke
    API), ``control_url`` (``.../_emulator``), ``backend_url`` (the embedded moto server).
    """

    def __init__(
        self,
        settings: StackSettings,
        process: subprocess.Popen[bytes],
        health: Mapping[str, Any],
        workdir: Path,
    ) -> None:
        """Use ``Stack.start``: this wraps a child that is already serving."""
        self.settings = settings
        self._process = process
        self._workdir = workdir
        self._health = dict(health)
        self._lock = threading.Lock()
        self._stopped = False
        self.stage: str = health["stage"]
        self.service_name: str = health["service"]
        self.rest_url: str = health["rest_api"]
        self.ws_url: str = health["websocket_api"]
        self.connections_url: str = health["connections_api"]
        self.http_api_url: str | None = health.get("http_api")
        self.http_url: str = self.rest_url[: -(len(self.stage) + 1)]
        self.control_url: str = f"{self.http_url}/_emulator"
        backend = health.get("backend") or {}
        self.backend_url: str | None = backend.get("endpoint")
        self.region: str = backend.get("region") or "us-east-1"
        self.time_scale: float = float(health["time_scale"])
        headers = {"Content-Type": "application/json"}
        if settings.control_token is not None:
            headers["Authorization"] = f"Bearer {settings.control_token}"
        # Never the environment's proxies: every URL here is the stack's own.
        self._http = httpx.Client(trust_env=False, timeout=CONTROL_TIMEOUT_S, headers=headers)

    # -- life cycle ---------------------------------------------------------------------------

    @classmethod
    def start(cls, settings: StackSettings) -> Stack:
        """Start ``timeoutlab up`` for ``settings`` in a child process and return once every
        port serves. Raises ``StackError`` (with the child's last lines of output) when the child
        exits first (a bad ``serverless.yml``, a port it cannot bind, a crash) or has not served
        within ``settings.start_timeout_s`` real seconds (it is then killed)."""
        global _ATEXIT_REGISTERED
        remove_orphaned_workdirs()
        workdir = Path(tempfile.mkdtemp(prefix=f"{WORKDIR_PREFIX}{os.getpid()}-"))
        ready, log_path = workdir / "ready.json", workdir / "emulator.log"
        command = [sys.executable, "-m", "emulator.cli", *settings.command(ready)]
        try:
            with log_path.open("wb") as log:
                process = subprocess.Popen(
                    command,
                    stdin=subprocess.PIPE,  # never written: its end of file is our death
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=_child_environment(settings),
                    cwd=settings.service.parent,
                    # Its own process group: Ctrl-C reaches the tests, which stop it in order;
                    # a kill after a failed stop reaches its backend and environments too.
                    start_new_session=True,
                )
        except OSError as exc:
            shutil.rmtree(workdir, ignore_errors=True)
            raise StackError(f"cannot run {sys.executable}: {exc}") from exc
        try:
            health = _wait_ready(process, ready, log_path, settings.start_timeout_s)
        except BaseException:
            _kill(process)
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        stack = cls(settings, process, health, workdir)
        with _REGISTRY_LOCK:
            for url, kind in stack._urls():
                _REGISTRY[_origin(url)] = (stack, kind)
            if not _ATEXIT_REGISTERED:
                atexit.register(_stop_all)
                _ATEXIT_REGISTERED = True
        return stack

    def _urls(self) -> list[tuple[str, ApiKind]]:
        urls = [(self.rest_url, ApiKind.REST), (self.ws_url, ApiKind.WEBSOCKET)]
        if self.http_api_url is not None:
            urls.append((self.http_api_url, ApiKind.HTTP_API))
        return urls

    @property
    def pid(self) -> int:
        """The child process's id (``timeoutlab up``)."""
        return self._process.pid

    @property
    def running(self) -> bool:
        """True until ``stop`` or the child's exit."""
        return not self._stopped and self._process.poll() is None

    @property
    def log_path(self) -> Path:
        """The child's output (its log and the handlers' prints) until ``stop`` removes it."""
        return self._workdir / "emulator.log"

    def output_tail(self, lines: int = OUTPUT_TAIL_LINES) -> str:
        """The child's last ``lines`` lines of output (its log, the handlers' prints)."""
        return _tail(self.log_path, lines)

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """Stop the stack the way Ctrl-C stops ``timeoutlab up`` (gateways, execution
        environments, the embedded moto server), waiting up to ``timeout_s`` real seconds before
        killing the child's process group. Safe to call again."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        with _REGISTRY_LOCK:
            for key in [key for key, (stack, _) in _REGISTRY.items() if stack is self]:
                del _REGISTRY[key]
        process = self._process
        if process.poll() is None:
            with contextlib.suppress(OSError):
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                _kill(process)
        with contextlib.suppress(OSError):
            if process.stdin is not None:
                process.stdin.close()
        self._http.close()
        shutil.rmtree(self._workdir, ignore_errors=True)

    def __enter__(self) -> Stack:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return (
            f"<timeoutlab.Stack {self.service_name} {self.rest_url} "
            f"scale {self.time_scale:g} {state}>"
        )

    # -- the control plane --------------------------------------------------------------------

    def _call(self, method: str, path: str, body: object = None) -> httpx.Response:
        if self._stopped:
            raise StackError(f"the stack {self.rest_url} is stopped")
        try:
            content = None if body is None else json.dumps(body).encode()
            return self._http.request(method, f"{self.control_url}/{path}", content=content)
        except httpx.HTTPError as exc:
            code = self._process.poll()
            raise StackError(
                f"{method} {self.control_url}/{path} failed: {exc}"
                + ("" if code is None else f" (the stack exited with code {code})"),
                output_tail=self.output_tail(),
                returncode=code,
            ) from exc

    def _json(self, method: str, path: str, body: object = None) -> Any:
        answer = self._call(method, path, body)
        if answer.status_code == 400:
            raise ValueError(_message(answer))
        if answer.status_code in (401, 403):
            raise PermissionError(
                f"{method} {self.control_url}/{path}: {answer.status_code} {_message(answer)} "
                "(does StackSettings.control_token match the stack's?)"
            )
        if answer.status_code != 200:
            raise StackError(
                f"{method} {self.control_url}/{path}: {answer.status_code} {answer.text[:300]}"
            )
        return answer.json()

    def health(self) -> dict[str, Any]:
        """``GET /_emulator/health``: ``status`` (``ok``, ``degraded``), URLs, routes, backend,
        time scale, ``busy`` (what is still going on; ``{}`` when idle). Raises StackError when
        the stack does not answer."""
        result: dict[str, Any] = self._json("GET", "health")
        return result

    @property
    def metrics(self) -> MetricsSnapshot:
        """The figures since start or the last ``reset()`` (``GET /_emulator/metrics``), as a
        frozen ``MetricsSnapshot`` (emulated ms and s, bytes)."""
        return MetricsSnapshot.parse(self._json("GET", "metrics"))

    def reset(self) -> None:
        """Zero the metrics (``POST /_emulator/reset``); timeouts and data are kept."""
        self._json("POST", "reset")

    def wait_idle(self, timeout_s: float = 30.0) -> None:
        """Block until nothing is busy in the stack (no invocation running, no async event
        queued or waiting for a retry, no WebSocket open, no ``$disconnect`` pending), polling
        ``health()["busy"]``. ``timeout_s`` is real seconds; raises TimeoutError naming what is
        still busy when it passes first."""
        deadline = time.monotonic() + timeout_s
        while busy := self.health().get("busy") or {}:
            if time.monotonic() >= deadline:
                details = ", ".join(f"{count} {what}" for what, count in busy.items())
                raise TimeoutError(
                    f"the stack {self.rest_url} is still busy after {timeout_s:g} real s: {details}"
                )
            time.sleep(POLL_S)

    # -- integration timeouts -----------------------------------------------------------------

    def integration_timeouts(self) -> TimeoutConfig:
        """The integration timeouts in force (``GET /_emulator/config``); keep it to put back
        with ``restore_integration_timeouts``."""
        return TimeoutConfig.parse(self._json("GET", "config"))

    def set_integration_timeout(
        self, route: str | None, seconds: float | None, *, api: ApiKind | str | None = None
    ) -> TimeoutConfig:
        """Set one integration timeout, in emulated seconds, from the next request on.

        ``route`` None or ``"*"``: the default of REST and WebSocket routes (``seconds`` 0.05..
        900); a REST route key (``"POST /reports"``), a WebSocket route key (``"generateReport"``)
        or an HTTP API route key (``"GET /items/{id}"``; 0.05..30 s): that route alone;
        ``seconds`` None drops its own timeout so the default applies again. A key both the REST
        and the HTTP API have is set on both unless ``api`` (``"rest"``: REST and WebSocket,
        ``"http_api"``) names one. Returns the
        config now in force; raises ValueError with the emulator's message for an unknown route
        or a value API Gateway refuses (nothing is changed then)."""
        return self.set_integration_timeouts({route: seconds}, api=api)

    def set_integration_timeouts(
        self,
        timeouts: Mapping[str | None, float | None],
        *,
        api: ApiKind | str | None = None,
    ) -> TimeoutConfig:
        """Several ``set_integration_timeout`` at once, in one change: all or nothing."""
        described = self._health
        http_api_keys = set(described.get("http_api_routes") or [])
        rest_keys = set(described.get("routes") or []) | set(
            described.get("websocket_routes") or []
        )
        kind = None if api is None else ApiKind(api)
        patch: dict[str, Any] = {}
        for route, seconds in timeouts.items():
            if route is None or route == DEFAULT_ROUTE:
                if seconds is None:
                    raise ValueError("the default integration timeout needs a number of seconds")
                patch["integrationTimeout"] = seconds
                continue
            sections = []
            if route in http_api_keys and kind is not ApiKind.REST:
                sections.append("httpApiRoutes")
            if route not in http_api_keys or (route in rest_keys and kind is not ApiKind.HTTP_API):
                sections.append("routes")  # an unknown key too: the emulator says why not
            for section in sections:
                patch.setdefault(section, {})[route] = seconds
        return TimeoutConfig.parse(self._json("PUT", "config", patch))

    def restore_integration_timeouts(self, saved: TimeoutConfig) -> TimeoutConfig:
        """Put back the timeouts of ``saved`` (from ``integration_timeouts()``): its default, and
        exactly its per-route overrides (others dropped). Returns the config now in force."""
        patch: dict[str, Any] = {
            "integrationTimeout": saved.default_s,
            "routes": {key: saved.overrides.get(key) for key in saved.routes},
        }
        if saved.http_api_routes:
            patch["httpApiRoutes"] = {
                key: saved.http_api_overrides.get(key) for key in saved.http_api_routes
            }
        return TimeoutConfig.parse(self._json("PUT", "config", patch))

    # -- AWS clients --------------------------------------------------------------------------

    def client(self, service_name: str, **client_kwargs: Any) -> BaseClient:
        """A boto3 client for this stack, signed with its credentials (``settings.credentials``,
        else the dummy ``test``/``test``), from a private boto3 session: nothing is read from or
        written to ``os.environ`` for credentials, region or endpoint.

        ``service_name``: ``"s3"``, ``"dynamodb"``, ``"sqs"`` (the backend the handlers use),
        ``"apigatewaymanagementapi"`` (``@connections`` at ``connections_url``) or ``"lambda"``
        (the Invoke API). ``client_kwargs`` go to ``Session.client`` (e.g. ``config=``).
        Raises ValueError for another service."""
        import boto3.session  # heavy: only for those who ask for a client

        endpoints = {
            "apigatewaymanagementapi": self.connections_url,
            "lambda": self.http_url,
            **dict.fromkeys(BACKEND_SERVICES, self.backend_url),
        }
        if service_name not in endpoints:
            raise ValueError(
                f"no {service_name!r} endpoint in a timeoutlab stack; clients: "
                + ", ".join(sorted(endpoints))
            )
        endpoint = endpoints[service_name]
        if endpoint is None:
            raise StackError(f"the stack {self.rest_url} reports no backend endpoint")
        key, secret = self.settings.credential_pair or DUMMY_CREDENTIALS
        session = boto3.session.Session(
            aws_access_key_id=key, aws_secret_access_key=secret, region_name=self.region
        )
        return session.client(service_name, endpoint_url=endpoint, **client_kwargs)


def _message(answer: httpx.Response) -> str:
    """The ``message`` of an emulator's JSON error, else its text."""
    try:
        return str(answer.json()["message"])
    except (ValueError, KeyError, TypeError):
        return answer.text[:300]


def _kill(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the child's whole process group (its backend and execution environments too),
    then reap it."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except OSError:
            with contextlib.suppress(OSError):
                process.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(STOP_TIMEOUT_S)
    with contextlib.suppress(OSError):
        if process.stdin is not None:
            process.stdin.close()


def _wait_ready(
    process: subprocess.Popen[bytes], ready: Path, log_path: Path, timeout_s: float
) -> dict[str, Any]:
    """The health JSON the child writes to ``ready`` once it serves; StackError (with its
    output's tail) when it exits first or ``timeout_s`` real seconds pass."""
    deadline = time.monotonic() + timeout_s
    while True:
        if ready.exists():
            health: dict[str, Any] = json.loads(ready.read_text(encoding="utf-8"))
            return health
        code = process.poll()
        if code is not None:
            raise StackError(
                f"timeoutlab up exited with code {code} before serving",
                output_tail=_tail(log_path),
                returncode=code,
            )
        if time.monotonic() >= deadline:
            raise StackError(
                f"timeoutlab up did not serve within {timeout_s:g} real s (start_timeout_s)",
                output_tail=_tail(log_path),
            )
        time.sleep(POLL_S)


def start_stack(settings: StackSettings) -> Stack:
    """``Stack.start(settings)``: start a stack, return its handle once every port serves.
    Raises StackError when it cannot start (the child's last lines of output in the message)."""
    return Stack.start(settings)


def remove_orphaned_workdirs(directory: Path | None = None) -> list[Path]:
    """Remove the stack folders in ``directory`` (default: the temporary folder) whose owning
    process has ended: those a killed test process (SIGKILL, a CI runner's timeout) could not
    remove. A folder whose owner runs, or whose name carries no owner, is left alone. Returns the
    folders removed."""
    removed = []
    for path in Path(directory or tempfile.gettempdir()).glob(f"{WORKDIR_PREFIX}*-*"):
        owner = path.name.removeprefix(WORKDIR_PREFIX).split("-", 1)[0]
        if owner.isdigit() and not _running(int(owner)):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _running(pid: int) -> bool:
    """Whether a process ``pid`` exists (another user's counts: it is not ours to judge)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
