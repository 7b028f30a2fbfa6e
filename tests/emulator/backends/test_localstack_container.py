"""LocalStackContainer: the clear error without a Docker engine, the start/wait/close logic
against a fake engine and a fake health endpoint, and (with an engine) a real LocalStack."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from docker.errors import DockerException

from emulator.backends import localstack_container
from emulator.backends.endpoint import Backend, BackendError
from emulator.backends.localstack_container import (
    DEFAULT_DOCKER_HOST,
    LOCALSTACK_ENVIRONMENT,
    LOCALSTACK_IMAGE,
    LocalStackContainer,
    docker_client,
    docker_host,
    services_ready,
)

UNUSED_ENGINE = "tcp://127.0.0.1:1"  # nothing listens on port 1: refused at once


# --- no engine ---------------------------------------------------------------------------------


def test_no_engine_is_a_backend_error_that_says_what_to_do(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOCKER_HOST", UNUSED_ENGINE)
    monkeypatch.delenv("DOCKER_TLS_VERIFY", raising=False)
    monkeypatch.delenv("DOCKER_CERT_PATH", raising=False)
    started = time.monotonic()
    with pytest.raises(BackendError) as caught:
        LocalStackContainer().start()
    assert time.monotonic() - started < 10
    message = str(caught.value)
    assert message.startswith(
        f"--start-localstack needs a Docker engine, and none answered at {UNUSED_ENGINE}: "
    )
    assert "Connection refused" in message or "refused" in message.lower()
    assert message.endswith(
        ". Start Docker, or run LocalStack yourself and use --backend localstack (or --backend URL)"
    )
    assert isinstance(caught.value.__cause__, DockerException)


def test_docker_host_defaults_to_the_standard_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    assert docker_host() == DEFAULT_DOCKER_HOST == "unix:///var/run/docker.sock"
    monkeypatch.setenv("DOCKER_HOST", UNUSED_ENGINE)
    assert docker_host() == UNUSED_ENGINE


# --- pure parts --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("health", "ready"),
    [
        ({"services": {"s3": "running", "dynamodb": "available", "lambda": "available"}}, True),
        ({"services": {"s3": "running", "dynamodb": "running", "lambda": "running"}}, True),
        ({"services": {"s3": "running", "dynamodb": "running", "lambda": "error"}}, False),
        ({"services": {"s3": "running", "dynamodb": "running"}}, False),
        ({"services": {"s3": "disabled", "dynamodb": "running", "lambda": "running"}}, False),
        ({}, False),
        ("not json object", False),
    ],
)
def test_services_ready(health: Any, ready: bool) -> None:
    assert services_ready(health) is ready


def test_environment_is_composes_plus_overrides() -> None:
    container = LocalStackContainer(
        environment={"DEBUG": "1", "SERVICES": "s3,dynamodb,lambda,sqs"}
    )
    assert container.environment == {
        **LOCALSTACK_ENVIRONMENT,
        "DEBUG": "1",
        "SERVICES": "s3,dynamodb,lambda,sqs",
    }
    assert LocalStackContainer().image == LOCALSTACK_IMAGE


def test_close_without_start_is_harmless() -> None:
    container = LocalStackContainer()
    container.close()
    container.close()


# --- against a fake engine ---------------------------------------------------------------------


class FakeContainer:
    def __init__(self, host_port: int, status: str = "running", exit_code: int = 0) -> None:
        self.short_id = "fake1234"
        self.status = status
        self.attrs = {
            "NetworkSettings": {
                "Ports": {"4566/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(host_port)}]}
            },
            "State": {"ExitCode": exit_code},
        }
        self.stopped = self.removed = False

    def reload(self) -> None:
        pass

    def logs(self, tail: int = 10) -> bytes:
        return b"LocalStack requires an account to run."

    def stop(self, timeout: int = 10) -> None:
        self.stopped = True

    def remove(self, force: bool = False) -> None:
        self.removed = True


class FakeContainers:
    def __init__(self, container: FakeContainer) -> None:
        self.container = container
        self.runs: list[tuple[str, dict[str, Any]]] = []

    def run(self, image: str, **kwargs: Any) -> FakeContainer:
        self.runs.append((image, kwargs))
        return self.container


class FakeClient:
    def __init__(self, container: FakeContainer) -> None:
        self.containers = FakeContainers(container)
        self.closed = False

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def health_server() -> Iterator[tuple[int, dict[str, Any]]]:
    """A stand-in for LocalStack's /_localstack/health; the test sets what it answers."""
    answer: dict[str, Any] = {"services": {}}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(answer).encode()
            self.send_response(200 if self.path == "/_localstack/health" else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], answer
    server.shutdown()
    server.server_close()


