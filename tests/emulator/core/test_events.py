import base64

from emulator.core.api_keys import ApiKey
from emulator.core.events import ApiIdentity, IncomingRequest, rest_proxy_event
from emulator.core.routing import RestRoute, RouteMatch

API = ApiIdentity(api_id="abcdefghij", stage="dev", domain_name="127.0.0.1:3000")


def event_for(request: IncomingRequest, params=None) -> dict:
    match = RouteMatch(RestRoute("POST", "/jobs/{jobId}", "fn"), params or {"jobId": "42"})
    return rest_proxy_event(
        request, match, API, resource_path="/jobs/42", request_id="req-1", epoch=1_700_000_000.5
    )


def test_proxy_event_has_the_aws_v1_shape():
    request = IncomingRequest(
        method="POST",
        path="/dev/jobs/42",
        query_string="a=1&b=2&a=3",
        headers=[("Content-Type", "application/json"), ("User-Agent", "t/1")],
        body=b'{"x": 1}',
        source_ip="127.0.0.9",
    )
    event = event_for(request)
    assert event["resource"] == "/jobs/{jobId}"
    assert event["path"] == "/jobs/42"
    assert event["httpMethod"] == "POST"
    assert event["headers"]["Content-Type"] == "application/json"
    assert event["multiValueHeaders"]["User-Agent"] == ["t/1"]
    assert event["queryStringParameters"] == {"a": "3", "b": "2"}  # last value wins
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "3"], "b": ["2"]}
    assert event["pathParameters"] == {"jobId": "42"}
    assert event["stageVariables"] is None
    assert event["body"] == '{"x": 1}'
    assert event["isBase64Encoded"] is False
    ctx = event["requestContext"]
    assert ctx["stage"] == "dev"
    assert ctx["path"] == "/dev/jobs/42"
    assert ctx["resourcePath"] == "/jobs/{jobId}"
    assert ctx["requestId"] == "req-1"
    assert ctx["requestTimeEpoch"] == 1_700_000_000_500
    assert ctx["requestTime"] == "14/Nov/2023:22:13:20 +0000"
    assert ctx["identity"]["sourceIp"] == "127.0.0.9"
    assert ctx["identity"]["userAgent"] == "t/1"
    assert ctx["apiId"] == "abcdefghij"
    assert ctx["domainPrefix"] == "127"
    assert len(ctx["resourceId"]) == 6


def test_empty_request_gives_nulls_as_aws_does():
    event = event_for(IncomingRequest(method="GET", path="/dev/jobs/42"))
    assert event["body"] is None
    assert event["queryStringParameters"] is None
    assert event["multiValueQueryStringParameters"] is None
    assert event["headers"] is None


def test_binary_bodies_are_base64_encoded():
    raw = bytes(range(256))
    match = RouteMatch(RestRoute("POST", "/jobs/{jobId}", "fn"), {"jobId": "42"})
    event = rest_proxy_event(
        IncomingRequest(method="POST", path="/dev/jobs/42", body=raw),
        match,
        API,
        resource_path="/jobs/42",
        request_id="req-1",
        epoch=0.0,
        binary_body=True,
    )
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == raw


def test_other_bodies_pass_as_utf8_text_even_when_they_are_not():
    event = event_for(IncomingRequest(method="POST", path="/dev/jobs/42", body=b"ok \xff\xfe"))
    assert event["isBase64Encoded"] is False
    assert event["body"] == "ok \ufffd\ufffd"


def test_api_key_identity_and_authorizer_context():
    key = ApiKey(name="k", value="v" * 20, id="abcdefghij")
    match = RouteMatch(RestRoute("GET", "/jobs/{jobId}", "fn", api_key_required=True), {})
    event = rest_proxy_event(
        IncomingRequest(method="GET", path="/dev/jobs/42"),
        match,
        API,
        resource_path="/jobs/42",
        request_id="req-1",
        epoch=0.0,
        api_key=key,
        authorizer={"principalId": "me", "tier": "gold"},
    )
    identity = event["requestContext"]["identity"]
    assert (identity["apiKey"], identity["apiKeyId"]) == ("v" * 20, "abcdefghij")
    assert event["requestContext"]["authorizer"] == {"principalId": "me", "tier": "gold"}


def test_without_a_key_or_authorizer_the_identity_says_null():
    event = event_for(IncomingRequest(method="GET", path="/dev/jobs/42"))
    assert event["requestContext"]["identity"]["apiKey"] is None
    assert event["requestContext"]["identity"]["apiKeyId"] is None
    assert "authorizer" not in event["requestContext"]


def test_encoded_paths_and_parameters_are_passed_as_sent():
    match = RouteMatch(RestRoute("GET", "/items/{id}", "fn"), {"id": "my-id%2F100"})
    event = rest_proxy_event(
        IncomingRequest(method="GET", path="/dev/items/my-id%2F100", query_string="q=a%20b"),
        match,
        API,
        resource_path="/items/my-id%2F100",
        request_id="req-1",
        epoch=0.0,
    )
    assert event["path"] == "/items/my-id%2F100"
    assert event["requestContext"]["path"] == "/dev/items/my-id%2F100"
    assert event["pathParameters"] == {"id": "my-id%2F100"}
    assert event["resource"] == "/items/{id}"
    assert event["queryStringParameters"] == {"q": "a b"}  # query strings are decoded
