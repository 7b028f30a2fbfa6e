import json
import re

from emulator.core.events import ApiIdentity
from emulator.core.websocket_events import (
    ConnectionInfo,
    connect_event,
    disconnect_event,
    error_reply,
    message_event,
    new_connection_id,
)

API = ApiIdentity("abcdefghij", "dev", "127.0.0.1:3001")
INFO = ConnectionInfo(
    connection_id="AbCdEfGhIjKlMnO=",
    connected_at_ms=1_700_000_000_000,
    source_ip="127.0.0.5",
    user_agent="ua/1",
    headers=[("Host", "127.0.0.1:3001"), ("X-Token", "t")],
    query_string_pairs=[("user", "ann")],
)


def test_connection_ids_are_aws_shaped_unguessable_and_url_safe():
    ids = {new_connection_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(re.fullmatch(r"[A-Za-z0-9]{15}=", i) for i in ids)


def test_connect_event_carries_headers_query_and_context():
    event = connect_event(INFO, API, request_id="r1", epoch=1_700_000_001.0)
    assert event["headers"]["X-Token"] == "t"
    assert event["multiValueHeaders"]["Host"] == ["127.0.0.1:3001"]
    assert event["queryStringParameters"] == {"user": "ann"}
    ctx = event["requestContext"]
    assert (ctx["routeKey"], ctx["eventType"], ctx["messageDirection"]) == (
        "$connect",
        "CONNECT",
        "IN",
    )
    assert ctx["connectionId"] == INFO.connection_id
    assert ctx["connectedAt"] == 1_700_000_000_000
    assert ctx["requestTimeEpoch"] == 1_700_000_001_000
    assert ctx["identity"] == {"userAgent": "ua/1", "sourceIp": "127.0.0.5"}
    assert (ctx["domainName"], ctx["stage"], ctx["apiId"]) == (
        "127.0.0.1:3001",
        "dev",
        "abcdefghij",
    )
    assert "messageId" not in ctx


def test_message_event_has_body_and_message_id_and_no_headers():
    event = message_event(
        INFO,
        API,
        route_key="go",
        body="{}",
        is_base64=False,
        request_id="r",
        message_id="m",
        epoch=1,
    )
    assert event["body"] == "{}"
    assert event["requestContext"]["messageId"] == "m"
    assert event["requestContext"]["eventType"] == "MESSAGE"
    assert "headers" not in event


def test_disconnect_event_says_how_the_connection_closed():
    event = disconnect_event(
        INFO, API, status_code=1001, reason="Going away", request_id="r", epoch=1
    )
    ctx = event["requestContext"]
    assert (ctx["eventType"], ctx["disconnectStatusCode"], ctx["disconnectReason"]) == (
        "DISCONNECT",
        1001,
        "Going away",
    )


def test_error_replies_name_the_connection_and_request():
    assert json.loads(error_reply("Forbidden", connection_id="c", request_id="r")) == {
        "message": "Forbidden",
        "connectionId": "c",
        "requestId": "r",
    }
