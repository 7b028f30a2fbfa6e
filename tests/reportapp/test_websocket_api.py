"""The WebSocket handlers' own rules, imported the way AWS imports them (from the package root)."""

import json

import websocket_api

DEEP = "[" * 1000 + "]" * 1000  # past Python's recursion limit in json


def test_a_generate_report_message_nested_too_deep_is_answered_with_an_error():
    """The gateway routes such a message to $default (it cannot select a route from it), but a
    generateReport message holding one deep value reaches this handler on AWS alike."""
    event = {
        "requestContext": {"connectionId": "c=", "domainName": "x", "stage": "dev"},
        "body": '{"action": "generateReport", "x": ' + DEEP + "}",
    }
    answer = websocket_api.generate_report(event, None)
    assert answer["statusCode"] == 400
    assert json.loads(answer["body"]) == {"error": "the message must be a JSON object"}


def test_default_answers_a_message_nested_too_deep_as_one_without_an_action():
    answer = websocket_api.default({"body": DEEP}, None)
    assert json.loads(answer["body"])["error"] == "a message without an action is not supported"
