"""The WebSocket API and @connections over real sockets, with the websockets client and boto3."""

import base64
import json
import time

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from emulator.stack import StackThread
from tests.support import aws_client, stack_config, write_service

HANDLERS = """
import json
import os
import time

import boto3

def on_connect(event, context):
    query = event.get("queryStringParameters") or {}
    if "deny" in query:
        return {"statusCode": int(query["deny"]), "body": "not you"}
    if "explode" in query:
        raise RuntimeError("connect failed")
    return {"statusCode": 200}

def on_disconnect(event, context):
    ctx = event["requestContext"]
    with open(os.environ["DISCONNECT_LOG"], "a") as log:
        log.write(json.dumps([ctx["connectionId"], ctx["disconnectStatusCode"]]) + "\\n")

def echo(event, context):
    return {"statusCode": 200, "body": json.dumps(event)}

def oneway(event, context):
    return {"statusCode": 200, "body": "a one-way route never answers"}

def slow(event, context):
    time.sleep(0.3)
    return {"statusCode": 200, "body": "too late"}

def boom(event, context):
    raise ValueError("route failed")

def push(event, context):
    # AWS code: the Management API client; the emulator tells boto3 where it is.
    client = boto3.client("apigatewaymanagementapi")
    connection_id = event["requestContext"]["connectionId"]
    client.post_to_connection(ConnectionId=connection_id, Data=b'{"pushed": true}')
"""


def functions(log_path) -> str:
    return f"""
connect:
  handler: app.on_connect
  events: [{{websocket: $connect}}]
disconnect:
  handler: app.on_disconnect
  environment: {{DISCONNECT_LOG: "{log_path}"}}
  events: [{{websocket: $disconnect}}]
echo:
  handler: app.echo
  events: [{{websocket: {{route: echo, routeResponseSelectionExpression: $default}}}}]
oneway:
  handler: app.oneway
  events: [{{websocket: oneway}}]
slow:
  handler: app.slow
  events: [{{websocket: {{route: slow, routeResponseSelectionExpression: $default}}}}]
boom:
  handler: app.boom
  events: [{{websocket: {{route: boom, routeResponseSelectionExpression: $default}}}}]
push:
  handler: app.push
  timeout: 29  # its first boto3 client loads botocore's models: more than 6 s at this scale
  events: [{{websocket: push}}]
"""


CUSTOM = """
custom:
  timeoutlab:
    routeTimeouts:
      slow: 1
"""


@pytest.fixture(scope="module")
def app_path(tmp_path_factory):
    directory = tmp_path_factory.mktemp("wsapp")
    log = directory / "disconnects.jsonl"
    return write_service(directory, HANDLERS, functions(log), extra=CUSTOM), log


@pytest.fixture(scope="module")
def stack(moto_server, app_path):
    path, _ = app_path
    with StackThread(stack_config(moto_server.endpoint_url, service_path=path)) as running:
        yield running


@pytest.fixture(scope="module")
def management(stack):
    return aws_client("apigatewaymanagementapi", stack.connections_url)


def ask(ws, action: str, **fields) -> dict:
    ws.send(json.dumps({"action": action, **fields}))
    return json.loads(ws.recv(timeout=10))


def my_id(ws) -> str:
    return ask(ws, "echo")["requestContext"]["connectionId"]


def test_messages_reach_their_route_with_an_aws_shaped_event(stack):
    with connect(f"{stack.ws_url}?user=ann", user_agent_header="tester/1") as ws:
        event = ask(ws, "echo", n=1)
    ctx = event["requestContext"]
    assert ctx["routeKey"] == "echo"
    assert ctx["eventType"] == "MESSAGE"
    assert ctx["stage"] == "dev"
    assert ctx["domainName"] == f"127.0.0.1:{stack.ws_port}"
    assert ctx["identity"] == {"userAgent": "tester/1", "sourceIp": "127.0.0.1"}
    assert ctx["messageId"]
    assert ctx["requestId"]
    assert abs(ctx["requestTimeEpoch"] / 1000 - stack.clock.epoch()) < 60
    assert json.loads(event["body"]) == {"action": "echo", "n": 1}
    assert event["isBase64Encoded"] is False


