"""The service's functions deployed as real Lambda functions on a backend (LocalStack, MiniStack).

One zip of the handlers' directory serves every function, as ``serverless deploy`` packages them.
Deploying again is safe: a function that exists is updated (its code only when it changed) and
configured to match serverless.yml. The zip is built with fixed timestamps, so the same handlers
always give the same ``CodeSha256``.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import math
import zipfile
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError, WaiterError

from emulator.backends.endpoint import Backend, BackendError
from emulator.service import FunctionSpec, ServiceSpec

log = logging.getLogger("timeoutlab.backend")

#: Emulators do not check the execution role, but Lambda's API requires one.
ROLE_ARN = "arn:aws:iam::000000000000:role/timeoutlab-lambda"
#: Lambda sets these itself and refuses functions that try to ("reserved keys").
RESERVED_VARIABLES = frozenset(
    {
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
        "_HANDLER",
    }
)
_FIXED_TIME = (2020, 1, 1, 0, 0, 0)
_WAIT = {"Delay": 0.25, "MaxAttempts": 480}  # two minutes, for a slow backend's first time
_SKIPPED = {"__pycache__", ".pytest_cache"}


def package(directory: Path) -> bytes:
    """The deployment package: every file under ``directory``, the same bytes every time."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            relative = path.relative_to(directory)
            if path.is_dir() or _SKIPPED & set(relative.parts) or path.suffix == ".pyc":
                continue
            info = zipfile.ZipInfo(relative.as_posix(), _FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def code_sha256(code: bytes) -> str:
    """How Lambda names a package's content (``CodeSha256``)."""
    return base64.b64encode(hashlib.sha256(code).digest()).decode()


def remote_timeout(spec: FunctionSpec, time_scale: float) -> int:
    """The deployed function's own timeout in real seconds: the emulated one, scaled.

    The emulator times every invocation on its own clock too; this one only stops a handler that
    runs on after the emulator has given up on it."""
    return min(900, max(1, math.ceil(spec.timeout * time_scale)))


def function_configuration(
    spec: FunctionSpec, environment: dict[str, str], time_scale: float
) -> dict:
    """The Lambda API's settings for one function: serverless.yml's, plus ``environment``."""
    variables = {**spec.environment, **environment}
    return {
        "FunctionName": spec.name,
        "Runtime": spec.runtime,
        "Handler": spec.handler,
        "Role": ROLE_ARN,
        "Timeout": remote_timeout(spec, time_scale),
        "MemorySize": spec.memory_mb,
        "Environment": {
            "Variables": {k: v for k, v in variables.items() if k not in RESERVED_VARIABLES}
        },
    }


def deploy(
    service: ServiceSpec, backend: Backend, environment: dict[str, str], time_scale: float
) -> None:
    """Create or update every function of ``service`` on ``backend``'s Lambda, and wait until
    each can be invoked."""
    code = package(service.directory)
    sha = code_sha256(code)
    client = backend.client("lambda", timeout=60.0)
    try:
        # Ask for every function first, then wait for them all: the backend builds them together.
        changed = [
            _deploy_one(
                client, spec, code, sha, function_configuration(spec, environment, time_scale)
            )
            for spec in service.functions.values()
        ]
        for spec, created in zip(service.functions.values(), changed, strict=True):
            state = "function_active_v2" if created else "function_updated_v2"
            client.get_waiter(state).wait(FunctionName=spec.name, WaiterConfig=_WAIT)
            verb = "created" if created else "updated"
            log.info("%s Lambda function %s (%s)", verb, spec.name, spec.handler)
    except (BotoCoreError, ClientError, WaiterError) as exc:
        raise BackendError(
            f"deploying the service's functions to the Lambda at {backend.endpoint_url} "
            f"({backend.kind}) failed: {exc}"
        ) from exc


def _deploy_one(client, spec: FunctionSpec, code: bytes, sha: str, configuration: dict) -> bool:
    """Create the function or update it to match; True if it was created."""
    try:
        current = client.get_function(FunctionName=spec.name)["Configuration"]
    except client.exceptions.ResourceNotFoundException:
        client.create_function(**configuration, Code={"ZipFile": code}, Publish=False)
        return True
    if current.get("CodeSha256") != sha:
        client.update_function_code(FunctionName=spec.name, ZipFile=code)
        # A function takes one update at a time.
        client.get_waiter("function_updated_v2").wait(FunctionName=spec.name, WaiterConfig=_WAIT)
    client.update_function_configuration(**configuration)
    return False
