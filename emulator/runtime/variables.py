"""The environment variables of one execution environment's process, as Lambda sets them.

AWS's list: https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html (reserved
and unreserved variables). Nothing of the emulator's own ``os.environ`` is passed on except
``PATH`` and ``LD_LIBRARY_PATH`` (the child must find its interpreter and libraries here), and of
the emulator's settings exactly ``OURS``.
"""

from __future__ import annotations

import os
import time
import uuid

from emulator.clock import EPOCH_ANCHOR_ENV, TIME_SCALE_ENV
from emulator.runtime.bootstraps import Bootstrap
from emulator.service import FunctionSpec, ServiceSpec

#: The emulator's variables a function gets: its clock, the endpoints it calls, the CA of --tls.
OURS = (TIME_SCALE_ENV, EPOCH_ANCHOR_ENV, "AWS_CA_BUNDLE")
OURS_PREFIX = "AWS_ENDPOINT_URL"
#: Credentials: "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN - The access keys
#: obtained from the function's execution role". No session token here: MiniStack and moto take
#: the static pair, and MiniStack refuses a token it did not issue.
CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
DEFAULT_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
#: "TZ - The environment's time zone (:UTC)"; "LANG - The locale of the runtime (en_US.UTF-8)".
FIXED = {"TZ": ":UTC", "LANG": "en_US.UTF-8", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST"}
#: "AWS_LAMBDA_INITIALIZATION_TYPE - The initialization type of the function, which is
#: on-demand, provisioned-concurrency, snap-start, or lambda-managed-instances."
INITIALIZATION_TYPE = "on-demand"
#: The initialization type of environments made ahead of any invocation (``--prewarm``).
PROVISIONED = "provisioned-concurrency"


def log_stream_name() -> str:
    """A CloudWatch log stream name as Lambda makes one per environment:
    ``YYYY/MM/DD/[$LATEST]<32 hex>``."""
    return f"{time.strftime('%Y/%m/%d', time.gmtime())}/[$LATEST]{uuid.uuid4().hex}"


def environment_variables(
    spec: FunctionSpec,
    service: ServiceSpec,
    bootstrap: Bootstrap,
    *,
    runtime_api: str,
    ours: dict[str, str],
    log_stream: str,
    initialization_type: str = INITIALIZATION_TYPE,
) -> dict[str, str]:
    """Everything the process of one environment of ``spec`` starts with.

    ``runtime_api`` is ``host:port`` of its Runtime API; ``ours`` the emulator's handler
    variables, of which only ``OURS``, ``AWS_ENDPOINT_URL*`` and the credentials are kept. The
    function's own ``environment`` may override ours, never Lambda's reserved variables."""
    task_root = str(service.directory)
    library_path = ":".join(
        part for part in (os.environ.get("LD_LIBRARY_PATH", ""), f"{task_root}/lib") if part
    )
    kept = {
        name: value
        for name, value in ours.items()
        if name in OURS or name in CREDENTIALS or name.startswith(OURS_PREFIX)
    }
    reserved = {
        "_HANDLER": spec.handler,
        "AWS_REGION": service.region,
        "AWS_DEFAULT_REGION": service.region,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
        "AWS_LAMBDA_FUNCTION_NAME": spec.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
        "AWS_LAMBDA_INITIALIZATION_TYPE": initialization_type,
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
        "AWS_LAMBDA_RUNTIME_API": runtime_api,
        "LAMBDA_TASK_ROOT": task_root,
        "LAMBDA_RUNTIME_DIR": str(bootstrap.runtime_dir),
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "LD_LIBRARY_PATH": library_path,
        **FIXED,
    }
    return {
        **DEFAULT_CREDENTIALS,
        **kept,
        **spec.environment,
        **bootstrap.environment,
        **reserved,
    }
