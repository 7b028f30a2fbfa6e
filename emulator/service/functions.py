"""A function of ``functions:``: its handler file, limits, environment and asynchronous
invocation settings (retries, event age, destinations)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from emulator.core.async_retries import MAX_EVENT_AGE_RANGE, MAX_RETRIES_RANGE
from emulator.core.destinations import (
    Destination,
    DestinationKind,
    kind_of_arn,
)
from emulator.core.lambda_api import function_arn, function_name
from emulator.service import deploy_rules
from emulator.service.environment import (
    DeclaredEnvironment,
    declared_environment,
    function_environment,
)
from emulator.service.spec import (
    DEFAULT_FUNCTION_TIMEOUT,
    DEFAULT_MEMORY_MB,
    DEFAULT_RUNTIME,
    MAX_FUNCTION_TIMEOUT,
    NODE_EXTENSIONS,
    SUPPORTED_RUNTIME_PREFIXES,
    EventInvokeConfig,
    FunctionSpec,
    QueueSpec,
    ServiceError,
)


def parse_function(
    key: str,
    spec: dict,
    provider: dict,
    service: str,
    stage: str,
    directory: Path,
    where: str,
    provider_environment: DeclaredEnvironment,
) -> tuple[FunctionSpec, DeclaredEnvironment]:
    """One function of ``functions:``, with Serverless's defaults and Lambda's limits, and its
    own ``environment`` as read (``declared_environment``: its intrinsic functions and dates,
    for the caller's warnings); raises ServiceError naming ``where`` (``<file>:
    functions.<key>``) for what Lambda would refuse. The function's variables are its own over
    ``provider_environment`` (``provider.environment`` as read), as strings, nulls left out."""
    if not spec.get("handler"):
        raise ServiceError(f"{where}: `handler` is missing")
    runtime = str(spec.get("runtime") or provider.get("runtime") or DEFAULT_RUNTIME)
    if not runtime.startswith(SUPPORTED_RUNTIME_PREFIXES):
        raise ServiceError(
            f"{where}: runtime {runtime} is not supported; python3.x and nodejs* run here"
        )
    module_path, attribute = handler_file(str(spec["handler"]), runtime, directory, where)
    # Lambda: Timeout 1..900 s, MemorySize 128..10240 MB (https://docs.aws.amazon.com/lambda/
    # latest/api/API_CreateFunction.html); Serverless takes the function's, else the provider's.
    timeout = _number(spec, provider, "timeout", DEFAULT_FUNCTION_TIMEOUT, where)
    if not 1 <= timeout <= MAX_FUNCTION_TIMEOUT:
        raise ServiceError(
            f"{where}: timeout must be 1..{MAX_FUNCTION_TIMEOUT:g} s, got {timeout:g}"
        )
    memory = _number(spec, provider, "memorySize", DEFAULT_MEMORY_MB, where)
    if memory != int(memory) or not 128 <= memory <= 10240:
        raise ServiceError(f"{where}: memorySize must be an integer 128..10240 MB, got {memory:g}")
    own_environment = declared_environment(spec.get("environment"), f"{where}.environment")
    environment = function_environment(provider_environment, own_environment)
    broken = deploy_rules.environment_rule(environment)
    if broken:
        raise ServiceError(f"{where}.environment: {broken}")
    name = str(spec.get("name") or f"{service}-{stage}-{key}")
    broken = deploy_rules.function_name_rule(name)
    if broken:
        raise ServiceError(f"{where}.name: {broken}")
    reserved = spec.get("reservedConcurrency")
    if reserved is not None and (not isinstance(reserved, int) or reserved < 0):
        raise ServiceError(
            f"{where}: reservedConcurrency must be an integer >= 0, got {reserved!r}"
        )
    function = FunctionSpec(
        key=key,
        name=name,
        handler=str(spec["handler"]),
        module_path=module_path,
        attribute=attribute,
        timeout=timeout,
        memory_mb=int(memory),
        environment=environment,
        runtime=runtime,
        reserved_concurrency=reserved,
        async_config=EventInvokeConfig(
            maximum_retry_attempts=_bounded_integer(
                spec.get("maximumRetryAttempts"), MAX_RETRIES_RANGE, f"{where}.maximumRetryAttempts"
            ),
            maximum_event_age=_bounded_integer(
                spec.get("maximumEventAge"), MAX_EVENT_AGE_RANGE, f"{where}.maximumEventAge"
            ),
        ),
    )
    return function, own_environment


def _number(spec: dict, provider: dict, key: str, default: float, where: str) -> float:
    """The function's ``key``, else the provider's, else ``default``; ServiceError for a value
    that is not a number."""
    value = spec.get(key, provider.get(key))
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ServiceError(f"{where}: {key} must be a number, got {value!r}")
    return float(value)


def _bounded_integer(value: Any, bounds: tuple[int, int], where: str) -> int | None:
    """An asynchronous invocation setting within Lambda's range, or None when absent.

    Lambda refuses values out of range: "MaximumRetryAttempts ... Valid Range: Minimum value of
    0. Maximum value of 2", "MaximumEventAgeInSeconds ... Valid Range: Minimum value of 60.
    Maximum value of 21600"
    (https://docs.aws.amazon.com/lambda/latest/api/API_PutFunctionEventInvokeConfig.html)."""
    if value is None:
        return None
    low, high = bounds
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value)
    if number is None or not low <= number <= high:
        raise ServiceError(f"{where} must be an integer {low}..{high}, got {value!r}")
    return number


