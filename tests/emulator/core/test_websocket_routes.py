import pytest

from emulator.core.websocket_routes import WebSocketRoute, WebSocketRouter

ROUTES = [
    WebSocketRoute("$connect", "c"),
    WebSocketRoute("$default", "d", two_way=True),
    WebSocketRoute("generateReport", "g", two_way=True),
]


def test_the_selection_expression_picks_the_route_and_everything_else_goes_to_default():
    router = WebSocketRouter(ROUTES)
    assert router.select('{"action": "generateReport", "delay": 1}').key == "generateReport"
    for message in ['{"action": "other"}', '{"no": "action"}', "not json", "[1]", '{"action": 5}']:
        assert router.select(message).key == "$default", message
    # The special routes are never selected by a message.
    assert router.select('{"action": "$connect"}').key == "$default"


def test_without_default_an_unmatched_message_has_no_route():
    router = WebSocketRouter([WebSocketRoute("go", "g")])
    assert router.select('{"action": "go"}').key == "go"
    assert router.select('{"action": "stop"}') is None
    assert router.select(b"\xff\xfe") is None


def test_nested_selection_expressions_and_unsupported_ones():
    router = WebSocketRouter([WebSocketRoute("go", "g")], "$request.body.meta.kind")
    assert router.select('{"meta": {"kind": "go"}}').key == "go"
    assert router.selected_key('{"meta": "go"}') is None
    with pytest.raises(ValueError, match="not supported"):
        WebSocketRouter([], "$request.header.x")
    with pytest.raises(ValueError, match="declared twice"):
        WebSocketRouter([WebSocketRoute("a", "x"), WebSocketRoute("a", "y")])


def test_json_nested_too_deeply_to_parse_goes_to_default():
    router = WebSocketRouter([WebSocketRoute("$default", "fallback"), WebSocketRoute("go", "goer")])
    deep = '{"action": "go", "x": ' + "[" * 1000 + "]" * 1000 + "}"
    assert router.selected_key(deep) is None
    assert router.select(deep).key == "$default"
