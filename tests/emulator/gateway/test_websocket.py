"""The WebSocket API and @connections over real sockets.

Most of it runs on a virtual clock (tests/virtual.py): the real gateway, real sockets, in-loop
handlers, so the integration timeout on a route or on $connect is asserted at exactly 29 s. The
last tests run the real handlers (boto3 inside a Lambda, boto3's Management API client) on a real
stack against moto; they assert no bound on real time.
"""

import asyncio
import json

import aiohttp
import pytest
from websockets.asyncio.client import connect as connect_async
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from emulator.stack import StackConfig, StackThread
from tests.support import aws_client, sigv4_headers, stack_config, write_service
from tests.virtual import run_virtual, service_file, virtual_stack

EXACT = 1e-6  # the virtual clock's resolution: float rounding, not a tolerance for lateness
TIMED_OUT = "Endpoint request timed out"

FUNCTIONS = """
connect:
  handler: app.on_connect
  timeout: 900
  events: [{websocket: $connect}]
disconnect:
  handler: app.on_disconnect
  events: [{websocket: $disconnect}]
echo:
  handler: app.echo
  events: [{websocket: {route: echo, routeResponseSelectionExpression: $default}}]
oneway:
  handler: app.oneway
  events: [{websocket: oneway}]
slow:
  handler: app.wait
  timeout: 900
  events: [{websocket: {route: slow, routeResponseSelectionExpression: $default}}]
report:
  handler: app.wait
  timeout: 900
  events: [{websocket: {route: report, routeResponseSelectionExpression: $default}}]
boom:
  handler: app.boom
  events: [{websocket: {route: boom, routeResponseSelectionExpression: $default}}]
"""

CUSTOM = """
custom:
  timeoutlab:
    routeTimeouts:
      slow: 1
"""


class App:
    """The in-loop handlers; ``disconnects`` records what $disconnect was told."""

    def __init__(self) -> None:
        self.disconnects: list[list] = []

    async def on_connect(self, event, context):
        query = event.get("queryStringParameters") or {}
        if "deny" in query:
            return {"statusCode": int(query["deny"]), "body": "not you"}
        if "explode" in query:
            raise RuntimeError("connect failed")
        await context.sleep(float(query.get("wait", 0)))
        return {"statusCode": 200}

    async def on_disconnect(self, event, context):
        ctx = event["requestContext"]
        self.disconnects.append([ctx["connectionId"], ctx["disconnectStatusCode"]])

    async def echo(self, event, context):
        return {"statusCode": 200, "body": json.dumps(event)}

    async def oneway(self, event, context):
        return {"statusCode": 200, "body": "a one-way route never answers"}

    async def wait(self, event, context):
        """Wait the message's ``seconds`` of emulated time, then answer."""
        seconds = json.loads(event["body"])["seconds"]
        await context.sleep(seconds)
        return {"statusCode": 200, "body": json.dumps({"waited": seconds})}

    async def boom(self, event, context):
        raise ValueError("route failed")

    def handlers(self) -> dict:
        return {
            "connect": self.on_connect,
            "disconnect": self.on_disconnect,
            "echo": self.echo,
            "oneway": self.oneway,
            "slow": self.wait,
            "report": self.wait,
            "boom": self.boom,
        }


def run(tmp_path, scenario, config: StackConfig | None = None):
    """Run ``scenario(stack, app)`` against a virtual stack of FUNCTIONS."""
    path = service_file(tmp_path, FUNCTIONS, extra=CUSTOM)
    app = App()

    async def main():
        async with virtual_stack(path, app.handlers(), config=config) as stack:
            return await scenario(stack, app)

    return run_virtual(main)


def open_ws(stack, query: str = "", **options):
    """A client on the test's loop, with no keepalive pings and no handshake timeout of its own
    (a slow $connect is the gateway's to time out)."""
    url = f"{stack.ws_url}?{query}" if query else stack.ws_url
    return connect_async(url, ping_interval=None, open_timeout=None, **options)


