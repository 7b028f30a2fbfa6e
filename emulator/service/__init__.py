"""The service as ``serverless.yml`` declares it: functions, APIs, buckets, tables and queues.

Reads the same file ``serverless deploy`` reads, resolving the variables it uses, so the emulator
runs what AWS would run; refuses at start what AWS would refuse at deploy (``ServiceError``,
naming the key path and the rule); lists the keys it does not model (``ServiceSpec.unmodelled``).
Emulator-only settings live under ``custom.timeoutlab``, which Serverless ignores.

One module per part of the file: ``variables`` (reading and resolving), ``environment`` (the
variables a function gets), ``js_text`` (scalars written as Serverless writes them), ``functions``,
``rest_api``, ``http_api``, ``websocket_api``, ``authorizers``, ``resources``, ``keys`` (what is
modelled), ``deploy_rules`` (what AWS refuses), ``spec`` (the result), ``load`` (the whole).
"""

from __future__ import annotations

from pathlib import Path

from emulator.service.functions import handler_file
from emulator.service.load import load_service
from emulator.service.spec import (
    EventInvokeConfig,
    FunctionSpec,
    QueueSpec,
    ServiceError,
    ServiceSpec,
    TableSpec,
)
from emulator.service.variables import param_option

__all__ = [
    "EventInvokeConfig",
    "FunctionSpec",
    "QueueSpec",
    "ServiceError",
    "ServiceSpec",
    "TableSpec",
    "default_service_path",
    "handler_file",
    "load_service",
    "param_option",
]


def default_service_path() -> Path:
    """The article's report system, shipped with timeoutlab."""
    import reportapp

    return Path(reportapp.__file__).parent / "serverless.yml"
