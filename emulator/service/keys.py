"""Which ``serverless.yml`` keys the emulator models, which have no local effect, and the rest.

Every key of a user's ``serverless.yml`` falls in one of three groups:

- **modelled**: the emulator does what AWS does with it (``functions.*.timeout``,
  ``http.private``, ...);
- **inert**: it has no effect on one machine by nature (IAM, tags, packaging, deployment
  settings, CloudFormation resources other than the buckets, tables and queues the emulator
  creates), so it is accepted without a word; the README lists these;
- anything else changes API or Lambda behaviour on AWS and is not modelled here: each such key
  gets one warning at start, ``timeoutlab: warning: <key path>: not modelled, ignored``, so a
  user never mistakes a setting that is ignored for one that is honoured.

The table is data: a key path pattern with ``*`` for any mapping key and ``[]`` for any list
item, and its group. ``BRANCH`` patterns are containers whose children are looked up in turn.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from typing import Any


class Kind(enum.Enum):
    """What the emulator does with a key (and everything under it, except for ``BRANCH``)."""

    MODELLED = "modelled"
    INERT = "no local effect"
    BRANCH = "container"  # look at each child on its own


M, N, B = Kind.MODELLED, Kind.INERT, Kind.BRANCH  # N: no local effect

#: Key path patterns and their kind; a path not matched by any pattern under a BRANCH is warned.
KEYS: dict[str, Kind] = {
    # -- top level ------------------------------------------------------------------------------
    "service": M,
    "provider": B,
    "functions": B,
    "functions.*": B,
    "custom": B,
    "custom.*": N,  # the user's own variables
    "custom.timeoutlab": B,
    "resources": B,
    "resources.Resources": B,  # by resource type: see RESOURCE_TYPES
    "frameworkVersion": N,
    "app": N,
    "org": N,
    "console": N,
    "dashboard": N,
    "useDotenv": N,
    "variablesResolutionMode": N,
    "configValidationMode": N,
    "deprecationNotificationMode": N,
    "disabledDeprecations": N,
    "unresolvedVariablesNotificationMode": N,
    "plugins": N,
    "package": N,
    "params": M,  # ${param:NAME}: see variables.py
    "layers": N,  # layer definitions; a function that uses layers is warned
    "resources.Outputs": N,
    "resources.Conditions": N,
    "resources.Parameters": N,
    "resources.Mappings": N,
    "resources.Description": N,
    "resources.AWSTemplateFormatVersion": N,
    "resources.Transform": N,
    # -- provider -------------------------------------------------------------------------------
    "provider.name": M,
    "provider.runtime": M,
    "provider.stage": M,
    "provider.region": M,
    "provider.timeout": M,
    "provider.memorySize": M,
    "provider.environment": M,
    "provider.websocketsApiRouteSelectionExpression": M,
    "provider.apiGateway": B,
    "provider.apiGateway.shouldStartNameWithService": N,
    "provider.apiGateway.description": N,
    "provider.apiGateway.metrics": N,
    "provider.apiGateway.apiKeys": M,
    "provider.apiGateway.binaryMediaTypes": M,
    # usagePlan: its plan names group the keys; quotas and throttles are warned.
    "provider.apiGateway.usagePlan": B,
    "provider.apiGateway.usagePlan[]": B,
    "provider.apiGateway.usagePlan[].*": B,
    "provider.httpApi": B,
    "provider.httpApi.name": N,
    "provider.httpApi.metrics": N,
    "provider.httpApi.shouldStartNameWithService": N,
    "provider.httpApi.useProviderTags": N,
    "provider.httpApi.payload": M,
    "provider.websocketsApiName": N,
    "provider.websocketsDescription": N,
    "provider.apiName": N,
    "provider.stackName": N,
    "provider.stackTags": N,
    "provider.tags": N,
    "provider.stackPolicy": N,
    "provider.stackParameters": N,
    "provider.notificationArns": N,
    "provider.disableRollback": N,
    "provider.rollbackConfiguration": N,
    "provider.deploymentBucket": N,
    "provider.deploymentPrefix": N,
    "provider.deploymentMethod": N,
    "provider.profile": N,
    "provider.iam": N,
    "provider.iamRoleStatements": N,
    "provider.iamManagedPolicies": N,
    "provider.role": N,
    "provider.rolePermissionsBoundary": N,
    "provider.cfnRole": N,
    "provider.versionFunctions": N,
    "provider.lambdaHashingVersion": N,
    "provider.logRetentionInDays": N,
    "provider.logDataProtectionPolicy": N,
    "provider.logs": N,
    "provider.tracing": N,
    "provider.kmsKeyArn": N,
    "provider.vpc": N,
    "provider.architecture": N,
    "provider.runtimeManagement": N,
    "provider.ecr": N,
    "provider.s3": N,
    "provider.eventBridge": N,
    # -- functions ------------------------------------------------------------------------------
    "functions.*.handler": M,
    "functions.*.runtime": M,
    "functions.*.name": M,
    "functions.*.timeout": M,
    "functions.*.memorySize": M,
    "functions.*.environment": M,
    "functions.*.reservedConcurrency": M,
    "functions.*.maximumRetryAttempts": M,
    "functions.*.maximumEventAge": M,
    # destinations: a function of the service or an SQS queue; the parser warns the others.
    "functions.*.destinations": B,
    "functions.*.destinations.onSuccess": M,
    "functions.*.destinations.onFailure": M,
    "functions.*.httpApi": B,
    "functions.*.httpApi.payload": M,
    "functions.*.events": B,
    "functions.*.events[]": B,
    "functions.*.description": N,
    "functions.*.role": N,
    "functions.*.tags": N,
    "functions.*.package": N,
    "functions.*.vpc": N,
    "functions.*.architecture": N,
    "functions.*.ephemeralStorageSize": N,
    "functions.*.tracing": N,
    "functions.*.kmsKeyArn": N,
    "functions.*.logRetentionInDays": N,
    "functions.*.logDataProtectionPolicy": N,
    "functions.*.disableLogs": N,
    "functions.*.logs": N,
    "functions.*.dependsOn": N,
    "functions.*.runtimeManagement": N,
    "functions.*.iamRoleStatements": N,  # serverless-iam-roles-per-function
    "functions.*.iamRoleStatementsName": N,
    "functions.*.iamRoleStatementsInherit": N,
    # -- events: REST (http), WebSocket --------------------------------------------------------
    "functions.*.events[].http": B,  # the string form ("POST reports") is modelled whole
    "functions.*.events[].http.path": M,
    "functions.*.events[].http.method": M,
    "functions.*.events[].http.integration": M,  # Lambda proxy only: see MODELLED_VALUES
    "functions.*.events[].http.private": M,
    "functions.*.events[].http.cors": M,
    # Lambda authorizers (a function of the service); IAM, Cognito and functions elsewhere are
    # warned by the parser, which alone knows which function an ARN names.
    "functions.*.events[].http.authorizer": B,
    "functions.*.events[].http.authorizer.name": M,
    "functions.*.events[].http.authorizer.arn": M,
    "functions.*.events[].http.authorizer.type": M,
    "functions.*.events[].http.authorizer.identitySource": M,
    "functions.*.events[].http.authorizer.resultTtlInSeconds": M,
    "functions.*.events[].http.authorizer.identityValidationExpression": M,
    "functions.*.events[].http.operationId": N,
    "functions.*.events[].http.summary": N,
    "functions.*.events[].http.description": N,
    "functions.*.events[].http.documentation": N,
    "functions.*.events[].websocket": B,
    "functions.*.events[].websocket.route": M,
    "functions.*.events[].websocket.routeResponseSelectionExpression": M,
    "functions.*.events[].websocket.authorizer": B,
    "functions.*.events[].websocket.authorizer.name": M,
    "functions.*.events[].websocket.authorizer.arn": M,
    "functions.*.events[].websocket.authorizer.identitySource": M,
    # -- events: HTTP APIs ----------------------------------------------------------------------
    "functions.*.events[].httpApi": B,  # the string forms ('*', 'GET /x') are modelled whole
    "functions.*.events[].httpApi.method": M,
    "functions.*.events[].httpApi.path": M,
    # -- custom.timeoutlab: the emulator's own settings -----------------------------------------
    "custom.timeoutlab.integrationTimeout": M,
    "custom.timeoutlab.routeTimeouts": M,
    "custom.timeoutlab.streamingRoutes": M,
    "custom.timeoutlab.httpApiRouteTimeouts": M,
}

#: Keys modelled only with these values; any other value is warned (a non-proxy Lambda
#: integration maps requests with templates, which the emulator does not).
MODELLED_VALUES: dict[str, frozenset[str]] = {
    "functions.*.events[].http.integration": frozenset(
        {"lambda-proxy", "lambda_proxy", "aws-proxy", "aws_proxy"}
    ),
}

#: CloudFormation resources the emulator creates on the backend, and the properties it reads;
#: their other properties are listed as inert or warned like any key.
RESOURCE_TYPES: dict[str, dict[str, Kind]] = {
    "AWS::S3::Bucket": {
        "BucketName": M,
        "Tags": N,
        "BucketEncryption": N,
        "PublicAccessBlockConfiguration": N,
        "OwnershipControls": N,
        "AccessControl": N,
        "LoggingConfiguration": N,
        "MetricsConfigurations": N,
        "AnalyticsConfigurations": N,
        "InventoryConfigurations": N,
        "IntelligentTieringConfigurations": N,
    },
    "AWS::DynamoDB::Table": {
        "TableName": M,
        "AttributeDefinitions": M,
        "KeySchema": M,
        "BillingMode": M,
        "ProvisionedThroughput": M,
        "GlobalSecondaryIndexes": M,
        "LocalSecondaryIndexes": M,
        "TimeToLiveSpecification": M,
        "PointInTimeRecoverySpecification": N,
        "SSESpecification": N,
        "Tags": N,
        "TableClass": N,
        "DeletionProtectionEnabled": N,
        "ContributorInsightsSpecification": N,
        "StreamSpecification": N,  # a stream event that reads it is warned
        "KinesisStreamSpecification": N,
        "OnDemandThroughput": N,
        "WarmThroughput": N,
        "ResourcePolicy": N,
    },
    "AWS::SQS::Queue": {
        "QueueName": M,
        "FifoQueue": M,
        "ContentBasedDeduplication": M,
        "DelaySeconds": M,
        "MaximumMessageSize": M,
        "MessageRetentionPeriod": M,
        "ReceiveMessageWaitTimeSeconds": M,
        "VisibilityTimeout": M,
        "Tags": N,
        "KmsMasterKeyId": N,
        "KmsDataKeyReusePeriodSeconds": N,
        "SqsManagedSseEnabled": N,
    },
}
#: Keys of a resource entry itself (beside Properties) that have no local effect.
RESOURCE_ENTRY_INERT = ("Type", "DeletionPolicy", "UpdateReplacePolicy", "DependsOn", "Condition")


def _segments(path: str) -> list[str]:
    return path.replace("[]", ".[]").split(".")


_PATTERNS = [(_segments(pattern), kind) for pattern, kind in KEYS.items()]
_VALUES = [(_segments(pattern), values) for pattern, values in MODELLED_VALUES.items()]


def _matches(pattern: list[str], path: list[str]) -> bool:
    return len(pattern) == len(path) and all(
        p in ("*", s) for p, s in zip(pattern, path, strict=True)
    )


def kind_of(path: list[str]) -> Kind | None:
    """The kind of a concrete key path (mapping keys, and ``[]`` for list items), or None when
    no pattern covers it. The most literal pattern wins: ``custom.*`` is the user's own, but
    ``custom.timeoutlab`` is the emulator's."""
    matches = [(pattern.count("*"), kind) for pattern, kind in _PATTERNS if _matches(pattern, path)]
    return min(matches, key=lambda match: match[0])[1] if matches else None