async def ask_async(ws, action: str, **fields) -> dict:
    await ws.send(json.dumps({"action": action, **fields}))
    return json.loads(await ws.recv())


async def timed_ask(stack, ws, action: str, **fields) -> tuple[dict, float]:
    """The reply to a message, and the emulated seconds it took."""
    started = stack.clock.now()
    reply = await ask_async(ws, action, **fields)
    return reply, stack.clock.now() - started


# -- messages and routes ---------------------------------------------------------------------------


def test_messages_reach_their_route_with_an_aws_shaped_event(tmp_path):
    async def scenario(stack, app):
        async with open_ws(stack, "user=ann", user_agent_header="tester/1") as ws:
            epoch = stack.clock.epoch()  # the virtual clock does not move while the echo runs
            return await ask_async(ws, "echo", n=1), epoch

    event, epoch = run(tmp_path, scenario)
    ctx = event["requestContext"]
    assert ctx["routeKey"] == "echo"
    assert ctx["eventType"] == "MESSAGE"
    assert ctx["stage"] == "dev"
    assert ctx["domainName"].startswith("127.0.0.1:")
    assert ctx["identity"] == {"userAgent": "tester/1", "sourceIp": "127.0.0.1"}
    assert ctx["messageId"]
    assert ctx["requestId"]
    assert ctx["requestTimeEpoch"] == int(epoch * 1000)
    assert json.loads(event["body"]) == {"action": "echo", "n": 1}
    assert event["isBase64Encoded"] is False


def test_no_matching_route_and_no_default_is_forbidden(tmp_path):
    async def scenario(stack, app):
        async with open_ws(stack) as ws:
            replies = []
            for message in ['{"action": "missing"}', "not json at all"]:
                await ws.send(message)
                replies.append(json.loads(await ws.recv()))
            return replies, await ask_async(ws, "echo")

    replies, still_open = run(tmp_path, scenario)
    for reply in replies:
        assert reply["message"] == "Forbidden"
        assert reply["connectionId"]
        assert reply["requestId"]
    assert still_open["requestContext"]["routeKey"] == "echo"


def test_one_way_routes_send_nothing_back_and_two_way_routes_do(tmp_path):
    async def scenario(stack, app):
        async with open_ws(stack) as ws:
            await ws.send(json.dumps({"action": "oneway"}))
            return await ask_async(ws, "echo")  # the first reply is the echo's

    assert run(tmp_path, scenario)["requestContext"]["routeKey"] == "echo"


def test_a_binary_frame_closes_the_connection_with_1003_and_invokes_no_route(tmp_path):
    # "If a client app sends a binary frame, API Gateway rejects it and disconnects the client
    # with code 1003" (websocket-api-develop-binary-media-types.html).
    async def scenario(stack, app):
        async with open_ws(stack) as ws:
            await ws.send(b'{"action": "echo"}')  # a binary frame
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
        await stack.idle()
        return closed.value, stack.metrics.snapshot(), app.disconnects

    closed, metrics, disconnects = run(tmp_path, scenario)
    assert closed.rcvd is not None
    assert closed.rcvd.code == 1003
    assert "echo" not in metrics["websocket"]["route_invocations"]
    assert metrics["websocket"]["messages_in"] == 0
    assert len(disconnects) == 1  # $disconnect still runs for the closed connection


# -- the integration timeout ----------------------------------------------------------------------


