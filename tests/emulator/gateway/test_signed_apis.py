"""SigV4 on @connections (WebSocket port) and the Lambda Invoke API (HTTP port), over real
sockets: raw HTTP for what an unsigned or malformed caller sends, boto3 for signed calls (its
``ClientError`` codes are what AWS code catches), the report app end to end with
``--credentials``."""

import httpx
import pytest
from botocore.exceptions import ClientError

from emulator.stack import StackThread
from reportclient import Endpoints, fetch_report
from tests.support import HANDLER_SCALE, aws_client, stack_config, write_service

HANDLERS = """
def echo(event, context):
    return event
"""
FUNCTIONS = "echo: {handler: app.echo}\n"
ECHO = "inline-dev-echo"
DELIVER = "timeoutlab-reports-dev-deliverReport"
KEYS = ("AKIDTIMEOUTLAB", "locked-secret")
NOT_SIGNED = {"message": "Missing Authentication Token"}


@pytest.fixture(scope="module")
def open_stack(moto_server, tmp_path_factory):
    """Default: any well-formed signature is accepted."""
    path = write_service(tmp_path_factory.mktemp("signed"), HANDLERS, FUNCTIONS)
    with StackThread(stack_config(moto_server.endpoint_url, service_path=path)) as stack:
        yield stack


@pytest.fixture(scope="module")
def locked_stack(moto_server):
    """The report app with ``--credentials``: signatures are verified, handlers sign with them."""
    config = stack_config(
        moto_server.endpoint_url, time_scale=HANDLER_SCALE, prewarm=True, credentials=KEYS
    )
    with StackThread(config) as stack:
        yield stack


def urls(stack, function: str) -> tuple[str, str]:
    """(@connections URL of a connection that does not exist, the Invoke URL of ``function``)."""
    return (
        f"{stack.connections_url}/@connections/nobody%3D",
        f"{stack.http_url}/2015-03-31/functions/{function}/invocations",
    )


def refused(response: httpx.Response) -> tuple[int, str | None, str]:
    return response.status_code, response.headers.get("x-amzn-ErrorType"), response.json()


def error_code(call) -> str:
    with pytest.raises(ClientError) as error:
        call()
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    return error.value.response["Error"]["Code"]


def clients(stack, credentials: tuple[str, str]):
    return (
        aws_client("apigatewaymanagementapi", stack.connections_url, credentials=credentials),
        aws_client("lambda", stack.http_url, credentials=credentials),
    )


# -- the signature's form, checked always ---------------------------------------------------------


@pytest.mark.parametrize("which", ["open_stack", "locked_stack"])
def test_unsigned_calls_are_refused_with_missing_authentication_token(which, request):
    stack = request.getfixturevalue(which)
    connections, invoke = urls(stack, ECHO if which == "open_stack" else DELIVER)
    for response in (
        httpx.post(connections, content=b"hi"),
        httpx.get(connections),
        httpx.post(invoke, content=b"{}"),
    ):
        assert refused(response) == (403, "MissingAuthenticationTokenException", NOT_SIGNED)


def test_a_garbage_signature_is_incomplete_signature(open_stack):
    connections, invoke = urls(open_stack, ECHO)
    garbage = {"Authorization": "Bearer eyJhbGciOi"}
    for response in (
        httpx.post(connections, content=b"hi", headers=garbage),
        httpx.post(invoke, content=b"{}", headers=garbage),
    ):
        status, error_type, body = refused(response)
        assert (status, error_type) == (403, "IncompleteSignatureException")
        assert body["message"].startswith("Authorization header requires 'Credential' parameter.")
    # SigV4's scheme, without its date header and with a truncated credential scope.
    half = {"Authorization": "AWS4-HMAC-SHA256 Credential=AKID/20240101, SignedHeaders=host"}
    status, error_type, body = refused(httpx.post(invoke, content=b"{}", headers=half))
    assert (status, error_type) == (403, "IncompleteSignatureException")
    assert "'Signature' parameter" in body["message"]
    assert "'X-Amz-Date' or a 'Date' header" in body["message"]


