"""The WebSocket API's handlers: the fix for the 29 s wall.

``generateReport`` answers at once with a job id and hands the work to the report Lambda
asynchronously; that Lambda pushes ``{"url": ...}`` to the connection when the report is ready,
however long it took.
"""

import json
import os

import connections_table
import jobs_api
import jobs_table
import report

SUPPORTED_ACTIONS = ["generateReport", "getReport"]


def _reply(payload: dict, status: int = 200) -> dict:
    """A route response: its body is what a two-way route sends back to the client."""
    return {"statusCode": status, "body": json.dumps(payload)}


def connect(event, context):
    """$connect: remember the connection for an hour."""
    connections_table.remember(event["requestContext"]["connectionId"])
    return {"statusCode": 200}


def disconnect(event, context):
    """$disconnect: forget it."""
    connections_table.forget(event["requestContext"]["connectionId"])
    return {"statusCode": 200}


def default(event, context):
    """$default: any other message."""
    try:
        action = json.loads(event.get("body") or "").get("action")
    except (ValueError, RecursionError, AttributeError):  # RecursionError: nested too deep
        action = None
    what = f"action {json.dumps(action)}" if action is not None else "a message without an action"
    return _reply({"error": f"{what} is not supported", "supportedActions": SUPPORTED_ACTIONS})


def callback_url(request_context: dict) -> str:
    """Where the Management API of this connection's API is (an emulator sets it explicitly)."""
    return os.environ.get("AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI") or (
        f"https://{request_context['domainName']}/{request_context['stage']}"
    )


def _message(event) -> dict | None:
    try:
        message = json.loads(event.get("body") or "")
    except (ValueError, RecursionError):  # RecursionError: nested too deep
        return None
    return message if isinstance(message, dict) else None


def generate_report(event, context):
    """generateReport: validate, queue the report job, answer at once with its id."""
    request_context = event["requestContext"]
    message = _message(event)
    if message is None:
        return _reply({"error": "the message must be a JSON object"}, 400)
    definition = {k: v for k, v in message.items() if k != "action"}
    try:
        report.validate_definition(definition)
    except report.InvalidDefinition as exc:
        return _reply({"error": str(exc)}, 400)
    connection_id = request_context["connectionId"]
    connections_table.remember(connection_id)  # an active connection stays unexpired
    job_id = jobs_api.queue_job(definition, connection_id, callback_url(request_context))
    return _reply({"jobId": job_id, "status": "accepted"})


def get_report(event, context):
    """getReport: a client that reconnected asks for its job by id. The job is attached to this
    connection, so the result is pushed here; if it is already done, the answer carries it."""
    message = _message(event) or {}
    job_id = message.get("jobId")
    job = jobs_table.get(job_id) if isinstance(job_id, str) else None
    if job is None or not isinstance(job_id, str):
        return _reply({"error": f"job {json.dumps(job_id)} not found", "jobId": job_id}, 404)
    connection_id = event["requestContext"]["connectionId"]
    connections_table.remember(connection_id)
    jobs_table.update(job_id, connectionId=connection_id)
    return _reply(jobs_table.public(jobs_table.get(job_id) or job))
