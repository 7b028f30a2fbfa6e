"""The handshake helpers: a query string URL-encoded onto a WebSocket URL, and a refusal's
message. (Through a real stack: tests/timeoutlab/test_assertions.py.)"""

from __future__ import annotations

import pytest

from timeoutlab.handshake import refusal, with_query


def test_a_query_is_url_encoded_after_any_query_the_url_has() -> None:
    assert with_query("ws://127.0.0.1:3001/dev", None) == "ws://127.0.0.1:3001/dev"
    assert with_query("ws://127.0.0.1:3001/dev", {}) == "ws://127.0.0.1:3001/dev"
    assert (
        with_query("ws://127.0.0.1:3001/dev", {"token": "a b&c=d/é", "n": ["1", "2"]})
        == "ws://127.0.0.1:3001/dev?token=a%20b%26c%3Dd%2F%C3%A9&n=1&n=2"
    )
    assert with_query("ws://h/dev?x=1", {"token": "t"}) == "ws://h/dev?x=1&token=t"


def test_a_query_value_that_is_not_text_is_refused() -> None:
    with pytest.raises(TypeError, match="query value of 'n' must be text, not int"):
        with_query("ws://h/dev", {"n": [1]})  # type: ignore[list-item]


def test_a_refusal_names_the_status_and_quotes_the_body() -> None:
    assert str(refusal("ws://h/dev", 500, b"")).startswith(
        "the WebSocket handshake to ws://h/dev was refused with HTTP 500 (no body)\n"
    )
    long = str(refusal("ws://h/dev", 403, b"x" * 1000)).splitlines()[0]
    assert long.endswith(": " + "x" * 300 + "... (1000 bytes)")
