"""The order-export service's Lambda handlers (Python 3.12, boto3 only).

``export_now`` does the slow work inside the request, so API Gateway cuts it at 29 s;
``start_export`` hands it to ``export_worker``, which pushes the result over the WebSocket.
"""

import json
import os
import time

import boto3

# Made once per execution environment, at Init, as AWS recommends: not on every invocation.
LAMBDA = boto3.client("lambda")


def _wait(seconds: float) -> None:
    """Work for ``seconds``. Under timeoutlab, TIMEOUTLAB_TIME_SCALE shrinks real waits (0.05:
    a 40 s export takes 2 real seconds); on AWS it is unset and this waits in real time."""
    time.sleep(seconds * float(os.environ.get("TIMEOUTLAB_TIME_SCALE", "1")))


def _export() -> dict:
    _wait(float(os.environ["EXPORT_SECONDS"]))
    return {"status": "done", "rows": 1000}


def quote(event, context):
    return {"statusCode": 200, "body": json.dumps({"price": 42})}


def export_now(event, context):
    return {"statusCode": 200, "body": json.dumps(_export())}


def start_export(event, context):
    request = event["requestContext"]
    LAMBDA.invoke(
        FunctionName=os.environ["WORKER_FUNCTION_NAME"],
        InvocationType="Event",
        Payload=json.dumps(
            {
                "connectionId": request["connectionId"],
                # The Management API's endpoint for this API and stage, as AWS documents it.
                "endpoint": f"https://{request['domainName']}/{request['stage']}",
            }
        ),
    )
    return {"statusCode": 200, "body": json.dumps({"status": "started"})}


def export_worker(event, context):
    result = _export()
    # timeoutlab sets AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI; on AWS the event's endpoint is used.
    endpoint = os.environ.get("AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI") or event["endpoint"]
    boto3.client("apigatewaymanagementapi", endpoint_url=endpoint).post_to_connection(
        ConnectionId=event["connectionId"], Data=json.dumps(result).encode()
    )