def _display(path: list[str], indexes: list[int]) -> str:
    out, it = "", iter(indexes)
    for segment in path:
        out += f"[{next(it)}]" if segment == "[]" else ("." if out else "") + segment
    return out


def warning_line(key_path: str) -> str:
    """The one line a user sees at start for a key that is not modelled."""
    return f"timeoutlab: warning: {key_path}: not modelled, ignored"


def unmodelled_keys(config: dict) -> list[str]:
    """The key paths of a resolved ``serverless.yml`` that change behaviour on AWS and are not
    modelled here, in file order, e.g. ``functions.report.events[0].sqs``."""
    return list(_walk(config, [], []))


def _walk(node: Any, path: list[str], indexes: list[int]) -> Iterator[str]:
    if isinstance(node, list):
        for index, item in enumerate(node):
            yield from _child(item, [*path, "[]"], [*indexes, index])
        return
    if not isinstance(node, dict):
        return  # a scalar under a branch (the short forms): modelled whole
    if path == ["resources", "Resources"]:
        for logical_id, resource in node.items():
            yield from _resource(logical_id, resource, indexes)
        return
    for key, value in node.items():
        yield from _child(value, [*path, str(key)], indexes)


def _child(node: Any, path: list[str], indexes: list[int]) -> Iterator[str]:
    kind = kind_of(path)
    values = next((values for pattern, values in _VALUES if _matches(pattern, path)), None)
    if kind is None or (values is not None and str(node).lower() not in values):
        yield _display(path, indexes)
    elif kind is Kind.BRANCH:
        yield from _walk(node, path, indexes)


def _resource(logical_id: str, resource: Any, indexes: list[int]) -> Iterator[str]:
    if not isinstance(resource, dict):
        return
    properties = RESOURCE_TYPES.get(str(resource.get("Type")))
    if properties is None:
        return  # a resource the emulator does not create: deployment only
    where = ["resources", "Resources", logical_id]
    for key, value in resource.items():
        if key == "Properties" and isinstance(value, dict):
            for name in value:
                if name not in properties:
                    yield _display([*where, "Properties", str(name)], indexes)
        elif key not in RESOURCE_ENTRY_INERT and key != "Properties":
            yield _display([*where, str(key)], indexes)
