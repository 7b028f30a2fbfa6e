import base64
import json

import pytest

from emulator.core.proxy import MalformedProxyResponse, map_proxy_result


def test_a_well_formed_result_maps_to_the_response():
    response = map_proxy_result(
        {"statusCode": 201, "headers": {"X-A": "1", "X-N": 2}, "body": json.dumps({"ok": True})}
    )
    assert response.status == 201
    assert response.header("x-a") == "1"
    assert response.header("X-N") == "2"
    assert response.header("Content-Type") == "application/json"  # REST's default
    assert json.loads(response.body) == {"ok": True}


def test_multi_value_headers_win_and_repeat():
    response = map_proxy_result(
        {
            "statusCode": 200,
            "headers": {"Set-Cookie": "ignored", "Content-Type": "text/csv"},
            "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
        }
    )
    assert [v for k, v in response.headers if k == "Set-Cookie"] == ["a=1", "b=2"]
    assert response.header("content-type") == "text/csv"
    assert response.body == b""


def test_base64_bodies_are_decoded_for_a_binary_response():
    data = b"\x00\x01binary"
    result = {"statusCode": 200, "body": base64.b64encode(data).decode(), "isBase64Encoded": True}
    assert map_proxy_result(result, binary_response=True).body == data


def test_base64_bodies_pass_as_text_when_the_response_is_not_binary():
    text = base64.b64encode(b"\x00\x01binary").decode()
    result = {"statusCode": 200, "body": text, "isBase64Encoded": True}
    assert map_proxy_result(result).body == text.encode()
    # Not decoded, so not checked either: the text goes out as it is.
    result = {"statusCode": 200, "body": "***", "isBase64Encoded": True}
    assert map_proxy_result(result).body == b"***"


def test_bad_base64_in_a_binary_response_is_malformed():
    result = {"statusCode": 200, "body": "***", "isBase64Encoded": True}
    with pytest.raises(MalformedProxyResponse, match="base64"):
        map_proxy_result(result, binary_response=True)


def test_a_json_string_result_is_accepted():
    assert map_proxy_result('{"statusCode": 204}').status == 204


@pytest.mark.parametrize(
    ("result", "reason"),
    [
        (None, "JSON object"),
        ([], "JSON object"),
        ("not json", "not a JSON object"),
        ({"body": "x"}, "statusCode"),
        ({"statusCode": "200"}, "statusCode"),
        ({"statusCode": True}, "statusCode"),
        ({"statusCode": 700}, "statusCode"),
        ({"statusCode": 200, "body": {"a": 1}}, "body must be a string"),
        ({"statusCode": 200, "headers": ["a"]}, "headers must be an object"),
        ({"statusCode": 200, "headers": {"a": {"b": 1}}}, "headers.a"),
        ({"statusCode": 200, "multiValueHeaders": {"a": "b"}}, "must be a list"),
        ({"statusCode": 200, "isBase64Encoded": "yes"}, "isBase64Encoded"),
        ({"statusCode": 200, "extra": 1}, "unexpected field"),
    ],
)
def test_malformed_results_are_refused_with_a_reason(result, reason):
    with pytest.raises(MalformedProxyResponse, match=reason):
        map_proxy_result(result)


@pytest.mark.parametrize(
    "headers",
    [
        {"headers": {"X-A": "one\r\nSet-Cookie: evil=1"}},
        {"headers": {"X-A": "line\nfeed"}},
        {"headers": {"X-A": "nul\x00"}},
        {"multiValueHeaders": {"X-A": ["fine", "not\rfine"]}},
        {"headers": {"Bad Name": "x"}},
        {"headers": {"X-B\r\nInjected": "x"}},
        {"headers": {"": "x"}},
    ],
)
def test_a_header_http_cannot_carry_is_a_malformed_response(headers):
    with pytest.raises(MalformedProxyResponse):
        map_proxy_result({"statusCode": 200, **headers})


def test_a_result_string_nested_too_deeply_is_malformed_not_a_crash():
    with pytest.raises(MalformedProxyResponse):
        map_proxy_result("[" * 1000 + "]" * 1000)
