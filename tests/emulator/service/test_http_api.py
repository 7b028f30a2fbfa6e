"""serverless.yml's httpApi events, provider.httpApi.payload and the HTTP API route timeouts."""

import pytest

from emulator.service import ServiceError, load_service
from tests.support import write_service

HANDLER = "def handler(event, context):\n    return {'statusCode': 200}\n"


def test_http_api_events_short_mapping_star_and_payload_versions(tmp_path):
    path = write_service(
        tmp_path,
        HANDLER,
        """
        a:
          handler: app.handler
          httpApi: {payload: '1.0'}
          events:
            - httpApi: 'get /items/{id}'
            - httpApi: {method: '*', path: /any}
        b:
          handler: app.handler
          events:
            - httpApi: '*'
            - httpApi: {method: post, path: '/things/{proxy+}'}
            - http: GET items/{id}
        """,
        extra="custom:\n  timeoutlab:\n    httpApiRouteTimeouts:\n      GET /items/{id}: 5\n",
    )
    service = load_service(path)
    routes = {route.key: (route.function, route.payload) for route in service.http_api_routes}
    assert routes == {
        "GET /items/{id}": ("a", "1.0"),
        "ANY /any": ("a", "1.0"),
        "$default": ("b", "2.0"),
        "POST /things/{proxy+}": ("b", "2.0"),
    }
    assert service.http_api_route_timeouts == {"GET /items/{id}": 5.0}
    # The REST route with the same key is another API's: both exist apart.
    assert [route.key for route in service.rest_routes] == ["GET /items/{id}"]


def test_provider_payload_applies_to_functions_without_their_own(tmp_path):
    path = write_service(
        tmp_path, HANDLER, "a:\n  handler: app.handler\n  events: [{httpApi: '*'}]"
    )
    text = path.read_text().replace(
        "  stage: dev\n", "  stage: dev\n  httpApi:\n    payload: '1.0'\n"
    )
    path.write_text(text)
    (route,) = load_service(path).http_api_routes
    assert route.payload == "1.0"


@pytest.mark.parametrize(
    ("events", "extra", "message"),
    [
        ("[{httpApi: 'GET items'}]", "", "must be '*' or 'METHOD /path'"),
        ("[{httpApi: 'FETCH /items'}]", "", "must be '*' or 'METHOD /path'"),
        ("[{httpApi: {path: /items}}]", "", "`method` is missing"),
        ("[{httpApi: {method: get, path: '*'}}]", "", "path '*' (the $default route) takes no"),
        ("[{httpApi: {method: get, path: items}}]", "", "must start with '/'"),
        ("[{httpApi: 'GET /a'}, {httpApi: 'get /a'}]", "", "route GET /a is declared twice"),
        ("[{httpApi: 'GET /a/{proxy+}/b'}]", "", "greedy parameter must be last"),
        ("[{httpApi: 'GET /a'}]", "    httpApiRouteTimeouts: {GET /a: 31}",
         "httpApiRouteTimeouts.GET /a must be between 0.05 and 30 seconds"),
        ("[{httpApi: 'GET /a'}]", "    httpApiRouteTimeouts: {GET /b: 5}",
         "'GET /b' is not an HTTP API route"),
        ("[{httpApi: 'GET /a'}]", "    httpApiRouteTimeouts: {GET /a: 5}\n    x: 1",
         None),
    ],
)  # fmt: skip
def test_http_api_mistakes_are_refused_with_the_key_and_the_rule(tmp_path, events, extra, message):
    custom = f"custom:\n  timeoutlab:\n{extra}\n" if extra else ""
    path = write_service(
        tmp_path, HANDLER, f"a:\n  handler: app.handler\n  events: {events}", extra=custom
    )
    if message is None:
        load_service(path)
        return
    with pytest.raises(ServiceError) as refused:
        load_service(path)
    assert message in str(refused.value)
    assert "\n" not in str(refused.value)


def test_a_payload_version_api_gateway_refuses_is_refused(tmp_path):
    path = write_service(
        tmp_path,
        HANDLER,
        "a:\n  handler: app.handler\n  httpApi: {payload: '3.0'}\n  events: [{httpApi: '*'}]",
    )
    with pytest.raises(ServiceError, match=r"functions.a.httpApi.payload: payload must be '1.0'"):
        load_service(path)
