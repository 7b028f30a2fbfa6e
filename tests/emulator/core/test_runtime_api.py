"""The Runtime API's rules of one environment, without sockets."""

import pytest

from emulator.core.runtime_api import (
    MAX_RESPONSE_BYTES,
    ApiError,
    Assignment,
    Endpoint,
    EnvironmentApi,
    Phase,
    Route,
    exit_error,
    route,
    runtime_error,
    split_prelude,
)


def invoking(request_id: str = "r1") -> EnvironmentApi:
    api = EnvironmentApi()
    assert api.next_requested() is True  # the first next ends Init
    api.handed_out(request_id)
    return api


def test_the_first_next_ends_init_and_later_ones_do_not():
    api = invoking()
    api.answer("r1", 10)
    assert api.phase is Phase.READY
    assert api.next_requested() is False


def test_next_headers_are_awss():
    headers = Assignment("r1", b"{}", 1_700_000_000_123, "arn:x", "Root=1").headers()
    assert headers == {
        "Lambda-Runtime-Aws-Request-Id": "r1",
        "Lambda-Runtime-Deadline-Ms": "1700000000123",
        "Lambda-Runtime-Invoked-Function-Arn": "arn:x",
        "Lambda-Runtime-Trace-Id": "Root=1",
        "Content-Type": "application/json",
    }


@pytest.mark.parametrize(
    ("request_id", "size", "status", "error_type"),
    [
        ("other", 1, 400, "InvalidRequestID"),
        ("r1", MAX_RESPONSE_BYTES + 1, 413, "RequestEntityTooLarge"),
    ],
)
def test_a_bad_answer_is_refused(request_id, size, status, error_type):
    api = invoking()
    with pytest.raises(ApiError) as refused:
        api.answer(request_id, size)
    assert (refused.value.status, refused.value.error_type) == (status, error_type)


def test_answering_twice_or_asking_next_while_invoking_is_forbidden():
    api = invoking()
    with pytest.raises(ApiError) as early:
        api.next_requested()
    assert early.value.status == 403
    api.answer("r1", 1)
    with pytest.raises(ApiError) as twice:
        api.answer("r1", 1)
    assert twice.value.status == 403


def test_init_error_only_during_init_and_then_no_work():
    api = EnvironmentApi()
    api.init_error()
    with pytest.raises(ApiError) as refused:
        api.next_requested()
    assert refused.value.status == 403
    with pytest.raises(ApiError):
        invoking().init_error()


def test_error_shapes():
    assert runtime_error(b'{"errorMessage": "m", "errorType": "T"}', None) == {
        "errorMessage": "m",
        "errorType": "T",
        "stackTrace": [],
    }
    assert runtime_error(b"not json", "Hdr")["errorType"] == "Hdr"
    assert exit_error("id", 1, "Runtime.ExitError")["errorMessage"] == (
        "RequestId: id Error: Runtime exited with error: exit status 1"
    )
    assert exit_error("id", -9, "Runtime.OutOfMemory")["errorMessage"].endswith("signal: killed")


def test_the_streaming_prelude_is_metadata_then_eight_nuls():
    assert split_prelude(b'{"statusCode": 200}') is None
    assert split_prelude(b'{"statusCode": 201}' + b"\0" * 8 + b"body") == (
        {"statusCode": 201},
        b"body",
    )


@pytest.mark.parametrize(
    ("method", "target", "expected"),
    [
        ("GET", "/2018-06-01/runtime/invocation/next", Route(Endpoint.NEXT)),
        ("GET", "/2018-06-01/runtime/invocation/next?x=1", Route(Endpoint.NEXT)),
        ("POST", "/2018-06-01/runtime/invocation/r-1/response", Route(Endpoint.RESPONSE, "r-1")),
        ("POST", "/2018-06-01/runtime/invocation/a%20b/error", Route(Endpoint.ERROR, "a b")),
        ("POST", "/2018-06-01/runtime/init/error", Route(Endpoint.INIT_ERROR)),
    ],
)
def test_each_documented_path_routes_to_its_endpoint(method, target, expected):
    assert route(method, target) == expected


@pytest.mark.parametrize(
    ("method", "target", "status"),
    [
        ("GET", "/2018-06-01/runtime/invocation/next/more", 404),
        ("GET", "/2020-01-01/runtime/invocation/next", 404),
        ("POST", "/2018-06-01/runtime/invocation//response", 404),
        ("POST", "/2018-06-01/runtime/invocation/r1/result", 404),
        ("POST", "/2018-06-01/runtime/invocation/next", 405),
        ("GET", "/2018-06-01/runtime/invocation/r1/response", 405),
        ("PUT", "/2018-06-01/runtime/init/error", 405),
    ],
)
def test_other_paths_and_methods_are_refused(method, target, status):
    with pytest.raises(ApiError) as refused:
        route(method, target)
    assert refused.value.status == status
