"""The DynamoDB table of open WebSocket connections.

DynamoDB deletes expired items late (up to days after their ``ttl``), so readers here treat an
item whose ``ttl`` has passed as absent.
"""

import functools
import os

import boto3

import execution_environment
import lambda_time

CONNECTION_TTL_SECONDS = 3600


@functools.cache
def _table():
    """One client per execution environment, made on first use (AWS's advice: reuse clients)."""
    return boto3.resource("dynamodb").Table(os.environ["CONNECTIONS_TABLE"])


execution_environment.initialise(_table)  # during Init


def remember(connection_id: str) -> None:
    """Store (or refresh) a connection, to expire an hour from now."""
    now = int(lambda_time.now())
    _table().put_item(
        Item={
            "connectionId": connection_id,
            "connectedAt": now,
            "ttl": now + CONNECTION_TTL_SECONDS,
        }
    )


def forget(connection_id: str) -> None:
    _table().delete_item(Key={"connectionId": connection_id})


def is_open(connection_id: str) -> bool:
    """True if the connection is stored and its item has not expired."""
    item = _table().get_item(Key={"connectionId": connection_id}, ConsistentRead=True).get("Item")
    return lambda_time.unexpired(item)
