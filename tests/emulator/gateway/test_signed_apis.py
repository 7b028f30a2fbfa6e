"""SigV4 on @connections (WebSocket port) and the Lambda Invoke API (HTTP port), over real
sockets: raw HTTP for what an unsigned or malformed caller sends, boto3 for signed calls (its
``ClientError`` codes are what AWS code catches), the report app end to end with
``--credentials``."""

import datetime
import logging
from unittest import mock

import aiohttp
import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotocoreCredentials
from botocore.exceptions import ClientError

from emulator.stack import StackConfig, StackThread
from reportclient import Endpoints, fetch_report
from tests.support import HANDLER_SCALE, aws_client, stack_config, write_service
from tests.virtual import run_virtual, service_file, virtual_stack

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


# -- the Host check (DNS rebinding), and the signature's age, through real sockets --------------


def virtual_run(tmp_path, scenario, **settings):
    """``scenario(stack, session)`` on a virtual-time stack of the echo service."""
    path = service_file(tmp_path, FUNCTIONS)

    async def echo(event, context):
        return event

    async def main():
        config = StackConfig(**settings)
        async with (
            virtual_stack(path, {"echo": echo}, config=config) as stack,
            aiohttp.ClientSession() as session,
        ):
            return await scenario(stack, session)

    return run_virtual(main)


def signed_headers(url, body, service, *, host=None, at=None, keys=("any", "key")):
    """SigV4 headers for a POST to ``url`` as botocore makes them, for ``host`` when given (a
    rebinding page's name, signed as such) and at ``at`` (real time by default)."""
    request = AWSRequest(method="POST", url=url, data=body)
    if host is not None:
        request.headers["Host"] = host
    signer = SigV4Auth(BotocoreCredentials(*keys), service, "us-east-1")
    if at is None:
        signer.add_auth(request)
    else:
        naive = at.astimezone(datetime.UTC).replace(tzinfo=None)
        with mock.patch("botocore.auth.get_current_datetime", return_value=naive):
            signer.add_auth(request)
    return dict(request.headers.items())


def test_a_foreign_host_is_refused_by_invoke_and_connections(tmp_path, caplog):
    """A page on a rebound name (its own Host, a well-formed signature) invokes nothing and
    posts nothing; the emulator's own names (IP literals, localhost, --allowed-host) pass."""
    caplog.set_level(logging.INFO)

    async def scenario(stack, session):
        invoke = f"{stack.http_url}/2015-03-31/functions/{ECHO}/invocations"
        post = f"{stack.connections_url}/@connections/nobody"
        answers = {}
        for host in ("attacker.example", "emulator", "localhost", None):
            for what, url, service in (
                ("invoke", invoke, "lambda"),
                ("post", post, "execute-api"),
            ):
                headers = signed_headers(url, b"{}", service, host=host)
                async with session.post(url, data=b"{}", headers=headers) as response:
                    body = await response.json(content_type=None)
                    error = response.headers.get("x-amzn-ErrorType")
                    answers[what, host] = (response.status, error, body)
        return answers

    answers = virtual_run(tmp_path, scenario, allowed_hosts=("emulator",))
    status, error, body = answers["invoke", "attacker.example"]
    assert (status, error) == (403, "AccessDeniedException")
    assert "'attacker.example' is not one this emulator answers to" in body["message"]
    status, error, body = answers["post", "attacker.example"]
    assert (status, error) == (403, "ForbiddenException")
    assert "--allowed-host" in body["message"]
    for host in ("emulator", "localhost", None):  # None: the client's own 127.0.0.1:port
        assert answers["invoke", host][0] == 200
        assert answers["post", host][:2] == (410, "GoneException")
    logged = [r.getMessage() for r in caplog.records if "attacker.example" in r.getMessage()]
    assert len(logged) == 2, logged  # one line each


def test_with_credentials_an_expired_or_future_signature_is_refused(tmp_path):
    async def scenario(stack, session):
        invoke = f"{stack.http_url}/2015-03-31/functions/{ECHO}/invocations"
        post = f"{stack.connections_url}/@connections/nobody"
        now = datetime.datetime.now(datetime.UTC)
        answers = []
        for url, service in ((invoke, "lambda"), (post, "execute-api")):
            for at in (now - datetime.timedelta(hours=2), now + datetime.timedelta(minutes=10)):
                headers = signed_headers(url, b"{}", service, at=at, keys=KEYS)
                async with session.post(url, data=b"{}", headers=headers) as response:
                    body = await response.json(content_type=None)
                    answers.append(
                        (response.status, response.headers.get("x-amzn-ErrorType"), body)
                    )
            headers = signed_headers(url, b"{}", service, keys=KEYS)  # signed now: passes
            async with session.post(url, data=b"{}", headers=headers) as response:
                answers.append((response.status, None, None))
        return answers

    answers = virtual_run(tmp_path, scenario, credentials=KEYS)
    old, future, fresh = answers[0:3]
    for status, error, body in (old, answers[3]):
        assert (status, error) == (403, "InvalidSignatureException")
        assert body["message"].startswith("Signature expired: ")
        assert body["message"].endswith(" - 5 min.)")
    for status, error, body in (future, answers[4]):
        assert (status, error) == (403, "InvalidSignatureException")
        assert body["message"].startswith("Signature not yet current: ")
    assert fresh[0] == 200
    assert answers[5][0] == 410
