"""Rules AWS or CloudFormation enforce at deploy, checked when the emulator starts.

A service that ``serverless deploy`` could not deploy must not run here as if it could: each
check returns the broken rule as one sentence (the caller names the key path and exits 2), or
None. The rules on timeouts, memory, stage names and handlers live where those are parsed, in
``emulator.service``; these are the ones about names and resources.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

#: "The length constraint applies only to the full ARN. If you specify only the function name,
#: it is limited to 64 characters in length." Pattern for the name: letters, digits, - and _.
#: (Lambda CreateFunction, FunctionName: https://docs.aws.amazon.com/lambda/latest/api/
#: API_CreateFunction.html)
FUNCTION_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")

#: Environment variable keys: "Key Pattern: [a-zA-Z]([a-zA-Z0-9_])+" (Lambda API, Environment:
#: https://docs.aws.amazon.com/lambda/latest/api/API_Environment.html).
ENVIRONMENT_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_]+")
#: "The total size of all environment variables doesn't exceed 4 KB" (Lambda quotas:
#: https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).
ENVIRONMENT_MAX_BYTES = 4096
#: Keys Lambda sets itself; "the keys for these environment variables are reserved and cannot be
#: set in your function configuration" (https://docs.aws.amazon.com/lambda/latest/dg/
#: configuration-envvars.html#configuration-envvars-runtime). TZ is listed there too, but Lambda
#: accepts a TZ setting, so it is not refused here.
RESERVED_ENVIRONMENT_KEYS = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
    }
)

#: "Bucket names must be between 3 and 63 characters long", "can consist only of lowercase
#: letters, numbers, periods (.), and hyphens (-)", "must begin and end with a letter or
#: number", "must not contain two adjacent periods", "must not be formatted as an IP address"
#: (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html).
BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")

#: Table names: 3 to 255 characters of a-z, A-Z, 0-9, _ - . (DynamoDB naming rules:
#: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/
#: HowItWorks.NamingRulesDataTypes.html).
TABLE_NAME = re.compile(r"[A-Za-z0-9_.-]{3,255}")


def function_name_rule(name: str) -> str | None:
    if FUNCTION_NAME.fullmatch(name):
        return None
    return (
        f"function name {name!r} must be 1 to 64 letters, digits, - and _ (Lambda refuses "
        "others; Serverless names functions <service>-<stage>-<key>)"
    )


def environment_rule(environment: dict[str, str]) -> str | None:
    for key in environment:
        if key in RESERVED_ENVIRONMENT_KEYS:
            return f"{key} is reserved: Lambda sets it and refuses it in a configuration"
        if not ENVIRONMENT_KEY.fullmatch(key):
            return (
                f"{key!r} is not a valid variable name (a letter, then letters, digits or _; "
                "at least 2 characters)"
            )
    size = sum(len(key.encode()) + len(value.encode()) for key, value in environment.items())
    if size > ENVIRONMENT_MAX_BYTES:
        return f"the variables take {size} bytes; Lambda allows {ENVIRONMENT_MAX_BYTES} in all"
    return None


def bucket_name_rule(name: str) -> str | None:
    ip_like = True
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        ip_like = False
    if BUCKET_NAME.fullmatch(name) and ".." not in name and not ip_like:
        return None
    return (
        f"bucket name {name!r} must be 3 to 63 lowercase letters, digits, . and -, begin and end "
        "with a letter or digit, with no '..' and not like an IP address"
    )


def table_rule(properties: dict[str, Any]) -> str | None:
    """TableName's rule, and that the key schema's attributes are exactly the defined ones of the
    table and its indexes: CreateTable refuses "Some index key attributes are not defined in
    AttributeDefinitions" and "Number of attributes in KeySchema does not exactly match number
    of attributes defined in AttributeDefinitions" (https://docs.aws.amazon.com/amazondynamodb/
    latest/APIReference/API_CreateTable.html, AttributeDefinitions)."""
    name = str(properties.get("TableName"))
    if not TABLE_NAME.fullmatch(name):
        return f"table name {name!r} must be 3 to 255 letters, digits, _ - and ."
    defined = {
        str(item.get("AttributeName"))
        for item in properties.get("AttributeDefinitions") or []
        if isinstance(item, dict)
    }
    used: set[str] = set()
    schemas = [properties.get("KeySchema") or []]
    for index_kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        schemas += [index.get("KeySchema") or [] for index in properties.get(index_kind) or []]
    for schema in schemas:
        used |= {str(item.get("AttributeName")) for item in schema if isinstance(item, dict)}
    if used - defined:
        missing = ", ".join(sorted(used - defined))
        return f"key attribute(s) {missing} are not in AttributeDefinitions"
    if defined - used:
        extra = ", ".join(sorted(defined - used))
        return f"AttributeDefinitions defines {extra}, which no key schema uses"
    return None
