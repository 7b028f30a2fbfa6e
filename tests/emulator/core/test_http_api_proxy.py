"""Format 2.0 and 1.0 response mapping for HTTP APIs."""

import pytest

from emulator.core.http_api_proxy import map_http_api_result, map_v2_result
from emulator.core.http_api_routing import HttpApiRoute
from emulator.core.proxy import MalformedProxyResponse


def test_inferred_response_is_200_json():
    response = map_v2_result({"message": "Hello from Lambda!"})
    assert (response.status, response.body) == (200, b'{"message":"Hello from Lambda!"}')
    assert response.header("content-type") == "application/json"
    assert map_v2_result("Hello from Lambda!").body == b"Hello from Lambda!"


def test_explicit_response_with_cookies_and_base64():
    response = map_v2_result(
        {"statusCode": 302, "headers": {"location": "/x"}, "cookies": ["a=1"],
         "body": "aGk=", "isBase64Encoded": True}
    )  # fmt: skip
    assert (response.status, response.body) == (302, b"hi")
    assert ("set-cookie", "a=1") in response.headers
    assert response.header("location") == "/x"


@pytest.mark.parametrize(
    "result",
    [
        {"statusCode": "200"},
        {"statusCode": 200, "body": 5},
        {"statusCode": 200, "cookies": "a=1"},
        {"statusCode": 200, "body": "%%", "isBase64Encoded": True},
    ],
)
def test_malformed_2_0_responses(result):
    with pytest.raises(MalformedProxyResponse):
        map_v2_result(result)


def test_format_1_0_follows_the_rest_proxy_rules():
    route = HttpApiRoute("GET", "/a", "f", payload="1.0")
    with pytest.raises(MalformedProxyResponse):
        map_http_api_result(route, {"message": "no statusCode"})
    assert map_http_api_result(route, {"statusCode": 204}).status == 204


@pytest.mark.parametrize(
    "result",
    [
        {"statusCode": 200, "headers": {"x-a": "one\r\ntwo"}},
        {"statusCode": 200, "headers": {"bad name": "x"}},
        {"statusCode": 200, "cookies": ["a=1\r\nx: y"]},
    ],
)
def test_a_v2_header_http_cannot_carry_is_malformed(result):
    with pytest.raises(MalformedProxyResponse):
        map_v2_result(result)
