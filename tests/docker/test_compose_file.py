"""docker-compose.yml and the Dockerfile, checked without a Docker engine: against the Compose
Specification's schema (vendored, see README.md) and against the rules this project sets for them
(loopback-only ports, pinned images, health checks, LocalStack's settings, scalable workers)."""

from __future__ import annotations

import copy
import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from emulator.backends.localstack_container import (
    LOCALSTACK_ENVIRONMENT,
    LOCALSTACK_IMAGE,
    LOCALSTACK_SERVICES,
)

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
SCHEMA_FILE = Path(__file__).with_name("compose-spec.json")

SERVICES = ("localstack", "emulator", "locust-master", "locust-worker")
TIMEOUTLAB_SERVICES = ("emulator", "locust-master", "locust-worker")
LOCUST_SERVICES = ("locust-master", "locust-worker")
IMAGE = "timeoutlab:local"
LOOPBACK = "127.0.0.1"
#: LocalStack images from 4.15 / 2026.3 on exit at start without a LOCALSTACK_AUTH_TOKEN.
LAST_FREE_LOCALSTACK = (4, 14, 0)


# --- helpers -----------------------------------------------------------------------------------


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as a dict, whichever of Compose's two forms it uses."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def command(service: dict[str, Any]) -> list[str]:
    cmd = service.get("command") or []
    return shlex.split(cmd) if isinstance(cmd, str) else [str(part) for part in cmd]


def option(args: list[str], name: str) -> str | None:
    """The value after ``name`` in an argument list (None if absent)."""
    return args[args.index(name) + 1] if name in args and args.index(name) + 1 < len(args) else None


def port_bindings(service: dict[str, Any]) -> list[tuple[str | None, str | None, str]]:
    """(host IP, published port, container port) of each ``ports`` entry, short or long syntax."""
    bindings = []
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            published = entry.get("published")
            bindings.append(
                (
                    entry.get("host_ip"),
                    None if published is None else str(published),
                    entry["target"],
                )
            )
            continue
        text = str(entry).split("/", 1)[0]
        assert "[" not in text, f"IPv6 port syntax is not used here: {entry!r}"
        parts = text.split(":")
        ip, published, target = [None] * (3 - len(parts)) + parts
        bindings.append((ip, published, target))
    return bindings


def depends_condition(service: dict[str, Any], other: str) -> str | None:
    depends = service.get("depends_on") or {}
    if isinstance(depends, list):
        return "service_started" if other in depends else None
    return (depends.get(other) or {}).get("condition")