def parse_destinations(
    spec: dict,
    functions: dict[str, FunctionSpec],
    queues: list[QueueSpec],
    region: str,
    where: str,
) -> tuple[Destination | None, Destination | None]:
    """``(onSuccess, onFailure)`` from a function's ``destinations``; None where absent."""
    declared = spec.get("destinations")
    if declared is None:
        return None, None
    if not isinstance(declared, dict):
        raise ServiceError(f"{where}.destinations must be a mapping of onSuccess and onFailure")
    found = [
        None
        if declared.get(key) is None
        else _destination(declared[key], functions, queues, region, f"{where}.destinations.{key}")
        for key in ("onSuccess", "onFailure")
    ]
    return found[0], found[1]


def _destination(
    value: Any, functions: dict[str, FunctionSpec], queues: list[QueueSpec], region: str, where: str
) -> Destination | None:
    """One destination, in the forms Serverless v3 takes (``getDestinationsArn`` in
    github.com/serverless/serverless/blob/v3/lib/plugins/aws/package/compile/functions.js): a
    function key of this service, an ARN, or ``{type, arn}`` with ``type`` one of function, sqs,
    sns, eventBus. None (logged) for an ``arn`` this emulator cannot resolve."""
    if isinstance(value, str):
        if not value.startswith("arn:"):
            # Serverless resolves a non-ARN as a function of the service, else fails with
            # "Unrecognized function address" (resolveFunctionArn, lib/plugins/aws/provider.js).
            if value not in functions:
                raise ServiceError(
                    f"{where}: {value!r} is neither a function of this service "
                    f"({', '.join(sorted(functions))}) nor an ARN"
                )
            return Destination(
                DestinationKind.FUNCTION, function_arn(functions[value].name, region), value
            )
        kind = kind_of_arn(value)
        if kind is None:
            # Serverless: "Unsupported destination target" (ensureTargetExecutionPermission).
            raise ServiceError(
                f"{where}: unsupported destination target {value!r}: an ARN of a function, SQS "
                "queue, SNS topic or EventBridge event bus"
            )
        return _with_function_key(Destination(kind, value), functions)
    if isinstance(value, dict) and "type" in value and "arn" in value:
        kinds = {kind.value: kind for kind in DestinationKind}
        if value["type"] not in kinds:
            raise ServiceError(
                f"{where}.type must be one of {', '.join(kinds)}, got {value['type']!r}"
            )
        arn = _resolve_arn(value["arn"], functions, queues, region)
        if arn is None:  # another intrinsic function: warned at start (see load.py)
            return None
        return _with_function_key(Destination(kinds[value["type"]], arn), functions)
    raise ServiceError(
        f"{where} must be a function name, an ARN, or a mapping with type and arn; got {value!r}"
    )


