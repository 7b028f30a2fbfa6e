"""Payload format 2.0 and 1.0 events, built from plain request data."""

from emulator.core.events import ApiIdentity, IncomingRequest
from emulator.core.http_api_events import http_api_event
from emulator.core.http_api_routing import HttpApiMatch, HttpApiRoute

API = ApiIdentity("abcdefghij", "$default", "127.0.0.1:3002")
REQUEST = IncomingRequest(
    method="POST",
    path="/items/7",
    query_string="a=1&a=2",
    headers=[("Content-Type", "text/plain"), ("Cookie", "c=1; d=2"), ("X-A", "1"), ("x-a", "2")],
    body=b"\xff\x00",
)


def test_format_2_0():
    match = HttpApiMatch(HttpApiRoute("POST", "/items/{id}", "f"), "/items/7", {"id": "7"})
    event = http_api_event(REQUEST, match, API, request_id="rid=", epoch=1583348638.390)
    assert event["headers"] == {"content-type": "text/plain", "x-a": "1,2"}
    assert event["cookies"] == ["c=1", "d=2"]
    assert event["queryStringParameters"] == {"a": "1,2"}
    assert (event["body"], event["isBase64Encoded"]) == ("/wA=", True)
    context = event["requestContext"]
    assert (context["timeEpoch"], context["time"]) == (1583348638390, "04/Mar/2020:19:03:58 +0000")
    assert (context["requestId"], context["domainPrefix"]) == ("rid=", "127")


def test_format_1_0_on_default():
    match = HttpApiMatch(HttpApiRoute("ANY", None, "f", payload="1.0"), "/items/7", {})
    event = http_api_event(REQUEST, match, API, request_id="rid=", epoch=0)
    assert (event["version"], event["resource"], event["path"]) == ("1.0", "/items/7", "/items/7")
    assert event["multiValueHeaders"]["x-a"] == ["1", "2"]
    assert event["requestContext"]["stage"] == "$default"
    assert event["requestContext"]["resourceId"] is None
