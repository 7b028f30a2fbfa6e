"""The assertion helpers against a real stack: what they return, and what their failures say."""

from __future__ import annotations

import math
import re

import httpx
import pytest
import requests

from timeoutlab import Stack, assert_gateway_timeout, assert_pushed, assert_ran_on


def test_assert_pushed_returns_the_matching_message(stack: Stack) -> None:
    pushed = assert_pushed(stack, {"action": "push", "value": "a"}, match={"pushed": "a"})
    assert pushed["pushed"] == "a"
    assert pushed["connectionId"]
    by_callable = assert_pushed(stack, {"action": "push", "value": 2},
                                match=lambda message: message.get("pushed") == 2)  # fmt: skip
    assert by_callable["pushed"] == 2


def test_assert_pushed_lists_what_arrived_when_nothing_matches(stack: Stack) -> None:
    with pytest.raises(AssertionError) as failed:
        # The non-matching push must arrive before the wait ends, on a loaded machine too.
        assert_pushed(stack, {"action": "push", "value": 3}, match={"pushed": 4},
                      within_s=1, slack_real_s=8)  # fmt: skip
    message = str(failed.value)
    assert "a message matching {'pushed': 4} was not pushed within 1 emulated s" in message
    assert re.search(r'arrived \(1\):\n    \{"pushed": 3, "connectionId": "[^"]+"\}', message)
    assert f"sent to {stack.ws_url}" in message


def test_assert_gateway_timeout_reads_requests_responses_too(stack: Stack) -> None:
    stack.set_integration_timeout("POST /slow", 3, api="rest")
    try:
        answer = requests.post(f"{stack.rest_url}/slow", json={"seconds": 40}, timeout=60)
        # No bound on real time outside tests/timing: the default tolerance is 0.5 s real at this
        # scale, which a loaded machine's client can pass; what is checked here is that a
        # requests response is read, its answer never early.
        took = assert_gateway_timeout(answer, at_s=3.0, tolerance_s=math.inf)
        assert took >= 3.0
        with pytest.raises(AssertionError, match=r"answered LATE: [\d.]+ emulated s > 1 s"):
            assert_gateway_timeout(answer, at_s=1.0, tolerance_s=0.5)
        # Expected later than it came: 29 s (the default) unless a slow machine's answer took
        # longer than that to reach the client.
        with pytest.raises(AssertionError, match=r"answered EARLY"):
            assert_gateway_timeout(answer, at_s=max(29.0, took + 1))
    finally:
        stack.set_integration_timeout("POST /slow", None, api="rest")
    assert_ran_on(stack, "slow")


def test_assert_gateway_timeout_refuses_a_response_of_no_stack() -> None:
    response = httpx.Response(504, request=httpx.Request("GET", "http://127.0.0.1:9/x"))
    with pytest.raises(ValueError, match="no running timeoutlab stack"):
        assert_gateway_timeout(response)


def test_assert_ran_on_reports_the_figures(stack: Stack) -> None:
    stack.reset()
    with pytest.raises(AssertionError) as failed:
        assert_ran_on(stack, "push")
    assert "Lambda 'push': it was never invoked since the last reset" in str(failed.value)
    assert "invocations 0" in str(failed.value)
    answer = httpx.post(f"{stack.rest_url}/slow", json={"seconds": 40}, timeout=60)
    assert answer.status_code == 504
    figures = assert_ran_on(stack, "slow", at_least_s=40)
    assert figures.running_after_caller_gone == 0  # waited for: the figures are whole
    assert figures.wasted_s >= 40
    with pytest.raises(AssertionError, match=r"emulated s wasted, expected at least 1000"):
        assert_ran_on(stack, "slow", at_least_s=1000)


def test_assert_pushed_sends_a_query_string_token_to_the_connect_authorizer(
    guarded_stack: Stack,
) -> None:
    pushed = assert_pushed(guarded_stack, {"action": "whoami"}, query={"token": "good"},
                           match={"authorizer": ...})  # fmt: skip
    assert pushed["authorizer"] == {"principalId": "tester", "token": "good"}


@pytest.mark.parametrize(
    ("query", "status", "body"),
    [(None, 401, "Unauthorized"), ({"token": "bad one"}, 403, "with an explicit deny")],
    ids=["no token", "denied"],
)
def test_a_refused_handshake_is_an_assertion_error_naming_the_status(
    guarded_stack: Stack, query: dict[str, str] | None, status: int, body: str
) -> None:
    with pytest.raises(AssertionError) as failed:
        assert_pushed(guarded_stack, {"action": "whoami"}, query=query)
    message = str(failed.value)
    url = guarded_stack.ws_url + ("" if query is None else "?token=bad%20one")
    assert message.startswith(
        f"the WebSocket handshake to {url} was refused with HTTP {status}: "
    ), message
    assert body in message.splitlines()[0]
    assert "$connect authorizer" in message
