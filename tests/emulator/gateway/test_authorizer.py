"""Lambda authorizers through real sockets, on a virtual clock with in-loop handlers."""

import asyncio
import json

import pytest
from websockets.asyncio.client import connect as connect_async
from websockets.exceptions import InvalidStatus

from tests.virtual import run_with_http, service_file

FUNCTIONS = """
auth:
  handler: app.auth
  timeout: 900
reqauth:
  handler: app.reqauth
items:
  handler: app.echo
  events:
    - http: {method: GET, path: 'items/{id}', authorizer: auth}
    - http:
        method: GET
        path: fresh/{id}
        authorizer: {name: auth, resultTtlInSeconds: 0}
    - http:
        method: GET
        path: search
        authorizer:
          name: reqauth
          type: request
          identitySource: method.request.querystring.key
open:
  handler: app.echo
  events: [{http: GET open}]
connect:
  handler: app.echo
  events:
    - websocket:
        route: $connect
        authorizer: {name: reqauth, identitySource: [route.request.header.Auth]}
echo:
  handler: app.echo
  events: [{websocket: {route: echo, routeResponseSelectionExpression: $default}}]
bye:
  handler: app.bye
  events: [{websocket: $disconnect}]
"""


class App:
    def __init__(self) -> None:
        self.auth_events: list[dict] = []
        self.events: list[dict] = []

    def decide(self, secret: str, arn: str) -> dict:
        if secret == "unauthorized":
            raise Exception("Unauthorized")
        if secret == "broken":
            raise ValueError("database down")
        if secret == "nested":
            return {"principalId": "x", "policyDocument": _doc("Allow", arn), "context": {"a": {}}}
        if secret == "slow":
            return {"wait": True}
        effect = "Deny" if secret == "deny" else "Allow"
        # "mine" allows only the method it was asked for; the others allow the whole API.
        resource = arn if secret == "mine" else arn.split("/", 1)[0] + "/*"
        return {
            "principalId": f"user-{secret}",
            "policyDocument": _doc(effect, resource),
            "context": {"tier": "gold", "level": 3, "admin": False},
        }

    async def auth(self, event, context):
        self.auth_events.append(event)
        if event["authorizationToken"] == "slow":
            await context.sleep(40)
        return self.decide(event["authorizationToken"], event["methodArn"])

    async def reqauth(self, event, context):
        self.auth_events.append(event)
        secret = (event.get("queryStringParameters") or {}).get("key") or event["headers"].get(
            "Auth", ""
        )
        return self.decide(secret, event["methodArn"])

    async def echo(self, event, context):
        self.events.append(event)
        return {"statusCode": 200, "body": json.dumps(event)}

    async def bye(self, event, context):
        self.events.append(event)


def _doc(effect: str, resource: str) -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}],
    }


def run(tmp_path, scenario):
    path = service_file(tmp_path, FUNCTIONS)
    app = App()

    handlers = {"auth": app.auth, "reqauth": app.reqauth, "items": app.echo}
    handlers |= {"open": app.echo, "connect": app.echo, "echo": app.echo, "bye": app.bye}

    async def with_get(stack, http):
        async def get(target: str, token: str | None = None):
            headers = {} if token is None else {"Authorization": token}
            async with http.get(f"{stack.rest_url}/{target}", headers=headers) as response:
                return response.status, response.headers, await response.read()

        return await scenario(stack, app, get)

    return run_with_http(path, handlers, with_get)


def test_an_allowed_token_reaches_the_handler_with_the_authorizer_context(tmp_path):
    async def scenario(stack, app, get):
        status, _, body = await get("items/12", "good")
        return status, json.loads(body), app.auth_events

    status, event, auth_events = run(tmp_path, scenario)
    assert status == 200
    api_id = event["requestContext"]["apiId"]
    assert auth_events == [
        {
            "type": "TOKEN",
            "authorizationToken": "good",
            "methodArn": f"arn:aws:execute-api:us-east-1:000000000000:{api_id}/dev/GET/items/12",
        }
    ]
    assert event["requestContext"]["authorizer"] == {
        "principalId": "user-good",
        "integrationLatency": 0,  # the in-loop authorizer answers at once on the virtual clock
        "tier": "gold",
        "level": "3",  # numbers and booleans reach the handler stringified
        "admin": "false",
    }


@pytest.mark.parametrize(
    ("token", "status", "body", "error_type"),
    [
        (None, 401, {"message": "Unauthorized"}, "UnauthorizedException"),
        ("unauthorized", 401, {"message": "Unauthorized"}, "UnauthorizedException"),
        (
            "deny",
            403,
            {"Message": "User is not authorized to access this resource with an explicit deny"},
            "AccessDeniedException",
        ),
        ("broken", 500, {"message": None}, "AuthorizerConfigurationException"),
        ("nested", 500, {"message": None}, "AuthorizerConfigurationException"),
    ],
    ids=["no token", "throws Unauthorized", "deny", "throws", "object in context"],
)
def test_refusals_answer_as_aws_and_never_invoke_the_route(
    tmp_path, token, status, body, error_type
):
    async def scenario(stack, app, get):
        answer = await get("items/12", token)
        return answer, len(app.auth_events), app.events, stack.metrics.snapshot()

    (got, headers, raw), invoked, events, metrics = run(tmp_path, scenario)
    assert (got, json.loads(raw), headers["x-amzn-ErrorType"]) == (status, body, error_type)
    assert events == []  # the route's Lambda never ran
    assert invoked == (0 if token is None else 1)  # a missing token never reaches the authorizer
    assert metrics["authorizers"]["auth"][str(status)] == 1


