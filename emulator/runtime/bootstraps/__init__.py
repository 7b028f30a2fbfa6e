"""How an execution environment's process is started, per Lambda runtime identifier.

A bootstrap is the command that runs a runtime interface client in the environment, the
variables that command needs of its own, and the ``AWS_EXECUTION_ENV`` value AWS sets for that
runtime (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html). A new
language plugs in as one more entry of ``BOOTSTRAPS``.

Python runs AWS's ``awslambdaric`` under a thin wrapper. Node.js runs our own dependency-free
``node/bootstrap.mjs``: every ``aws-lambda-ric`` from npm builds native code on install (node-gyp,
cmake and autotools compiling a bundled curl; 3.3.0 fails without ``autoreconf``), and its 4.x
declares Node.js >= 22.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from emulator.runtime.process_tree import subreaper_command
from emulator.service import FunctionSpec, ServiceError

#: The folder of the Python bootstrap module: the only thing of ours on the child's PYTHONPATH.
PYTHON_BOOTSTRAP_DIR = Path(__file__).parent / "python"
PYTHON_BOOTSTRAP_MODULE = "timeoutlab_bootstrap"
#: timeoutlab's Node.js runtime interface client (the Lambda Runtime API, nothing else).
NODE_BOOTSTRAP = Path(__file__).parent / "node" / "bootstrap.mjs"


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


def nodejs(spec: FunctionSpec) -> Bootstrap:
    """Our ``bootstrap.mjs`` on this machine's ``node`` (ServiceError when there is none)."""
    if shutil.which("node") is None:
        raise ServiceError(
            f"function {spec.key}: runtime {spec.runtime} needs Node.js, and `node` is not on "
            "PATH (`make node-packages` installs it as root; see the README)"
        )
    return Bootstrap(
        # Node.js cannot make itself a child subreaper (prctl): a shim does, then execs node, so
        # what a handler starts stays in the environment's tree (process_tree explains why).
        command=subreaper_command(bootstrap_command(spec.runtime)),
        runtime_dir=NODE_BOOTSTRAP.parent,
        # Packages resolve from the handler's folder upwards (node_modules beside
        # package.json), as in the deployment package on AWS; ESM ignores NODE_PATH anyway.
    )


def bootstrap_command(runtime: str) -> list[str]:
    """The command that starts one execution environment of a ``nodejs*`` runtime; the process
    gets the Lambda variables (``AWS_LAMBDA_RUNTIME_API``, ``_HANDLER``, ...) from its caller."""
    if not runtime.startswith("nodejs"):
        raise ValueError(f"runtime {runtime} is not a Node.js runtime")
    return ["node", str(NODE_BOOTSTRAP)]


#: Runtime identifier prefix -> how its environments start.
BOOTSTRAPS: dict[str, Callable[[FunctionSpec], Bootstrap]] = {"python3": python, "nodejs": nodejs}


def bootstrap_for(spec: FunctionSpec) -> Bootstrap:
    """The bootstrap of ``spec``'s runtime; ServiceError for a runtime nothing here runs."""
    for prefix, make in BOOTSTRAPS.items():
        if spec.runtime.startswith(prefix):
            return make(spec)
    raise ServiceError(
        f"function {spec.key}: runtime {spec.runtime} has no bootstrap here "
        f"(known: {', '.join(f'{p}*' for p in BOOTSTRAPS)})"
    )
