"""LocalStack in Docker, started and stopped by timeoutlab (``up --backend localstack
--start-localstack``), through the Docker SDK.

The image and the settings are the ones ``docker-compose.yml`` uses (a test holds the two to the
same tag and environment), so a LocalStack started here behaves as the Compose one does.

Why 4.14.0: since March 23, 2026 LocalStack publishes one unified image that exits at start
(code 55) without a ``LOCALSTACK_AUTH_TOKEN``: ``latest`` and every release after 4.14.0 (the
calendar-versioned 2026.3.0 and later) need an account. 4.14.0 (February 26, 2026) is the last
community release that runs without one.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import httpx

from emulator.backends.endpoint import Backend, BackendError

if TYPE_CHECKING:
    from docker import DockerClient
    from docker.models.containers import Container

log = logging.getLogger("timeoutlab.backend")

#: The one place the LocalStack image is named (docker-compose.yml must use the same tag).
LOCALSTACK_IMAGE = "localstack/localstack:4.14.0"
#: The services the report system needs, and the states in which LocalStack serves them
#: ("available" ones start on their first request).
LOCALSTACK_SERVICES = ("s3", "dynamodb", "lambda")
READY_STATES = frozenset({"available", "running"})
#: What the emulator relies on, as in docker-compose.yml: presigned URLs are checked as S3 does,
#: expired DynamoDB items are removed (AWS removes them late, readers still filter on ``ttl``).
LOCALSTACK_ENVIRONMENT: Mapping[str, str] = {
    "SERVICES": ",".join(LOCALSTACK_SERVICES),
    "S3_SKIP_SIGNATURE_VALIDATION": "0",
    "DYNAMODB_REMOVE_EXPIRED_ITEMS": "1",
}
#: Started from here (not Compose), the Lambda containers reach an emulator on the host by this
#: name (``--lambda remote --host 0.0.0.0 --callback-host host.docker.internal``).
HOST_GATEWAY_FLAGS = {"LAMBDA_DOCKER_FLAGS": "--add-host=host.docker.internal:host-gateway"}
#: Where the Docker SDK looks for the engine when DOCKER_HOST is not set.
DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
#: LocalStack's Lambda executor starts function containers through this socket.
DOCKER_SOCKET = "/var/run/docker.sock"
CONTAINER_PORT = 4566
START_TIMEOUT_SECONDS = 120.0
LABEL = "io.timeoutlab.role"


def docker_host() -> str:
    """Where the Docker SDK looks for an engine: DOCKER_HOST, else the default socket."""
    return os.environ.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST


def docker_client(timeout: float = 10.0) -> DockerClient:
    """A Docker SDK client whose engine answered a ping; ``docker.errors.DockerException``
    (not wrapped) when none did, so callers and tests can tell "no engine" apart."""
    import docker

    client = docker.from_env(timeout=timeout)
    client.ping()
    return client


def _services_state(health: Any) -> dict[str, str]:
    services = health.get("services") if isinstance(health, dict) else None
    return {name: str(state) for name, state in (services or {}).items()}


def services_ready(health: Any, wanted: tuple[str, ...] = LOCALSTACK_SERVICES) -> bool:
    """Whether LocalStack's ``/_localstack/health`` answer says every wanted service can serve."""
    state = _services_state(health)
    return all(state.get(name) in READY_STATES for name in wanted)


