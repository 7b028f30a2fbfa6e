"""How an execution environment's process is started, per Lambda runtime identifier.

A bootstrap is the command that runs a runtime interface client in the environment, the
variables that command needs of its own, and the ``AWS_EXECUTION_ENV`` value AWS sets for that
runtime (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html). A new
language (``nodejs*``) plugs in as one more entry of ``BOOTSTRAPS``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from emulator.service import FunctionSpec, ServiceError

#: The folder of the Python bootstrap module: the only thing of ours on the child's PYTHONPATH.
PYTHON_BOOTSTRAP_DIR = Path(__file__).parent / "python"
PYTHON_BOOTSTRAP_MODULE = "timeoutlab_bootstrap"


@dataclass(frozen=True)
class Bootstrap:
    """The process of one execution environment: ``command`` and its own ``environment``."""

    command: list[str]
    #: LAMBDA_RUNTIME_DIR: where the runtime's own files are ("/var/runtime" on AWS).
    runtime_dir: Path
    environment: dict[str, str] = field(default_factory=dict)
    #: Said once per runtime when the environment cannot be the one the function asks for.
    mismatch: str | None = None


def python(spec: FunctionSpec) -> Bootstrap:
    """awslambdaric under our thin wrapper, on this project's Python (``sys.executable``)."""
    here = f"python{sys.version_info.major}.{sys.version_info.minor}"
    mismatch = None
    if spec.runtime != here:
        mismatch = (
            f"runtime {spec.runtime} runs on this machine's Python "
            f"{sys.version_info.major}.{sys.version_info.minor} ({sys.executable})"
        )
    return Bootstrap(
        command=[sys.executable, "-m", PYTHON_BOOTSTRAP_MODULE, spec.handler],
        runtime_dir=PYTHON_BOOTSTRAP_DIR,
        # AWS's Python runtimes load the handler from the task root, the cwd here, then their own
        # runtime folder; the bootstrap folder plays that part.
        environment={"PYTHONPATH": str(PYTHON_BOOTSTRAP_DIR), "PYTHONDONTWRITEBYTECODE": "1"},
        mismatch=mismatch,
    )


#: Runtime identifier prefix -> how its environments start.
BOOTSTRAPS: dict[str, Callable[[FunctionSpec], Bootstrap]] = {"python3": python}


def bootstrap_for(spec: FunctionSpec) -> Bootstrap:
    """The bootstrap of ``spec``'s runtime; ServiceError for a runtime nothing here runs."""
    for prefix, make in BOOTSTRAPS.items():
        if spec.runtime.startswith(prefix):
            return make(spec)
    raise ServiceError(
        f"function {spec.key}: runtime {spec.runtime} has no bootstrap here "
        f"(known: {', '.join(f'{p}*' for p in BOOTSTRAPS)})"
    )
