"""The WebSocket API's handlers: the fix for the 29 s wall.

``generateReport`` answers at once with a job id and hands the work to the report Lambda
asynchronously; that Lambda pushes ``{"url": ...}`` to the connection when the report is ready,
however long it took.
"""

import functools
import json
import os
import uuid

import boto3

import connections_table
import report

SUPPORTED_ACTIONS = ["generateReport"]


@functools.cache
def _lambda():
    """One client per execution environment, made on first use (AWS's advice: reuse clients)."""
    return boto3.client("lambda")


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
    except (ValueError, AttributeError):
        action = None
    what = f"action {json.dumps(action)}" if action is not None else "a message without an action"
    return _reply({"error": f"{what} is not supported", "supportedActions": SUPPORTED_ACTIONS})


def callback_url(request_context: dict) -> str:
    """Where the Management API of this connection's API is (an emulator sets it explicitly)."""
    return os.environ.get("AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI") or (
        f"https://{request_context['domainName']}/{request_context['stage']}"
    )


def generate_report(event, context):
    """generateReport: validate, queue the report Lambda (InvocationType Event), answer at once."""
    request_context = event["requestContext"]
    try:
        message = json.loads(event.get("body") or "")
    except ValueError:
        return _reply({"error": "the message must be JSON"}, 400)
    if not isinstance(message, dict):
        return _reply({"error": "the message must be a JSON object"}, 400)
    definition = {k: v for k, v in message.items() if k != "action"}
    try:
        report.validate_definition(definition)
    except report.InvalidDefinition as exc:
        return _reply({"error": str(exc)}, 400)
    job_id = str(uuid.uuid4())
    connection_id = request_context["connectionId"]
    connections_table.remember(connection_id)  # an active connection stays unexpired
    _lambda().invoke(
        FunctionName=os.environ["REPORT_FUNCTION_NAME"],
        InvocationType="Event",
        Payload=json.dumps(
            {
                "jobId": job_id,
                "connectionId": connection_id,
                "callbackUrl": callback_url(request_context),
                "definition": definition,
            }
        ),
    )
    return _reply({"jobId": job_id, "status": "accepted"})
