"""The CloudFormation resources the emulator creates on the backend: buckets, tables, queues."""

from __future__ import annotations

from emulator.core.destinations import (
    queue_arn,
)
from emulator.core.events import ACCOUNT_ID
from emulator.service import deploy_rules
from emulator.service.spec import QueueSpec, ServiceError, TableSpec

_TABLE_PROPERTIES = (
    "TableName",
    "AttributeDefinitions",
    "KeySchema",
    "BillingMode",
    "ProvisionedThroughput",
    "GlobalSecondaryIndexes",
    "LocalSecondaryIndexes",
)


def parse_resources(
    config: dict, service: str, stage: str, region: str, where: str
) -> tuple[list[str], list[TableSpec], list[QueueSpec]]:
    resources = ((config.get("resources") or {}).get("Resources")) or {}
    buckets: list[str] = []
    tables: list[TableSpec] = []
    queues: list[QueueSpec] = []
    for logical_id, resource in resources.items():
        kind = resource.get("Type") if isinstance(resource, dict) else None
        props = resource.get("Properties") or {} if isinstance(resource, dict) else {}
        rwhere = f"{where}: resources.Resources.{logical_id}"
        if kind == "AWS::S3::Bucket":
            bucket = str(props.get("BucketName") or f"{service}-{stage}-{logical_id}".lower())
            broken = deploy_rules.bucket_name_rule(bucket)
            if broken:
                raise ServiceError(f"{rwhere}.Properties.BucketName: {broken}")
            buckets.append(bucket)
        elif kind == "AWS::DynamoDB::Table":
            if not props.get("TableName") or not props.get("KeySchema"):
                raise ServiceError(f"{rwhere}: a table needs TableName and KeySchema")
            broken = deploy_rules.table_rule(props)
            if broken:
                raise ServiceError(f"{rwhere}.Properties: {broken}")
            arguments = {k: props[k] for k in _TABLE_PROPERTIES if k in props}
            if "ProvisionedThroughput" not in arguments:
                arguments.setdefault("BillingMode", "PAY_PER_REQUEST")
            ttl = props.get("TimeToLiveSpecification") or {}
            ttl_attribute = ttl.get("AttributeName") if ttl.get("Enabled") else None
            tables.append(TableSpec(str(props["TableName"]), arguments, ttl_attribute))
        elif kind == "AWS::SQS::Queue":
            queues.append(_queue(logical_id, props, service, stage, region, where))
    return buckets, tables, queues


#: AWS::SQS::Queue properties passed to CreateQueue as attributes of the same name.
_QUEUE_ATTRIBUTES = (
    "ContentBasedDeduplication",
    "DelaySeconds",
    "FifoQueue",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
)


def _queue(
    logical_id: str, props: dict, service: str, stage: str, region: str, where: str
) -> QueueSpec:
    """A queue of ``resources.Resources``. Without ``QueueName`` CloudFormation makes one up
    from the stack and the logical id; here it is ``<service>-<stage>-<LogicalId>`` (with
    ``.fifo`` for a FIFO queue). "If you specify the FifoQueue property, the QueueName must end
    with the .fifo suffix" (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/
    aws-resource-sqs-queue.html)."""
    fifo = str(props.get("FifoQueue", "")).lower() == "true"
    name = str(props.get("QueueName") or f"{service}-{stage}-{logical_id}{'.fifo' if fifo else ''}")
    if fifo and not name.endswith(".fifo"):
        raise ServiceError(
            f"{where}: resources.Resources.{logical_id}.Properties.QueueName: a FIFO queue's "
            f"name must end with .fifo, got {name!r}"
        )
    attributes = {
        key: str(props[key]).lower() if isinstance(props[key], bool) else str(props[key])
        for key in _QUEUE_ATTRIBUTES
        if key in props
    }
    return QueueSpec(logical_id, name, queue_arn(region, ACCOUNT_ID, name), attributes)
