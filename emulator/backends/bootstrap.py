"""Create the service's bucket(s) and table(s) on a backend; safe to run again and again."""

from __future__ import annotations

import logging

from botocore.exceptions import BotoCoreError, ClientError

from emulator.backends.endpoint import Backend, BackendError
from emulator.service import ServiceSpec

log = logging.getLogger("timeoutlab.backend")


def _code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def bootstrap(service: ServiceSpec, backend: Backend) -> None:
    try:
        _create_buckets(service, backend)
        _create_tables(service, backend)
        _create_queues(service, backend)
    except (BotoCoreError, ClientError) as exc:
        raise BackendError(
            f"creating the service's resources on {backend.kind} at {backend.endpoint_url} "
            f"failed: {exc}"
        ) from exc


def _create_buckets(service: ServiceSpec, backend: Backend) -> None:
    s3 = backend.client("s3")
    for bucket in service.buckets:
        arguments: dict = {"Bucket": bucket}
        if backend.region != "us-east-1":
            arguments["CreateBucketConfiguration"] = {"LocationConstraint": backend.region}
        try:
            s3.create_bucket(**arguments)
            log.info("created bucket %s", bucket)
        except ClientError as exc:
            if _code(exc) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise


def _create_tables(service: ServiceSpec, backend: Backend) -> None:
    dynamodb = backend.client("dynamodb")
    for table in service.tables:
        try:
            dynamodb.create_table(**table.create_arguments)
            log.info("created table %s", table.name)
        except ClientError as exc:
            if _code(exc) != "ResourceInUseException":
                raise
        dynamodb.get_waiter("table_exists").wait(
            TableName=table.name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100}
        )
        if table.ttl_attribute:
            current = dynamodb.describe_time_to_live(TableName=table.name)
            status = current.get("TimeToLiveDescription", {}).get("TimeToLiveStatus")
            if status not in ("ENABLED", "ENABLING"):
                dynamodb.update_time_to_live(
                    TableName=table.name,
                    TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute},
                )


def _create_queues(service: ServiceSpec, backend: Backend) -> None:
    """The service's SQS queues (asynchronous invocation destinations, among other uses);
    CreateQueue with the same attributes is a no-op on an existing queue."""
    if not service.queues:
        return
    sqs = backend.client("sqs")
    for queue in service.queues:
        sqs.create_queue(QueueName=queue.name, Attributes=queue.attributes)
        log.info("created queue %s", queue.name)