def test_a_route_answers_just_inside_29_s_and_times_out_at_exactly_29_s(tmp_path):
    async def scenario(stack, app):
        async with open_ws(stack) as ws:
            inside = await timed_ask(stack, ws, "report", seconds=28.999)
            outside = await timed_ask(stack, ws, "report", seconds=40)
            # The Lambda is not stopped: it runs to its 40 s, after the client was told.
            await asyncio.sleep(11)
            after = await timed_ask(stack, ws, "echo")
        await stack.idle()
        return inside, outside, after, stack.metrics.snapshot()

    inside, outside, after, metrics = run(tmp_path, scenario)
    assert inside[0] == {"waited": 28.999}
    assert inside[1] == pytest.approx(28.999, abs=EXACT)
    assert outside[0]["message"] == TIMED_OUT
    assert outside[1] == pytest.approx(29.0, abs=EXACT)  # not before, not after
    assert after[0]["requestContext"]["routeKey"] == "echo"  # no late answer came first
    assert metrics["websocket"]["route_outcomes"]["report integration_timeout"] == 1
    assert metrics["lambda"]["functions"]["inline-dev-report"]["outcomes"] == {"success": 2}


def test_a_route_timeout_from_serverless_yml_and_handler_errors_are_told_as_aws_tells_them(
    tmp_path,
):
    async def scenario(stack, app):
        async with open_ws(stack) as ws:
            slow = await timed_ask(stack, ws, "slow", seconds=15)
            boom = await timed_ask(stack, ws, "boom")
        return slow, boom

    (slow, slow_s), (boom, boom_s) = run(tmp_path, scenario)
    assert slow["message"] == TIMED_OUT
    assert slow_s == pytest.approx(1.0, abs=EXACT)  # the route's 1 s, not the handler's 15 s
    assert boom["message"] == "Internal server error"
    assert boom_s == pytest.approx(0.0, abs=EXACT)


# -- $connect and $disconnect ---------------------------------------------------------------------


async def handshake(stack, query: str = "", url: str | None = None) -> tuple[int, float]:
    """The handshake's status (101 when accepted) and the emulated seconds it took."""
    started = stack.clock.now()
    try:
        async with connect_async(url or f"{stack.ws_url}?{query}", open_timeout=None):
            status = 101
    except InvalidStatus as refused:
        status = refused.response.status_code
    return status, stack.clock.now() - started


async def handshake_from(stack, origin: str | None) -> int:
    """The handshake's status (101 accepted) with this ``Origin`` header (None: none sent)."""
    try:
        async with connect_async(stack.ws_url, origin=origin, open_timeout=None):
            return 101
    except InvalidStatus as refused:
        return refused.response.status_code


ORIGINS = ("https://evil.example", "http://127.0.0.1:{http}", "http://localhost:{ws}", None)


def origin_statuses(tmp_path, config: StackConfig | None) -> tuple[dict, int]:
    async def scenario(stack, _app):
        statuses = {}
        for origin in ORIGINS:
            sent = origin and origin.format(http=stack.http_port, ws=stack.ws_port)
            statuses[origin] = await handshake_from(stack, sent)
        return statuses, stack.metrics.snapshot()["websocket"]["connections_refused"]

    return run(tmp_path, scenario, config)


def test_origin_is_not_checked_by_default_as_on_aws(tmp_path):
    statuses, _ = origin_statuses(tmp_path, None)
    assert set(statuses.values()) == {101}


def test_ws_check_origin_refuses_a_foreign_origin_with_403(tmp_path):
    statuses, refused = origin_statuses(tmp_path, StackConfig(ws_check_origin=True))
    assert statuses == {
        "https://evil.example": 403,
        "http://127.0.0.1:{http}": 101,  # the control plane's page is an own origin
        "http://localhost:{ws}": 101,
        None: 101,  # not a browser
    }
    assert refused == {"403": 1}


def test_ws_check_origin_takes_allowed_origins(tmp_path):
    config = StackConfig(ws_check_origin=True, allowed_origins=("https://evil.example",))
    statuses, _ = origin_statuses(tmp_path, config)
    assert statuses["https://evil.example"] == 101