def healthcheck_text(service: dict[str, Any]) -> str:
    test = (service.get("healthcheck") or {}).get("test") or []
    return test if isinstance(test, str) else " ".join(test)


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) for each instruction, continuation lines joined."""
    instructions, pending = [], ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        keyword, _, args = line.partition(" ")
        instructions.append((keyword.upper(), args.strip()))
    return instructions


def dockerfile_args(keyword: str) -> list[str]:
    return [args for kw, args in dockerfile_instructions() if kw == keyword]


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return json.loads(SCHEMA_FILE.read_text())


@pytest.fixture(scope="module")
def validator(schema: dict[str, Any]) -> Draft7Validator:
    # Chosen from the schema's "$schema" (checked below), not with validator_for: that does not
    # know the "https://json-schema.org/draft-07/schema" spelling and would use the latest draft.
    return Draft7Validator(schema)


def schema_errors(validator: Draft7Validator, document: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '(top)'}: {error.message}"
        for error in validator.iter_errors(document)
    ]


# --- the Compose Specification -----------------------------------------------------------------


def test_vendored_schema_is_the_complete_draft07_compose_spec(schema: dict[str, Any]) -> None:
    assert "draft-07" in schema["$schema"], "the schema changed draft: change the validator too"
    Draft7Validator.check_schema(schema)
    assert schema["title"] == "Compose Specification"
    assert {"service", "network", "volume", "healthcheck", "ulimits"} <= schema[
        "definitions"
    ].keys()


def test_compose_file_follows_the_compose_specification(
    compose: dict[str, Any], validator: Draft7Validator
) -> None:
    assert schema_errors(validator, compose) == []


def _ports_not_a_list(doc: dict[str, Any]) -> None:
    doc["services"]["emulator"]["ports"] = 3000


def _unknown_top_level_key(doc: dict[str, Any]) -> None:
    doc["servics"] = {}


def _unknown_service_key(doc: dict[str, Any]) -> None:
    doc["services"]["locust-worker"]["replicas"] = 4  # belongs under deploy:


def _unknown_depends_on_condition(doc: dict[str, Any]) -> None:
    doc["services"]["emulator"]["depends_on"]["localstack"]["condition"] = "service_ready"


def _healthcheck_test_not_a_command(doc: dict[str, Any]) -> None:
    doc["services"]["localstack"]["healthcheck"]["test"] = {"curl": "/_localstack/health"}


@pytest.mark.parametrize(
    ("break_it", "where"),
    [
        (_ports_not_a_list, "services/emulator/ports"),
        (_unknown_top_level_key, "(top)"),
        (_unknown_service_key, "services/locust-worker"),
        (_unknown_depends_on_condition, "services/emulator/depends_on"),
        (_healthcheck_test_not_a_command, "services/localstack/healthcheck/test"),
    ],
)
def test_schema_catches_a_broken_compose_file(
    compose: dict[str, Any], validator: Draft7Validator, break_it: Any, where: str
) -> None:
    """The validation above means something: the same validator rejects broken copies."""
    broken = copy.deepcopy(compose)
    break_it(broken)
    errors = schema_errors(validator, broken)
    assert errors, f"{break_it.__name__} passed the schema"
    assert any(error.startswith(where) for error in errors), errors


def test_no_obsolete_version_key(compose: dict[str, Any]) -> None:
    assert "version" not in compose


# --- the project's rules -----------------------------------------------------------------------


def test_all_services_are_there(services: dict[str, dict[str, Any]]) -> None:
    assert set(SERVICES) <= services.keys()


def test_every_published_port_is_bound_to_loopback(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        for ip, published, target in port_bindings(service):
            assert ip == LOOPBACK, f"{name}: port {target} is published beyond {LOOPBACK}"
            assert published, f"{name}: port {target} would get a random host port"


def test_localstack_image_is_pinned_to_the_last_free_tag(
    services: dict[str, dict[str, Any]],
) -> None:
    image = services["localstack"]["image"]
    assert image == LOCALSTACK_IMAGE, "compose and localstack_container.py must name one tag"
    repository, _, tag = image.rpartition(":")
    assert repository == "localstack/localstack"
    assert tag
    assert tag != "latest"
    assert re.fullmatch(r"\d+\.\d+\.\d+", tag), f"not a release tag: {tag}"
    version = tuple(int(part) for part in tag.split("."))
    assert version <= LAST_FREE_LOCALSTACK, f"{tag} needs a LOCALSTACK_AUTH_TOKEN"


def test_localstack_settings(compose: dict[str, Any], services: dict[str, dict[str, Any]]) -> None:
    localstack = services["localstack"]
    env = environment(localstack)
    assert env.items() >= LOCALSTACK_ENVIRONMENT.items(), "same settings as localstack_container"
    assert set(env["SERVICES"].split(",")) >= set(LOCALSTACK_SERVICES)
    assert env["S3_SKIP_SIGNATURE_VALIDATION"] == "0"  # presigned URLs checked
    assert env["DYNAMODB_REMOVE_EXPIRED_ITEMS"] == "1"
    # Lambda containers join the network the emulator is on, named explicitly so the name does
    # not depend on the project's.
    network = compose["networks"]["default"]["name"]
    assert env["LAMBDA_DOCKER_NETWORK"] == network
    for name, service in services.items():
        assert "networks" not in service, name
        assert "network_mode" not in service, name
    assert "/var/run/docker.sock:/var/run/docker.sock" in localstack["volumes"]
    assert "/_localstack/health" in healthcheck_text(localstack)
    assert port_bindings(localstack) == [(LOOPBACK, "4566", "4566")]


def test_one_image_for_the_emulator_and_locust(services: dict[str, dict[str, Any]]) -> None:
    for name in TIMEOUTLAB_SERVICES:
        service = services[name]
        build = service["build"]
        context = build if isinstance(build, str) else build.get("context", ".")
        assert (service["image"], context) == (IMAGE, "."), name


def test_emulator(services: dict[str, dict[str, Any]]) -> None:
    emulator = services["emulator"]
    assert depends_condition(emulator, "localstack") == "service_healthy"
    args = command(emulator)
    assert args[:2] == ["timeoutlab", "up"]
    assert option(args, "--host") == "0.0.0.0"
    assert option(args, "--backend") == "localstack"
    assert option(args, "--lambda") == "remote"
    assert option(args, "--callback-host") == "emulator"
    # The Locust services read /_emulator/metrics by this name (its Host check).
    assert option(args, "--allowed-host") == "emulator"
    assert environment(emulator)["LOCALSTACK_HOST"] == "localstack:4566"
    assert sorted(port_bindings(emulator)) == [
        (LOOPBACK, "3000", "3000"),
        (LOOPBACK, "3001", "3001"),
    ]
    assert "/_emulator/health" in healthcheck_text(emulator)


def test_locust_master(services: dict[str, dict[str, Any]]) -> None:
    master = services["locust-master"]
    args = command(master)
    assert args[0] == "locust"
    assert "--master" in args
    assert option(args, "--host") == "http://emulator:3000/dev"
    assert option(args, "--ws-url") == "ws://emulator:3001/dev"
    assert port_bindings(master) == [(LOOPBACK, "8089", "8089")]
    assert depends_condition(master, "emulator") == "service_healthy"
    # Its health is Locust's own (the image's check asks an emulator that does not run here).
    assert "/_emulator/health" not in healthcheck_text(master)
    assert "8089" in healthcheck_text(master)


def test_locust_worker_is_scalable(services: dict[str, dict[str, Any]]) -> None:
    worker = services["locust-worker"]
    assert "container_name" not in worker
    assert not worker.get("ports")
    args = command(worker)
    assert args[0] == "locust"
    assert "--worker" in args
    assert option(args, "--master-host") == "locust-master"
    assert worker["healthcheck"] == {"disable": True}


def locustfiles_mount(service: dict[str, Any]) -> tuple[str, str]:
    """(container path, mode) of the ./locustfiles bind mount."""
    for volume in service.get("volumes") or []:
        source, target, *mode = volume.split(":")
        if source.rstrip("/") == "./locustfiles":
            return target, mode[0] if mode else "rw"
    raise AssertionError("./locustfiles is not mounted")


@pytest.mark.parametrize("name", LOCUST_SERVICES)
def test_locustfiles_are_mounted_where_python_imports_them(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    service = services[name]
    target, mode = locustfiles_mount(service)
    assert mode == "ro"
    target_path = PurePosixPath(target)
    assert target_path.name == "locustfiles", "the locustfiles import `locustfiles.common`"
    assert environment(service)["PYTHONPATH"] == str(target_path.parent)
    locustfile = PurePosixPath(option(command(service), "-f") or "")
    assert locustfile.parent == target_path, "the locustfile is one of the mounted files"
    assert (ROOT / "locustfiles" / locustfile.name).is_file()


def test_mounted_locustfiles_shadow_the_installed_package(
    services: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    """What the mount relies on: with PYTHONPATH set as in compose, `import locustfiles` finds
    the mounted copy before the one installed in the image (here: in the virtualenv)."""
    service = services["locust-master"]
    target, _ = locustfiles_mount(service)
    mounted = tmp_path / target.lstrip("/")
    mounted.mkdir(parents=True)
    (mounted / "__init__.py").write_text("")
    workdir = tmp_path / "home"  # like the image's: no locustfiles/ of its own
    workdir.mkdir()
    pythonpath = tmp_path / environment(service)["PYTHONPATH"].lstrip("/")
    result = subprocess.run(
        [sys.executable, "-c", "import locustfiles; print(locustfiles.__file__)"],
        cwd=workdir,
        env={**os.environ, "PYTHONPATH": str(pythonpath)},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert Path(result.stdout.strip()) == mounted / "__init__.py"


# --- the Dockerfile ----------------------------------------------------------------------------


def test_dockerfile_base_images_are_pinned() -> None:
    stages: set[str] = set()
    bases = []
    for args in dockerfile_args("FROM"):
        words = [word for word in args.split() if not word.startswith("--")]
        image = words[0]
        if len(words) >= 3 and words[1].upper() == "AS":
            stages.add(words[2])
        if image in stages:
            continue
        bases.append(image)
        tag = image.partition(":")[2]
        assert tag, f"unpinned base image {image}"
        assert tag != "latest", f"unpinned base image {image}"
        assert "$" not in image, f"base image chosen at build time: {image}"
    assert bases, "no FROM"
    final = bases[-1]
    assert final.startswith("python:3.11"), final
    assert "slim" in final, final


def test_dockerfile_runs_as_a_non_root_user() -> None:
    users = dockerfile_args("USER")
    assert users, "no USER: the container would run as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")


def test_dockerfile_health_check_asks_the_emulator_with_python() -> None:
    (check,) = dockerfile_args("HEALTHCHECK")
    assert "CMD" in check
    assert "http://127.0.0.1:3000/_emulator/health" in check
    assert "urllib" in check
    assert "curl" not in check  # not in slim images
    assert "wget" not in check


def test_dockerfile_ports_and_default_command() -> None:
    exposed = {port for args in dockerfile_args("EXPOSE") for port in args.split()}
    assert {"3000", "3001", "8089"} <= exposed
    (cmd,) = dockerfile_args("CMD")
    assert json.loads(cmd) == ["timeoutlab", "up", "--host", "0.0.0.0"]


def test_dockerfile_installs_the_project_from_its_source() -> None:
    installs = [args for args in dockerfile_args("RUN") if "pip install" in args]
    assert installs
    assert all("--no-cache-dir" in args for args in installs)
    copied = {
        source.rstrip("/")
        for args in dockerfile_args("COPY")
        if not args.startswith("--from")
        for source in args.split()[:-1]
    }
    for source in copied:
        assert (ROOT / source).exists(), f"COPY {source}: no such file"
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {
        p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    assert {"pyproject.toml", "README.md", "constraints.txt", *packages} <= copied
    assert all("-c constraints.txt" in args for args in installs)


def test_the_images_pinned_versions_meet_the_projects_ranges() -> None:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = Version(version)
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    for dependency in pyproject["project"]["dependencies"]:
        requirement = Requirement(dependency)
        pinned = pins.get(canonicalize_name(requirement.name))
        assert pinned is not None, f"constraints.txt does not pin {requirement.name}"
        assert requirement.specifier.contains(pinned), f"{requirement.name}=={pinned}: {dependency}"


def test_dockerignore_keeps_the_context_small() -> None:
    ignored = {
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".venv", ".git"} <= ignored
    for needed in ("pyproject.toml", "README.md", "emulator", "locustfiles", "reportapp"):
        assert needed not in ignored


# --- the page at /_emulator/ui/, from the host's browser ----------------------------------------


def emulator_stack(services: dict[str, dict[str, Any]]) -> Any:
    """The Stack the emulator service's command makes (parsed by the real CLI, not started),
    its ports named as inside the container."""
    from emulator.cli import _config, build_parser
    from emulator.stack import Stack

    config = _config(build_parser().parse_args(command(services["emulator"])[1:]))
    stack = Stack(config)
    stack.http_port, stack.ws_port = 3000, 3001
    return stack


def test_the_page_opens_in_the_hosts_browser_and_may_use_the_control_plane(
    services: dict[str, dict[str, Any]],
) -> None:
    """http://localhost:3000/_emulator/ui/ from the host: the page builds its URLs from its own
    host name and the ports the emulator reports (the container's), so each published port must
    be the container's; its Host and Origin must pass the control plane's checks, so the page
    can read the figures and change a route's timeout (PUT /_emulator/config)."""
    from emulator.core.control_access import ControlRequest
    from emulator.core.ui_assets import UI_PATH

    published = {target: port for _, port, target in port_bindings(services["emulator"])}
    assert published["3000"] == "3000"  # the HTTP port: REST API, /_emulator/ and the page
    assert published["3001"] == "3001"  # the WebSocket API the page connects to
    stack = emulator_stack(services)
    access = stack.control_access
    access.origins = stack.origin_policy()
    for host in ("localhost", "127.0.0.1"):
        page = ControlRequest("GET", f"{UI_PATH}/", host=f"{host}:3000")
        assert access.refusal(page) is None, host
        change = ControlRequest(
            "PUT",
            "/_emulator/config",
            host=f"{host}:3000",
            origin=f"http://{host}:3000",
            content_type="application/json",
            has_body=True,
        )
        assert access.refusal(change) is None, host
        # Its WebSocket: no Origin check by default, and the page's origin is the emulator's own
        # should --ws-check-origin be added.
        assert stack.origin_policy().allows(f"http://{host}:3000")
    assert stack.ui_url == "http://localhost:3000/_emulator/ui/"  # what `up` prints


def test_the_page_is_in_the_image() -> None:
    """The Dockerfile installs the project from its source: every file of the page must be
    package data, or the image serves no page."""
    from fnmatch import fnmatch

    from emulator.gateway.ui import STATIC_DIR

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    globs = pyproject["tool"]["setuptools"]["package-data"]["emulator"]
    files = [p.relative_to(ROOT / "emulator").as_posix() for p in STATIC_DIR.iterdir()]
    assert "ui/static/index.html" in files
    for name in files:
        assert any(fnmatch(name, glob) for glob in globs), f"{name} is not package data"