def test_any_credentials_are_accepted_by_default(open_stack):
    management, lam = clients(open_stack, ("whoever", "whatever"))
    with pytest.raises(management.exceptions.GoneException):
        management.get_connection(ConnectionId="nobody=")  # signed, so past the check: 410
    assert lam.invoke(FunctionName=ECHO, Payload=b'{"a": 1}')["Payload"].read() == b'{"a": 1}'


def test_a_presigned_url_signature_parses(open_stack):
    management, _ = clients(open_stack, ("whoever", "whatever"))
    url = management.generate_presigned_url("get_connection", Params={"ConnectionId": "nobody="})
    assert "X-Amz-Signature=" in url
    assert httpx.get(url).status_code == 410  # past the signature check
    incomplete = url.split("X-Amz-Credential=")[0] + "X-Amz-Signature=ab"
    status, error_type, _ = refused(httpx.get(incomplete))
    assert (status, error_type) == (403, "IncompleteSignatureException")


# -- the signature's value, with --credentials ----------------------------------------------------


def test_with_credentials_the_right_keys_pass(locked_stack):
    management, lam = clients(locked_stack, KEYS)
    with pytest.raises(management.exceptions.GoneException):
        management.get_connection(ConnectionId="nobody=")
    assert lam.invoke(FunctionName=DELIVER, InvocationType="DryRun")["StatusCode"] == 204
    url = management.generate_presigned_url("get_connection", Params={"ConnectionId": "nobody="})
    assert httpx.get(url).status_code == 410


def test_with_credentials_a_wrong_secret_is_invalid_signature(locked_stack):
    management, lam = clients(locked_stack, (KEYS[0], "not-the-secret"))
    assert error_code(lambda: management.get_connection(ConnectionId="x=")) == (
        "InvalidSignatureException"
    )
    assert error_code(lambda: lam.invoke(FunctionName=DELIVER, InvocationType="DryRun")) == (
        "InvalidSignatureException"
    )
    # The signature is checked before the function is looked up: 403, not 404.
    assert error_code(lambda: lam.invoke(FunctionName="no-such-function")) == (
        "InvalidSignatureException"
    )
    url = management.generate_presigned_url("get_connection", Params={"ConnectionId": "x="})
    status, error_type, body = refused(httpx.get(url))
    assert (status, error_type) == (403, "InvalidSignatureException")
    assert body["message"].startswith(
        "The request signature we calculated does not match the signature you provided."
    )


def test_with_credentials_an_unknown_key_is_unrecognized_client(locked_stack):
    management, lam = clients(locked_stack, ("AKIDSTRANGER", KEYS[1]))
    assert error_code(lambda: management.delete_connection(ConnectionId="x=")) == (
        "UnrecognizedClientException"
    )
    with pytest.raises(ClientError) as error:
        lam.invoke(FunctionName=DELIVER, InvocationType="DryRun")
    assert error.value.response["Error"] == {
        "Code": "UnrecognizedClientException",
        "Message": "The security token included in the request is invalid.",
    }


def test_with_credentials_the_report_apps_websocket_flow_delivers(locked_stack):
    """generateReport invokes deliverReport (Invoke API), which posts the URL to the client
    (@connections): both signed by the handlers' boto3 with the emulator's credentials."""
    locked_stack.wait_idle()
    before = locked_stack.metrics.snapshot()["websocket"]["management_calls"]
    endpoints = Endpoints(locked_stack.rest_url, locked_stack.ws_url)
    definition = {"delay": 1000, "amountOfRows": 3}
    result = fetch_report("websocket", endpoints, definition, time_scale=HANDLER_SCALE)
    assert result.ok, result.failure
    locked_stack.wait_idle()
    after = locked_stack.metrics.snapshot()["websocket"]["management_calls"]
    environment = locked_stack.handler_environment()
    assert (environment["AWS_ACCESS_KEY_ID"], environment["AWS_SECRET_ACCESS_KEY"]) == KEYS
    assert after.get("POST 200", 0) > before.get("POST 200", 0)  # the handler's signed post
    assert not any(call.endswith(" 403") for call in set(after) - set(before))
