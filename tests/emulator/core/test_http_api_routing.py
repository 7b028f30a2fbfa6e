"""HTTP API route selection: most specific first, ANY, greedy, $default, decoded paths."""

import pytest

from emulator.core.http_api_routing import HttpApiRoute, HttpApiRouter

ROUTES = [
    HttpApiRoute("GET", "/pets/dog/1", "exact"),
    HttpApiRoute("GET", "/pets/dog/{id}", "param"),
    HttpApiRoute("GET", "/pets/{proxy+}", "greedy"),
    HttpApiRoute("ANY", "/{proxy+}", "any"),
    HttpApiRoute("ANY", None, "default"),
]


@pytest.mark.parametrize(
    ("method", "path", "function", "parameters"),
    [
        # The example of http-api-develop-routes.html ("Routing API requests").
        ("GET", "/pets/dog/1", "exact", {}),
        ("GET", "/pets/dog/2", "param", {"id": "2"}),
        ("GET", "/pets/cat/1", "greedy", {"proxy": "cat/1"}),
        ("POST", "/pets/cat/1", "any", {"proxy": "pets/cat/1"}),
        ("GET", "/", "default", {}),
        ("GET", "/pets/dog/a%2Fb", "greedy", {"proxy": "dog/a/b"}),
        ("GET", "/pets/dog/caf%C3%A9", "param", {"id": "café"}),
    ],
)
def test_most_specific_route_wins_then_default(method, path, function, parameters):
    match = HttpApiRouter(ROUTES).match(method, path)
    assert match is not None
    assert (match.route.function, match.path_parameters) == (function, parameters)


def test_no_route_and_no_default_is_none():
    router = HttpApiRouter([HttpApiRoute("GET", "/a", "a")])
    assert router.match("POST", "/a") is None
    assert router.match("GET", "/b") is None
    assert router.keys == ["GET /a"]


def test_route_keys_as_aws_writes_them():
    assert HttpApiRoute("ANY", None, "f").key == "$default"
    assert HttpApiRoute("GET", "/items/{id}", "f").key == "GET /items/{id}"
