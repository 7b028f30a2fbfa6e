import json

import pytest

from emulator.core import lambda_api, management


def test_connections_paths_are_parsed_and_unquoted():
    assert management.parse_path("/dev/@connections/AbC%3D") == ("dev", "AbC=")
    assert management.parse_path("/dev/@connections/") is None
    assert management.parse_path("/dev/connections/x") is None


def test_management_errors_name_their_aws_exception():
    assert management.gone().status == 410
    assert management.gone().header("x-amzn-ErrorType") == "GoneException"
    too_large = management.payload_too_large(131_072, 200_000)
    assert (too_large.status, too_large.header("x-amzn-ErrorType")) == (
        413,
        "PayloadTooLargeException",
    )
    status = json.loads(
        management.connection_status(
            connected_at=1_700_000_000.25,
            last_active_at=1_700_000_001,
            source_ip="1.2.3.4",
            user_agent=None,
        ).body
    )
    assert status["connectedAt"] == "2023-11-14T22:13:20.250Z"
    assert status["identity"] == {"sourceIp": "1.2.3.4", "userAgent": ""}


@pytest.mark.parametrize(
    ("given", "name"),
    [
        ("fn", "fn"),
        ("arn:aws:lambda:us-east-1:000000000000:function:fn", "fn"),
        ("000000000000:function:fn", "fn"),
        ("fn:$LATEST", "fn"),
        ("bad name!", None),
    ],
)
def test_function_names_come_from_names_and_arns(given, name):
    assert lambda_api.function_name(given) == name


def test_invoke_payloads_are_checked_as_lambda_checks_them():
    assert lambda_api.check_payload("Event", b'{"a": 1}') is None
    assert lambda_api.check_payload("RequestResponse", b"") is None
    bad_type = lambda_api.check_payload("Later", b"{}")
    assert bad_type.error_type == "InvalidParameterValueException"
    bad_json = lambda_api.check_payload("Event", b"{")
    assert (bad_json.status, bad_json.error_type) == (400, "InvalidRequestContentException")
    too_big = lambda_api.check_payload("Event", b'"' + b"x" * (1024 * 1024) + b'"')
    assert (too_big.status, too_big.error_type) == (413, "RequestTooLargeException")
    assert "Event invocation type" in too_big.message
    assert json.loads(lambda_api.throttled().response().body)["Reason"]


def test_an_invoke_payload_nested_too_deeply_is_invalid_request_content():
    error = lambda_api.check_payload("RequestResponse", b"[" * 1000 + b"]" * 1000)
    assert error is not None
    response = error.response()
    assert (response.status, response.header("x-amzn-ErrorType")) == (
        400,
        "InvalidRequestContentException",
    )
    assert json.loads(response.body)["message"].startswith("Could not parse request body into json")


def test_payload_too_large_names_the_limit_in_kb():
    body = json.loads(management.payload_too_large(128 * 1024).body)
    assert body["message"] == "Message exceeds the limit of 128 KB"
    sized = json.loads(management.payload_too_large(128 * 1024, 200_000).body)
    assert sized["message"] == "Message size 200000 bytes exceeds the limit of 128 KB"
