"""The report Lambda: wait ``delay`` ms, write a CSV of ``amountOfRows`` rows to S3, return a
presigned GET URL valid for one hour.

Behind API Gateway REST (``handler``, Lambda proxy integration) a long ``delay`` is exactly what
hits the 29 s integration timeout: the client gets 504 while this function runs on to the end.
Invoked asynchronously for a WebSocket client (``deliver``), it pushes the URL to the connection
when it is ready, however long that took.
"""

import csv
import functools
import io
import json
import os
import uuid

import boto3
from botocore.config import Config

import connections_table
import execution_environment
import jobs_table
import lambda_time

MAX_DELAY_MS = 900_000  # Lambda cannot run longer than 15 minutes
MAX_ROWS = 1_000_000
URL_EXPIRY_SECONDS = 3600
CSV_HEADER = ("id", "customer", "amount", "created_at")


class InvalidDefinition(ValueError):
    """The report definition is not one this Lambda can produce."""


def validate_definition(definition: object) -> tuple[int, int]:
    """(delay in ms, rows) from a report definition, or InvalidDefinition saying what is wrong."""
    if not isinstance(definition, dict):
        raise InvalidDefinition("the report definition must be a JSON object")
    values = {}
    for name, low, high in (("delay", 0, MAX_DELAY_MS), ("amountOfRows", 1, MAX_ROWS)):
        value = definition.get(name)
        if value is None:
            raise InvalidDefinition(f"'{name}' is required")
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidDefinition(f"'{name}' must be an integer, got {json.dumps(value)}")
        if not low <= value <= high:
            raise InvalidDefinition(f"'{name}' must be between {low} and {high}, got {value}")
        values[name] = value
    unknown = sorted(set(definition) - {"delay", "amountOfRows"})
    if unknown:
        raise InvalidDefinition(f"unknown field(s): {', '.join(unknown)}")
    return values["delay"], values["amountOfRows"]


@functools.cache
def _s3():
    # Under an emulator the endpoint is an address, so path-style URLs are the ones that resolve.
    style = "path" if os.environ.get("AWS_ENDPOINT_URL") else "auto"
    return boto3.client(
        "s3", config=Config(s3={"addressing_style": style}, signature_version="s3v4")
    )


execution_environment.initialise(_s3)  # during Init


def render_csv(rows: int) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for i in range(1, rows + 1):
        writer.writerow(
            (i, f"customer-{i % 997:03d}", f"{(i * 7919) % 100000 / 100:.2f}", "2024-01-01")
        )
    return out.getvalue().encode()


PROGRESS_STEPS = 10


def generate_report(delay_ms: int, rows: int, on_progress=None) -> str:
    """Do the slow work, store the CSV and return where to download it.

    ``on_progress(percent)`` is called as the wait advances, in tenths, for clients that show it.
    """
    if on_progress is None:
        lambda_time.wait(delay_ms)
    else:
        for step in range(1, PROGRESS_STEPS + 1):
            lambda_time.wait(delay_ms / PROGRESS_STEPS)
            if step < PROGRESS_STEPS:  # 100 % is the finished report, recorded by the caller
                on_progress(step * 100 // PROGRESS_STEPS)
    bucket = os.environ["REPORTS_BUCKET"]
    key = f"reports/{uuid.uuid4()}.csv"
    s3 = _s3()
    s3.put_object(Bucket=bucket, Key=key, Body=render_csv(rows), ContentType="text/csv")
    return s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=URL_EXPIRY_SECONDS
    )


def _response(status: int, payload: dict) -> dict:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(payload),
    }


def handler(event, context):
    """POST /reports: the synchronous report endpoint (Lambda proxy integration)."""
    try:
        definition = json.loads(event.get("body") or "")
    except (ValueError, RecursionError):  # RecursionError: nested too deep
        return _response(400, {"message": "request body must be a JSON report definition"})
    try:
        delay_ms, rows = validate_definition(definition)
    except InvalidDefinition as exc:
        return _response(400, {"message": str(exc)})
    print(f"generating report: delay={delay_ms} ms rows={rows}")
    return _response(200, {"url": generate_report(delay_ms, rows)})


@functools.cache
def _management_api(callback_url: str):
    return boto3.client("apigatewaymanagementapi", endpoint_url=callback_url)