def _with_function_key(destination: Destination, functions: dict[str, FunctionSpec]) -> Destination:
    """A function destination with the key of the function it names; None for a function
    outside the service (warned at start; its records fail to deliver, logged and counted)."""
    if destination.kind is not DestinationKind.FUNCTION:
        return destination
    name = function_name(destination.arn)
    key = next((k for k, spec in functions.items() if spec.name == name), None)
    return replace(destination, function_key=key)


def _resolve_arn(
    value: Any, functions: dict[str, FunctionSpec], queues: list[QueueSpec], region: str
) -> str | None:
    """A destination ``arn``: a string, or ``Fn::GetAtt [<LogicalId>, Arn]`` of a queue of
    ``resources.Resources`` or a function of the service (its Serverless logical id,
    ``<Key>LambdaFunction``); None for any other intrinsic function."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and set(value) == {"Fn::GetAtt"}:
        target = value["Fn::GetAtt"]
        if isinstance(target, str):
            target = target.split(".", 1)
        if isinstance(target, list) and len(target) == 2 and target[1] == "Arn":
            logical_id = str(target[0])
            for queue in queues:
                if queue.logical_id == logical_id:
                    return queue.arn
            for key, spec in functions.items():
                if lambda_logical_id(key) == logical_id:
                    return function_arn(spec.name, region)
    return None


def lambda_logical_id(function_key: str) -> str:
    """The CloudFormation logical id Serverless gives a function: ``getLambdaLogicalId`` in
    github.com/serverless/serverless/blob/v3/lib/plugins/aws/lib/naming.js (``-`` spelled
    ``Dash``, ``_`` spelled ``Underscore``, first letter upper-cased, ``LambdaFunction``)."""
    normalized = function_key.replace("-", "Dash").replace("_", "Underscore")
    return f"{normalized[:1].upper()}{normalized[1:]}LambdaFunction"


def handler_file(handler: str, runtime: str, directory: Path, where: str) -> tuple[Path, str]:
    """The file a handler names, and the attribute (export) in it.

    Python: ``pkg/module.function`` is ``pkg/module.py``'s ``function``. Node.js, as its runtime
    reads ``_HANDLER``: ``dir/file.export`` is ``dir/file`` with ``.js``, ``.mjs`` or ``.cjs``,
    and ``export`` (dots in it name a nested property). The file must be inside the service's
    folder, as it would be inside the deployment package: symlinks are resolved first, so a
    ``../outside/x.handler`` or a symlink leading out of the folder raises ServiceError."""
    node = runtime.startswith("nodejs")
    folder, _, base = handler.rpartition("/")
    if node:
        module, _, attribute = base.partition(".")
    else:
        module, _, attribute = base.rpartition(".")
    if not module or not attribute:
        raise ServiceError(f"{where}: handler {handler!r} must look like 'file.function'")
    stem = directory / folder / module if folder else directory / module
    if node:
        candidates = [stem.with_name(stem.name + ext) for ext in NODE_EXTENSIONS]
    else:
        candidates = [stem.with_name(stem.name + ".py")]
    root = directory.resolve()
    for candidate in candidates:
        if not candidate.resolve().is_relative_to(root):
            raise ServiceError(
                f"{where}: handler {handler!r} points outside the service folder {root}"
            )
    found = next((c for c in candidates if c.is_file()), None)
    if found is None:
        tried = " or ".join(str(c) for c in candidates)
        raise ServiceError(f"{where}: handler file {tried} does not exist")
    return found, attribute