def test_connect_can_refuse_the_handshake_and_its_timeout_is_a_504_at_exactly_29_s(tmp_path):
    async def scenario(stack, app):
        answers = {
            query: await handshake(stack, query)
            for query in ("deny=401", "deny=403", "explode=1", "wait=28.999", "wait=40")
        }
        answers["/prod"] = await handshake(stack, url=f"ws://127.0.0.1:{stack.ws_port}/prod")
        return answers

    answers = run(tmp_path, scenario)
    assert {query: status for query, (status, _) in answers.items()} == {
        "deny=401": 401,
        "deny=403": 403,
        "explode=1": 500,
        "wait=28.999": 101,
        "wait=40": 504,
        "/prod": 403,
    }
    assert answers["wait=28.999"][1] == pytest.approx(28.999, abs=EXACT)
    assert answers["wait=40"][1] == pytest.approx(29.0, abs=EXACT)


def test_disconnect_runs_with_the_close_code(tmp_path):
    async def scenario(stack, app):
        async with open_ws(stack) as ws:
            connection_id = (await ask_async(ws, "echo"))["requestContext"]["connectionId"]
        await stack.idle()  # $disconnect runs after the close, as on AWS
        return connection_id, app.disconnects

    connection_id, disconnects = run(tmp_path, scenario)
    assert disconnects == [[connection_id, 1000]]


def test_the_idle_timer_starts_when_connect_accepts_and_disconnect_is_told_1001(tmp_path):
    async def scenario(stack, app):
        async with open_ws(stack, "wait=20") as ws:  # $connect takes 20 s
            accepted = stack.clock.now()
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
            idle_for = stack.clock.now() - accepted
        await stack.idle()
        return accepted, idle_for, closed.value.rcvd, app.disconnects

    accepted, idle_for, close, disconnects = run(tmp_path, scenario)
    assert accepted == pytest.approx(20.0, abs=EXACT)
    assert idle_for == pytest.approx(600.0, abs=EXACT)  # AWS's 10 minutes, from the handshake
    assert close.code == 1001
    assert [code for _, code in disconnects] == [1001]


# -- @connections and metrics ---------------------------------------------------------------------


def test_large_outgoing_messages_are_sent_in_32_kb_frames(tmp_path):
    payload = "z" * (100 * 1024)

    async def scenario(stack, app):
        async with open_ws(stack) as ws, aiohttp.ClientSession() as http:
            connection_id = (await ask_async(ws, "echo"))["requestContext"]["connectionId"]
            url = f"{stack.connections_url}/@connections/{connection_id}"
            data = payload.encode()
            headers = sigv4_headers("POST", url, data, service="execute-api")
            async with http.post(url, data=data, headers=headers) as response:
                assert response.status == 200
            return [fragment async for fragment in ws.recv_streaming()]

    fragments = run(tmp_path, scenario)
    assert "".join(fragments) == payload
    assert [len(fragment) for fragment in fragments] == [32 * 1024] * 3 + [4 * 1024]


def test_websocket_metrics_count_connections_messages_and_bytes(tmp_path):
    async def scenario(stack, app):
        async with open_ws(stack) as ws:
            await ask_async(ws, "echo")
            await ws.send(json.dumps({"action": "oneway"}))
            await ask_async(ws, "missing")
            await asyncio.sleep(90)
        await stack.idle()
        return stack.metrics.snapshot()["websocket"]

    ws_metrics = run(tmp_path, scenario)
    assert ws_metrics["connections_opened"] == 1
    assert ws_metrics["connections_closed"] == {"1000": 1}
    assert ws_metrics["current_connections"] == 0
    assert ws_metrics["messages_in"] == 3
    assert ws_metrics["messages_out"] == 2
    assert ws_metrics["wire_bytes_in"] > ws_metrics["payload_bytes_in"] > 0
    assert ws_metrics["wire_bytes_out"] > ws_metrics["payload_bytes_out"] > 0
    assert ws_metrics["route_invocations"]["echo"] == 1
    assert ws_metrics["route_outcomes"]["(no route) forbidden"] == 1
    assert ws_metrics["connection_minutes"] == pytest.approx(1.5, abs=EXACT)