def test_an_authorizer_that_does_not_answer_within_29_s_is_500(tmp_path):
    async def scenario(stack, app, get):
        started = stack.clock.now()
        answer = await get("items/1", "slow")
        return answer, stack.clock.now() - started

    (status, _, body), took = run(tmp_path, scenario)
    assert (status, json.loads(body)) == (500, {"message": None})
    assert took == pytest.approx(29.0, abs=1e-6)


def test_results_are_cached_for_the_ttl_and_the_cached_policy_meets_each_method_arn(tmp_path):
    async def scenario(stack, app, get):
        answers = [(await get("items/1", "mine"))[0], (await get("items/1", "mine"))[0]]
        # The cached policy allows /items/1 only: another path is denied without a new call.
        answers.append((await get("items/2", "mine"))[0])
        calls = [len(app.auth_events)]
        await asyncio.sleep(300)  # the virtual clock: 300 emulated seconds pass at once
        answers.append((await get("items/2", "mine"))[0])
        calls.append(len(app.auth_events))
        # TTL 0: every request invokes the authorizer.
        await get("fresh/1", "good")
        await get("fresh/1", "good")
        calls.append(len(app.auth_events))
        return answers, calls, stack.metrics.snapshot()["authorizers"]["auth"]

    answers, calls, counts = run(tmp_path, scenario)
    assert answers == [200, 200, 403, 200]
    assert calls == [1, 2, 4]
    assert counts["cache_hits"] == 2
    assert counts["invocations"] == 4


def test_a_request_authorizer_reads_its_query_string_source_and_gets_the_request(tmp_path):
    async def scenario(stack, app, get):
        missing = (await get("search"))[0]
        status, _, _ = await get("search?key=good&x=1")
        return missing, status, app.auth_events

    missing, status, auth_events = run(tmp_path, scenario)
    assert (missing, status) == (401, 200)
    (event,) = auth_events
    assert event["type"] == "REQUEST"
    assert event["methodArn"].endswith("/dev/GET/search")
    assert event["resource"] == "/search"
    assert event["httpMethod"] == "GET"
    assert event["queryStringParameters"] == {"key": "good", "x": "1"}
    assert event["multiValueQueryStringParameters"] == {"key": ["good"], "x": ["1"]}
    assert event["requestContext"]["stage"] == "dev"


def test_routes_without_an_authorizer_are_untouched(tmp_path):
    async def scenario(stack, app, get):
        status, _, body = await get("open")
        return status, json.loads(body)

    status, event = run(tmp_path, scenario)
    assert status == 200
    assert "authorizer" not in event["requestContext"]


# -- WebSocket $connect ----------------------------------------------------------------------------


def open_ws(stack, **headers):
    return connect_async(
        stack.ws_url, ping_interval=None, open_timeout=None, additional_headers=headers
    )


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"Auth": "deny"}, 403), ({"Auth": "broken"}, 500)],
    ids=["no Auth header", "deny", "throws"],
)
def test_the_connect_authorizer_refuses_the_handshake(tmp_path, headers, status):
    async def scenario(stack, app, get):
        with pytest.raises(InvalidStatus) as refused:
            async with open_ws(stack, **headers):
                pass
        await stack.idle()
        return refused.value.response.status_code, app.events, len(app.auth_events)

    got, events, invoked = run(tmp_path, scenario)
    assert got == status
    assert events == []  # neither $connect nor $disconnect ran
    assert invoked == (0 if not headers else 1)


def test_an_allowed_connection_carries_the_authorizer_on_every_event(tmp_path):
    async def scenario(stack, app, get):
        async with open_ws(stack, Auth="good") as ws:
            await ws.send(json.dumps({"action": "echo"}))
            message = json.loads(await ws.recv())
        await stack.idle()
        return message, app.events, app.auth_events

    message, events, auth_events = run(tmp_path, scenario)
    (auth_event,) = auth_events
    assert auth_event["type"] == "REQUEST"
    assert auth_event["methodArn"].endswith("/dev/$connect")
    assert auth_event["headers"]["Auth"] == "good"
    assert auth_event["requestContext"]["eventType"] == "CONNECT"
    expected = {"principalId": "user-good", "tier": "gold", "level": "3", "admin": "false"}
    kinds = [e["requestContext"]["eventType"] for e in events]
    assert kinds == ["CONNECT", "MESSAGE", "DISCONNECT"]
    for event in events:
        assert event["requestContext"]["authorizer"] == expected
    assert message["requestContext"]["authorizer"] == expected
