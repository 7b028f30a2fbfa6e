"""The DynamoDB table of report jobs: status, progress, the URL or the error, timestamps, ttl.

Every strategy but plain REST stores its job here, so a client can ask for a job's state at any
time (polling, SSE, or a WebSocket client that reconnects). Expired items are treated as absent.
"""

import functools
import os

import boto3

import execution_environment
import lambda_time

JOB_TTL_SECONDS = 24 * 3600
FINISHED = ("succeeded", "failed")


@functools.cache
def _table():
    return boto3.resource("dynamodb").Table(os.environ["JOBS_TABLE"])


execution_environment.initialise(_table)  # during Init


def create(job_id: str, definition: dict, connection_id: str | None = None) -> dict:
    now = int(lambda_time.now())
    item = {
        "jobId": job_id,
        "status": "pending",
        "progress": 0,
        "delay": definition["delay"],
        "amountOfRows": definition["amountOfRows"],
        "createdAt": now,
        "updatedAt": now,
        "ttl": now + JOB_TTL_SECONDS,
    }
    if connection_id:
        item["connectionId"] = connection_id
    _table().put_item(Item=item)
    return item


def update(job_id: str, **fields) -> None:
    """Set ``fields`` of a job. An item that is missing (its record was lost, e.g. the table was
    emptied under a running job) is made with them, and given its ``createdAt`` and ``ttl`` so
    readers see it (``if_not_exists``: an existing job keeps its own)."""
    now = int(lambda_time.now())
    fields["updatedAt"] = now
    names = {f"#{k}": k for k in fields} | {"#createdAt": "createdAt", "#ttl": "ttl"}
    values = {f":{k}": v for k, v in fields.items()} | {":ttl_if_new": now + JOB_TTL_SECONDS}
    assignments = [f"#{k} = :{k}" for k in fields]
    if "createdAt" not in fields:
        assignments.append("#createdAt = if_not_exists(#createdAt, :updatedAt)")
    if "ttl" not in fields:
        assignments.append("#ttl = if_not_exists(#ttl, :ttl_if_new)")
    _table().update_item(
        Key={"jobId": job_id},
        UpdateExpression="SET " + ", ".join(assignments),
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
    )


def get(job_id: str) -> dict | None:
    item = _table().get_item(Key={"jobId": job_id}, ConsistentRead=True).get("Item")
    return item if lambda_time.unexpired(item) else None


def public(item: dict) -> dict:
    """What clients see of a job (DynamoDB numbers become ints). An item that ``update`` made
    without ``create`` (its first record was lost) shows what it has."""
    shown = {
        "jobId": item["jobId"],
        "status": item.get("status", "pending"),
        "progress": int(item.get("progress", 0)),
    }
    for key in ("url", "error"):
        if key in item:
            shown[key] = item[key]
    shown["createdAt"] = int(item.get("createdAt", item["updatedAt"]))
    shown["updatedAt"] = int(item["updatedAt"])
    return shown