def use_fake_engine(monkeypatch: pytest.MonkeyPatch, container: FakeContainer) -> FakeClient:
    client = FakeClient(container)
    monkeypatch.setattr(localstack_container, "docker_client", lambda timeout=10.0: client)
    return client


def test_start_runs_like_compose_and_waits_for_the_services(
    monkeypatch: pytest.MonkeyPatch, health_server: tuple[int, dict[str, Any]]
) -> None:
    port, answer = health_server
    answer["services"] = {"s3": "available", "dynamodb": "running", "lambda": "available"}
    container = FakeContainer(host_port=port)
    client = use_fake_engine(monkeypatch, container)
    localstack = LocalStackContainer(port=0)
    assert localstack.start() == f"http://127.0.0.1:{port}"
    ((image, kwargs),) = client.containers.runs
    assert image == LOCALSTACK_IMAGE
    assert kwargs["detach"] is True
    assert kwargs["ports"] == {"4566/tcp": ("127.0.0.1", None)}  # loopback only; any free port
    assert kwargs["environment"] == dict(LOCALSTACK_ENVIRONMENT)
    assert kwargs["volumes"] == {
        "/var/run/docker.sock": {"bind": "/var/run/docker.sock", "mode": "rw"}
    }
    localstack.close()
    assert container.stopped
    assert container.removed
    assert client.closed


def test_a_container_that_exits_is_a_clear_error_and_is_removed(
    monkeypatch: pytest.MonkeyPatch, health_server: tuple[int, dict[str, Any]]
) -> None:
    port, _ = health_server
    container = FakeContainer(host_port=port, status="exited", exit_code=55)
    use_fake_engine(monkeypatch, container)
    with pytest.raises(BackendError, match=r"exited with code 55.*LOCALSTACK_AUTH_TOKEN") as caught:
        LocalStackContainer(port=port).start()
    assert "LocalStack requires an account to run." in str(caught.value)
    assert container.removed


def test_the_wait_is_bounded(
    monkeypatch: pytest.MonkeyPatch, health_server: tuple[int, dict[str, Any]]
) -> None:
    port, answer = health_server
    answer["services"] = {"s3": "running", "dynamodb": "running", "lambda": "error"}
    container = FakeContainer(host_port=port)
    use_fake_engine(monkeypatch, container)
    started = time.monotonic()
    with pytest.raises(BackendError, match=r"did not report s3, dynamodb, lambda available within"):
        LocalStackContainer(port=port, start_timeout=1.0).start()
    assert time.monotonic() - started < 5
    assert container.removed


# --- with a Docker engine ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def engine() -> None:
    try:
        docker_client().close()
    except DockerException as exc:
        pytest.skip(f"no Docker engine: {exc}")


@pytest.mark.timeout(600)  # the first run pulls the LocalStack image
@pytest.mark.usefixtures("engine")
def test_real_localstack_serves_s3_and_dynamodb() -> None:
    with LocalStackContainer(port=0) as localstack:
        assert localstack.endpoint_url is not None
        backend = Backend("localstack", localstack.endpoint_url)
        backend.check()
        s3 = backend.client("s3")
        s3.create_bucket(Bucket="timeoutlab-container-test")
        assert "timeoutlab-container-test" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
        dynamodb = backend.client("dynamodb")
        dynamodb.create_table(
            TableName="timeoutlab-container-test",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        assert "timeoutlab-container-test" in dynamodb.list_tables()["TableNames"]
