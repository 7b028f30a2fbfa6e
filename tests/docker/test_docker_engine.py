"""The image, built and run with a real Docker engine: it serves the article's two REST outcomes
(200 with a URL for a 5 s report, 504 for a 40 s one) and runs as a non-root user.

Skipped, saying why, where no Docker engine answers (as in CI here). Building the image pulls the
base image and the project's dependencies, so it needs the network that the engine has.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from docker.errors import DockerException

from emulator.backends.localstack_container import docker_client

if TYPE_CHECKING:
    from docker import DockerClient
    from docker.models.containers import Container

pytestmark = pytest.mark.timeout(600)  # a cold build downloads the dependencies

ROOT = Path(__file__).resolve().parents[2]
TAG = "timeoutlab:test"
HEALTHY_WITHIN_SECONDS = 180.0


@pytest.fixture(scope="module")
def client() -> Iterator[DockerClient]:
    try:
        client = docker_client()
    except DockerException as exc:
        pytest.skip(f"no Docker engine: {exc}")
    yield client
    client.close()


@pytest.fixture(scope="module")
def image(client: DockerClient) -> str:
    client.images.build(path=str(ROOT), tag=TAG, rm=True, forcerm=True)
    return TAG


def published_port(container: Container, port: int) -> int:
    container.reload()
    return int(container.attrs["NetworkSettings"]["Ports"][f"{port}/tcp"][0]["HostPort"])


def wait_healthy(container: Container, within: float) -> None:
    """Until Docker reports the image's own HEALTHCHECK healthy (so that check works too)."""
    deadline = time.monotonic() + within
    status = "unknown"
    while time.monotonic() < deadline:
        container.reload()
        if container.status in ("exited", "dead"):
            logs = container.logs(tail=30).decode(errors="replace")
            pytest.fail(f"the container exited:\n{logs}")
        status = container.attrs["State"].get("Health", {}).get("Status", "none")
        if status == "healthy":
            return
        time.sleep(1.0)
    logs = container.logs(tail=30).decode(errors="replace")
    pytest.fail(f"not healthy within {within:.0f} s (last: {status}):\n{logs}")


@pytest.fixture(scope="module")
def container(client: DockerClient, image: str) -> Iterator[Container]:
    container = client.containers.run(
        image,
        command=["timeoutlab", "up", "--host", "0.0.0.0", "--time-scale", "0.01"],
        detach=True,
        ports={"3000/tcp": ("127.0.0.1", None), "3001/tcp": ("127.0.0.1", None)},
    )
    try:
        wait_healthy(container, HEALTHY_WITHIN_SECONDS)
        yield container
    finally:
        container.remove(force=True)


@pytest.fixture(scope="module")
def rest_url(container: Container) -> str:
    return f"http://127.0.0.1:{published_port(container, 3000)}/dev"


def test_health_endpoint_answers_on_the_published_port(container: Container) -> None:
    response = httpx.get(
        f"http://127.0.0.1:{published_port(container, 3000)}/_emulator/health", timeout=10
    )
    assert response.status_code == 200


def test_short_report_gets_its_url(rest_url: str) -> None:
    response = httpx.post(
        f"{rest_url}/reports", json={"delay": 5000, "amountOfRows": 10}, timeout=30
    )
    assert response.status_code == 200, response.text
    assert response.json()["url"]


def test_long_report_hits_the_integration_timeout(rest_url: str) -> None:
    response = httpx.post(
        f"{rest_url}/reports", json={"delay": 40000, "amountOfRows": 10}, timeout=30
    )
    assert response.status_code == 504
    assert response.json() == {"message": "Endpoint request timed out"}


def test_runs_as_a_non_root_user(container: Container) -> None:
    exit_code, output = container.exec_run(["id", "-u"])
    assert exit_code == 0
    assert int(output.decode().strip()) != 0
    assert container.attrs["Config"]["User"] not in ("", "root", "0", "0:0")
