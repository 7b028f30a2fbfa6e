"""Lambda proxy integration over real sockets, with inline handlers for each AWS rule."""

import base64
import json
import time

import httpx
import pytest

from emulator.stack import StackThread
from tests.support import stack_config, write_service

HANDLERS = """
import base64
import json
import time

def echo(event, context):
    return {"statusCode": 200, "body": json.dumps(event)}

def boom(event, context):
    raise RuntimeError("handler exploded")

def malformed(event, context):
    return {"statusCode": 200, "body": {"not": "a string"}}

def nothing(event, context):
    return None

def sleepy(event, context):
    for _ in range(200):
        time.sleep(0.005)
    return {"statusCode": 200, "body": "late"}

def dawdle(event, context):
    time.sleep(0.2)
    return {"statusCode": 200, "body": "eventually"}

def binary(event, context):
    return {
        "statusCode": 201,
        "headers": {"Content-Type": "application/octet-stream"},
        "multiValueHeaders": {"X-Tag": ["a", "b"]},
        "body": base64.b64encode(bytes(range(8))).decode(),
        "isBase64Encoded": True,
    }
"""

FUNCTIONS = """
echo:
  handler: app.echo
  events:
    - http: {path: "items/{id}", method: get}
    - http: {path: items, method: post}
boom:
  handler: app.boom
  events: [{http: GET boom}]
malformed:
  handler: app.malformed
  events: [{http: GET malformed}]
nothing:
  handler: app.nothing
  events: [{http: GET nothing}]
sleepy:
  handler: app.sleepy
  timeout: 1
  events: [{http: GET sleepy}]
dawdle:
  handler: app.dawdle
  timeout: 30
  events: [{http: GET dawdle}, {http: GET dawdle/short}]
binary:
  handler: app.binary
  events: [{http: GET binary}]
"""

CUSTOM = """
custom:
  timeoutlab:
    integrationTimeout: 20
    routeTimeouts:
      GET /dawdle/short: 2
"""


@pytest.fixture(scope="module")
def stack(moto_server, tmp_path_factory):
    path = write_service(tmp_path_factory.mktemp("proxyapp"), HANDLERS, FUNCTIONS, extra=CUSTOM)
    with StackThread(stack_config(moto_server.endpoint_url, service_path=path)) as running:
        yield running


def test_the_handler_receives_the_request_as_a_v1_proxy_event(stack, client):
    response = client.get(
        f"{stack.rest_url}/items/42?tag=a&tag=b", headers={"X-Trace": "t1", "User-Agent": "ua/1"}
    )
    assert response.status_code == 200
    event = response.json()
    assert event["resource"] == "/items/{id}"
    assert event["path"] == "/items/42"
    assert event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"id": "42"}
    assert event["queryStringParameters"] == {"tag": "b"}
    assert event["multiValueQueryStringParameters"] == {"tag": ["a", "b"]}
    assert event["headers"]["X-Trace"] == "t1"
    assert event["body"] is None
    ctx = event["requestContext"]
    assert ctx["stage"] == "dev"
    assert ctx["path"] == "/dev/items/42"
    assert ctx["identity"]["sourceIp"] == "127.0.0.1"
    assert ctx["identity"]["userAgent"] == "ua/1"
    assert ctx["requestId"] == response.headers["x-amzn-requestid"]
    assert abs(ctx["requestTimeEpoch"] / 1000 - stack.clock.epoch()) < 60


def test_post_bodies_arrive_as_text_or_base64(stack, client):
    text = client.post(f"{stack.rest_url}/items", content=b'{"a": 1}').json()
    assert (text["body"], text["isBase64Encoded"]) == ('{"a": 1}', False)
    raw = bytes([0xFF, 0xFE, 0x00])
    binary = client.post(f"{stack.rest_url}/items", content=raw).json()
    assert binary["isBase64Encoded"] is True
    assert base64.b64decode(binary["body"]) == raw


def test_response_headers_status_and_base64_bodies_are_mapped(stack, client):
    response = client.get(f"{stack.rest_url}/binary")
    assert response.status_code == 201
    assert response.content == bytes(range(8))
    assert response.headers.get_list("x-tag") == ["a", "b"]


@pytest.mark.parametrize("route", ["boom", "malformed", "nothing"])
def test_errors_and_malformed_results_get_502_internal_server_error(stack, client, route):
    response = client.get(f"{stack.rest_url}/{route}")
    assert response.status_code == 502
    assert response.json() == {"message": "Internal server error"}
    assert response.headers["x-amzn-errortype"] == "InternalServerErrorException"


def test_a_lambda_that_hits_its_own_timeout_first_is_a_502(stack, client):
    started = time.monotonic()
    response = client.get(f"{stack.rest_url}/sleepy")  # function timeout 1 s < 20 s integration
    elapsed = stack.clock.to_emulated(time.monotonic() - started)
    assert response.status_code == 502
    assert 1.0 <= elapsed < 3.0


def test_per_route_timeouts_come_from_serverless_yml(stack, client):
    config = client.get(f"{stack.http_url}/_emulator/config").json()
    assert config["integrationTimeout"] == 20.0
    assert config["routes"]["GET /dawdle/short"] == {"integrationTimeout": 2.0, "source": "route"}
    started = time.monotonic()
    response = client.get(f"{stack.rest_url}/dawdle/short")  # the handler needs 10 emulated s
    elapsed = stack.clock.to_emulated(time.monotonic() - started)
    assert response.status_code == 504
    assert 2.0 <= elapsed < 4.0


def test_an_event_over_lambdas_6_mb_gets_413_request_too_long(stack, client):
    response = client.post(f"{stack.rest_url}/items", content=b"x" * (7 * 1024 * 1024))
    assert response.status_code == 413
    assert response.json() == {"message": "Request Too Long"}
    assert response.headers["x-amzn-errortype"] == "BadRequestException"
    assert client.get(f"{stack.rest_url}/items/1").status_code == 200


def test_the_gateway_keeps_serving_through_client_hangups(stack):
    with pytest.raises(httpx.ReadTimeout), httpx.Client(timeout=0.05) as impatient:
        impatient.get(f"{stack.rest_url}/dawdle")
    with httpx.Client() as c:
        assert json.loads(c.get(f"{stack.rest_url}/items/7").text)["pathParameters"] == {"id": "7"}
