"""The job API on the REST API: the polling and Server-Sent Events fixes for the 29 s wall.

``POST /reports/jobs`` answers 202 with a job id at once and queues the report Lambda;
``GET /reports/jobs/{jobId}`` answers the job's state at once (short polling) or, with
``?waitSeconds=N``, holds the request until the job ends or N seconds pass (long polling; N is
capped below the integration timeout so the gateway never cuts it);
``GET /reports/jobs/{jobId}/events`` streams the job as Server-Sent Events.
"""

import functools
import json
import os
import uuid

import boto3

import execution_environment
import jobs_table
import lambda_time
import report

#: A long poll never holds its request longer than this (seconds), below the 29 s timeout.
MAX_WAIT_SECONDS = int(os.environ.get("LONG_POLL_MAX_SECONDS", "20"))
POLL_INTERVAL_MS = 1000
RESULT_EVENT_ID = 101  # after the progress events 0..100


@functools.cache
def _lambda():
    return boto3.client("lambda")


execution_environment.initialise(_lambda)  # during Init


def _json(status: int, payload: dict, headers: dict | None = None) -> dict:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json", **(headers or {})},
        "body": json.dumps(payload),
    }


def queue_job(definition: dict, connection_id: str | None = None, callback_url: str = "") -> str:
    """Store a pending job and invoke the report Lambda asynchronously for it."""
    job_id = str(uuid.uuid4())
    jobs_table.create(job_id, definition, connection_id)
    _lambda().invoke(
        FunctionName=os.environ["REPORT_FUNCTION_NAME"],
        InvocationType="Event",
        Payload=json.dumps(
            {
                "jobId": job_id,
                "definition": definition,
                "callbackUrl": callback_url,
                # The connection the job was asked from, should the job's record be lost.
                "connectionId": connection_id,
                # Progress is for clients that read the job (polling, SSE); a WebSocket client
                # is told the result only, so its job saves the writes.
                "trackProgress": connection_id is None,
            }
        ),
    )
    return job_id


def create_job(event, context):
    """POST /reports/jobs"""
    try:
        definition = json.loads(event.get("body") or "")
    except (ValueError, RecursionError):  # RecursionError: nested too deep
        return _json(400, {"message": "request body must be a JSON report definition"})
    try:
        report.validate_definition(definition)
    except report.InvalidDefinition as exc:
        return _json(400, {"message": str(exc)})
    job_id = queue_job(definition)
    return _json(202, {"jobId": job_id, "status": "pending"}, {"Location": f"jobs/{job_id}"})


def _wait_seconds(event) -> int:
    raw = (event.get("queryStringParameters") or {}).get("waitSeconds", "0")
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"waitSeconds must be a whole number of seconds, got {raw!r}") from None
    if value < 0:
        raise ValueError(f"waitSeconds must not be negative, got {value}")
    return min(value, MAX_WAIT_SECONDS)


def get_job(event, context):
    """GET /reports/jobs/{jobId}[?waitSeconds=N]"""
    job_id = event["pathParameters"]["jobId"]
    try:
        wait = _wait_seconds(event)
    except ValueError as exc:
        return _json(400, {"message": str(exc)})
    deadline = lambda_time.now() + wait
    while True:
        job = jobs_table.get(job_id)
        if job is None:
            return _json(404, {"message": f"job {job_id} not found"})
        if job["status"] in jobs_table.FINISHED or lambda_time.now() >= deadline:
            return _json(200, jobs_table.public(job), {"X-Wait-Seconds": str(wait)})
        lambda_time.wait(POLL_INTERVAL_MS)


def _sse(event_id: int, kind: str, data: dict) -> str:
    return f"id: {event_id}\nevent: {kind}\ndata: {json.dumps(data)}\n\n"


def event_stream(job_id: str, last_event_id: int):
    """SSE text for a job: a progress event per change, then a result (or error) event.
    Events up to ``last_event_id`` (a resumed stream's Last-Event-ID) are not sent again."""
    sent = last_event_id
    while True:
        job = jobs_table.get(job_id)
        if job is None:
            yield _sse(RESULT_EVENT_ID, "error", {"jobId": job_id, "error": "job not found"})
            return
        progress = int(job["progress"])
        if job["status"] in jobs_table.FINISHED:
            if sent < RESULT_EVENT_ID:
                kind = "result" if job["status"] == "succeeded" else "error"
                yield _sse(RESULT_EVENT_ID, kind, jobs_table.public(job))
            return
        if progress > sent:
            yield _sse(progress, "progress", {"jobId": job_id, "progress": progress})
            sent = progress
        lambda_time.wait(POLL_INTERVAL_MS)


def _last_event_id(event) -> int:
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    try:
        return int(headers.get("last-event-id", "-1"))
    except ValueError:
        return -1


SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}


def job_events(event, context):
    """GET /reports/jobs/{jobId}/events, buffered (the article's world): API Gateway sends the
    response only when the Lambda returns, so the stream arrives whole, if the 29 s allow it."""
    job_id = event["pathParameters"]["jobId"]
    if jobs_table.get(job_id) is None:
        return _json(404, {"message": f"job {job_id} not found"})
    body = "".join(event_stream(job_id, _last_event_id(event)))
    return {"statusCode": 200, "headers": SSE_HEADERS, "body": body}


def job_events_streaming(event, context):
    """GET /reports/jobs/{jobId}/events/stream, with API Gateway response streaming: the
    handler yields its metadata, then each event as it happens (the Node.js streaming contract;
    Python needs a custom runtime or the Lambda Web Adapter for this on AWS)."""
    job_id = event["pathParameters"]["jobId"]
    if jobs_table.get(job_id) is None:
        yield {"statusCode": 404, "headers": {"Content-Type": "application/json"}}
        yield json.dumps({"message": f"job {job_id} not found"})
        return
    yield {"statusCode": 200, "headers": SSE_HEADERS}
    yield from event_stream(job_id, _last_event_id(event))