class LocalStackContainer:
    """One LocalStack container: ``start()`` returns its endpoint URL once S3, DynamoDB and Lambda
    can serve; ``close()`` stops and removes it."""

    def __init__(
        self,
        image: str = LOCALSTACK_IMAGE,
        host: str = "127.0.0.1",
        port: int = CONTAINER_PORT,
        environment: Mapping[str, str] | None = None,
        *,
        docker_socket: str = DOCKER_SOCKET,
        start_timeout: float = START_TIMEOUT_SECONDS,
    ) -> None:
        self.image = image
        self.host = host
        self.port = port  # 0: any free port, known after start()
        self.environment = {**LOCALSTACK_ENVIRONMENT, **(environment or {})}
        self.docker_socket = docker_socket
        self.start_timeout = start_timeout
        self.endpoint_url: str | None = None
        self._client: DockerClient | None = None
        self._container: Container | None = None

    def __enter__(self) -> LocalStackContainer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def start(self) -> str:
        """Run the container detached, publish its port on ``host`` only, and wait until it
        serves; every failure is a BackendError saying what to do."""
        from docker.errors import DockerException

        try:
            self._client = docker_client()
        except DockerException as exc:
            raise BackendError(
                f"--start-localstack needs a Docker engine, and none answered at {docker_host()}: "
                f"{exc}. Start Docker, or run LocalStack yourself and use --backend localstack "
                "(or --backend URL)"
            ) from exc
        published = (self.host, self.port or None)  # None: the engine picks a free port
        try:
            self._container = self._client.containers.run(
                self.image,
                detach=True,
                environment=self.environment,
                ports={f"{CONTAINER_PORT}/tcp": published},
                volumes={self.docker_socket: {"bind": DOCKER_SOCKET, "mode": "rw"}},
                labels={LABEL: "localstack"},
            )
        except DockerException as exc:
            self.close()
            raise BackendError(
                f"could not start {self.image} on {self.host}:{self.port or '(any port)'}: {exc}. "
                "If the port is taken, stop what listens there or choose another port; if the "
                f"image cannot be pulled, `docker pull {self.image}` says why"
            ) from exc
        self.port = self._published_port()
        self.endpoint_url = f"http://{self.host}:{self.port}"
        log.info(
            "LocalStack container %s starting at %s", self._container.short_id, self.endpoint_url
        )
        try:
            self._wait_until_ready()
        except BaseException:  # Ctrl-C while waiting, too: leave no container behind
            self.close()
            raise
        return self.endpoint_url

    def _published_port(self) -> int:
        assert self._container is not None
        self._container.reload()
        bindings = self._container.attrs["NetworkSettings"]["Ports"].get(f"{CONTAINER_PORT}/tcp")
        if not bindings:
            state, logs = self._container.status, self._logs_tail()
            self.close()
            raise BackendError(
                f"Docker did not publish LocalStack's port {CONTAINER_PORT} (container {state}). "
                f"Its last lines:\n{logs}"
            )
        return int(bindings[0]["HostPort"])

    def _logs_tail(self, lines: int = 15) -> str:
        if self._container is None:
            return ""
        with contextlib.suppress(Exception):
            return self._container.logs(tail=lines).decode(errors="replace").strip()
        return ""

    def _wait_until_ready(self) -> None:
        """Poll ``/_localstack/health`` until the services are up, the container exits, or the
        bounded wait runs out."""
        assert self._container is not None
        url = f"{self.endpoint_url}/_localstack/health"
        deadline = time.monotonic() + self.start_timeout
        last: Any = "no answer yet"
        while time.monotonic() < deadline:
            self._container.reload()
            if self._container.status in ("exited", "dead"):
                code = self._container.attrs.get("State", {}).get("ExitCode")
                logs = self._logs_tail()
                self.close()
                raise BackendError(
                    f"the LocalStack container ({self.image}) exited with code {code} before it "
                    f"served (code 55 means the image wants a LOCALSTACK_AUTH_TOKEN; "
                    f"{LOCALSTACK_IMAGE} does not). Its last lines:\n{logs}"
                )
            try:
                last = httpx.get(url, timeout=2.0).json()
            except (httpx.HTTPError, ValueError) as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                if services_ready(last):
                    log.info("LocalStack ready at %s", self.endpoint_url)
                    return
            time.sleep(0.5)
        state = _services_state(last) or last
        logs = self._logs_tail()
        self.close()
        raise BackendError(
            f"LocalStack at {self.endpoint_url} did not report {', '.join(LOCALSTACK_SERVICES)} "
            f"available within {self.start_timeout:.0f} s (last health: {state}). "
            f"Its last lines:\n{logs}"
        )

    def close(self) -> None:
        """Stop and remove the container (if any); safe to call more than once."""
        container, self._container = self._container, None
        if container is not None:
            with contextlib.suppress(Exception):
                container.stop(timeout=5)
            with contextlib.suppress(Exception):
                container.remove(force=True)
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()


class StartedLocalStack(Backend):
    """The backend of ``--start-localstack``: a LocalStack container that is stopped and removed
    when timeoutlab stops."""

    def __init__(self, container: LocalStackContainer, region: str = "us-east-1") -> None:
        super().__init__("localstack", "", region)
        self.container = container

    def start(self) -> StartedLocalStack:
        self.endpoint_url = self.container.start()
        return self

    def close(self) -> None:
        self.container.close()

    def describe(self) -> dict:
        return {**super().describe(), "container_image": self.container.image}