def test_no_matching_route_and_no_default_is_forbidden(stack):
    with connect(stack.ws_url) as ws:
        for message in ['{"action": "missing"}', "not json at all"]:
            ws.send(message)
            reply = json.loads(ws.recv(timeout=10))
            assert reply["message"] == "Forbidden"
            assert reply["connectionId"]
            assert reply["requestId"]
        assert ask(ws, "echo")["requestContext"]["routeKey"] == "echo"  # still open


def test_one_way_routes_send_nothing_back_and_two_way_routes_do(stack):
    with connect(stack.ws_url) as ws:
        ws.send(json.dumps({"action": "oneway"}))
        assert ask(ws, "echo")["requestContext"]["routeKey"] == "echo"


def test_route_failures_are_told_to_the_client_as_aws_tells_them(stack):
    with connect(stack.ws_url) as ws:
        started = time.monotonic()
        timed_out = ask(ws, "slow")
        elapsed = stack.clock.to_emulated(time.monotonic() - started)
        assert timed_out["message"] == "Endpoint request timed out"
        assert 1.0 <= elapsed < 5.0  # the route's 1 s integration timeout, not the handler's 15 s
        assert ask(ws, "boom")["message"] == "Internal server error"


def test_connect_can_refuse_the_handshake(stack):
    for query, status in (("deny=401", 401), ("deny=403", 403), ("explode=1", 500)):
        with pytest.raises(InvalidStatus) as refused:
            connect(f"{stack.ws_url}?{query}")
        assert refused.value.response.status_code == status
    with pytest.raises(InvalidStatus) as wrong_stage:
        connect(f"ws://127.0.0.1:{stack.ws_port}/prod")
    assert wrong_stage.value.response.status_code == 403


def test_management_api_works_with_boto3_and_gone_is_caught_by_its_class(stack, management):
    with connect(stack.ws_url) as ws:
        connection_id = my_id(ws)
        status = management.get_connection(ConnectionId=connection_id)
        assert status["Identity"]["SourceIp"] == "127.0.0.1"
        assert status["LastActiveAt"] >= status["ConnectedAt"]
        management.post_to_connection(ConnectionId=connection_id, Data=b'{"hello": 1}')
        assert json.loads(ws.recv(timeout=10)) == {"hello": 1}
        with pytest.raises(management.exceptions.PayloadTooLargeException):
            management.post_to_connection(ConnectionId=connection_id, Data=b"x" * (128 * 1024 + 1))
        management.delete_connection(ConnectionId=connection_id)
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=10)
    with pytest.raises(management.exceptions.GoneException):
        management.post_to_connection(ConnectionId=connection_id, Data=b"{}")
    with pytest.raises(management.exceptions.GoneException):
        management.get_connection(ConnectionId=connection_id)
    with pytest.raises(management.exceptions.GoneException):
        management.delete_connection(ConnectionId="NeverExisted123=")


def test_handlers_reach_the_management_api_through_the_environment(stack):
    with connect(stack.ws_url) as ws:
        ws.send(json.dumps({"action": "push"}))
        assert json.loads(ws.recv(timeout=10)) == {"pushed": True}


def test_disconnect_runs_with_the_close_code(stack, app_path):
    _, log = app_path
    with connect(stack.ws_url) as ws:
        connection_id = my_id(ws)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        lines = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        if [connection_id, 1000] in lines:
            break
        time.sleep(0.02)
    else:
        pytest.fail(f"no $disconnect for {connection_id}")


def send_then_receive(ws, message):
    """Send (the server may close while the frames are still going out), then wait for a reply."""
    ws.send(message)
    return ws.recv(timeout=10)


