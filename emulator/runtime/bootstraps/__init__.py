"""Which program runs an execution environment of a given Lambda runtime.

An execution environment is a child process that speaks the Lambda Runtime API to the emulator
(``AWS_LAMBDA_RUNTIME_API``). For ``nodejs*`` runtimes that program is our own dependency-free
bootstrap, ``node/bootstrap.mjs``: AWS's ``aws-lambda-ric`` builds native code on install
(node-gyp, cmake, autotools) and its 4.x needs Node.js >= 22.
"""

from __future__ import annotations

import shutil
from pathlib import Path

#: timeoutlab's Node.js runtime interface client (the Lambda Runtime API, nothing else).
NODE_BOOTSTRAP = Path(__file__).parent / "node" / "bootstrap.mjs"


class UnsupportedRuntime(ValueError):
    """serverless.yml names a runtime that no bootstrap here can run."""


def bootstrap_command(runtime: str) -> list[str]:
    """The command that starts one execution environment of ``runtime`` (e.g. ``nodejs20.x``).

    The process gets the Lambda environment variables (``AWS_LAMBDA_RUNTIME_API``, ``_HANDLER``,
    ``LAMBDA_TASK_ROOT``, ...) from its caller; ``node`` is looked up on ``PATH`` when it runs.
    Python runtimes are started by the process runtime itself (``awslambdaric``).
    """
    if runtime.startswith("nodejs"):
        return ["node", str(NODE_BOOTSTRAP)]
    raise UnsupportedRuntime(
        f"runtime {runtime} has no bootstrap here; supported: python3.x (awslambdaric) and "
        f"nodejs* (node {NODE_BOOTSTRAP.name})"
    )


def node_available() -> bool:
    """Whether ``node`` is on PATH, for a clear message before an environment fails to start."""
    return shutil.which("node") is not None