def test_garbage_and_plain_http_on_the_websocket_port_get_clear_answers(tmp_path):
    async def exchange(stack, request: bytes) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", stack.ws_port)
        try:
            writer.write(request)
            return await reader.read(1024)
        finally:
            writer.close()
            await writer.wait_closed()

    async def scenario(stack, app):
        garbage = await exchange(stack, b"THIS IS NOT HTTP\r\n\r\n")
        # No Upgrade: not a WebSocket.
        plain = await exchange(stack, b"GET /dev HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        async with open_ws(stack) as ws:  # and the port keeps serving
            still_serving = await ask_async(ws, "echo")
        return garbage, plain, still_serving

    garbage, plain, still_serving = run(tmp_path, scenario)
    assert garbage.startswith(b"HTTP/1.1 400")
    assert plain.startswith(b"HTTP/1.1 403")
    assert b"Missing Authentication Token" in plain
    assert still_serving["requestContext"]["routeKey"] == "echo"


# -- the real handlers and boto3, on a real stack (no bound on real time) -------------------------

REAL_HANDLERS = """
import json

import boto3

def echo(event, context):
    return {"statusCode": 200, "body": json.dumps(event)}

def push(event, context):
    # AWS code: the Management API client; the emulator tells boto3 where it is.
    client = boto3.client("apigatewaymanagementapi")
    connection_id = event["requestContext"]["connectionId"]
    client.post_to_connection(ConnectionId=connection_id, Data=b'{"pushed": true}')
"""

REAL_FUNCTIONS = """
echo:
  handler: app.echo
  events: [{websocket: {route: echo, routeResponseSelectionExpression: $default}}]
push:
  handler: app.push
  timeout: 900  # its first boto3 client loads botocore's models, slow on a loaded machine
  events: [{websocket: push}]
"""


@pytest.fixture(scope="module")
def stack(moto_server, tmp_path_factory):
    path = write_service(tmp_path_factory.mktemp("wsapp"), REAL_HANDLERS, REAL_FUNCTIONS)
    with StackThread(stack_config(moto_server.endpoint_url, service_path=path)) as running:
        yield running


@pytest.fixture(scope="module")
def management(stack):
    return aws_client("apigatewaymanagementapi", stack.connections_url)


def ask(ws, action: str, **fields) -> dict:
    ws.send(json.dumps({"action": action, **fields}))
    return json.loads(ws.recv())


def my_id(ws) -> str:
    return ask(ws, "echo")["requestContext"]["connectionId"]


def test_management_api_works_with_boto3_and_gone_is_caught_by_its_class(stack, management):
    with connect(stack.ws_url) as ws:
        connection_id = my_id(ws)
        status = management.get_connection(ConnectionId=connection_id)
        assert status["Identity"]["SourceIp"] == "127.0.0.1"
        assert status["LastActiveAt"] >= status["ConnectedAt"]
        management.post_to_connection(ConnectionId=connection_id, Data=b'{"hello": 1}')
        assert json.loads(ws.recv()) == {"hello": 1}
        with pytest.raises(management.exceptions.PayloadTooLargeException):
            management.post_to_connection(ConnectionId=connection_id, Data=b"x" * (128 * 1024 + 1))
        management.delete_connection(ConnectionId=connection_id)
        with pytest.raises(ConnectionClosed):
            ws.recv()
    with pytest.raises(management.exceptions.GoneException):
        management.post_to_connection(ConnectionId=connection_id, Data=b"{}")
    with pytest.raises(management.exceptions.GoneException):
        management.get_connection(ConnectionId=connection_id)
    with pytest.raises(management.exceptions.GoneException):
        management.delete_connection(ConnectionId="NeverExisted123=")
    stack.wait_idle()


def test_handlers_reach_the_management_api_through_the_environment(stack):
    with connect(stack.ws_url) as ws:
        ws.send(json.dumps({"action": "push"}))
        assert json.loads(ws.recv()) == {"pushed": True}
    stack.wait_idle()