def test_oversize_frames_and_messages_close_with_1009_while_others_keep_working(stack):
    with connect(stack.ws_url) as bystander:
        with connect(stack.ws_url, max_size=None) as big:
            big.send("x" * (32 * 1024 + 1))  # one frame over 32 KB
            with pytest.raises(ConnectionClosed) as closed:
                big.recv(timeout=10)
            assert closed.value.rcvd.code == 1009
        with connect(stack.ws_url) as fragmented:
            chunk = "y" * (32 * 1024)
            fragmented.send(['{"action": "oneway", "pad": "', chunk, chunk, chunk, '"}'])  # ~96 KB
            assert ask(fragmented, "echo")["requestContext"]["routeKey"] == "echo"
            with pytest.raises(ConnectionClosed) as closed:
                send_then_receive(fragmented, [chunk] * 5)  # 160 KB: over the 128 KB limit
            assert closed.value.rcvd.code == 1009
            assert closed.value.rcvd.reason == "Message size limit exceeded (128 KB)"
        assert ask(bystander, "echo")["requestContext"]["routeKey"] == "echo"


def test_large_outgoing_messages_are_sent_in_32_kb_frames(stack, management):
    with connect(stack.ws_url) as ws:
        connection_id = my_id(ws)
        payload = "z" * (100 * 1024)
        management.post_to_connection(ConnectionId=connection_id, Data=payload.encode())
        fragments = list(ws.recv_streaming())
    assert "".join(fragments) == payload
    assert len(fragments) == 4


def no_connections_left(stack) -> None:
    deadline = time.monotonic() + 5
    while stack.metrics.snapshot()["websocket"]["current_connections"]:
        assert time.monotonic() < deadline, "connections did not close"
        time.sleep(0.01)


def test_websocket_metrics_count_connections_messages_and_bytes(stack):
    no_connections_left(stack)  # earlier tests' connections may still be closing
    stack.metrics.reset()
    with connect(stack.ws_url) as ws:
        ask(ws, "echo")
        ws.send(json.dumps({"action": "oneway"}))
        ask(ws, "missing")
    no_connections_left(stack)
    ws_metrics = stack.metrics.snapshot()["websocket"]
    assert ws_metrics["connections_opened"] == 1
    assert ws_metrics["connections_closed"] == {"1000": 1}
    assert ws_metrics["current_connections"] == 0
    assert ws_metrics["messages_in"] == 3
    assert ws_metrics["messages_out"] == 2
    assert ws_metrics["wire_bytes_in"] > ws_metrics["payload_bytes_in"] > 0
    assert ws_metrics["wire_bytes_out"] > ws_metrics["payload_bytes_out"] > 0
    assert ws_metrics["route_invocations"]["echo"] == 1
    assert ws_metrics["route_outcomes"]["(no route) forbidden"] == 1
    assert ws_metrics["connection_minutes"] > 0


def test_garbage_and_plain_http_on_the_websocket_port_get_clear_answers(stack):
    import socket

    with socket.create_connection(("127.0.0.1", stack.ws_port), timeout=5) as raw:
        raw.sendall(b"THIS IS NOT HTTP\r\n\r\n")
        assert raw.recv(1024).startswith(b"HTTP/1.1 400")
    with socket.create_connection(("127.0.0.1", stack.ws_port), timeout=5) as raw:
        raw.sendall(b"GET /dev HTTP/1.1\r\nHost: x\r\n\r\n")  # no Upgrade: not a WebSocket
        answer = raw.recv(1024)
        assert answer.startswith(b"HTTP/1.1 403")
        assert b"Missing Authentication Token" in answer
    with connect(stack.ws_url) as ws:  # and the port keeps serving
        assert ask(ws, "echo")["requestContext"]["routeKey"] == "echo"


def test_binary_messages_reach_lambda_base64_encoded(stack):
    with connect(stack.ws_url) as ws:
        ws.send(b'{"action": "echo"}')  # a binary frame
        event = json.loads(ws.recv(timeout=10))
        assert event["isBase64Encoded"] is True
        assert base64.b64decode(event["body"]) == b'{"action": "echo"}'
        ws.send(b"\x00\x01 not json")
        assert json.loads(ws.recv(timeout=10))["message"] == "Forbidden"  # no $default here