def _post(callback_url: str, connection_id: str, payload: dict) -> bool:
    """Push a message to the client; a connection that is gone is forgotten."""
    client = _management_api(callback_url)
    try:
        client.post_to_connection(ConnectionId=connection_id, Data=json.dumps(payload).encode())
    except client.exceptions.GoneException:
        print(f"connection {connection_id} is gone; forgetting it")
        try:
            connections_table.forget(connection_id)
        except Exception as exc:  # the record expires by its ttl anyway
            print(f"connection {connection_id} could not be forgotten: {_one_line(exc)}")
        return False
    return True


def deliver(event, context):
    """Asynchronous entry point: make the report for a job, record the outcome, and push
    ``{"url"}`` (or ``{"error"}``) to the job's WebSocket connection if it has one."""
    job_id = event["jobId"]
    jobs_table.update(job_id, status="running")

    def progress(percent: int) -> None:
        jobs_table.update(job_id, progress=percent)

    try:
        delay_ms, rows = validate_definition(event.get("definition"))
        url = generate_report(delay_ms, rows, progress if event.get("trackProgress") else None)
    except InvalidDefinition as exc:
        jobs_table.update(job_id, status="failed", error=str(exc))
        payload = {"jobId": job_id, "error": str(exc)}
    else:
        jobs_table.update(job_id, status="succeeded", progress=100, url=url)
        payload = {"jobId": job_id, "url": url}
    job = jobs_table.get(job_id) or {}
    # The latest connection (a client may have reconnected); the one the job was asked from
    # if the job's record lost it (its table was emptied under the job).
    connection_id = job.get("connectionId") or event.get("connectionId")
    if connection_id is None:
        return {"delivered": False}
    if "connectionId" in job and not connections_table.is_open(connection_id):
        print(f"job {job_id}: connection {connection_id} is no longer open; nothing to deliver")
        return {"delivered": False}
    # A failed post (other than a gone connection) fails the invocation: Lambda retries it,
    # and when the retries are spent the onFailure destination tells the client.
    delivered = _post(event["callbackUrl"], connection_id, payload)
    if delivered:
        print(f"job {job_id}: delivered to {connection_id}")
    return {"delivered": delivered}


def _one_line(text: object) -> str:
    return " ".join(str(text).split())[:300]


def delivery_failed(record, context):
    """deliverReport's ``onFailure`` destination: the invocation record of a job whose delivery
    failed on every attempt (the backend was down, @connections refused, ...). Marks the job
    failed in the jobs table and pushes ``{"jobId", "error"}`` to its connection if it is still
    there; whatever of that cannot be done is said in one log line with the job id and why.

    The record's shape: ``requestPayload`` (deliverReport's event), ``responsePayload`` (its
    last error), ``requestContext.condition``
    (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html).
    Never raises: a retry of this function would tell the client twice.
    """
    event = record.get("requestPayload") or {}
    job_id = event.get("jobId")
    if not isinstance(job_id, str):
        print(f"delivery failed for an event without a job id: {_one_line(event)}")
        return {"marked": False, "told": False}
    condition = (record.get("requestContext") or {}).get("condition", "failed")
    cause = (record.get("responsePayload") or {}).get("errorMessage") or condition
    error = f"the report could not be delivered ({condition}): {_one_line(cause)}"
    marked = told = False
    connection_id = event.get("connectionId")
    try:
        jobs_table.update(job_id, status="failed", error=error)
        marked = True
        job = jobs_table.get(job_id) or {}
        connection_id = job.get("connectionId") or connection_id
    except Exception as exc:  # the backend still down: the job cannot be marked
        print(f"job {job_id}: could not be marked failed: {_one_line(exc)}")
    if connection_id is None:
        print(f"job {job_id}: delivery failed and no connection to tell: {_one_line(cause)}")
        return {"marked": marked, "told": False}
    try:
        told = _post(event.get("callbackUrl", ""), connection_id, {"jobId": job_id, "error": error})
    except Exception as exc:
        print(f"job {job_id}: could not tell connection {connection_id}: {_one_line(exc)}")
    else:
        if not told:
            print(f"job {job_id}: connection {connection_id} is gone; the client was not told")
    return {"marked": marked, "told": told}
