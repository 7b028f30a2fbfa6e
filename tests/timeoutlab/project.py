"""A user's service as the tests of the ``timeoutlab`` package see it: a fast and a slow REST
endpoint, the slow one behind an HTTP API too, and a WebSocket route that pushes its answer
through ``@connections``. Python handlers that scale their waits by ``TIMEOUTLAB_TIME_SCALE``."""

from __future__ import annotations

import importlib.metadata
import textwrap
from pathlib import Path

#: Real seconds per emulated second in these tests: a 40 s handler takes 0.8 s, the 29 s
#: integration timeout 0.58 s (enough margin for a fast handler on a loaded machine).
SCALE = 0.02
#: Emulated seconds the slow handler sleeps unless told otherwise: past REST's 29 s and the
#: HTTP API's 30 s.
SLOW_S = 40

HANDLERS = """
import json
import os
import time

import boto3

SCALE = float(os.environ.get("TIMEOUTLAB_TIME_SCALE", "1"))
SLOW_S = {slow}


# Built at Init, as on AWS; its endpoint comes from AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI.
MANAGEMENT = boto3.client("apigatewaymanagementapi")


def fast(event, context):
    return {"statusCode": 200, "body": json.dumps({"ok": True})}


def slow(event, context):
    seconds = json.loads(event.get("body") or "{}").get("seconds", SLOW_S)
    time.sleep(seconds * SCALE)
    return {"statusCode": 200, "body": json.dumps({"slept": seconds})}


def push(event, context):
    body = json.loads(event["body"])
    connection_id = event["requestContext"]["connectionId"]
    MANAGEMENT.post_to_connection(
        ConnectionId=connection_id,
        Data=json.dumps({"pushed": body.get("value"), "connectionId": connection_id}).encode(),
    )
    return {"statusCode": 200}


def authorize(event, context):
    # A $connect REQUEST authorizer on route.request.querystring.token: "good" is allowed.
    token = (event.get("queryStringParameters") or {}).get("token", "")
    effect = "Allow" if token == "good" else "Deny"
    return {
        "principalId": "tester",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": effect, "Resource": event["methodArn"]}
            ],
        },
        "context": {"token": token},
    }


def whoami(event, context):
    connection_id = event["requestContext"]["connectionId"]
    MANAGEMENT.post_to_connection(
        ConnectionId=connection_id,
        Data=json.dumps({"authorizer": event["requestContext"].get("authorizer")}).encode(),
    )
    return {"statusCode": 200}
""".replace("{slow}", str(SLOW_S))

SERVICE = """
service: shop
provider:
  name: aws
  runtime: python3.12
  stage: dev
functions:
  fast:
    handler: handler.fast
    events:
      - http: {path: fast, method: get}
  slow:
    handler: handler.slow
    timeout: 120
    events:
      - http: {path: slow, method: post}
      - httpApi: 'POST /slow'
  push:
    handler: handler.push
    timeout: 30
    events:
      - websocket: push
"""


#: A WebSocket API whose $connect has a REQUEST authorizer reading the query string's ``token``
#: (what browsers can send: they cannot set handshake headers).
GUARDED_SERVICE = """
service: guarded
provider:
  name: aws
  runtime: python3.12
  stage: dev
functions:
  authorize:
    handler: handler.authorize
  connect:
    handler: handler.fast
    events:
      - websocket:
          route: $connect
          authorizer: {name: authorize, identitySource: [route.request.querystring.token]}
  whoami:
    handler: handler.whoami
    timeout: 30
    events:
      - websocket: whoami
"""


def write_project(directory: Path, name: str = "serverless.yml") -> Path:
    """The service and its handlers in ``directory``; returns the serverless.yml's path."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "handler.py").write_text(textwrap.dedent(HANDLERS))
    path = directory / name
    path.write_text(textwrap.dedent(SERVICE).lstrip())
    return path


def write_guarded_project(directory: Path) -> Path:
    """``GUARDED_SERVICE`` and the handlers in ``directory``; returns the serverless.yml's
    path."""
    path = write_project(directory)
    path.write_text(textwrap.dedent(GUARDED_SERVICE).lstrip())
    return path


def plugin_args() -> tuple[str, ...]:
    """``-p timeoutlab.pytest_plugin`` when the package's ``pytest11`` entry point is not
    installed (a source tree run before ``pip install``); nothing when it is, since pytest then
    loads the plugin by itself (and would refuse it twice)."""
    installed = any(
        entry.name == "timeoutlab" for entry in importlib.metadata.entry_points(group="pytest11")
    )
    return () if installed else ("-p", "timeoutlab.pytest_plugin")
